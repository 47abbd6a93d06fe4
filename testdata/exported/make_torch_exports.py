#!/usr/bin/env python3
"""Export compact torchvision CNNs with the REAL PyTorch ONNX exporters.

Writes testdata/exported/torch_*.onnx plus a sibling torch_*.json per model with
onnxruntime reference values (graph optimizations disabled), and the "PyTorch"
section of testdata/exported/README.md.

Rerun (CPU only, a few minutes):

    python3 -m venv .venv-torch
    .venv-torch/bin/pip install torch torchvision onnx onnxruntime onnxscript numpy
    .venv-torch/bin/python testdata/exported/make_torch_exports.py

Every model is a torchvision class (or torchvision's own blocks) with random
weights (torch.manual_seed(0)) at a reduced width/depth, in eval mode.
BatchNorm running statistics are calibrated on random data (so activations stay
O(1) through the deep nets), norm affine parameters, ConvNeXt layer scales and
all-zero biases are randomised, and the last classifier layer is rescaled so the
logits have std ~1, so the fixtures exercise every parameter. Exporters:

* ``ts13`` / ``ts17``: ``torch.onnx.export(..., dynamo=False)`` (TorchScript
  tracing exporter) at opset 13 / 17, default options (constant folding on).
* ``dynamo18``: ``torch.onnx.export(..., dynamo=True)`` at opset 18, default
  options (its default onnxscript optimizer runs; nothing else is applied).
* ``*_dynbatch``: the same exporters with a dynamic batch axis
  (``dynamic_axes`` / ``dynamic_shapes``).

Only ``torch_``-prefixed files in this folder are written or removed.
"""

import contextlib
import copy
import json
import os
import re
import sys
import tempfile
import traceback
import types
import warnings
from collections import Counter
from functools import partial

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torchvision
import importlib

# torchvision.models re-exports builder functions under some module names
# (alexnet, googlenet, ...), so import the modules themselves.
def _tvm(name):
    return importlib.import_module("torchvision.models." + name)


tv_alexnet = _tvm("alexnet")
tv_convnext = _tvm("convnext")
tv_densenet = _tvm("densenet")
tv_efficientnet = _tvm("efficientnet")
tv_googlenet = _tvm("googlenet")
tv_inception = _tvm("inception")
tv_mnasnet = _tvm("mnasnet")
tv_mobilenetv2 = _tvm("mobilenetv2")
tv_mobilenetv3 = _tvm("mobilenetv3")
tv_regnet = _tvm("regnet")
tv_resnet = _tvm("resnet")
tv_shufflenetv2 = _tvm("shufflenetv2")
tv_squeezenet = _tvm("squeezenet")
tv_vgg = _tvm("vgg")
from torchvision.ops.misc import Conv2dNormActivation

warnings.filterwarnings("ignore")

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
NUM_CLASSES = 10
INPUT_RULE = (
    "x[i] = ((i * 37 + 11) % 251) / 125 - 1 for the flat row-major index i, float32"
)
VERSIONS = {
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "onnx": onnx.__version__,
    "onnxruntime": ort.__version__,
    "numpy": np.__version__,
}
try:
    import onnxscript

    VERSIONS["onnxscript"] = onnxscript.__version__
except Exception:  # pragma: no cover - dynamo export will fail and be recorded
    VERSIONS["onnxscript"] = "not installed"


