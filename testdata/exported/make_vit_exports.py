#!/usr/bin/env python3
"""Export tiny vision transformers with the REAL PyTorch ONNX exporters.

Writes testdata/exported/vit_*.onnx plus a sibling vit_*.json per model with
onnxruntime reference values (graph optimizations disabled), and the
"Vision transformers" section of testdata/exported/README.md.

Rerun (CPU only, a few minutes):

    python3 -m venv .venv-vit
    .venv-vit/bin/pip install torch torchvision timm transformers onnx onnxruntime onnxscript numpy
    .venv-vit/bin/python testdata/exported/make_vit_exports.py [arch ...]

Every model is built from its library's own class and a small config, with
random weights (torch.manual_seed(0)); nothing is downloaded. After
construction the weights are redrawn so activations stay O(1) and attention is
far from uniform: every Linear/Conv2d weight ~ N(0, 1/fan_in), biases
U(-0.1, 0.1), LayerNorm weight U(0.5, 1.5) and bias U(-0.2, 0.2), layer
scales U(0.5, 1), other 2-D weights (MultiheadAttention's in_proj_weight)
N(0, 1/fan_in) and biases U(-0.1, 0.1), and every other parameter (class /
distillation / register tokens, position embeddings, Swin relative position
bias tables) ~ N(0, 0.5).
Classifier heads are rescaled so the logits have std ~1. Exporters:

* ``ts14`` / ``ts17``: ``torch.onnx.export(..., dynamo=False)`` (TorchScript
  tracing exporter) at opset 14 / 17, default options (constant folding on).
* ``dynamo18``: ``torch.onnx.export(..., dynamo=True)`` at opset 18, default
  options (its default onnxscript optimizer runs; nothing else is applied).

Each JSON records onnxruntime's values (all of them, under ``values``) of the
graph output and of named intermediate tensors: the patch-embedding Conv
output, the first and last transformer block outputs, the first Softmax
(attention probabilities of the first block) and, for DINOv2, the Resize
output and the interpolated position embedding. The block / patch-embedding
tensors are found by matching onnxruntime's values of every node output
against PyTorch forward hooks; ``intermediates`` maps each role to its name.

Only ``vit_``-prefixed files in this folder are written or removed.
"""

import copy
import json
import tempfile
import os
import re
import sys
import traceback
import warnings
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import timm
import torch
import torch.nn as nn
import torchvision
import transformers

