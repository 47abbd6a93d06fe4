#!/usr/bin/env python3
"""Reference saliency maps from Captum / pytorch-grad-cam for a small ResNet.

Rerun (CPU only, 20-90 s on 2 cores; deterministic, byte-identical outputs):

    python3 -m venv .venv-vit
    .venv-vit/bin/pip install torch torchvision onnx onnxruntime numpy pillow captum grad-cam
    .venv-vit/bin/python testdata/saliency/make_saliency_refs.py

Model: ``build_resnet()`` from ``testdata/exported/make_torch_exports.py``
(torchvision.models.ResNet, Bottleneck, layers [2,1,1,1], widths /16, 10
classes), built after ``torch.manual_seed(0)`` and passed through that file's
``randomize_and_calibrate(model, 64)`` -- exactly the weights of
``testdata/exported/torch_resnet_*.onnx`` (checked below when that file is
present). Eval mode. Two function-preserving edits, made for Captum:

* every ``nn.ReLU`` has ``inplace=False``;
* torchvision's Bottleneck calls one ``self.relu`` module three times. Captum's
  GuidedBackprop / Deconvolution hook ReLU *modules* and keep one saved
  output-gradient per module, so a shared module is fragile. Each Bottleneck is
  therefore switched to a subclass (``SplitReluBottleneck``) whose forward is
  torchvision's with ``relu1``/``relu2``/``relu3`` (three separate nn.ReLU) in
  place of the shared ``relu``, and ``out = out + identity`` in place of
  ``out += identity``. (With Captum 0.9 the shared-module model happens to give
  the same maps; the script prints that diff.) The ONNX node names follow the
  new module names (``/layer3/layer3.0/relu3/Relu``).

Files written to testdata/saliency/ (all .npy are float32, C-order):

* ``torch_resnet_relu.onnx``: TorchScript exporter (``dynamo=False``), opset 17,
  input ``input`` [1,3,96,96], output ``logits`` [1,10]. Takes [0,1] pixels
  directly (no mean/std normalisation).
* ``input_96.png``: ``testdata/chelsea_224.png`` resized to 96x96 with PIL
  ``Image.BILINEAR``. The model input is this PNG's uint8 RGB / 255 as float32,
  NCHW (the PNG is re-read, so both sides use the same bytes).
* ``logits.npy`` [10]: torch logits on that input. Target k = argmax.
* ``gradient.npy`` [3,96,96]: ``captum.attr.Saliency(model).attribute(x,
  target=k, abs=False)`` (plain d logit_k / d x).
* ``deconvnet.npy`` [3,96,96]: ``captum.attr.Deconvolution`` (ReLU backward =
  relu(grad_out), ignores the forward mask).
* ``guided_backprop.npy`` [3,96,96]: ``captum.attr.GuidedBackprop`` (ReLU
  backward = relu(grad_out * [x > 0])).
* ``grad_cam.npy`` [6,6]: ``captum.attr.LayerGradCam(model, model.layer3)
  .attribute(x, target=k, relu_attributions=True)`` at layer resolution
  (= relu(sum_c mean_ij(g_c) * A_c)).
* ``grad_cam_pp.npy`` [6,6]: Grad-CAM++ as pytorch-grad-cam defines it, at layer
  resolution, before its min-max scaling / resize: weights from the library's
  ``GradCAMPlusPlus.get_cam_weights`` (a = g^2 / (2 g^2 + sum_ij(A) g^3 + 1e-6),
  a := 0 where g == 0, w_c = sum_ij relu(g) a), cam = relu(sum_c w_c A_c).
* ``layer_cam.npy`` [6,6]: LayerCAM from the library's
  ``LayerCAM.get_cam_image``: relu(sum_c relu(g_c) * A_c), layer resolution.
* ``score_cam_weights.npy`` [C] and ``score_cam.npy`` [6,6]: Score-CAM weights
  from the library's ``ScoreCAM.get_cam_weights`` (batch size 16), cam =
  relu(sum_c w_c A_c) at layer resolution. Its recipe: each channel of A is
  upsampled to 96x96 with ``torch.nn.UpsamplingBilinear2d`` -- i.e. bilinear
  with **align_corners=True** -- then min-max normalised per channel as
  (u - min) / (max - min + 1e-8) (a constant channel, e.g. all-zero, becomes an
  all-zero mask, so its score is the logit of an all-black input), the input is
  multiplied by the mask, score_c = logit_k of the masked input, weights =
  softmax_c(scores).
* ``occlusion.npy`` [3,96,96]: ``captum.attr.Occlusion(model).attribute(x,
  target=k, sliding_window_shapes=(3,16,16), strides=(3,8,8), baselines=0)``
  (11x11 window positions; each pixel gets the mean of logit_k(x) -
  logit_k(occluded) over the windows covering it).
* ``refs.json``: target, CAM layer ONNX tensor name + shape, method parameters,
  library versions, and each file's shape and max |value|.

Here g = d logit_k / d A and A = output of ``model.layer3`` (after its last
block's final ReLU), [1,C,6,6]. All maps are computed in float32; the script
also prints the float64 - float32 difference of every map as a noise level.
"""