def make_input(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    x = ((i * 37 + 11) % 251) / 125 - 1
    return x.astype(np.float32).reshape(shape)


# --------------------------------------------------------------------------
# Width scaling of fixed-width torchvision architectures.
#
# Inside the context manager the torchvision module's ``nn`` name is replaced
# by a namespace whose Conv2d / BatchNorm2d / Linear divide every channel count
# by ``k`` (the 3 input channels and num_classes are kept). The architecture's
# own __init__ code then builds exactly the original topology, only narrower.
# --------------------------------------------------------------------------
@contextlib.contextmanager
def scaled_nn(module, k):
    def s(c):
        return max(1, int(c / k + 0.5))

    class Conv2d(nn.Conv2d):
        def __init__(self, in_channels, out_channels, *args, **kwargs):
            ic = in_channels if in_channels == 3 else s(in_channels)
            oc = out_channels if out_channels == NUM_CLASSES else s(out_channels)
            super().__init__(ic, oc, *args, **kwargs)

    class BatchNorm2d(nn.BatchNorm2d):
        def __init__(self, num_features, *args, **kwargs):
            super().__init__(s(num_features), *args, **kwargs)

    class Linear(nn.Linear):
        def __init__(self, in_features, out_features, *args, **kwargs):
            of = out_features if out_features == NUM_CLASSES else s(out_features)
            super().__init__(s(in_features), of, *args, **kwargs)

    ns = types.SimpleNamespace(
        **{n: getattr(nn, n) for n in dir(nn) if not n.startswith("__")}
    )
    ns.Conv2d, ns.BatchNorm2d, ns.Linear = Conv2d, BatchNorm2d, Linear
    orig = module.nn
    module.nn = ns
    try:
        yield
    finally:
        module.nn = orig


# --------------------------------------------------------------------------
# Model builders. Each returns (model, input_hw, description).
# --------------------------------------------------------------------------
def build_alexnet():
    with scaled_nn(tv_alexnet, 16):
        m = tv_alexnet.AlexNet(num_classes=NUM_CLASSES)
    # torchvision's classifier is Dropout, Linear(256*6*6, 4096), ReLU, Dropout,
    # Linear(4096, 4096), ReLU, Linear(4096, n): same layer kinds, 64 hidden.
    feat = m.features[-3].out_channels * 6 * 6
    m.classifier = nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(feat, 32),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(32, 32),
        nn.ReLU(inplace=True),
        nn.Linear(32, NUM_CLASSES),
    )
    return m, 224, (
        "AlexNet (torchvision.models.AlexNet, all conv widths /16: 4-12-24-16-16, "
        "classifier hidden 32; AdaptiveAvgPool2d((6,6)) is identity at 224x224, Dropout in eval)"
    )


def build_vgg():
    with scaled_nn(tv_vgg, 16):
        m = tv_vgg.VGG(
            tv_vgg.make_layers(tv_vgg.cfgs["A"], batch_norm=False),
            num_classes=NUM_CLASSES,
            init_weights=True,
        )
    feat = m.features[-3].out_channels * 7 * 7
    m.classifier = nn.Sequential(
        nn.Linear(feat, 16),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(16, 16),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(16, NUM_CLASSES),
    )
    return m, 224, (
        "VGG-11 (torchvision.models.VGG + vgg.make_layers(cfg 'A'), widths /16: "
        "4-M-8-M-16-16-M-32-32-M-32-32-M, no BN; AdaptiveAvgPool2d((7,7)) identity at 224x224; "
        "classifier hidden 16)"
    )


def build_resnet():
    with scaled_nn(tv_resnet, 16):
        m = tv_resnet.ResNet(tv_resnet.Bottleneck, [2, 1, 1, 1], num_classes=NUM_CLASSES)
    return m, 64, (
        "ResNet-50 family (torchvision.models.ResNet, Bottleneck, layers [2,1,1,1], "
        "all widths /16: stem 4, stages 4/8/16/32 x4 expansion)"
    )


def build_densenet():
    m = tv_densenet.DenseNet(
        growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=4,
        num_classes=NUM_CLASSES,
    )
    return m, 64, (
        "DenseNet (torchvision.models.DenseNet, growth_rate 8, block_config (2,2,2,2), "
        "num_init_features 16, bn_size 4)"
    )


def build_googlenet():
    with scaled_nn(tv_googlenet, 16):
        m = tv_googlenet.GoogLeNet(
            num_classes=NUM_CLASSES, aux_logits=False, transform_input=True,
            init_weights=False,
        )
    return m, 64, (
        "GoogLeNet (torchvision.models.GoogLeNet, aux_logits off, transform_input on as with "
        "the pretrained weights, all widths /16 (rounded), ceil_mode max pools)"
    )


def build_inception3():
    with scaled_nn(tv_inception, 16):
        m = tv_inception.Inception3(
            num_classes=NUM_CLASSES, aux_logits=False, transform_input=True,
            init_weights=False,
        )
    return m, 112, (
        "Inception-v3 (torchvision.models.Inception3 with InceptionA-E, aux_logits off, "
        "transform_input on as with the pretrained weights, all widths /16; "
        "input 112x112 so Mixed_7c is 2x2)"
    )


def build_squeezenet():
    with scaled_nn(tv_squeezenet, 8):
        m = tv_squeezenet.SqueezeNet(version="1_0", num_classes=NUM_CLASSES)
    return m, 64, (
        "SqueezeNet 1.0 (torchvision.models.SqueezeNet version '1_0', Fire widths /8, "
        "ceil_mode max pools, conv classifier + AdaptiveAvgPool2d)"
    )