warnings.filterwarnings("ignore")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
transformers.logging.set_verbosity_error()

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
NUM_CLASSES = 10
KINDS = ("ts14", "ts17", "dynamo18")
INPUT_RULE = (
    "x[i] = ((i * 37 + 11) % 251) / 125 - 1 for the flat row-major index i, float32"
)
VERSIONS = {
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "timm": timm.__version__,
    "transformers": transformers.__version__,
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


class HFTokens(nn.Module):
    """Wrap a Hugging Face vision model so it returns only last_hidden_state."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).last_hidden_state


# --------------------------------------------------------------------------
# Model builders. Each returns a dict:
#   model, hw, desc, out ("logits"/"tokens"), tokens (layout record),
#   hooks {role: module}, extra (optional fn(model, x) -> {role: expected}).
# --------------------------------------------------------------------------
def build_torchvision():
    from torchvision.models.vision_transformer import VisionTransformer

    m = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
        mlp_dim=64, num_classes=NUM_CLASSES,
    )
    return dict(
        model=m, hw=32, out="logits",
        desc=("torchvision.models.vision_transformer.VisionTransformer(image_size=32, "
              "patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, "
              "num_classes=10): conv_proj, class token, nn.MultiheadAttention, GELU MLP, "
              "pre-LN, head on the class token"),
        tokens={"prefix": 1, "prefix_tokens": ["cls"], "grid": [4, 4], "dim": 32},
        hooks={"patch_embed": m.conv_proj, "first_block": m.encoder.layers[0],
               "last_block": m.encoder.layers[-1]},
    )


def build_timm_vit():
    import inspect

    from timm.models.vision_transformer import VisionTransformer

    kw = dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3,
              mlp_ratio=2.0, num_classes=NUM_CLASSES, init_values=0.5)
    has_reg = "reg_tokens" in inspect.signature(VisionTransformer.__init__).parameters
    if has_reg:
        kw.update(reg_tokens=2, no_embed_class=True)
    m = VisionTransformer(**kw)
    prefix = ["cls", "reg", "reg"] if has_reg else ["cls"]
    return dict(
        model=m, hw=32, out="logits",
        desc=("timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, "
              "embed_dim=48, depth=2, num_heads=3, mlp_ratio=2, num_classes=10, init_values=0.5 "
              "(LayerScale)" + (", reg_tokens=2, no_embed_class=True" if has_reg else "")
              + "): fused attention (F.scaled_dot_product_attention), class token pooling"),
        tokens={"prefix": len(prefix), "prefix_tokens": prefix, "grid": [4, 4], "dim": 48},
        hooks={"patch_embed": m.patch_embed.proj, "first_block": m.blocks[0],
               "last_block": m.blocks[-1]},
    )


def build_timm_deit():
    from timm.models.deit import VisionTransformerDistilled

    m = VisionTransformerDistilled(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=3.0,
        num_classes=NUM_CLASSES,
    )
    return dict(
        model=m, hw=32, out="logits",
        desc=("timm.models.deit.VisionTransformerDistilled(img_size=32, patch_size=8, "
              "embed_dim=32, depth=2, num_heads=2, mlp_ratio=3, num_classes=10): class + "
              "distillation token, eval output (head(cls) + head_dist(dist)) / 2"),
        tokens={"prefix": 2, "prefix_tokens": ["cls", "dist"], "grid": [4, 4], "dim": 32},
        hooks={"patch_embed": m.patch_embed.proj, "first_block": m.blocks[0],
               "last_block": m.blocks[-1]},
    )


def build_timm_swin():
    from timm.models.swin_transformer import SwinTransformer

    m = SwinTransformer(
        img_size=32, patch_size=2, window_size=4, embed_dim=16, depths=(2, 2),
        num_heads=(2, 4), mlp_ratio=2.0, num_classes=NUM_CLASSES,
    )
    return dict(
        model=m, hw=32, out="logits",
        desc=("timm.models.swin_transformer.SwinTransformer(img_size=32, patch_size=2, "
              "window_size=4, embed_dim=16, depths=(2,2), num_heads=(2,4), mlp_ratio=2, "
              "num_classes=10): 16x16 then 8x8 token grids (NHWC), 4x4 windows, shifted "
              "windows (torch.roll, shift 2) with attention masks, relative position bias, "
              "PatchMerging, global average pool"),
        tokens={"prefix": 0, "prefix_tokens": [], "grid": [8, 8], "dim": 32,
                "layout": "nhwc [1, h, w, C] block outputs",
                "first_block_grid": [16, 16], "first_block_dim": 16, "window": [4, 4]},
        hooks={"patch_embed": m.patch_embed.proj, "first_block": m.layers[0].blocks[0],
               "last_block": m.layers[-1].blocks[-1]},
    )


def build_hf_vit():
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=96)
    hf = ViTModel(cfg, add_pooling_layer=False).eval()
    return dict(
        model=HFTokens(hf), hw=32, out="tokens",
        desc=("transformers.ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=48, "
              "num_hidden_layers=2, num_attention_heads=4, intermediate_size=96), "
              "add_pooling_layer=False), attn_implementation "
              f"{hf.config._attn_implementation!r}; output last_hidden_state (after the final LayerNorm)"),
        tokens={"prefix": 1, "prefix_tokens": ["cls"], "grid": [4, 4], "dim": 48},
        hooks=_hf_hooks(hf),
    )


def _hf_hooks(hf):
    """Patch Conv and first/last encoder layer of a Hugging Face vision model.

    Module names moved between transformers versions (``encoder.layer`` vs
    ``layers``, ``vision_model.`` prefix or not), so find them structurally.
    """
    n = hf.config.num_hidden_layers
    conv = next(m for m in hf.modules() if isinstance(m, nn.Conv2d))
    layers = next(m for m in hf.modules() if isinstance(m, nn.ModuleList) and len(m) == n)
    return {"patch_embed": conv, "first_block": layers[0], "last_block": layers[-1]}


def _dinov2_extra(hf, hw, n_reg):
    def extra(model, x):
        emb = next(m for m in hf.modules() if hasattr(m, "interpolate_pos_encoding"))
        n = (hw // 8) ** 2
        dummy = torch.zeros(1, 1 + n, hf.config.hidden_size)
        with torch.no_grad():
            pos = emb.interpolate_pos_encoding(dummy, hw, hw)
        return {"pos_embed": pos.numpy()}

    return extra


def build_hf_dinov2():
    from transformers import Dinov2Config, Dinov2Model

    cfg = Dinov2Config(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, mlp_ratio=2)
    hf = Dinov2Model(cfg).eval()
    return dict(
        model=HFTokens(hf), hw=48, out="tokens",
        desc=("transformers.Dinov2Model(Dinov2Config(image_size=32, patch_size=8, "
              "hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2)), "
              f"attn_implementation {hf.config._attn_implementation!r}, exported at 48x48 so "
              "interpolate_pos_encoding resizes the 4x4 position grid to 6x6 (bicubic, "
              "align_corners=False); LayerScale; output last_hidden_state"),
        tokens={"prefix": 1, "prefix_tokens": ["cls"], "grid": [6, 6], "dim": 32,
                "config_grid": [4, 4]},
        hooks=_hf_hooks(hf),
        extra=_dinov2_extra(hf, 48, 0),
    )


def build_hf_dinov2reg():
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    cfg = Dinov2WithRegistersConfig(
        image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2,
        num_attention_heads=3, mlp_ratio=2, num_register_tokens=2)
    hf = Dinov2WithRegistersModel(cfg).eval()
    return dict(
        model=HFTokens(hf), hw=48, out="tokens",
        desc=("transformers.Dinov2WithRegistersModel(Dinov2WithRegistersConfig(image_size=32, "
              "patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=3, "
              "mlp_ratio=2, num_register_tokens=2)), attn_implementation "
              f"{hf.config._attn_implementation!r}, exported at 48x48 so interpolate_pos_encoding "
              "resizes the 4x4 position grid to 6x6 (bicubic, antialias=True); output last_hidden_state"),
        tokens={"prefix": 3, "prefix_tokens": ["cls", "reg", "reg"], "grid": [6, 6], "dim": 48,
                "config_grid": [4, 4]},
        hooks=_hf_hooks(hf),
        extra=_dinov2_extra(hf, 48, 2),
    )


def build_hf_clip():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    cfg = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64)
    hf = CLIPVisionModel(cfg).eval()
    return dict(
        model=HFTokens(hf), hw=32, out="tokens",
        desc=("transformers.CLIPVisionModel(CLIPVisionConfig(image_size=32, patch_size=8, "
              "hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, "
              f"hidden_act={cfg.hidden_act!r})), attn_implementation {hf.config._attn_implementation!r}; "
              "class embedding, pre_layrnorm; output last_hidden_state (before post_layernorm)"),
        tokens={"prefix": 1, "prefix_tokens": ["cls"], "grid": [4, 4], "dim": 32},
        hooks=_hf_hooks(hf),
    )


def build_hf_siglip():
    from transformers import SiglipVisionConfig, SiglipVisionModel

    cfg = SiglipVisionConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=96)
    hf = SiglipVisionModel(cfg).eval()
    return dict(
        model=HFTokens(hf), hw=32, out="tokens",
        desc=("transformers.SiglipVisionModel(SiglipVisionConfig(image_size=32, patch_size=8, "
              "hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, "
              f"hidden_act={cfg.hidden_act!r})), attn_implementation {hf.config._attn_implementation!r}; "
              "no class token; output last_hidden_state (after post_layernorm), so the "
              "attention-pool head is not in the graph"),
        tokens={"prefix": 0, "prefix_tokens": [], "grid": [4, 4], "dim": 48},
        hooks=_hf_hooks(hf),
    )


ARCHS = [
    ("torchvision", build_torchvision),
    ("timm", build_timm_vit),
    ("deit", build_timm_deit),
    ("swin", build_timm_swin),
    ("hfvit", build_hf_vit),
    ("dinov2", build_hf_dinov2),
    ("dinov2reg", build_hf_dinov2reg),
    ("clip", build_hf_clip),
    ("siglip", build_hf_siglip),
]


def randomize(model, hw, classifier):
    g = torch.Generator().manual_seed(1234)
    owned = set()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Conv2d)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) / fan_in ** 0.5)
                owned.add(id(mod.weight))
                if mod.bias is not None:
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=g) - 0.5) * 0.2)
                    owned.add(id(mod.bias))
            elif isinstance(mod, nn.Embedding):  # CLIP/SigLIP position embeddings
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * 0.5)
                owned.add(id(mod.weight))
            elif isinstance(mod, nn.LayerNorm) and mod.weight is not None:
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                owned.add(id(mod.weight))
                if mod.bias is not None:
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=g) - 0.5) * 0.4)
                    owned.add(id(mod.bias))
        for name, p in model.named_parameters():
            if id(p) in owned:
                continue
            if any(k in name for k in ("gamma", "lambda", "layer_scale", "ls1", "ls2")):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.5)  # layer scale
            elif name.endswith("weight") and p.ndim == 2:  # e.g. MultiheadAttention.in_proj_weight
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            elif name.endswith("bias"):  # e.g. MultiheadAttention.in_proj_bias
                p.copy_((torch.rand(p.shape, generator=g) - 0.5) * 0.2)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    model.eval()
    if classifier:
        heads = [mm for mm in model.modules()
                 if isinstance(mm, nn.Linear) and mm.out_features == NUM_CLASSES]
        with torch.no_grad():
            std = float(model(torch.rand(8, 3, hw, hw, generator=g) * 2 - 1).std())
            for h in heads:
                h.weight.mul_(1.0 / std)
                h.bias.mul_(1.0 / std)
    return model


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
def export(model, hw, kind, path, out_name):
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    example = (torch.from_numpy(make_input([1, 3, hw, hw])),)
    if kind.startswith("ts"):
        opset = int(kind[2:])
        torch.onnx.export(
            model, example, path, dynamo=False, opset_version=opset,
            input_names=["input"], output_names=[out_name],
        )
    else:
        opset = int(kind[len("dynamo"):])
        torch.onnx.export(
            model, example, path, dynamo=True, opset_version=opset,
            input_names=["input"], output_names=[out_name],
        )
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


def torch_intermediates(spec, x):
    """Run torch with forward hooks; return ({role: array}, output array)."""
    got = {}
    handles = []
    for role, mod in spec["hooks"].items():
        def hook(_m, _i, out, role=role):
            if isinstance(out, (tuple, list)):
                out = out[0]
            if hasattr(out, "last_hidden_state"):
                out = out.last_hidden_state
            got[role] = out.detach().numpy().copy()
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            y = spec["model"](torch.from_numpy(x)).numpy()
    finally:
        for h in handles:
            h.remove()
    if spec.get("extra"):
        got.update(spec["extra"](spec["model"], x))
    return got, y


def match_tensor(expected, values, float_outs, skip):
    """First node output (in node order) whose values equal ``expected``."""
    e = np.asarray(expected, dtype=np.float32)
    tol = 1e-4 * max(1.0, float(np.abs(e).max()))
    fallback = None
    for _, op, name in float_outs:
        if name in skip or op == "Identity":
            continue
        v = values.get(name)
        if v is None or v.size != e.size:
            continue
        d = float(np.abs(v.reshape(-1) - e.reshape(-1)).max())
        if d <= tol:
            if tuple(v.shape) == tuple(e.shape):
                return name, d, v
            if fallback is None:
                fallback = (name, d, v)
    return fallback


def match_initializer(expected, model):
    """An initializer equal to ``expected`` (a subgraph the exporter folded)."""
    e = np.asarray(expected, dtype=np.float32)
    tol = 1e-4 * max(1.0, float(np.abs(e).max()))
    for t in model.graph.initializer:
        if t.data_type != ELEM_FLOAT:
            continue
        v = onnx.numpy_helper.to_array(t)
        if v.size == e.size and tuple(v.shape) == tuple(e.shape):
            d = float(np.abs(v.reshape(-1) - e.reshape(-1)).max())
            if d <= tol:
                return t.name, d, v
    return None


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
        "values": [float(np.float32(v)) for v in flat],
    }


def op_counts(model):
    c = Counter()
    for n in model.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
        c[key] += 1
    for f in model.functions:
        for n in f.node:
            c[f"function:{f.name}/{n.op_type}"] += 1
    return dict(sorted(c.items()))


# --------------------------------------------------------------------------
# Graph analysis for the report: float shape arithmetic and computed Resizes.
# --------------------------------------------------------------------------
def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


# ops whose output values come from their first input only (the others give shapes/indices)
MOVE_OPS = {"Reshape", "Expand", "Tile", "Resize", "Slice", "Gather", "Transpose", "Squeeze",
            "Unsqueeze", "Pad", "ConstantOfShape", "Flatten"}


def graph_notes(model):
    nodes = list(model.graph.node)
    producer = {o: n for n in nodes for o in n.output}
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    inits = {t.name for t in model.graph.initializer}
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}
    int_types = {onnx.TensorProto.INT64, onnx.TensorProto.INT32}
    tname = {v: k for k, v in onnx.TensorProto.DataType.items()}

    def label(n):
        if n.op_type == "Cast":
            return f"Cast({tname.get(_attr(n, 'to'), _attr(n, 'to'))})"
        return n.op_type

    def back_chain(name, depth=0, seen=None):
        """Op chain from a Shape to ``name`` (first found), or None."""
        seen = seen if seen is not None else set()
        n = producer.get(name)
        if n is None or depth > 12 or id(n) in seen:
            return None
        seen.add(id(n))
        if n.op_type == "Shape":
            return [label(n)]
        for i in n.input:
            if not i or i in inits:
                continue
            c = back_chain(i, depth + 1, seen)
            if c is not None:
                return c + [label(n)]
        return None

    def fwd_chain(name, depth=0):
        out = []
        cur = name
        while depth < 12:
            cs = consumers.get(cur, [])
            if not cs:
                break
            n = cs[0]
            out.append(label(n) + ("" if len(cs) == 1 else f" (+{len(cs) - 1} more consumers)"))
            if n.op_type == "Cast" and _attr(n, "to") in int_types:
                break
            if n.op_type in ("Resize", "Reshape", "Slice", "Expand", "Range", "ConstantOfShape",
                             "Tile", "Concat"):
                break
            cur = n.output[0]
            depth += 1
        return out

    # Which tensors depend only on shapes (and constants), not on tensor data.
    state = {t: "const" for t in inits}
    for i in model.graph.input:
        state[i.name] = "data"
    for n in nodes:
        if n.op_type == "Shape" or n.op_type == "Size":
            st = "shape"
        elif n.op_type in ("Constant", "ConstantOfShape") and all(
                state.get(i, "data") != "data" for i in n.input if i):
            st = "const" if n.op_type == "Constant" else state.get(n.input[0], "const")
        elif n.op_type in MOVE_OPS:
            st = state.get(n.input[0], "data")
        else:
            ins = [state.get(i, "data") for i in n.input if i]
            st = "data" if "data" in ins else ("shape" if "shape" in ins else "const")
        for o in n.output:
            state[o] = st
    casts = []
    for n in nodes:
        if n.op_type == "Cast" and _attr(n, "to") in float_types and state.get(n.input[0]) == "shape":
            bc = back_chain(n.input[0])
            chain = (bc or ["?"]) + [label(n)] + fwd_chain(n.output[0])
            casts.append({"cast": n.name or n.output[0], "chain": " -> ".join(chain)})
    resizes = []
    for n in nodes:
        if n.op_type != "Resize":
            continue
        ins = list(n.input) + [""] * (4 - len(n.input))
        srcs = {}
        for key, i in zip(("roi", "scales", "sizes"), ins[1:4]):
            if not i:
                continue
            p = producer.get(i)
            if i in inits:
                srcs[key] = "initializer " + str(onnx.numpy_helper.to_array(
                    next(t for t in model.graph.initializer if t.name == i)).tolist())
            elif p is not None and p.op_type == "Constant":
                srcs[key] = "Constant " + str(onnx.numpy_helper.to_array(_attr(p, "value")).tolist())
            else:
                bc = back_chain(i)
                srcs[key] = "computed: " + (" -> ".join(bc) if bc else
                                            (p.op_type if p is not None else "graph input"))
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        resizes.append({"node": n.name or n.output[0], "attributes": attrs, "inputs": srcs})
    return {"float_shape_casts": casts, "resizes": resizes}


def reference(path, spec, exporter_text):
    model = onnx.load(path)
    onnx.checker.check_model(model)
    in_name = model.graph.input[0].name
    hw = spec["hw"]
    shape = [1, 3, hw, hw]
    x = make_input(shape)
    feeds = {in_name: x}
    float_outs = float_node_outputs(model)
    all_vals = run_with_extra_outputs(model, [n for _, _, n in float_outs], feeds)
    gout = model.graph.output[0].name
    expected, y = torch_intermediates(spec, x)
    diff = float(np.max(np.abs(y - all_vals[gout])))
    graph_outs = {o.name for o in model.graph.output}

    roles = {}
    role_diffs = {}
    folded = {}  # role tensors the exporter constant-folded into initializers
    for role in ("patch_embed", "first_block", "last_block", "pos_embed"):
        if role not in expected:
            continue
        # (CLIP's last block output is the graph output itself, so it may match.)
        mt = match_tensor(expected[role], all_vals, float_outs, set(roles.values()))
        if mt is None:
            mt = match_initializer(expected[role], model)
            if mt is not None:
                folded[mt[0]] = mt[2]
        if mt is None:
            print(f"   !! no ONNX tensor matches torch {role} {expected[role].shape}", flush=True)
            continue
        roles[role] = mt[0]
        role_diffs[role] = mt[1]
    nodes = list(model.graph.node)
    sm = [n for n in nodes if n.op_type == "Softmax"]
    if sm:
        roles["attention_probs"] = sm[0].output[0]
    rs = [n for n in nodes if n.op_type == "Resize"]
    if rs:
        roles["pos_embed_resize"] = rs[0].output[0]
    order = ["patch_embed", "pos_embed_resize", "pos_embed", "first_block", "attention_probs",
             "last_block"]
    picks = [roles[r] for r in order if r in roles]
    vals = run_with_extra_outputs(model, [p for p in picks if p not in folded], feeds)
    vals.update(folded)
    outputs = {gout: describe(vals[gout])}
    for n in picks:
        if n in outputs:
            continue
        outputs[n] = describe(vals[n])
        if n in folded:
            outputs[n]["initializer"] = True
    if "attention_probs" in roles:
        a = vals[roles["attention_probs"]]
        rowdev = float(np.abs(a.sum(-1) - 1).max())
        if rowdev > 1e-4:
            print(f"   !! first Softmax rows do not sum to 1 ({rowdev})", flush=True)
    j = {
        "model": os.path.basename(path),
        "exporter": exporter_text,
        "architecture": spec["desc"],
        "onnxruntime_version": ort.__version__,
        "layout": "nchw",
        "input_name": in_name,
        "input_shape": shape,
        "input_rule": INPUT_RULE,
        "outputs": outputs,
        "graph_output": gout,
        "deep_layer": roles.get("last_block"),
        "intermediates": {r: roles[r] for r in order if r in roles},
        "tokens": spec["tokens"],
        "ops": op_counts(model),
        "torch_vs_onnxruntime_max_abs_diff": diff,
        "torch_vs_onnxruntime_intermediate_max_abs_diff": role_diffs,
    }
    return j, graph_notes(model)


def exporter_text(kind, opset):
    libs = (f"torch {VERSIONS['torch']}, torchvision {VERSIONS['torchvision']}, "
            f"timm {VERSIONS['timm']}, transformers {VERSIONS['transformers']}")
    if kind.startswith("ts"):
        t = f"torch.onnx.export TorchScript exporter (dynamo=False), opset {opset}, {libs}"
    else:
        t = (f"torch.onnx.export dynamo exporter (dynamo=True, default optimize), opset {opset}, "
             f"{libs}, onnxscript {VERSIONS['onnxscript']}")
    return t + "; random weights (seed 0), eval mode"


def dump_json(path, j):
    """indent=1 like the other fixtures, but each `values` list on one line."""
    vals = {}
    jj = copy.deepcopy(j)
    for k, o in jj["outputs"].items():
        key = f"@@VALUES{len(vals)}@@"
        vals[key] = json.dumps(o["values"])
        o["values"] = key
    text = json.dumps(jj, indent=1)
    for key, v in vals.items():
        text = text.replace(json.dumps(key), v)
    with open(path, "w") as f:
        f.write(text + "\n")


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------
README_NOTES = """\
Tensor roles in each JSON (`intermediates`): `patch_embed` (the patch Conv's
output, `[1, D, h, w]`), `first_block` / `last_block` (outputs of the first and
last transformer block: `[1, T, D]`, NHWC `[1, h, w, C]` for Swin; for CLIP the
last block's output is the graph output `tokens`), `attention_probs` (the
graph's first Softmax: the first block's attention probabilities,
`[1, heads, T, T]`, for Swin `[windows, heads, 16, 16]`), and for DINOv2
`pos_embed_resize` (the bicubic Resize output, TorchScript files only) and
`pos_embed` (the interpolated position embedding `[1, 1 + h*w, D]`; in the
dynamo files the exporter folded it into an initializer, recorded with
`"initializer": true`). `tokens` describes the token layout (`prefix` = class +
distillation + register tokens, in `prefix_tokens` order, followed by the
`grid` patches row-major). Every `outputs` entry has `values` (all values, flat
row-major, float32) besides `samples`. `torch_vs_onnxruntime_intermediate_max_abs_diff`
compares each role tensor with the PyTorch module's own output (forward hooks).

What an interpreter meets in these files:

- Only the default domain; opsets 14 / 17 / 18 as named. LayerNorm is
  `LayerNormalization(axis=-1)` at 17/18 (epsilon 1e-6 torchvision/timm ViT/DeiT/DINOv2,
  1e-5 Swin/CLIP/SigLIP, 1e-12 HF ViT; `stash_type=1` from dynamo) and at opset 14
  `ReduceMean`, `Sub`, `Pow(2)`, `Add`, `Sqrt`, `Div`, `Mul`, `Add`. GELU is the Erf
  form, SigLIP's `gelu_pytorch_tanh` the Tanh form (`Pow(3)`, `Mul`, `Add`, `Tanh`),
  CLIP's `quick_gelu` is `Sigmoid(1.702 x) * x`. Linear layers on tokens are `MatMul`
  (2-D weight) + `Add`; classifier heads are `Gemm`.
- Attention: `MatMul`, `Softmax(axis=-1)`, `MatMul`, with `Reshape`/`Transpose` to
  `[1, heads, T, d]`. torchvision/timm/DeiT call `scaled_dot_product_attention`
  without a scale, and the TorchScript exporter computes it from the query's shape
  in float: `Shape -> Slice(-1:) -> Cast(FLOAT) -> Sqrt -> Div(1, .) ->
  Cast(FLOAT) -> Sqrt`, then multiplies q and k^T each by that scalar. Hugging Face
  models pass the scale, so it is a constant there; the dynamo files always
  multiply q and k by a constant sqrt(scale). With Hugging Face models the dynamo
  exporter also adds an all-zero float mask initializer `[1, 1, T, T]` before the
  Softmax and follows it with `IsNaN` + `Where(isnan, 0, p)`.
- torchvision's `nn.MultiheadAttention` (TorchScript): `Mod` on constants,
  `Slice` with computed starts/ends, `Unsqueeze`, `Transpose perm=[3,1,2,0,4]`,
  `Squeeze`, `Gather` (rank-0 index) to pick q/k/v; timm's `qkv.unbind(0)` is
  `Split` (split sizes input `[1,1,1]`) + `Squeeze`.
- Class/register/distillation tokens: TorchScript files expand them with the
  `ConstantOfShape`/`Mul`/`Equal`/`Where` -> `Expand` pattern on constants, then
  `Concat(axis=1)`; dynamo folds the expand into an initializer.
- DINOv2 at 48x48 (config 32): the TorchScript files keep
  `Resize(mode=cubic, coordinate_transformation_mode=half_pixel, cubic_coeff_a=-0.75,
  nearest_mode=floor)` with empty roi/scales and `sizes` computed as
  `Concat(Slice(Shape(x), 0, 2), Constant [6, 6])`; the reshape of the 4x4 position
  grid uses `Cast(Pow(Constant 16.0, Constant 0.5), to=INT64)` (float math feeding a
  shape). The dynamo exporter constant-folds the whole interpolation (no Resize).
  `Dinov2WithRegistersModel` interpolates with `antialias=True`, which the
  TorchScript exporter cannot export (`aten::_upsample_bicubic2d_aa`).
- Swin: `torch.roll` is `Slice` + `Slice` + `Concat` per axis (shift 2); window
  partition is `Reshape` to 6-D + `Transpose perm=[0,1,3,2,4,5]`; the shifted-window
  mask is added after a `Reshape` to `[1, windows, heads, 16, 16]`; the relative
  position bias is an initializer `[1, heads, 16, 16]`. `Pad` (constant mode, no
  value input) pads by zero: its pads come from an initializer in dynamo, and in
  TorchScript from int arithmetic (`Mod`, `Sub`, `ConstantOfShape`, `Concat`,
  `Reshape [-1, 2]`, `Slice` with step -1, `Transpose`, `Cast(INT64)`). TorchScript
  Swin files compute most shapes at run time (`Shape`, `Gather`, int64 `Div`,
  `Unsqueeze`, `Concat`), with no-op `Cast(INT64)`s.
""".splitlines() + [""]


def write_readme(results, failures, notes_text):
    path = os.path.join(OUT_DIR, "README.md")
    op_files = Counter()
    for r in results:
        for op in r["ops"]:
            op_files[op] += 1
    lines = [
        "## Vision transformers",
        "",
        "Files `vit_*.onnx` were exported by the real PyTorch exporters from tiny vision",
        "transformers built from their libraries' own classes with small configs",
        "(torchvision `VisionTransformer`; timm ViT with register tokens, DeiT distilled,",
        "Swin; Hugging Face `ViTModel`, `Dinov2Model`, `Dinov2WithRegistersModel`,",
        "`CLIPVisionModel`, `SiglipVisionModel`), random weights (`torch.manual_seed(0)`,",
        "then redrawn: Linear/Conv N(0, 1/fan_in), biases U(-0.1, 0.1), LayerNorm",
        "weight U(0.5, 1.5) / bias U(-0.2, 0.2), layer scales U(0.5, 1), tokens, position",
        "embeddings and relative position bias tables N(0, 0.5); classifier heads",
        "rescaled to logits of std ~1), eval mode, nothing downloaded. torchvision/timm",
        "models output `logits` `[1, 10]`; Hugging Face models are wrapped to output only",
        "`last_hidden_state` as `tokens` `[1, T, D]`. Input `input`, NCHW, batch 1,",
        "32x32 (DINOv2: 48x48, while the config's image_size is 32, so the position",
        "embeddings are interpolated in the graph). Each has a sibling `vit_*.json` with",
        "onnxruntime reference values (CPUExecutionProvider, graph optimizations",
        "disabled) in the same format as the `torch_` files, plus `intermediates`, `tokens`",
        "and all `values` of each recorded tensor.",
        "",
        "Exporters: `ts14` / `ts17` = `torch.onnx.export(..., dynamo=False)` at opset",
        "14 / 17; `dynamo18` = `torch.onnx.export(..., dynamo=True)` at opset 18 (its",
        "default optimizer only). All default options; attention implementations are",
        "the libraries' defaults (SDPA where they have it).",
        "",
        "Rerun:",
        "",
        "```sh",
        "python3 -m venv .venv-vit",
        ".venv-vit/bin/pip install torch torchvision timm transformers onnx onnxruntime onnxscript numpy",
        ".venv-vit/bin/python testdata/exported/make_vit_exports.py",
        "```",
        "",
        "Versions used: " + ", ".join(f"{k} {v}" for k, v in VERSIONS.items()) + ".",
        "",
        "| file | size (bytes) | input | torch vs ORT max abs diff |",
        "| --- | ---: | --- | ---: |",
    ]
    for j in results:
        lines.append(
            f"| `{j['model']}` | {os.path.getsize(os.path.join(OUT_DIR, j['model']))} | "
            f"{'x'.join(map(str, j['input_shape']))} | {j['torch_vs_onnxruntime_max_abs_diff']:.2e} |"
        )
    total = sum(os.path.getsize(os.path.join(OUT_DIR, j["model"])) for j in results)
    lines += ["", f"Total size of the vit_*.onnx files: {total} bytes.", ""]
    lines += README_NOTES
    lines += notes_text
    lines += ["Op types used across the vit_ fixtures (number of files using each):", ""]
    lines += ["| op | files |", "| --- | ---: |"]
    for op, c in sorted(op_files.items()):
        lines.append(f"| {op} | {c} |")
    lines.append("")
    if failures:
        lines += ["Exports that failed (no fixture written):", ""]
        for stem, msg in failures:
            lines.append(f"- `{stem}`: {msg}")
    else:
        lines.append("No export failed.")
    lines.append("")
    section = "\n".join(lines) + "\n"
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    m = re.search(r"^## Vision transformers\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
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
            if f.startswith("vit_") and (f.endswith(".onnx") or f.endswith(".json")
                                         or f.endswith(".data")):
                os.remove(os.path.join(OUT_DIR, f))
    results, failures, all_notes = [], [], {}
    for arch, builder in ARCHS:
        if only and arch not in only:
            continue
        try:
            torch.manual_seed(0)
            spec = builder()
        except Exception as e:
            msg = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            print(f"== {arch}: BUILD FAILED {msg}", flush=True)
            failures.append((f"vit_{arch}", "model build failed: " + msg))
            continue
        spec["model"] = randomize(spec["model"], spec["hw"], spec["out"] == "logits")
        nparams = sum(p.numel() for p in spec["model"].parameters())
        print(f"== {arch}: {nparams} params, input {spec['hw']}x{spec['hw']}", flush=True)
        for kind in KINDS:
            stem = f"vit_{arch}_{kind}"
            path = os.path.join(OUT_DIR, stem + ".onnx")
            try:
                opset = export(spec["model"], spec["hw"], kind, path, spec["out"])
                j, notes = reference(path, spec, exporter_text(kind, opset))
            except Exception as e:  # record and continue
                tb = traceback.format_exc()
                first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
                msg = f"{type(e).__name__}: {first}"
                print(f"   FAILED {stem}: {msg}", flush=True)
                print("\n".join("      " + ln[:300] for ln in tb.splitlines()[-6:]), flush=True)
                failures.append((stem, msg))
                for p in (path, path + ".data"):
                    if os.path.exists(p):
                        os.remove(p)
                continue
            dump_json(os.path.join(OUT_DIR, stem + ".json"), j)
            size = os.path.getsize(path)
            jsize = os.path.getsize(os.path.join(OUT_DIR, stem + ".json"))
            print(f"   {stem}.onnx {size} B (json {jsize} B), diff "
                  f"{j['torch_vs_onnxruntime_max_abs_diff']:.2e}, intermediates "
                  + ", ".join(f"{r}={n} {j['outputs'][n]['shape']}"
                              for r, n in j["intermediates"].items()), flush=True)
            print(f"      ops {j['ops']}", flush=True)
            for c in notes["float_shape_casts"]:
                print(f"      float-shape Cast {c['cast']}: {c['chain']}", flush=True)
            for r in notes["resizes"]:
                print(f"      Resize {r['node']}: {r['attributes']} {r['inputs']}", flush=True)
            all_notes[stem] = notes
            results.append(j)
    with open(os.path.join(tempfile.gettempdir(), "vit_graph_notes.json"), "w") as f:
        json.dump(all_notes, f, indent=1, default=str)
    if not only:
        write_readme(results, failures, [])
    total = sum(os.path.getsize(os.path.join(OUT_DIR, j["model"])) for j in results)
    print(f"{len(results)} fixtures, {len(failures)} failures, {total} bytes total")
    for stem, msg in failures:
        print(f"  failed {stem}: {msg}")


if __name__ == "__main__":
    main()
