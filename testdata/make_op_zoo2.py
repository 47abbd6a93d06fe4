"""Builds testdata/op_zoo2.onnx, a second small graph of operators beyond the classic CNN set of
op_zoo.onnx (Resize in four forms, Where/Greater/Less/Equal, Expand, Tile, ConstantOfShape,
instance and layer normalization, the elementwise activations and math ops, variadic Min/Max/
Mean/Sum, the Reduce family, Softmax/LogSoftmax, Split, Slice with steps, Gather, Pad modes,
Squeeze/Unsqueeze, Cast, Identity), and records every node output from onnxruntime in
testdata/op_zoo2_fixture.json.

Every float node output has rank 2, 3 or 4 and depends on the input's values, except the
ConstantOfShape output, which is listed under "not_layers" (it only depends on a shape).

Run from the repository root: python3 testdata/make_op_zoo2.py
(needs the PyPI packages onnx, onnxruntime, numpy)
"""
import json

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)
inits = []
nodes = []


def const(name, array):
    inits.append(numpy_helper.from_array(np.asarray(array), name))
    return name


def f32(name, value):
    return const(name, np.array(value, dtype=np.float32))


def i64(name, value):
    return const(name, np.array(value, dtype=np.int64))


def w(name, *shape, scale=0.3):
    return const(name, (rng.standard_normal(shape) * scale).astype(np.float32))


def node(op, inputs, name, **attrs):
    nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
    return name


def node_n(op, inputs, names, **attrs):
    nodes.append(helper.make_node(op, inputs, list(names), name=names[0], **attrs))
    return list(names)


C = 4
x = "input"
c1 = node("Conv", [x, w("c1.w", C, 3, 3, 3, scale=0.15), w("c1.b", C, scale=0.1)], "conv1",
          pads=[1, 1, 1, 1])                                                    # [B,4,16,16]