def build_shufflenetv2():
    m = tv_shufflenetv2.ShuffleNetV2(
        stages_repeats=[2, 2, 2], stages_out_channels=[8, 16, 32, 64, 128],
        num_classes=NUM_CLASSES,
    )
    return m, 64, (
        "ShuffleNetV2 (torchvision.models.ShuffleNetV2, stages_repeats [2,2,2], "
        "stages_out_channels [8,16,32,64,128]; channel shuffle view/transpose, chunk, mean([2,3]))"
    )


def build_mobilenetv2():
    setting = [
        [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2],
        [6, 96, 1, 1], [6, 160, 1, 2], [6, 320, 1, 1],
    ]
    m = tv_mobilenetv2.MobileNetV2(
        num_classes=NUM_CLASSES, width_mult=0.25, inverted_residual_setting=setting
    )
    # last 1x1 conv is fixed at 1280 channels in torchvision; narrow it to 128.
    cin = m.features[-1][0].in_channels
    m.features[-1] = Conv2dNormActivation(
        cin, 128, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6
    )
    m.last_channel = 128
    m.classifier[1] = nn.Linear(128, NUM_CLASSES)
    return m, 64, (
        "MobileNetV2 (torchvision.models.MobileNetV2, width_mult 0.25, repeats [1,2,2,2,1,1,1], "
        "last 1x1 conv 128 instead of 1280; ReLU6, inverted residuals)"
    )


def build_mobilenetv3():
    setting, _ = tv_mobilenetv3._mobilenet_v3_conf(
        "mobilenet_v3_small", width_mult=0.25, reduced_tail=True
    )
    m = tv_mobilenetv3.MobileNetV3(setting, last_channel=64, num_classes=NUM_CLASSES)
    return m, 64, (
        "MobileNetV3-Small (torchvision.models.MobileNetV3 from _mobilenet_v3_conf("
        "'mobilenet_v3_small', width_mult=0.25, reduced_tail=True), last_channel 64; Hardswish, Hardsigmoid SE)"
    )


def build_mnasnet():
    orig_stack = tv_mnasnet._stack

    def stack(in_ch, out_ch, kernel_size, stride, exp_factor, repeats, bn_momentum):
        cap = 2 if out_ch < 40 else 1
        return orig_stack(in_ch, out_ch, kernel_size, stride, exp_factor, min(repeats, cap), bn_momentum)

    tv_mnasnet._stack = stack
    try:
        m = tv_mnasnet.MNASNet(alpha=0.2, num_classes=NUM_CLASSES)
    finally:
        tv_mnasnet._stack = orig_stack
    # tail conv is fixed at 1280 in torchvision; narrow it to 128.
    cin = m.layers[-3].in_channels
    m.layers[-3] = nn.Conv2d(cin, 128, 1, padding=0, stride=1, bias=False)
    m.layers[-2] = nn.BatchNorm2d(128, momentum=1 - 0.9997)
    m.classifier[1] = nn.Linear(128, NUM_CLASSES)
    return m, 64, (
        "MNASNet (torchvision.models.MNASNet alpha 0.2, stack repeats capped at 2 (1 for the stacks of >= 40 channels), "
        "tail conv 128 instead of 1280; x.mean([2,3]) pooling)"
    )


def build_efficientnet():
    setting, _ = tv_efficientnet._efficientnet_conf(
        "efficientnet_b0", width_mult=0.2, depth_mult=0.5
    )
    # keep a 2-block stage (identity residual + stochastic depth) but make the
    # two widest stages a single block.
    setting[5].num_layers = 1
    setting[6].num_layers = 1
    m = tv_efficientnet.EfficientNet(
        setting, dropout=0.2, stochastic_depth_prob=0.2, num_classes=NUM_CLASSES,
        last_channel=128,
    )
    return m, 64, (
        "EfficientNet-B0 (torchvision.models.EfficientNet from _efficientnet_conf("
        "'efficientnet_b0', width_mult=0.2, depth_mult=0.5), last two stages 1 block, "
        "last_channel 128; SiLU, SE with Sigmoid, StochasticDepth in eval)"
    )


def build_regnet():
    params = tv_regnet.BlockParams.from_init_params(
        depth=6, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25
    )
    m = tv_regnet.RegNet(params, num_classes=NUM_CLASSES, stem_width=8)
    return m, 64, (
        "RegNetY (torchvision.models.RegNet, BlockParams.from_init_params(depth=6, w_0=8, "
        "w_a=8, w_m=2, group_width=8, se_ratio=0.25) = depths [1,1,3,1], widths [8,16,32,64], stem_width 8; grouped 3x3 convs, SE)"
    )