import importlib.util
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # ScoreCAM's progress bars

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import captum
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    LayerGradCam,
    Occlusion,
    Saliency,
)
import pytorch_grad_cam
from pytorch_grad_cam import GradCAMPlusPlus, LayerCAM, ScoreCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from importlib.metadata import version as pkg_version

warnings.filterwarnings("ignore")
torch.set_num_threads(2)

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.dirname(HERE)
SIZE = 96
ONNX_NAME = "torch_resnet_relu.onnx"
PNG_NAME = "input_96.png"
OCC_WINDOW = (3, 16, 16)
OCC_STRIDE = (3, 8, 8)
OCC_BASELINE = 0.0
GRADCAM_PP_EPS = 1e-6  # hard-coded in GradCAMPlusPlus.get_cam_weights
SCORECAM_EPS = 1e-8  # hard-coded in ScoreCAM.get_cam_weights
SCORECAM_BATCH = 16  # ScoreCAM default (no batch_size attribute set)


def load_exports_module():
    path = os.path.join(TESTDATA, "exported", "make_torch_exports.py")
    spec = importlib.util.spec_from_file_location("make_torch_exports", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MTE = load_exports_module()
tv_resnet = MTE.tv_resnet


class SplitReluBottleneck(tv_resnet.Bottleneck):
    """torchvision Bottleneck.forward with one nn.ReLU module per call."""

    def forward(self, x):
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu3(out)


def build_model(split_relus=True):
    torch.manual_seed(0)
    model, hw, _ = MTE.build_resnet()
    model = MTE.randomize_and_calibrate(model, hw)
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    if split_relus:
        for m in model.modules():
            if type(m) is tv_resnet.Bottleneck:
                m.__class__ = SplitReluBottleneck
                del m.relu
                m.relu1, m.relu2, m.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, hw


def check_same_weights_as_fixture(model, hw):
    path = os.path.join(TESTDATA, "exported", "torch_resnet_ts17.onnx")
    if not os.path.exists(path):
        print("(testdata/exported/torch_resnet_ts17.onnx absent; weight check skipped)")
        return
    xin = MTE.make_input((1, 3, hw, hw))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: xin})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(xin)).numpy()
    d = float(np.abs(ref - got).max())
    print(f"same weights as exported/torch_resnet_ts17.onnx: max|diff| = {d:.3g}")
    assert d < 1e-4


