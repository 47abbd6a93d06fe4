#!/usr/bin/env python3
"""Export small paddle.vision CNNs to ONNX with the real paddle2onnx
converter (paddle.onnx.export, default settings) and record onnxruntime
reference values next to each file.

Run (see testdata/exported/README.md, section "Paddle"):

    python3.11 -m venv .venv-paddle
    .venv-paddle/bin/pip install paddlepaddle==3.3.1 paddle2onnx==2.1.0 \
        onnx==1.17.0 onnxruntime==1.32.0 numpy==2.4.6 polygraphy==0.53.6 \
        onnx_graphsurgeon==0.6.1 sympy==1.14.0
    .venv-paddle/bin/python testdata/exported/make_paddle_exports.py

(paddle.onnx.export folds constants with polygraphy, which pip-installs
onnx_graphsurgeon and sympy on first use unless they are already there.)

Writes paddle_<arch>_op<N>.onnx and .json into the folder of this script.

Models: random weights with paddle.seed(0); every BatchNorm's weight/bias/
running statistics are then overwritten with deterministic pseudo-random
values (numpy RandomState(1234)) so that they are not an identity.
"""

import collections
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import paddle
import paddle2onnx

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
INPUT_RULE = (
    "x[i] = ((i * 37 + 11) % 251) / 125 - 1 for the flat row-major index i, float32"
)


def mobilenet_v2():
    m = paddle.vision.models.mobilenet_v2(scale=0.25, num_classes=10)
    return m, ("MobileNetV2 (the real paddle.vision.models.mobilenet_v2 with "
               "scale=0.25, num_classes=10, input 1x3x64x64)")


def shufflenet_v2():
    m = paddle.vision.models.shufflenet_v2_x0_25(num_classes=10)
    return m, ("ShuffleNetV2 x0.25 (the real paddle.vision.models."
               "shufflenet_v2_x0_25 with num_classes=10, input 1x3x64x64; "
               "channel shuffle, channel split)")


def mobilenet_v3_small():
    m = paddle.vision.models.mobilenet_v3_small(scale=0.25, num_classes=10)
    return m, ("MobileNetV3-Small (the real paddle.vision.models."
               "mobilenet_v3_small with scale=0.25, num_classes=10, input "
               "1x3x64x64; hardswish, squeeze-excite with hardsigmoid)")


# (file stem, builder, opset, dynamic batch)
MODELS = [
    ("paddle_mobilenetv2_op13", mobilenet_v2, 13, False),
    ("paddle_shufflenetv2_op13_dynbatch", shufflenet_v2, 13, True),
    ("paddle_mobilenetv3small_op17", mobilenet_v3_small, 17, False),
]


def perturb_bn(model, seed=1234):
    rng = np.random.RandomState(seed)
    for lay in model.sublayers():
        if isinstance(lay, (paddle.nn.BatchNorm2D, paddle.nn.BatchNorm)):
            c = lay.weight.shape[0]
            lay.weight.set_value(rng.uniform(0.5, 1.5, c).astype(np.float32))
            lay.bias.set_value(rng.uniform(-0.2, 0.2, c).astype(np.float32))
            lay._mean.set_value(rng.uniform(-0.2, 0.2, c).astype(np.float32))
            lay._variance.set_value(rng.uniform(0.5, 1.5, c)
                                    .astype(np.float32))