def build_convnext():
    C = tv_convnext.CNBlockConfig
    setting = [C(8, 16, 1), C(16, 32, 1), C(32, 64, 2), C(64, None, 1)]
    m = tv_convnext.ConvNeXt(setting, stochastic_depth_prob=0.1, num_classes=NUM_CLASSES)
    return m, 64, (
        "ConvNeXt-T pattern (torchvision.models.ConvNeXt, CNBlockConfig channels 8/16/32/64, "
        "depths [1,1,2,1]; 7x7 depthwise, LayerNorm2d + permutes, Linear on NHWC, GELU, "
        "layer scale (randomised), StochasticDepth in eval)"
    )


ARCHS = [
    ("alexnet", build_alexnet),
    ("vgg", build_vgg),
    ("resnet", build_resnet),
    ("densenet", build_densenet),
    ("googlenet", build_googlenet),
    ("inception3", build_inception3),
    ("squeezenet", build_squeezenet),
    ("shufflenetv2", build_shufflenetv2),
    ("mobilenetv2", build_mobilenetv2),
    ("mobilenetv3", build_mobilenetv3),
    ("mnasnet", build_mnasnet),
    ("efficientnet", build_efficientnet),
    ("regnet", build_regnet),
    ("convnext", build_convnext),
]

# (arch, exporter kind) pairs that additionally get a dynamic-batch export.
DYNBATCH = {("shufflenetv2", "ts17"), ("shufflenetv2", "dynamo18"), ("resnet", "ts13")}


def randomize_and_calibrate(model, hw):
    """Random norm affine params / layer scales / zero biases, then BN stats on random data."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                if mod.weight is not None:
                    mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=g) - 0.5) * 0.4)
            # torchvision zero-initialises many biases; a zero bias hides bugs
            # (and lets the dynamo optimizer drop the Gemm bias input).
            if isinstance(mod, (nn.Conv2d, nn.Linear)) and mod.bias is not None:
                if not bool(mod.bias.any()):
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=g) - 0.5) * 0.2)
            if isinstance(mod, tv_convnext.CNBlock):
                mod.layer_scale.copy_(torch.rand(mod.layer_scale.shape, generator=g) * 0.4 + 0.2)
    bns = [mm for mm in model.modules() if isinstance(mm, nn.modules.batchnorm._BatchNorm)]
    if bns:
        saved = [b.momentum for b in bns]
        for b in bns:
            b.reset_running_stats()
            b.momentum = None  # cumulative average
        model.train()
        with torch.no_grad():
            for _ in range(4):
                model(torch.rand(4, 3, hw, hw, generator=g) * 2 - 1)
        for b, mo in zip(bns, saved):
            b.momentum = mo
    model.eval()
    # Rescale the final classifier layer so the logits have std ~1 on random
    # data (several torchvision inits use std 0.01 there, giving ~1e-3 logits).
    last = [mm for mm in model.modules()
            if (isinstance(mm, nn.Linear) and mm.out_features == NUM_CLASSES)
            or (isinstance(mm, nn.Conv2d) and mm.out_channels == NUM_CLASSES)][-1]
    with torch.no_grad():
        std = float(model(torch.rand(8, 3, hw, hw, generator=g) * 2 - 1).std())
        last.weight.mul_(1.0 / std)
        if last.bias is not None:
            last.bias.mul_(1.0 / std)
    return model


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
def export(model, hw, kind, path, dynbatch):
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    bsz = 2 if dynbatch else 1
    example = (torch.from_numpy(make_input([bsz, 3, hw, hw])),)
    if kind.startswith("ts"):
        opset = int(kind[2:])
        kwargs = {}
        if dynbatch:
            kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
        torch.onnx.export(
            model, example, path, dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["logits"], **kwargs,
        )
    else:
        opset = int(kind[len("dynamo"):])
        kwargs = {}
        if dynbatch:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=1024)},)
        torch.onnx.export(model, example, path, dynamo=True, opset_version=opset, **kwargs)
    # One self-contained file: fold external data back in if the exporter wrote any.
    m = onnx.load(path, load_external_data=True)
    has_ext = any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer
    ) or os.path.exists(path + ".data")
    if has_ext:
        for t in m.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                raise RuntimeError("external data not loaded")
        onnx.save(m, path, save_as_external_data=False)
        for f in os.listdir(os.path.dirname(path)):
            full = os.path.join(os.path.dirname(path), f)
            if f.startswith(os.path.basename(path)) and f != os.path.basename(path):
                os.remove(full)
    return opset


# --------------------------------------------------------------------------
# Reference values
# --------------------------------------------------------------------------
ELEM_FLOAT = onnx.TensorProto.FLOAT


def _session(model_proto):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(
        model_proto.SerializeToString(), so, providers=["CPUExecutionProvider"]
    )


def run_with_extra_outputs(model, names, feeds):
    """Run a temporary copy of ``model`` with ``names`` added as graph outputs."""
    tmp = copy.deepcopy(model)
    existing = {o.name for o in tmp.graph.output}
    for n in names:
        if n not in existing:
            vi = onnx.ValueInfoProto()
            vi.name = n
            vi.type.tensor_type.elem_type = ELEM_FLOAT
            tmp.graph.output.append(vi)
    sess = _session(tmp)
    out_names = [o.name for o in sess.get_outputs()]
    res = sess.run(out_names, feeds)
    return dict(zip(out_names, res))


def float_node_outputs(model):
    """Names of node outputs whose inferred type is float, in node order."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types_ = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.type.HasField("tensor_type"):
            types_[vi.name] = vi.type.tensor_type.elem_type
    res = []
    for idx, node in enumerate(model.graph.node):
        for o in node.output:
            if o and types_.get(o) == ELEM_FLOAT:
                res.append((idx, node.op_type, o))
    return res


