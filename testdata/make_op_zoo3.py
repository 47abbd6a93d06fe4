"""Builds two small graphs of the operators the importer supports that op_zoo.onnx and
op_zoo2.onnx lack, and records every node output from onnxruntime:

* testdata/op_zoo3.onnx (opset 20): Gelu (approximate "none" and "tanh") and Mish, between
  convolutions, -> testdata/op_zoo3_fixture.json;
* testdata/op_zoo3_upsample.onnx (opset 9): the deprecated Upsample, modes "nearest" and
  "linear", its scales a constant initializer input as opset 9 requires,
  -> testdata/op_zoo3_upsample_fixture.json.

Every node output is a float NCHW tensor that depends on the input's values. The fixtures have
the format of op_zoo2_fixture.json (input, input_shape, node_order, intermediates with shape,
sum, abs_sum, first and values, not_layers); each `values` holds every element, flat
row-major, as one JSON array on one line, written as the shortest decimal that rounds back to
the same float32, as testdata/exported/add_full_values.py writes them.

Run from the repository root: .venv-vit/bin/python testdata/make_op_zoo3.py
(needs the PyPI packages onnx, onnxruntime, numpy)
"""
import copy
import json

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


class Graph:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.inits = []
        self.nodes = []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def f32(self, name, value):
        return self.const(name, np.array(value, dtype=np.float32))

    def w(self, name, *shape, scale=0.3):
        return self.const(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def node(self, op, inputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def model(self, name, in_shape, out_name, out_shape, opset, ir_version):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *in_shape])],
            [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", *out_shape])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = ir_version
        onnx.checker.check_model(model, full_check=True)
        # Every node output feeds a later node or is the graph output.
        consumed = {i for n in model.graph.node for i in n.input} | {out_name}
        unused = [o for n in model.graph.node for o in n.output if o not in consumed]
        assert not unused, unused
        return model


# --- op_zoo3: Gelu (exact and tanh), Mish -------------------------------------------------
g = Graph(3)
C = 4
c1 = g.node("Conv", ["input", g.w("c1.w", C, 3, 3, 3, scale=0.4), g.w("c1.b", C, scale=0.1)],
            "conv1", pads=[1, 1, 1, 1])                                         # [B,4,16,16]
gelu = g.node("Gelu", [c1], "gelu", approximate="none")                         # [B,4,16,16]
c2 = g.node("Conv", [gelu, g.w("c2.w", C, C, 1, 1, scale=0.8), g.w("c2.b", C, scale=0.1)],
            "conv2")                                                            # [B,4,16,16]
gelu_tanh = g.node("Gelu", [c2], "gelu_tanh", approximate="tanh")              # [B,4,16,16]
mish = g.node("Mish", [gelu_tanh], "mish")                                      # [B,4,16,16]
# gelu_tanh is >= -0.17, so Mish also sees conv2's wider, negative range
mish_conv = g.node("Mish", [c2], "mish_conv2")                                  # [B,4,16,16]
g.node("Add", [mish, mish_conv], "output")                                      # [B,4,16,16]
zoo3 = g.model("op_zoo3", [3, 16, 16], "output", [C, 16, 16], opset=20, ir_version=9)
zoo3_input = (g.rng.integers(-256, 256, size=(1, 3, 16, 16)) / 128).astype(np.float32)
zoo3_other = (g.rng.integers(-256, 256, size=(1, 3, 16, 16)) / 128).astype(np.float32)

# --- op_zoo3_upsample: Upsample (opset 9) nearest and linear ------------------------------
u = Graph(9)
uc1 = u.node("Conv", ["input", u.w("c1.w", C, 3, 3, 3, scale=0.4), u.w("c1.b", C, scale=0.1)],
             "conv1", pads=[1, 1, 1, 1])                                        # [B,4,8,8]
up_n = u.node("Upsample", [uc1, u.f32("scales_nearest", [1.0, 1.0, 2.0, 2.0])],
              "upsample_nearest", mode="nearest")                               # [B,4,16,16]
uc2 = u.node("Conv", [up_n, u.w("c2.w", C, C, 1, 1, scale=0.8), u.w("c2.b", C, scale=0.1)],
             "conv2")                                                           # [B,4,16,16]
u.node("Upsample", [uc2, u.f32("scales_linear", [1.0, 1.0, 2.0, 2.0])],
       "upsample_linear", mode="linear")                                        # [B,4,32,32]
upsample = u.model("op_zoo3_upsample", [3, 8, 8], "upsample_linear", [C, 32, 32], opset=9,
                   ir_version=8)
upsample_input = (u.rng.integers(-256, 256, size=(1, 3, 8, 8)) / 128).astype(np.float32)
upsample_other = (u.rng.integers(-256, 256, size=(1, 3, 8, 8)) / 128).astype(np.float32)


# --- fixtures -----------------------------------------------------------------------------
def values_text(a):
    """Every value of ``a`` (float32, row-major) as one JSON array: shortest float32 text."""
    flat = np.asarray(a, dtype=np.float32).reshape(-1)
    words = [str(v) for v in flat]  # numpy's shortest repr that round-trips the float32
    back = np.array([float(x) for x in words], dtype=np.float64).astype(np.float32)
    assert np.array_equal(back.view(np.uint32), flat.view(np.uint32)), "no round trip"
    return "[" + ", ".join(words) + "]"


def dumps(rec):
    """``json.dumps(indent=1)``, each intermediate's ``values`` on one line."""
    rec = copy.deepcopy(rec)
    lines = {}
    for entry in rec["intermediates"].values():
        mark = f"@@VALUES{len(lines)}@@"
        lines[json.dumps(mark)] = entry["values"]
        entry["values"] = mark
    text = json.dumps(rec, indent=1)
    for mark, line in lines.items():
        assert text.count(mark) == 1
        text = text.replace(mark, line)
    return text


def record(model, file, inp, other, out_name, out_shape):
    onnx.save(model, f"testdata/{file}")
    # Every node output as a graph output, default session options, as for op_zoo2.
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    names = [o for n in model.graph.node for o in n.output]
    for name in names:
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = dict(zip(names, session.run(None, {"input": inp})))
    rec = {
        "model": file,
        "generator": "make_op_zoo3.py",
        "onnxruntime_version": ort.__version__,
        "input": inp.flatten().tolist(),
        "input_shape": list(inp.shape),
        "node_order": [[n.output[0], n.op_type] for n in model.graph.node],
        "intermediates": {},
        "not_layers": [],
    }
    for name in names:
        v = np.asarray(outs[name])
        assert v.dtype == np.float32 and v.ndim == 4, (name, v.dtype, v.shape)
        assert np.isfinite(v).all() and np.abs(v).max() < 50, (name, np.abs(v).max())
        rec["intermediates"][name] = {
            "shape": list(v.shape),
            "sum": float(v.astype(np.float64).sum()),
            "abs_sum": float(np.abs(v.astype(np.float64)).sum()),
            "first": v.flatten()[:16].astype(float).tolist(),
            "values": values_text(v),
        }
    assert list(outs[out_name].shape) == [1, *out_shape]
    text = dumps(rec)
    back = json.loads(text)
    for name in names:
        got = np.asarray(back["intermediates"][name]["values"], dtype=np.float32)
        want = np.asarray(outs[name], dtype=np.float32).reshape(-1)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), name
    fixture = f"testdata/{file.removesuffix('.onnx')}_fixture.json"
    with open(fixture, "w") as f:
        f.write(text)

    # The saved model runs with a batch of two, and each image's output matches a batch of one.
    saved = ort.InferenceSession(f"testdata/{file}", providers=["CPUExecutionProvider"])
    pair = saved.run(None, {"input": np.concatenate([inp, other])})[0]
    assert pair.shape == (2, *out_shape), pair.shape
    np.testing.assert_allclose(pair[0], outs[out_name][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pair[1], saved.run(None, {"input": other})[0][0],
                               rtol=1e-5, atol=1e-5)
    print(f"wrote testdata/{file} and {fixture}:",
          ", ".join(f"{n.output[0]} ({n.op_type})" for n in model.graph.node))


record(zoo3, "op_zoo3.onnx", zoo3_input, zoo3_other, "output", [C, 16, 16])
record(upsample, "op_zoo3_upsample.onnx", upsample_input, upsample_other, "upsample_linear",
       [C, 32, 32])
