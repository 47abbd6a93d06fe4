"""Builds testdata/op_zoo.onnx, a small graph that uses the operators of classic ImageNet CNNs
(GoogLeNet, VGG, ResNet, SqueezeNet, DenseNet, ShuffleNet, AlexNet, MobileNet), and records
every node output from onnxruntime in testdata/op_zoo_fixture.json.

Run: python3 testdata/make_op_zoo.py   (needs the PyPI packages onnx, onnxruntime, numpy)
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


def w(name, *shape, scale=0.3):
    return const(name, (rng.standard_normal(shape) * scale).astype(np.float32))


def node(op, inputs, name, **attrs):
    nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
    return name


x = "input"
c1 = node("Conv", [x, w("c1.w", 8, 3, 3, 3), w("c1.b", 8)], "conv1", pads=[1, 1, 1, 1])
bn = node("BatchNormalization",
          [c1, const("bn.s", rng.uniform(0.5, 1.5, 8).astype(np.float32)), w("bn.b", 8),
           w("bn.m", 8), const("bn.v", rng.uniform(0.5, 2.0, 8).astype(np.float32))],
          "bn1", epsilon=1e-3)
r1 = node("Relu", [bn], "relu1")
lrn = node("LRN", [r1], "lrn1", size=5, alpha=1e-2, beta=0.75, bias=2.0)
mp = node("MaxPool", [lrn], "pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
a = node("LeakyRelu", [node("Conv", [mp, w("a.w", 4, 8, 1, 1)], "branch_a")], "branch_a_act", alpha=0.1)
ap = node("AveragePool", [mp], "avgpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
b = node("Sigmoid", [node("Conv", [ap, w("b.w", 4, 8, 1, 1)], "branch_b")], "branch_b_act")
c = node("Tanh", [node("Conv", [mp, w("c.w", 4, 4, 3, 3)], "branch_c", pads=[2, 2, 2, 2],
                       dilations=[2, 2], group=2)], "branch_c_act")
cat = node("Concat", [a, b, c], "concat", axis=1)
hs = node("HardSigmoid", [cat], "hardsigmoid", alpha=0.3, beta=0.4)
hw = node("HardSwish", [cat], "hardswish")
mul = node("Mul", [hs, hw], "mul")
sub = node("Sub", [mul, w("shift", 12, 1, 1)], "sub")
div = node("Div", [sub, const("two", np.array(2.0, dtype=np.float32))], "div")
pad = node("Pad", [div, const("pads", np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64)),
                   const("pad_value", np.array(0.25, dtype=np.float32))], "pad")
down = node("Conv", [pad, w("down.w", 6, 12, 3, 3)], "down", strides=[2, 2], auto_pad="SAME_UPPER")
clip = node("Clip", [down, const("lo", np.array(-1.0, dtype=np.float32)),
                     const("hi", np.array(1.0, dtype=np.float32))], "clip")
sm = node("Sum", [clip, down, clip], "sum")
drop = node("Dropout", [sm], "dropout")
ident = node("Identity", [drop], "identity")
tr = node("Transpose", [ident], "transpose", perm=[0, 1, 3, 2])
shape = node("Shape", [tr], "shape")
batch = node("Gather", [shape, const("zero", np.array(0, dtype=np.int64))], "batch", axis=0)
batch1 = node("Unsqueeze", [batch, const("axes0", np.array([0], dtype=np.int64))], "batch_1d")
target = node("Concat", [batch1, const("minus_one", np.array([-1], dtype=np.int64))], "target", axis=0)
flat = node("Reshape", [tr, target], "reshape")
fc = node("Gemm", [flat, w("fc.w", 10, 6 * 5 * 5, scale=0.05), w("fc.b", 10)], "fc", transB=1)
prob = node("Softmax", [fc], "softmax", axis=1)
gmp = node("GlobalMaxPool", [cat], "gmp")
fl = node("Flatten", [gmp], "flatten", axis=1)
un = node("Unsqueeze", [fl, const("axes1", np.array([1], dtype=np.int64))], "unsqueeze")
mm = node("MatMul", [un, w("mm.w", 12, 3)], "matmul")
sq = node("Squeeze", [mm, const("axes1b", np.array([1], dtype=np.int64))], "squeeze")
gap = node("GlobalAveragePool", [sm], "gap")
add = node("Add", [node("Flatten", [gap], "gap_flat"), w("gap.b", 6)], "add")
out = node("Concat", [prob, sq, add], "output", axis=1)

graph = helper.make_graph(
    nodes, "op_zoo",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 25])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "testdata/op_zoo.onnx")

# Every node output as a graph output, as the tiny_cnn fixture was recorded.
probe = onnx.ModelProto()
probe.CopyFrom(model)
del probe.graph.output[:]
for n in model.graph.node:
    probe.graph.output.append(helper.make_empty_tensor_value_info(n.output[0]))
session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
inp = (rng.integers(-256, 256, size=(1, 3, 16, 16)) / 128).astype(np.float32)
outs = session.run(None, {"input": inp})
record = {
    "model": "op_zoo.onnx",
    "generator": "make_op_zoo.py",
    "onnxruntime_version": ort.__version__,
    "input": inp.flatten().tolist(),
    "input_shape": list(inp.shape),
    "node_order": [[n.output[0], n.op_type] for n in model.graph.node],
    "intermediates": {},
}
for n, value in zip(model.graph.node, outs):
    v = np.asarray(value)
    if v.dtype != np.float32:
        continue
    record["intermediates"][n.output[0]] = {
        "shape": list(v.shape),
        "sum": float(v.astype(np.float64).sum()),
        "abs_sum": float(np.abs(v.astype(np.float64)).sum()),
        "first": v.flatten()[:16].astype(float).tolist(),
    }
with open("testdata/op_zoo_fixture.json", "w") as f:
    json.dump(record, f, indent=1)
print("wrote testdata/op_zoo.onnx and testdata/op_zoo_fixture.json,", len(model.graph.node), "nodes")