def choose_intermediates(model, values, float_outs):
    nodes = list(model.graph.node)
    graph_outs = {o.name for o in model.graph.output}
    inits = {t.name for t in model.graph.initializer}
    producer = {}
    for idx, n in enumerate(nodes):
        for o in n.output:
            producer[o] = idx

    def square4(name):
        a = values.get(name)
        return (
            a is not None and a.ndim == 4 and a.shape[2] == a.shape[3] and a.shape[2] > 1
            and a.shape[1] != NUM_CLASSES
        )

    skip_ops = {"AveragePool", "GlobalAveragePool", "ReduceMean", "Transpose", "Reshape",
                "Flatten", "Identity", "Dropout"}
    cands = [
        (idx, op, name) for idx, op, name in float_outs
        if name not in graph_outs and square4(name) and op not in skip_ops
    ]
    first_conv = next(i for i, n in enumerate(nodes) if n.op_type == "Conv")
    early = nodes[first_conv].output[0]
    deep_idx, _, deep = cands[-1]

    # just before the classifier: data input of the last Gemm/MatMul
    pre = None
    for n in reversed(nodes):
        if n.op_type in ("Gemm", "MatMul"):
            pre = next(i for i in n.input if i not in inits)
            break
    if pre is None or pre == deep or pre not in values:
        for n in reversed(nodes):
            if n.op_type in ("GlobalAveragePool", "ReduceMean", "AveragePool"):
                pre = n.input[0]
                break
    # middle picks, preferring block outputs
    pref = {"Add", "Concat", "Relu", "Clip", "MaxPool", "HardSwish", "Mul"}
    lo = producer[early]
    mids = [c for c in cands if lo < c[0] < deep_idx and c[1] in pref] or [
        c for c in cands if lo < c[0] < deep_idx
    ]
    chosen = []
    for frac in (0.25, 0.5, 0.75):
        if not mids:
            break
        target = lo + frac * (deep_idx - lo)
        c = min(mids, key=lambda c: abs(c[0] - target))
        if c[2] not in chosen:
            chosen.append(c[2])
    picks = []
    for n in [early] + chosen + [deep, pre]:
        if n and n not in picks and n not in graph_outs:
            picks.append(n)
    return picks, deep


def describe(a):
    a = np.asarray(a, dtype=np.float32)
    flat = a.reshape(-1)
    n = flat.size
    idxs = sorted(set(int(round(v)) for v in np.linspace(0, n - 1, 16)))
    return {
        "shape": [int(d) for d in a.shape],
        "sum": float(flat.astype(np.float64).sum()),
        "abs_sum": float(np.abs(flat.astype(np.float64)).sum()),
        "samples": [[i, float(flat[i])] for i in idxs],
    }


def op_counts(model):
    c = Counter()
    for n in model.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
        c[key] += 1
    for f in model.functions:  # none expected; counted with a prefix if present
        for n in f.node:
            c[f"function:{f.name}/{n.op_type}"] += 1
    return dict(sorted(c.items()))