# --- Resize, four forms -------------------------------------------------------------------
scales = f32("scales_2x", [1.0, 1.0, 2.0, 2.0])
ra = node("Resize", [c1, "", scales], "resize_nearest_asym", mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor")      # [B,4,32,32]
rb = node("Resize", [c1, "", scales], "resize_linear_half_pixel", mode="linear",
          coordinate_transformation_mode="half_pixel")                          # [B,4,32,32]
rd = node("Resize", [c1, "", scales], "resize_nearest_round_prefer_floor", mode="nearest",
          nearest_mode="round_prefer_floor")                                    # [B,4,32,32]
# At scale 2 half_pixel never lands on a .5 tie (rd equals ra); at 1.5 every third column
# does (x = 1, 4, 7, ...: (x + 0.5) / 1.5 - 0.5 = 0.5, 2.5, 4.5, ...), so this one tells
# round_prefer_floor from round_prefer_ceil.
re_ = node("Resize", [c1, "", f32("scales_1_5x", [1.0, 1.0, 1.5, 1.5])],
           "resize_nearest_ties", mode="nearest", nearest_mode="round_prefer_floor")  # [B,4,24,24]
# sizes = [batch, C, 24, 24], the batch taken from the activation so that any batch runs
c1_shape = node("Shape", [c1], "conv1_shape")
c1_nc = node("Slice", [c1_shape, i64("zero_1d", [0]), i64("two_1d", [2])], "conv1_nc")
sizes = node("Concat", [c1_nc, i64("hw24", [24, 24])], "resize_sizes", axis=0)
rc = node("Resize", [c1, "", "", sizes], "resize_linear_align_corners", mode="linear",
          coordinate_transformation_mode="align_corners")                       # [B,4,24,24]
r_mean = node("Mean", [ra, rb, rd], "resize_mean")                              # [B,4,32,32]
head_resize = node("ReduceMax", [r_mean], "resize_max", axes=[2, 3], keepdims=0)  # [B,4]
head_resize_ac = node("ReduceMin", [node("Sub", [rc, re_], "resize_24_sub")], "resize_24_min",
                      axes=[2, 3], keepdims=0)                                  # [B,4]

# --- Where / Greater / Less / Equal, ConstantOfShape --------------------------------------
gt = node("Greater", [c1, f32("thr_hi", 0.1)], "greater")
neg = node("Neg", [c1], "neg")
wh_gt = node("Where", [gt, c1, neg], "where_greater")
ab = node("Abs", [c1], "abs")
lt = node("Less", [c1, f32("thr_lo", -0.2)], "less")
wh_lt = node("Where", [lt, ab, c1], "where_less")
sign = node("Sign", [c1], "sign")
eq = node("Equal", [sign, f32("one", 1.0)], "equal")
wh_eq = node("Where", [eq, wh_gt, wh_lt], "where_equal")
wh_shape = node("Shape", [wh_eq], "where_shape")
half = node("ConstantOfShape", [wh_shape], "constant_half",
            value=helper.make_tensor("half_value", TensorProto.FLOAT, [1], [0.5]))
add_half = node("Add", [wh_eq, half], "add_half")

# --- elementwise activations and math -----------------------------------------------------
prelu = node("PRelu", [c1, const("prelu.slope", rng.uniform(0.05, 0.5, (C, 1, 1)).astype(np.float32))],
             "prelu")
leaky = node("LeakyRelu", [c1], "leakyrelu", alpha=0.2)
elu = node("Elu", [c1], "elu", alpha=0.7)
selu = node("Selu", [c1], "selu")
celu = node("Celu", [c1], "celu", alpha=1.5)
softplus = node("Softplus", [c1], "softplus")
softsign = node("Softsign", [c1], "softsign")
tanh = node("Tanh", [c1], "tanh")
sigmoid = node("Sigmoid", [c1], "sigmoid")
hsig = node("HardSigmoid", [c1], "hardsigmoid", alpha=0.25, beta=0.5)
hswish = node("HardSwish", [c1], "hardswish")
erf = node("Erf", [c1], "erf")
clip = node("Clip", [c1, f32("clip_lo", -2.0), f32("clip_hi", 2.0)], "clip")
exp = node("Exp", [clip], "exp")
floor = node("Floor", [c1], "floor")
ceil = node("Ceil", [c1], "ceil")
abs1 = node("Add", [ab, f32("one_b", 1.0)], "abs_plus_one")
log = node("Log", [abs1], "log")
sqrt = node("Sqrt", [abs1], "sqrt")
recip = node("Reciprocal", [abs1], "reciprocal")
pow2 = node("Pow", [c1, f32("two", 2.0)], "pow_scalar")
pow_t = node("Pow", [abs1, sigmoid], "pow_tensor")
vmin = node("Min", [prelu, leaky, elu], "min3")
vmax = node("Max", [selu, celu, softplus], "max3")
vmean = node("Mean", [softsign, tanh, hsig], "mean3")
vsum = node("Sum", [hswish, erf, exp, floor, ceil], "sum5")
vsub = node("Sub", [log, sqrt], "sub")
vdiv = node("Div", [pow2, abs1], "div")
acts = node("Concat", [vmin, vmax, vmean, vsum, vsub, vdiv, pow_t, recip, add_half], "acts",
            axis=1)                                                             # [B,36,16,16]
NA = 9 * C

# --- normalizations, softmax family, reductions -------------------------------------------
inorm = node("InstanceNormalization",
             [acts, const("in.s", rng.uniform(0.5, 1.5, NA).astype(np.float32)), w("in.b", NA)],
             "instancenorm", epsilon=1e-5)
smax = node("Softmax", [inorm], "softmax", axis=1)                              # [B,36,16,16]
lsmax = node("LogSoftmax", [inorm], "logsoftmax", axis=-1)                      # [B,36,16,16]
rss0 = node("ReduceSumSquare", [smax], "softmax_sumsq", axes=[1], keepdims=0)   # [B,16,16]
rl2_0 = node("ReduceL2", [rss0], "softmax_l2", axes=[2], keepdims=0)            # [B,16]
rmean1 = node("ReduceMean", [lsmax], "logsoftmax_mean", axes=[2, 3], keepdims=1)  # [B,36,1,1]
sq_a = node("Squeeze", [rmean1, i64("axes_3", [3])], "squeeze_3")               # [B,36,1]
head_ls = node("ReduceMin", [sq_a], "logsoftmax_min", axes=[2], keepdims=0)     # [B,36]
th_small = node("Mul", [tanh, f32("tenth", 0.1)], "tanh_tenth")
near_one = node("Add", [th_small, f32("one_c", 1.0)], "near_one")
rprod = node("ReduceProd", [near_one], "reduce_prod", axes=[3], keepdims=0)      # [B,4,16]
rmax1 = node("ReduceMax", [rprod], "prod_max", axes=[2], keepdims=1)            # [B,4,1]
rmin1 = node("ReduceMin", [acts], "acts_min", axes=[2], keepdims=1)             # [B,36,1,16]
rl2_1 = node("ReduceL2", [rmin1], "acts_min_l2", axes=[3], keepdims=1)          # [B,36,1,1]
rsum_in = node("ReduceSum", [rl2_1, i64("axes_23", [2, 3])], "reduce_sum_axes_input",
               keepdims=0)                                                      # [B,36]

# --- Split, Slice, Gather, Pad, Expand, Tile, LayerNormalization --------------------------
sp0, sp1, sp2 = node_n("Split", [c1, i64("split_sizes", [1, 1, 2])],
                       ["split_0", "split_1", "split_2"], axis=1)              # [B,1|1|2,16,16]
sp_mul = node("Mul", [sp0, sp1], "split_mul")                                   # [B,1,16,16]
sp_cat = node("Concat", [sp_mul, sp2, sp0], "split_concat", axis=1)             # [B,4,16,16]
rev = node("Slice", [sp_cat, i64("rev_starts", [-1]), i64("rev_ends", [-1000]),
                     i64("rev_axes", [3]), i64("rev_steps", [-1])], "slice_reverse")
st2 = node("Slice", [rev, i64("st_starts", [0, 1]), i64("st_ends", [16, 16]),
                     i64("st_axes", [2, 3]), i64("st_steps", [2, 2])], "slice_step2")  # [B,4,8,8]
gat = node("Gather", [c1, i64("gather_idx", [3, 0, 2])], "gather_channels", axis=1)  # [B,3,16,16]
gat_mean = node("ReduceMean", [gat], "gather_mean", axes=[1], keepdims=0)       # [B,16,16]
pads = i64("pads", [0, 0, 1, 2, 0, 0, 2, 1])
pad_r = node("Pad", [st2, pads], "pad_reflect", mode="reflect")                # [B,4,11,11]
pad_e = node("Pad", [st2, pads], "pad_edge", mode="edge")                      # [B,4,11,11]
pad_t = node("Transpose", [pad_r], "transpose", perm=[0, 1, 3, 2])
pad_sum = node("Add", [pad_t, pad_e], "pad_add")
head_pad = node("ReduceSumSquare", [pad_sum], "pad_sumsq", axes=[3], keepdims=1)  # [B,4,11,1]
head_pad2 = node("ReduceMean", [head_pad], "pad_sumsq_mean", axes=[2, 3], keepdims=0)  # [B,4]
st_mean = node("ReduceMean", [st2], "slice_mean", axes=[2, 3], keepdims=1)      # [B,4,1,1]
expd = node("Expand", [st_mean, i64("expand_shape", [1, C, 8, 8])], "expand")   # [B,4,8,8]
gmp = node("GlobalMaxPool", [pad_e], "globalmaxpool")                           # [B,4,1,1]
tile = node("Tile", [gmp, i64("tile_reps", [1, 1, 8, 8])], "tile")              # [B,4,8,8]
mix = node("Sub", [node("Add", [st2, expd], "slice_plus_expand"), tile], "slice_mix")
ln_last = node("LayerNormalization", [mix, const("ln1.s", rng.uniform(0.5, 1.5, 8).astype(np.float32)),
                                      w("ln1.b", 8)], "layernorm_last", axis=-1, epsilon=1e-5)
ln_c = node("LayerNormalization", [ln_last, const("ln2.s", rng.uniform(0.5, 1.5, (C, 8, 8)).astype(np.float32)),
                                   w("ln2.b", C, 8, 8)], "layernorm_axis1", axis=1, epsilon=1e-5)
head_ln = node("ReduceL2", [ln_c], "layernorm_l2", axes=[1, 2], keepdims=0)     # [B,8]
cast = node("Cast", [gat_mean], "cast", to=TensorProto.FLOAT)
ident = node("Identity", [cast], "identity")                                    # [B,16,16]
head_gat = node("ReduceMax", [ident], "gather_max", axes=[2], keepdims=0)       # [B,16]

# --- Squeeze/Unsqueeze and the Shape->Gather->Unsqueeze->Concat->Reshape flatten chain ----
gmp_sq = node("Squeeze", [gmp, i64("axes_23b", [2, 3])], "squeeze_23")          # [B,4]
gmp_un = node("Unsqueeze", [gmp_sq, i64("axes_1", [1])], "unsqueeze_1")         # [B,1,4]
prod_cat = node("Concat", [gmp_un, node("Transpose", [rmax1], "prod_transpose", perm=[0, 2, 1])],
                "gmp_prod_concat", axis=1)                                       # [B,2,4]
shape = node("Shape", [prod_cat], "shape")
batch = node("Gather", [shape, i64("zero", 0)], "batch", axis=0)
batch1 = node("Unsqueeze", [batch, i64("axes0", [0])], "batch_1d")
target = node("Concat", [batch1, i64("minus_one", [-1])], "target", axis=0)
flat = node("Reshape", [prod_cat, target], "reshape")                          # [B,8]

heads = [head_resize, head_resize_ac, rl2_0, head_ls, rsum_in, head_pad2, head_ln, head_gat, flat]
widths = [C, C, 16, NA, NA, C, 8, 16, 8]
out = node("Concat", heads, "output", axis=1)
N_OUT = sum(widths)

graph = helper.make_graph(
    nodes, "op_zoo2",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N_OUT])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)