def make_input(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    x = ((i * 37 + 11) % 251) / 125 - 1
    return x.astype(np.float32).reshape(shape)


def summarize(arr):
    flat = np.asarray(arr, dtype=np.float64).reshape(-1)
    n = flat.size
    idx = ([int(round(k * (n - 1) / 15)) for k in range(16)] if n >= 16
           else list(range(n)))
    return {
        "shape": [int(d) for d in arr.shape],
        "sum": float(flat.sum()),
        "abs_sum": float(np.abs(flat).sum()),
        "samples": [[i, float(np.float32(flat[i]))] for i in idx],
    }


def run_with_extra_outputs(model, feed, names):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for n in names:
        if n not in existing:
            m.graph.output.append(onnx.helper.make_tensor_value_info(
                n, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "m.onnx")
        onnx.save(m, p)
        sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        outs = sess.run(None, feed)
    return {o.name: v for o, v in zip(sess.get_outputs(), outs)}


def pick_intermediates(model, vals_all):
    """Early activation, two middle tensors, deep layer, pre-classifier."""
    nodes = list(model.graph.node)
    four_d = [(k, n.output[0]) for k, n in enumerate(nodes)
              if n.output and n.output[0] in vals_all
              and vals_all[n.output[0]].ndim == 4
              and n.op_type not in ("Identity", "Constant")]
    act_ops = ("Relu", "Clip", "HardSwish", "Mul", "Add", "Concat",
               "Transpose", "Reshape", "HardSigmoid")
    gap = [k for k, n in enumerate(nodes)
           if n.op_type in ("GlobalAveragePool", "ReduceMean", "AveragePool")]
    deep = nodes[gap[-1]].input[0] if gap else four_d[-1][1]
    deep_k = next(k for k, n in enumerate(nodes) if deep in n.output)
    early = next(o for k, o in four_d if nodes[k].op_type in act_ops)
    acts = [(k, o) for k, o in four_d if nodes[k].op_type in act_ops
            and k < deep_k and vals_all[o].shape[2] > 1]
    mid1 = acts[len(acts) // 3][1]
    mid2 = acts[(2 * len(acts)) // 3][1]
    cls = [n for n in nodes if n.op_type in ("MatMul", "Gemm", "Conv")][-1]
    pre_cls = cls.input[0]
    picked = []
    for t in (early, mid1, mid2, deep, pre_cls):
        if t not in picked:
            picked.append(t)
    return picked, deep


def export_one(stem, builder, opset, dynamic):
    paddle.seed(0)
    np.random.seed(0)
    model, desc = builder()
    perturb_bn(model)
    model.eval()
    batch = None if dynamic else 1
    spec = [paddle.static.InputSpec([batch, 3, 64, 64], "float32", "x")]
    path_prefix = os.path.join(OUT_DIR, stem)
    paddle.onnx.export(model, path_prefix, input_spec=spec,
                       opset_version=opset)
    path = path_prefix + ".onnx"
    onnx_model = onnx.load(path)

    in_name = onnx_model.graph.input[0].name
    in_shape = [1, 3, 64, 64]
    x = make_input(in_shape)
    feed = {in_name: x}
    with paddle.no_grad():
        paddle_pred = model(paddle.to_tensor(x)).numpy()

    inferred = onnx.shape_inference.infer_shapes(onnx_model)
    floats = {vi.name for vi in inferred.graph.value_info
              if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    node_outs = [o for n in onnx_model.graph.node for o in n.output
                 if o in floats]
    vals_all = run_with_extra_outputs(onnx_model, feed, node_outs)
    graph_output = onnx_model.graph.output[0].name
    ort_pred = vals_all[graph_output]
    names, deep = pick_intermediates(onnx_model, vals_all)

    outputs = {graph_output: summarize(ort_pred)}
    for n in names:
        e = summarize(vals_all[n])
        e["layout"] = "nchw" if vals_all[n].ndim == 4 else "nc"
        outputs[n] = e
        producer = next(nd.op_type for nd in onnx_model.graph.node
                        if n in nd.output)
        print(f"  {n:40s} {producer:18s} {list(vals_all[n].shape)}")

    diff = float(np.max(np.abs(ort_pred.astype(np.float64) - paddle_pred)))
    ops = collections.Counter(
        (f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx")
         else n.op_type) for n in onnx_model.graph.node)
    opset_v = [o.version for o in onnx_model.opset_import
               if o.domain in ("", "ai.onnx")][0]
    meta = {
        "model": stem + ".onnx",
        "exporter": (f"paddle2onnx {paddle2onnx.__version__} "
                     f"(paddle.onnx.export, default settings) from "
                     f"PaddlePaddle {paddle.__version__}, opset {opset_v}; "
                     f"batch axis "
                     f"{'dynamic (None)' if dynamic else 'static 1'}"),
        "architecture": desc,
        "onnxruntime_version": ort.__version__,
        "layout": "nchw",
        "input_name": in_name,
        "input_shape": in_shape,
        "input_rule": INPUT_RULE,
        "outputs": outputs,
        "graph_output": graph_output,
        "deep_layer": deep,
        "ops": dict(sorted(ops.items())),
        "paddle_vs_onnxruntime_max_abs_diff": diff,
    }
    with open(path_prefix + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{stem}: {os.path.getsize(path)} bytes, paddle vs ort {diff:.2e}, "
          f"ops {dict(ops)}")


def main():
    only = set(sys.argv[1:])
    print(f"PaddlePaddle {paddle.__version__}, paddle2onnx "
          f"{paddle2onnx.__version__}, onnx {onnx.__version__}, onnxruntime "
          f"{ort.__version__}, numpy {np.__version__}")
    for stem, builder, opset, dynamic in MODELS:
        if only and not any(o in stem for o in only):
            continue
        export_one(stem, builder, opset, dynamic)


if __name__ == "__main__":
    main()