def reference(path, model_torch, hw, arch_desc, exporter_text):
    model = onnx.load(path)
    onnx.checker.check_model(model)
    in_name = model.graph.input[0].name
    shape = [1, 3, hw, hw]
    x = make_input(shape)
    feeds = {in_name: x}
    float_outs = float_node_outputs(model)
    all_vals = run_with_extra_outputs(model, [n for _, _, n in float_outs], feeds)
    picks, deep = choose_intermediates(model, all_vals, float_outs)
    vals = run_with_extra_outputs(model, picks, feeds)
    gout = model.graph.output[0].name
    with torch.no_grad():
        t = model_torch(torch.from_numpy(x)).numpy()
    diff = float(np.max(np.abs(t - vals[gout])))
    outputs = {gout: describe(vals[gout])}
    for n in picks:
        outputs[n] = describe(vals[n])
    return {
        "model": os.path.basename(path),
        "exporter": exporter_text,
        "architecture": arch_desc,
        "onnxruntime_version": ort.__version__,
        "layout": "nchw",
        "input_name": in_name,
        "input_shape": shape,
        "input_rule": INPUT_RULE,
        "outputs": outputs,
        "graph_output": gout,
        "deep_layer": deep,
        "ops": op_counts(model),
        "torch_vs_onnxruntime_max_abs_diff": diff,
    }


def exporter_text(kind, opset, dynbatch):
    if kind.startswith("ts"):
        t = (f"torch.onnx.export TorchScript exporter (dynamo=False), opset {opset}, "
             f"torch {VERSIONS['torch']}, torchvision {VERSIONS['torchvision']}")
        if dynbatch:
            t += ", dynamic_axes batch on input and output (reference run at batch 1)"
    else:
        t = (f"torch.onnx.export dynamo exporter (dynamo=True, default optimize), opset {opset}, "
             f"torch {VERSIONS['torch']}, torchvision {VERSIONS['torchvision']}, "
             f"onnxscript {VERSIONS['onnxscript']}")
        if dynbatch:
            t += ", dynamic_shapes Dim('batch') on the input (exported with batch 2, reference run at batch 1)"
    return t + "; random weights (seed 0), eval mode"


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------
README_NOTES = """\
Weights: random (`torch.manual_seed(0)`), BatchNorm running stats calibrated on
random data, norm affine params, ConvNeXt layer scales and all-zero biases
randomised, classifier rescaled to logits of std ~1. Inputs are 64x64 except
AlexNet/VGG (224x224, so their AdaptiveAvgPool2d is at its identity size as in
the real nets; other sizes make the TorchScript exporter refuse the adaptive pool)
and Inception-v3 (112x112, so Mixed_7c is 2x2). The PyTorch CPU wheel index was
not reachable, so the PyPI wheel (`+cu132` build, run on CPU) was used.

What an interpreter meets in these files:

- Only the default domain. `ts13` files are opset 13, `ts17` files opset 17,
  `dynamo18` files opset 18. Dynamo files carry per-node `metadata_props`
  (stack traces, hence their size), with no external data and no local functions.
- BatchNorm after a Conv is folded into the Conv by both exporters. A
  `BatchNormalization` node (5 inputs, epsilon 1e-5, momentum 0.9, plus
  `training_mode=0` in the ts17 file) is left only in DenseNet
  (pre-activation BN, where the following Conv has no bias input).
- `Conv`/`Gemm` weights and biases are initializers. (With all-zero biases the
  TorchScript exporter dedups them through `Identity` nodes and the dynamo
  optimizer drops a zero Gemm bias; the randomised biases avoid that.) Depthwise
  (`group=C`) and grouped (RegNet, group width 8) convs; kernels 1x7/7x1 with
  pads `[0,3,0,3]`/`[3,0,3,0]`; kernels 1-11, strides 1/2/4 (ConvNeXt 4x4 s4
  stem, 2x2 s2 downsample).
- `MaxPool` with `ceil_mode=1` (GoogLeNet, SqueezeNet), including 3x3 s1
  pads 1 with ceil_mode; `storage_order=0` is written explicitly by the TS
  exporter. `AveragePool` with `count_include_pad=1` and pads 1 (Inception 3x3
  s1), 2x2 s2 (DenseNet transitions), and 1x1 s1 (AlexNet/VGG adaptive pool
  at identity size).
- Global pooling is `GlobalAveragePool` (TorchScript) or
  `ReduceMean(keepdims=1)` with axes input `[-1,-2]` (dynamo, also in SE
  blocks). `x.mean([2,3])` (ShuffleNetV2, MNASNet) is `ReduceMean(keepdims=0)`
  with axes attribute `[2,3]` at opsets 13/17 and axes input `[2,3]` at 18.
- Flatten: `Flatten(axis=1)` (TorchScript) or `Reshape` to a constant `[1,C]`
  with `allowzero=1` (dynamo). Reshape carries no `allowzero` at opset 13 and
  `allowzero=0` at 17.
- Classifier: `Gemm(transB=1, alpha=1, beta=1)`, transA sometimes written;
  ConvNeXt's Linear on NHWC tensors is `MatMul` (2-D weight) + `Add`.
- ConvNeXt: `Transpose` `[0,2,3,1]` / `[0,3,1,2]`; LayerNorm2d is
  `LayerNormalization(axis=-1, epsilon=1e-6)` at opsets 17/18 (`stash_type=1`
  from dynamo) and at opset 13 decomposed into `ReduceMean(axes=[-1])`, `Sub`,
  `Pow(2)`, `Add`, `Sqrt`, `Div`, `Mul`, `Add`. GELU is `Div(sqrt 2)`, `Erf`,
  `Add(1)`, `Mul`, `Mul(0.5)`. Layer scale is `Mul` by a `[C,1,1]` constant.
  After the final AdaptiveAvgPool, dynamo emits `as_strided` as `Reshape` +
  `Gather(axis=0)` with a rank-4 int64 index tensor `[1,64,1,1]`.
- Hardswish: `HardSwish` at opsets 17/18; at opset 13 `HardSigmoid(alpha=1/6)`
  (beta left at its default 0.5) + `Mul`. SE Hardsigmoid is
  `HardSigmoid(alpha=1/6, beta=0.5)`. SiLU is `Sigmoid` + `Mul`. ReLU6 is `Clip`
  with min/max inputs 0 and 6 (from `Constant` nodes in TS files, initializers
  in dynamo files).
- GoogLeNet/Inception `transform_input`: `Gather(axis=1)` with a rank-0
  index (drops the axis), `Unsqueeze` (axes input `[1]`), `Mul`/`Add` by
  scalars, `Concat(axis=1)`.
- ShuffleNetV2 channel shuffle: `Reshape` to 5-D `[1,2,C/2,H,W]`,
  `Transpose [0,2,1,3,4]`, `Reshape` back. `chunk(2, dim=1)` is
  `Split(axis=1, num_outputs=2)` (opset 18 attribute) from dynamo, and from
  the TS exporter `Shape` -> `Gather` -> int64 `Add`/`Div`/`Mul` -> `Slice`
  with 4 inputs (starts and ends computed at run time, axes `[1]`, no steps).
  The TS dynamic-batch file builds its Reshape shapes at run time: `Shape`,
  `Gather` (rank-0 index), `Unsqueeze`, `Cast(to=INT64)`, int64 `Div`,
  `Concat(axis=0)`. The dynamo dynamic-batch file uses constant shapes with -1.
- `Constant` nodes (scalars and 1-element tensors) appear only in TS files.
- No `Resize`, `Pad`, `Softmax`, `Squeeze`, `Expand`, `Where`,
  `ConstantOfShape` or `Dropout` in any torch_ file.
""".splitlines() + [""]