# Every node output feeds a later node or is the graph output.
consumed = {i for n in model.graph.node for i in n.input} | {"output"}
unused = [o for n in model.graph.node for o in n.output if o not in consumed]
assert not unused, unused

# Outputs whose values depend on the input's values: a Shape output depends on a shape only.
value_dependent = {"input"}
for n in model.graph.node:
    if n.op_type != "Shape" and any(i in value_dependent for i in n.input):
        value_dependent.update(n.output)

onnx.save(model, "testdata/op_zoo2.onnx")

# Every node output (all outputs of Split) as a graph output, as the op_zoo fixture was recorded.
probe = onnx.ModelProto()
probe.CopyFrom(model)
del probe.graph.output[:]
names = [o for n in model.graph.node for o in n.output]
for name in names:
    probe.graph.output.append(helper.make_empty_tensor_value_info(name))
session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
inp = (rng.integers(-256, 256, size=(1, 3, 16, 16)) / 128).astype(np.float32)
outs = dict(zip(names, session.run(None, {"input": inp})))
record = {
    "model": "op_zoo2.onnx",
    "generator": "make_op_zoo2.py",
    "onnxruntime_version": ort.__version__,
    "input": inp.flatten().tolist(),
    "input_shape": list(inp.shape),
    "node_order": [[n.output[0], n.op_type] for n in model.graph.node],
    "intermediates": {},
    "not_layers": [],
}
for name in names:
    v = np.asarray(outs[name])
    if v.dtype != np.float32:
        continue
    assert v.ndim in (2, 3, 4), (name, v.shape)
    assert np.isfinite(v).all() and np.abs(v).max() < 50, (name, np.abs(v).max())
    if name not in value_dependent:
        record["not_layers"].append(name)
    record["intermediates"][name] = {
        "shape": list(v.shape),
        "sum": float(v.astype(np.float64).sum()),
        "abs_sum": float(np.abs(v.astype(np.float64)).sum()),
        "first": v.flatten()[:16].astype(float).tolist(),
    }
assert record["not_layers"] == [half], record["not_layers"]
assert list(outs["output"].shape) == [1, N_OUT]
with open("testdata/op_zoo2_fixture.json", "w") as f:
    json.dump(record, f, indent=1)

# The saved model runs with a batch of two, and each image's row matches a batch of one.
saved = ort.InferenceSession("testdata/op_zoo2.onnx", providers=["CPUExecutionProvider"])
other = (rng.integers(-256, 256, size=(1, 3, 16, 16)) / 128).astype(np.float32)
pair = saved.run(None, {"input": np.concatenate([inp, other])})[0]
assert pair.shape == (2, N_OUT), pair.shape
np.testing.assert_allclose(pair[0], outs["output"][0], rtol=1e-5, atol=1e-5)
np.testing.assert_allclose(pair[1], saved.run(None, {"input": other})[0][0], rtol=1e-5, atol=1e-5)
print("wrote testdata/op_zoo2.onnx and testdata/op_zoo2_fixture.json,", len(model.graph.node),
      "nodes, ops:", " ".join(sorted({n.op_type for n in model.graph.node})))