def make_input():
    src = Image.open(os.path.join(TESTDATA, "chelsea_224.png")).convert("RGB")
    src.resize((SIZE, SIZE), Image.BILINEAR).save(os.path.join(HERE, PNG_NAME))
    arr = np.asarray(Image.open(os.path.join(HERE, PNG_NAME)).convert("RGB"))
    assert arr.shape == (SIZE, SIZE, 3) and arr.dtype == np.uint8
    x = (arr.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    return torch.from_numpy(x)


def export_onnx(model, x):
    path = os.path.join(HERE, ONNX_NAME)
    torch.onnx.export(model, x, path, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"])
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ort_logits = sess.run(["logits"], {"input": x.numpy()})[0]
    with torch.no_grad():
        t_logits = model(x).numpy()
    d = float(np.abs(ort_logits - t_logits).max())
    print(f"onnxruntime vs torch logits: max|diff| = {d:.3g}")
    assert d < 1e-4
    return path


def find_cam_tensor(path, model, x):
    """ONNX name of model.layer3's output; checked with onnxruntime vs torch."""
    proto = onnx.load(path)
    relus = [n for n in proto.graph.node
             if n.op_type == "Relu" and n.name.startswith("/layer3/")]
    assert relus, "no Relu under /layer3/"
    node = relus[-1]
    name = node.output[0]
    # the layer3 output must feed layer4 only
    consumers = [n.name for n in proto.graph.node if name in n.input]
    assert consumers and all(c.startswith("/layer4/") for c in consumers), consumers
    proto.graph.output.append(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as td:
        tmp = os.path.join(td, "with_cam.onnx")
        onnx.save(proto, tmp)
        sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        a_ort = sess.run([name], {"input": x.numpy()})[0]
    with torch.no_grad():
        a_t = layer_output(model, model.layer3, x)
    d = float(np.abs(a_ort - a_t.numpy()).max())
    scale = float(np.abs(a_t.numpy()).max())
    print(f"cam layer: node {node.name!r}, tensor {name!r}, shape {list(a_ort.shape)}, "
          f"ort vs torch layer3 max|diff| = {d:.3g} (max|A| = {scale:.3g})")
    assert a_ort.shape[0] == 1 and a_ort.shape[2:] == (6, 6)
    # float32 rounding (BN folded into conv by the exporter): relative 1e-5
    assert d < 1e-5 * max(1.0, scale)
    return name, list(a_ort.shape)


def layer_output(model, layer, x):
    store = {}
    h = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        model(x)
    finally:
        h.remove()
    return store["a"]


def acts_and_grads(model, x, k):
    """A = layer3 output [1,C,6,6] and g = d logit_k / d A (numpy float)."""
    store = {}

    def hook(m, i, o):
        o.retain_grad()
        store["a"] = o

    h = model.layer3.register_forward_hook(hook)
    try:
        xx = x.clone().requires_grad_(True)
        out = model(xx)
        out[0, k].backward()
    finally:
        h.remove()
    return store["a"].detach().numpy(), store["a"].grad.detach().numpy()


class _ReluOverride(torch.autograd.Function):
    """relu forward; backward relu(g) (deconv) or relu(g * mask) (guided)."""

    @staticmethod
    def forward(ctx, x, guided):
        ctx.save_for_backward(x)
        ctx.guided = guided
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.guided:
            g = g * (x > 0).to(g.dtype)
        return g.clamp_min(0), None


def manual_modified_backprop(model, x, k, guided):
    """Independent GBP / deconvnet via a custom ReLU autograd function."""
    saved = {}
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            saved[m] = m.forward
            m.forward = (lambda inp, _g=guided: _ReluOverride.apply(inp, _g))
    try:
        xx = x.clone().requires_grad_(True)
        model(xx)[0, k].backward()
    finally:
        for m, f in saved.items():
            m.forward = f
    return xx.grad[0].detach()


def compute_maps(model, x, k):
    """All reference maps (numpy, dtype of x)."""
    maps = {}
    maps["gradient"] = Saliency(model).attribute(x, target=k, abs=False)[0]
    maps["deconvnet"] = Deconvolution(model).attribute(x, target=k)[0]
    maps["guided_backprop"] = GuidedBackprop(model).attribute(x, target=k)[0]
    maps["grad_cam"] = LayerGradCam(model, model.layer3).attribute(
        x, target=k, relu_attributions=True)[0, 0]
    maps["occlusion"] = Occlusion(model).attribute(
        x, target=k, sliding_window_shapes=OCC_WINDOW, strides=OCC_STRIDE,
        baselines=OCC_BASELINE)[0]
    maps = {n: v.detach().numpy() for n, v in maps.items()}

    A, g = acts_and_grads(model, x, k)
    targets = [ClassifierOutputTarget(k)]
    layers = [model.layer3]
    # Grad-CAM++ (library weights)
    with GradCAMPlusPlus(model, layers) as cam:
        w_pp = cam.get_cam_weights(x, layers[0], targets, A, g)
    maps["grad_cam_pp"] = np.maximum((w_pp[:, :, None, None] * A).sum(axis=1), 0)[0]
    # LayerCAM (library cam image)
    with LayerCAM(model, layers) as cam:
        lc = cam.get_cam_image(x, layers[0], targets, A, g, eigen_smooth=False)
    maps["layer_cam"] = np.maximum(lc, 0)[0]
    # Score-CAM (library weights)
    with ScoreCAM(model, layers) as cam:
        assert not hasattr(cam, "batch_size")  # => batch size 16
        w_sc = cam.get_cam_weights(x, layers[0], targets, A, None)
    maps["score_cam_weights"] = np.asarray(w_sc[0])
    maps["score_cam"] = np.maximum((w_sc[:, :, None, None] * A).sum(axis=1), 0)[0]
    return maps, A, g


def library_end_to_end_checks(model, x, k, maps):
    """pytorch-grad-cam's own __call__ (min-max + cv2 resize) vs our layer maps."""
    targets = [ClassifierOutputTarget(k)]
    x = x.clone().requires_grad_(True)  # the model's parameters are frozen
    for name, cls in (("grad_cam_pp", GradCAMPlusPlus), ("layer_cam", LayerCAM),
                      ("score_cam", ScoreCAM)):
        with cls(model, [model.layer3]) as cam:
            full = cam(x, targets)  # [1,96,96]
        ours = scale_cam_image(scale_cam_image(maps[name][None], (SIZE, SIZE)))
        d = float(np.abs(full - ours).max())
        print(f"  pytorch-grad-cam {cls.__name__}(...) vs scaled+resized {name}.npy: "
              f"max|diff| = {d:.3g}")
        assert d < 1e-4
    from pytorch_grad_cam import GradCAM
    with GradCAM(model, [model.layer3]) as cam:
        full = cam(x, targets)
    ours = scale_cam_image(scale_cam_image(maps["grad_cam"][None], (SIZE, SIZE)))
    d = float(np.abs(full - ours).max())
    print(f"  pytorch-grad-cam GradCAM vs scaled+resized captum grad_cam: max|diff| = {d:.3g}")
    assert d < 1e-4


def own_score_cam_weights(model, x, k, A):
    """Score-CAM weights re-derived from the documented recipe (no library code)."""
    with torch.no_grad():
        a = torch.from_numpy(A).to(x.dtype)
        up = F.interpolate(a, size=(SIZE, SIZE), mode="bilinear", align_corners=True)
        flat = up.flatten(2)
        mn, mx = flat.min(-1)[0][..., None, None], flat.max(-1)[0][..., None, None]
        masks = (up - mn) / (mx - mn + SCORECAM_EPS)  # [1,C,96,96]
        scores = torch.cat([model(x * masks[:, c:c + 1]) [:, k] for c in range(a.shape[1])])
        return torch.softmax(scores, 0).numpy()


def main():
    model, hw = build_model(split_relus=True)
    check_same_weights_as_fixture(model, hw)
    x = make_input()
    with torch.no_grad():
        logits = model(x)[0].numpy()
    k = int(np.argmax(logits))
    print(f"logits = {np.round(logits, 4).tolist()}, target k = {k}")

    onnx_path = export_onnx(model, x)
    cam_name, cam_shape = find_cam_tensor(onnx_path, model, x)

    maps, A, g = compute_maps(model, x, k)
    maps["logits"] = logits

    print("sanity checks:")
    gb, dc, gr = maps["guided_backprop"], maps["deconvnet"], maps["gradient"]
    print(f"  guided_backprop vs gradient: max|diff| = {np.abs(gb - gr).max():.3g} "
          f"(max|gradient| {np.abs(gr).max():.3g}); sign-agreement where both nonzero "
          f"{np.mean(np.sign(gb[gb != 0]) == np.sign(gr[gb != 0])):.3f}")
    assert np.abs(gb - gr).max() > 1e-3 * np.abs(gr).max()
    print(f"  deconvnet vs gradient: max|diff| = {np.abs(dc - gr).max():.3g}; "
          f"deconvnet vs guided_backprop: max|diff| = {np.abs(dc - gb).max():.3g}")
    assert np.abs(dc - gr).max() > 1e-3 * np.abs(gr).max()
    for name, guided in (("guided_backprop", True), ("deconvnet", False)):
        man = manual_modified_backprop(model, x, k, guided).numpy()
        d = float(np.abs(man - maps[name]).max())
        print(f"  captum {name} vs own custom-ReLU-backward implementation: max|diff| = {d:.3g}")
        assert d < 1e-6 * max(1.0, float(np.abs(man).max()))
    # The own deconvnet above never reads the ReLU inputs in backward, so its
    # exact match shows Captum's Deconvolution ignores the forward ReLU masks
    # (only the stem maxpool switches still depend on x).
    gc_own = np.maximum((g.mean(axis=(2, 3))[:, :, None, None] * A).sum(1), 0)[0]
    print(f"  captum grad_cam vs relu(sum_c mean(g_c) A_c): "
          f"max|diff| = {np.abs(gc_own - maps['grad_cam']).max():.3g}")
    w_own = own_score_cam_weights(model, x, k, A)
    d = float(np.abs(w_own - maps["score_cam_weights"]).max())
    print(f"  ScoreCAM library weights vs own recipe (align_corners=True): max|diff| = {d:.3g}")
    assert d < 1e-6
    g2 = g * g
    den = 2 * g2 + A.sum(axis=(2, 3), keepdims=True) * g2 * g + GRADCAM_PP_EPS
    print(f"  Grad-CAM++ denominator min = {den.min():.3g}, min|den| where g != 0 = "
          f"{np.abs(den[g != 0]).min():.3g}, min|den|/g^2 = {np.abs(den[g != 0] / g2[g != 0]).min():.3g} "
          f"(eps {GRADCAM_PP_EPS}); "
          f"max|g| = {np.abs(g).max():.3g}, dead channels (A==0) = "
          f"{int((A.reshape(A.shape[1], -1).max(-1) == 0).sum())}/{A.shape[1]}")
    library_end_to_end_checks(model, x, k, maps)

    # Captum on the unmodified (shared-ReLU) torchvision Bottleneck
    shared, _ = build_model(split_relus=False)
    for name, cls in (("guided_backprop", GuidedBackprop), ("deconvnet", Deconvolution)):
        m = cls(shared).attribute(x, target=k)[0].numpy()
        print(f"  captum {name} on shared-relu Bottleneck vs split: "
              f"max|diff| = {np.abs(m - maps[name]).max():.3g}")

    # float64 noise level
    model64 = build_model(split_relus=True)[0].double()
    maps64, _, _ = compute_maps(model64, x.double(), k)
    maps64["logits"] = model64(x.double())[0].detach().numpy()
    print("float64 - float32 (noise level of the float32 refs):")
    for n in maps64:
        print(f"  {n:18s} max|diff| = {np.abs(maps64[n] - maps[n]).max():.3g}")

    files = {}
    for n, v in maps.items():
        v = np.ascontiguousarray(v, dtype=np.float32)
        np.save(os.path.join(HERE, n + ".npy"), v)
        files[n + ".npy"] = {"shape": list(v.shape), "max_abs": float(np.abs(v).max())}
        print(f"{n + '.npy':24s} shape {list(v.shape)} max|v| {np.abs(v).max():.6g}")

    meta = {
        "generator": "testdata/saliency/make_saliency_refs.py",
        "model": ONNX_NAME,
        "model_description": (
            "torchvision ResNet (Bottleneck, layers [2,1,1,1], widths /16), "
            "build_resnet()+randomize_and_calibrate(model, 64) from "
            "testdata/exported/make_torch_exports.py after torch.manual_seed(0); eval; "
            "ReLU inplace=False; one nn.ReLU per Bottleneck call (relu1/relu2/relu3)"),
        "export": "torch.onnx.export(dynamo=False, opset_version=17, "
                  "input_names=['input'], output_names=['logits'])",
        "input_png": PNG_NAME,
        "input_source": "testdata/chelsea_224.png resized with PIL Image.BILINEAR",
        "input_rule": "PNG uint8 RGB / 255 as float32, NCHW [1,3,96,96], no mean/std",
        "size": SIZE,
        "target": k,
        "cam_layer": cam_name,
        "cam_layer_module": "model.layer3 (output of last block's final ReLU)",
        "cam_layer_shape": cam_shape,
        "gradient": "captum Saliency(abs=False)",
        "deconvnet": "captum Deconvolution",
        "guided_backprop": "captum GuidedBackprop",
        "grad_cam": "captum LayerGradCam(model, model.layer3, relu_attributions=True), "
                    "layer resolution",
        "grad_cam_pp": {
            "source": "pytorch_grad_cam GradCAMPlusPlus.get_cam_weights",
            "formula": "a = g^2/(2 g^2 + sum_ij(A_c) g^3 + eps); a=0 where g==0; "
                       "w_c = sum_ij relu(g) a; cam = relu(sum_c w_c A_c)",
            "eps": GRADCAM_PP_EPS,
            "resolution": "layer (before min-max scaling and resize)",
        },
        "layer_cam": "pytorch_grad_cam LayerCAM.get_cam_image: relu(sum_c relu(g_c) A_c), "
                     "layer resolution",
        "score_cam": {
            "source": "pytorch_grad_cam ScoreCAM.get_cam_weights",
            "upsample": "torch.nn.UpsamplingBilinear2d to 96x96 = bilinear, align_corners=True",
            "normalisation": "per channel (u - min)/(max - min + eps); a constant channel "
                             "(e.g. all zero) gives an all-zero mask",
            "eps": SCORECAM_EPS,
            "masked_input": "x * mask (mask broadcast over RGB)",
            "score": "logit[target] of the masked input",
            "weights": "softmax over channels of the scores",
            "cam": "relu(sum_c w_c A_c), layer resolution",
            "batch_size": SCORECAM_BATCH,
        },
        "occlusion": {
            "source": "captum Occlusion",
            "sliding_window_shapes": list(OCC_WINDOW),
            "strides": list(OCC_STRIDE),
            "baselines": OCC_BASELINE,
        },
        "versions": {
            "torch": torch.__version__,
            "torchvision": pkg_version("torchvision"),
            "captum": captum.__version__,
            "grad-cam": pkg_version("grad-cam"),
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "pillow": pkg_version("pillow"),
        },
        "files": files,
    }
    with open(os.path.join(HERE, "refs.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("wrote", os.path.join(HERE, "refs.json"))


if __name__ == "__main__":
    main()