def write_readme(results, failures):
    path = os.path.join(OUT_DIR, "README.md")
    op_files = Counter()
    for r in results:
        for op in r["json"]["ops"]:
            op_files[op] += 1
    lines = [
        "## PyTorch",
        "",
        "Files `torch_*.onnx` were exported by the real PyTorch exporters from compact",
        "torchvision classification CNNs (torchvision's own classes/blocks at reduced",
        "width/depth, random weights with `torch.manual_seed(0)`, BatchNorm statistics",
        "calibrated on random data, eval mode). Each has a sibling `torch_*.json` with",
        "onnxruntime reference values (CPUExecutionProvider, graph optimizations",
        "disabled) for the graph output and several intermediate tensors, the input",
        "rule, op counts, and torch-vs-onnxruntime max abs difference.",
        "",
        "Exporters: `ts13` / `ts17` = `torch.onnx.export(..., dynamo=False)` at opset",
        "13 / 17; `dynamo18` = `torch.onnx.export(..., dynamo=True)` at opset 18 (its",
        "default optimizer only); `_dynbatch` = dynamic batch axis. Dynamo external",
        "data, if any, is folded back so every fixture is one file.",
        "",
        "Rerun:",
        "",
        "```sh",
        "python3 -m venv .venv-torch",
        ".venv-torch/bin/pip install torch torchvision onnx onnxruntime onnxscript numpy",
        ".venv-torch/bin/python testdata/exported/make_torch_exports.py",
        "```",
        "",
        "Versions used: " + ", ".join(f"{k} {v}" for k, v in VERSIONS.items()) + ".",
        "",
        "| file | size (bytes) | input | torch vs ORT max abs diff |",
        "| --- | ---: | --- | ---: |",
    ]
    for r in results:
        j = r["json"]
        lines.append(
            f"| `{j['model']}` | {os.path.getsize(os.path.join(OUT_DIR, j['model']))} | "
            f"{'x'.join(map(str, j['input_shape']))} | {j['torch_vs_onnxruntime_max_abs_diff']:.2e} |"
        )
    total = sum(os.path.getsize(os.path.join(OUT_DIR, r["json"]["model"])) for r in results)
    lines += ["", f"Total size of the torch_*.onnx files: {total} bytes.", ""]
    lines += README_NOTES
    lines += ["Op types used across the torch_ fixtures (number of files using each):", ""]
    lines += ["| op | files |", "| --- | ---: |"]
    for op, c in sorted(op_files.items()):
        lines.append(f"| {op} | {c} |")
    lines.append("")
    if failures:
        lines.append("Export failures are listed in `torch_failures.md`.")
    else:
        lines.append("No export failed.")
    lines.append("")
    section = "\n".join(lines) + "\n"
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    # Replace an existing "## PyTorch" section (up to the next "## " heading) or append.
    m = re.search(r"^## PyTorch\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
    if m:
        text = text[: m.start()] + section + text[m.end():]
    else:
        if not text:
            text = "# Exported ONNX fixtures\n\n"
        elif not text.endswith("\n\n"):
            text = text.rstrip("\n") + "\n\n"
        text += section
    with open(path, "w") as f:
        f.write(text)


def main():
    only = set(sys.argv[1:])
    os.makedirs(OUT_DIR, exist_ok=True)
    if not only:
        for f in os.listdir(OUT_DIR):
            if f.startswith("torch_") and (f.endswith(".onnx") or f.endswith(".json")
                                           or f.endswith(".data") or f == "torch_failures.md"):
                os.remove(os.path.join(OUT_DIR, f))
    results, failures = [], []
    for arch, builder in ARCHS:
        if only and arch not in only:
            continue
        torch.manual_seed(0)
        model, hw, desc = builder()
        model = randomize_and_calibrate(model, hw)
        nparams = sum(p.numel() for p in model.parameters())
        print(f"== {arch}: {nparams} params, input {hw}x{hw}", flush=True)
        jobs = []
        for kind in ("ts13", "ts17", "dynamo18"):
            jobs.append((kind, False))
            if (arch, kind) in DYNBATCH:
                jobs.append((kind, True))
        for kind, dyn in jobs:
            stem = f"torch_{arch}_{kind}" + ("_dynbatch" if dyn else "")
            path = os.path.join(OUT_DIR, stem + ".onnx")
            try:
                opset = export(model, hw, kind, path, dyn)
                j = reference(path, model, hw, desc, exporter_text(kind, opset, dyn))
            except Exception as e:  # record and continue
                tb = traceback.format_exc()
                print(f"   FAILED {stem}: {type(e).__name__}: {str(e)[:300]}", flush=True)
                failures.append((stem, tb))
                for p in (path, path + ".data"):
                    if os.path.exists(p):
                        os.remove(p)
                continue
            with open(os.path.join(OUT_DIR, stem + ".json"), "w") as f:
                json.dump(j, f, indent=1)
                f.write("\n")
            size = os.path.getsize(path)
            print(f"   {stem}.onnx {size} B, diff {j['torch_vs_onnxruntime_max_abs_diff']:.2e}, "
                  f"deep {j['deep_layer']} {j['outputs'][j['deep_layer']]['shape']}", flush=True)
            results.append({"json": j})
    fail_path = os.path.join(OUT_DIR, "torch_failures.md")
    if failures:
        with open(fail_path, "w") as f:
            f.write("# PyTorch export failures\n\n")
            f.write("Versions: " + ", ".join(f"{k} {v}" for k, v in VERSIONS.items()) + "\n\n")
            for stem, tb in failures:
                f.write(f"## {stem}\n\n```\n{tb[-6000:]}\n```\n\n")
    elif not only and os.path.exists(fail_path):
        os.remove(fail_path)
    if not only:
        write_readme(results, failures)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, r["json"]["model"])) for r in results)
    print(f"{len(results)} fixtures, {len(failures)} failures, {total} bytes total")


if __name__ == "__main__":
    main()
