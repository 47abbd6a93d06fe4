"""Hostile and broken ONNX files for the model loader's regression tests.

Every case is one tiny `.onnx` file in this folder (plus the external-data files, the `escape/`
subfolder and the symlink some cases need). `cases.json` lists them in a stable order as
{"file", "what", "expect"}: "expect" is "error" where loading the model or its first forward
pass must fail with an error (never a panic, a hang or a huge allocation) and "ok" where the
model is legitimate and must work. Most cases are small edits of one tiny valid CNN
(`valid.onnx`):

    input [1,3,8,8] -> Conv `conv` (w [4,3,3,3], b [4], pads 1) -> Relu `relu`
      -> GlobalAveragePool `gap` -> Flatten `flat` -> Gemm `logits` (transB, [2,4], [2]) -> [1,2]

Run from anywhere (needs the PyPI packages onnx and numpy):

    pip install onnx numpy
    python3 make_broken_models.py

If onnxruntime is installed too, each case is also tried with it in a child process and its
verdict is recorded under "onnxruntime" (informational only; the "ok" cases must run). Without
it, or with --no-ort, the verdicts already in cases.json are kept.

A chain of many Identity nodes is too big to commit; write one on demand with

    python3 make_broken_models.py --long-chain 100000 /tmp/long_chain.onnx
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
OPSET = 17
IR_VERSION = 8
FLOAT = TensorProto.FLOAT
W_SHAPE = (4, 3, 3, 3)
W_BYTES = int(np.prod(W_SHAPE)) * 4  # 432


# ----------------------------------------------------------------------------- building blocks

def weights():
    """The tiny CNN's parameters, always the same values."""
    rng = np.random.default_rng(0)
    return {
        "w": (rng.standard_normal(W_SHAPE) * 0.3).astype(np.float32),
        "b": (rng.standard_normal(4) * 0.1).astype(np.float32),
        "fc.w": (rng.standard_normal((2, 4)) * 0.5).astype(np.float32),
        "fc.b": (rng.standard_normal(2) * 0.1).astype(np.float32),
    }


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def int64s(name, values):
    return tensor(name, np.array(values, dtype=np.int64))


def vinfo(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def node(op, inputs, output, **attrs):
    return helper.make_node(op, inputs, [output], name=output, **attrs)


def tiny_cnn():
    """Nodes, initializers, inputs and outputs of the valid CNN, as lists a case may edit."""
    p = weights()
    nodes = [
        node("Conv", ["input", "w", "b"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Relu", ["conv"], "relu"),
        node("GlobalAveragePool", ["relu"], "gap"),
        node("Flatten", ["gap"], "flat", axis=1),
        node("Gemm", ["flat", "fc.w", "fc.b"], "logits", transB=1),
    ]
    inits = [tensor(name, value) for name, value in p.items()]
    inputs = [vinfo("input", [1, 3, 8, 8])]
    outputs = [vinfo("logits", [1, 2])]
    return nodes, inits, inputs, outputs


def replace_init(inits, name, new):
    """Swaps the initializer called `name` for the TensorProto `new`."""
    return [new if t.name == name else t for t in inits]


def replace_node(nodes, output, new):
    return [new if n.output[0] == output else n for n in nodes]


def model(nodes, inits, inputs, outputs, name="broken"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="excite make_broken_models.py")
    m.ir_version = IR_VERSION
    return m


def external(name, shape, location, offset=None, length=None):
    """A float tensor whose bytes are declared to live in an external file."""
    t = TensorProto()
    t.name = name
    t.data_type = FLOAT
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for key, value in entries:
        e = t.external_data.add()
        e.key, e.value = key, value
    return t


def with_external_w(location, offset=0, length=W_BYTES):
    """The tiny CNN with the Conv weight `w` moved to external data at `location`."""
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "w", external("w", W_SHAPE, location, offset, length))
    return model(nodes, inits, inputs, outputs)


def w_bytes():
    return weights()["w"].tobytes()


def write_bytes(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def symlink(path, target):
    if path.is_symlink() or path.exists():
        path.unlink()
    os.symlink(target, path)


# ----------------------------------------------------------------------------- cases
# Each case writes its side files (if any) and returns (model, what, expect).

def valid():
    return model(*tiny_cnn()), "the tiny valid CNN every other case is edited from", "ok"


def ext_ok():
    write_bytes(HERE / "ext_ok.bin", w_bytes() + weights()["b"].tobytes())
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "w", external("w", W_SHAPE, "ext_ok.bin", 0, W_BYTES))
    inits = replace_init(inits, "b", external("b", [4], "ext_ok.bin", W_BYTES, 16))
    return (model(nodes, inits, inputs, outputs),
            "legitimate external data: w and b in ext_ok.bin beside the model (b at offset 432)",
            "ok")


def ext_abs_path():
    return with_external_w("/etc/passwd"), "external data location is the absolute path /etc/passwd", "error"


def ext_dev_zero():
    return (with_external_w("/dev/zero", offset=0, length=None),
            "external data location is /dev/zero, no length (reading to EOF never ends)", "error")


def outside_bin():
    """The data file the escape/ cases reach out of their folder for."""
    write_bytes(HERE / "outside.bin", w_bytes())


def ext_parent_dir():
    outside_bin()
    return (with_external_w("../outside.bin"),
            "external data location ../outside.bin leaves the model's folder (file exists)", "error")


def ext_symlink():
    outside_bin()
    symlink(HERE / "escape" / "link.bin", "../outside.bin")
    return (with_external_w("link.bin"),
            "external data location link.bin is a symlink to ../outside.bin, outside the folder",
            "error")


def ext_short_file():
    write_bytes(HERE / "ext_short_file.bin", w_bytes()[:100])
    return (with_external_w("ext_short_file.bin", offset=0, length=None),
            "external data file has 100 bytes, tensor w needs 432 (no length entry)", "error")


def ext_offset_past_end():
    write_bytes(HERE / "ext_offset_past_end.bin", w_bytes())
    return (with_external_w("ext_offset_past_end.bin", offset=4096, length=W_BYTES),
            "external data offset 4096 is past the end of a 432-byte file", "error")


def ext_length_mismatch():
    write_bytes(HERE / "ext_length_mismatch.bin", w_bytes())
    return (with_external_w("ext_length_mismatch.bin", offset=0, length=400),
            "external data length 400 disagrees with tensor w's 432 bytes", "error")


def init_rank7():
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "w", tensor("w", weights()["w"].reshape(4, 3, 3, 3, 1, 1, 1)))
    return (model(nodes, inits, inputs, outputs),
            "Conv weight initializer of rank 7 [4,3,3,3,1,1,1]", "error")


def bn_short_params():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "relu", node("Relu", ["bn"], "relu"))
    nodes.insert(1, node("BatchNormalization", ["conv", "bn.s", "bn.b", "bn.m", "bn.v"], "bn"))
    three = np.ones(3, dtype=np.float32)
    inits += [tensor("bn.s", three), tensor("bn.b", three * 0), tensor("bn.m", three * 0),
              tensor("bn.v", three)]
    return (model(nodes, inits, inputs, outputs),
            "BatchNormalization scale/bias/mean/var have 3 values for 4 channels", "error")


def conv_zero_out_channels():
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "w", tensor("w", np.zeros((0, 3, 3, 3), np.float32)))
    inits = replace_init(inits, "b", tensor("b", np.zeros(0, np.float32)))
    return (model(nodes, inits, inputs, outputs),
            "Conv with 0 output channels (w [0,3,3,3], b [0]); the Gemm then gets [1,0]", "error")


def conv_zero_kernel():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "conv", node("Conv", ["input", "w", "b"], "conv", pads=[1, 1, 1, 1]))
    inits = replace_init(inits, "w", tensor("w", np.zeros((4, 3, 0, 0), np.float32)))
    return (model(nodes, inits, inputs, outputs), "Conv with a 0x0 kernel (w [4,3,0,0])", "error")


def conv_bias_short():
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "b", tensor("b", np.zeros(3, np.float32)))
    return (model(nodes, inits, inputs, outputs), "Conv bias of length 3 for 4 output channels",
            "error")


def gemm_bias_wrong():
    nodes, inits, inputs, outputs = tiny_cnn()
    inits = replace_init(inits, "fc.b", tensor("fc.b", np.zeros(3, np.float32)))
    return (model(nodes, inits, inputs, outputs), "Gemm bias of length 3 for 2 outputs", "error")


def matmul_inner_mismatch():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "logits", node("MatMul", ["flat", "fc.w"], "logits"))
    inits = replace_init(inits, "fc.w", tensor("fc.w", np.ones((3, 2), np.float32)))
    inits = [t for t in inits if t.name != "fc.b"]
    return (model(nodes, inits, inputs, outputs),
            "MatMul of [1,4] by [3,2]: inner dimensions disagree", "error")


def squeeze_non_unit():
    nodes, inits, inputs, _ = tiny_cnn()
    nodes = nodes[:1] + [node("Squeeze", ["conv", "axes"], "squeezed")]
    inits += [int64s("axes", [1])]
    return (model(nodes, inits, inputs, [vinfo("squeezed", None)]),
            "Squeeze of axis 1 of the Conv output, whose size is 4", "error")


def reshape_overflow():
    nodes, inits, inputs, _ = tiny_cnn()
    nodes = nodes[:4] + [node("Reshape", ["flat", "shape"], "reshaped")]
    inits += [int64s("shape", [2**62, 4])]
    return (model(nodes, inits, inputs, [vinfo("reshaped", None)]),
            "Reshape to constant [2**62, 4], whose product overflows int64", "error")


def reshape_div_min():
    nodes, inits, inputs, _ = tiny_cnn()
    i64 = TensorProto.INT64
    nodes = nodes[:4] + [
        helper.make_node("Constant", [], ["num"], name="num",
                         value=helper.make_tensor("num", i64, [1], [-(2**63)])),
        helper.make_node("Constant", [], ["den"], name="den",
                         value=helper.make_tensor("den", i64, [1], [-1])),
        node("Div", ["num", "den"], "shape"),
        node("Reshape", ["flat", "shape"], "reshaped"),
    ]
    return (model(nodes, inits, inputs, [vinfo("reshaped", None)]),
            "Reshape target computed as Div(int64 min, -1), which overflows", "error")


HUGE = 2**40


def conv_huge_pads():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "conv", node("Conv", ["input", "w", "b"], "conv",
                                             kernel_shape=[3, 3], pads=[HUGE] * 4))
    return (model(nodes, inits, inputs, outputs), "Conv with pads 2**40", "error")


def pool_huge_pads(op):
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "relu", node("Relu", ["pool"], "relu"))
    nodes.insert(1, node(op, ["conv"], "pool", kernel_shape=[2, 2], pads=[HUGE] * 4))
    return model(nodes, inits, inputs, outputs), f"{op} with pads 2**40", "error"


def maxpool_huge_pads():
    return pool_huge_pads("MaxPool")


def avgpool_huge_pads():
    return pool_huge_pads("AveragePool")


def pad_huge():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "relu", node("Relu", ["padded"], "relu"))
    nodes.insert(1, node("Pad", ["conv", "pads"], "padded"))
    inits += [int64s("pads", [0, 0, HUGE, HUGE, 0, 0, HUGE, HUGE])]
    return model(nodes, inits, inputs, outputs), "Pad node with pads 2**40 on H and W", "error"


def input_huge():
    nodes, inits, _, outputs = tiny_cnn()
    return (model(nodes, inits, [vinfo("input", [1, 3, 1000000, 1000000])], outputs),
            "graph input declared [1,3,1000000,1000000] (12 TB of floats)", "error")


def cycle():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "relu", node("Relu", ["added"], "relu"))
    nodes.insert(1, node("Add", ["conv", "relu"], "added"))
    return (model(nodes, inits, inputs, outputs),
            "cycle: Add consumes Relu's output and Relu consumes Add's", "error")


def out_of_order():
    nodes, inits, inputs, outputs = tiny_cnn()
    return (model(nodes[::-1], inits, inputs, outputs),
            "legal DAG with its nodes listed in reverse: sorted at load, as onnxruntime does",
            "ok")


def duplicate_output():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes.insert(2, helper.make_node("Sigmoid", ["conv"], ["relu"], name="sigmoid"))
    return (model(nodes, inits, inputs, outputs),
            "two nodes (Relu and Sigmoid) both write the tensor `relu`", "error")


def output_shadows_input():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "relu", node("Relu", ["conv"], "input"))
    nodes = replace_node(nodes, "gap", node("GlobalAveragePool", ["input"], "gap"))
    return (model(nodes, inits, inputs, outputs),
            "a Relu writes a tensor named `input`, the graph input's name", "error")


def conv_group_mismatch():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "conv", node("Conv", ["input", "w", "b"], "conv",
                                             kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3))
    inits = replace_init(inits, "w", tensor("w", weights()["w"][:, :1]))
    return (model(nodes, inits, inputs, outputs),
            "Conv group 3 does not divide its 4 output channels (w [4,1,3,3])", "error")


def conv_kernel_attr_mismatch():
    nodes, inits, inputs, outputs = tiny_cnn()
    nodes = replace_node(nodes, "conv", node("Conv", ["input", "w", "b"], "conv",
                                             kernel_shape=[5, 5], pads=[1, 1, 1, 1]))
    return (model(nodes, inits, inputs, outputs),
            "Conv kernel_shape [5,5] disagrees with its 3x3 weight", "error")


def input_rank(shape):
    nodes, inits, _, outputs = tiny_cnn()
    return (model(nodes, inits, [vinfo("input", shape)], outputs),
            f"graph input of rank {len(shape)} {shape} feeding the Conv", "error")


def input_rank0():
    return input_rank([])


def input_rank1():
    return input_rank([3])


def input_rank5():
    return input_rank([1, 3, 8, 8, 1])


def conv_nan_weight():
    nodes, inits, inputs, outputs = tiny_cnn()
    w = weights()["w"]
    w[0, 0, 1, 1] = np.nan
    inits = replace_init(inits, "w", tensor("w", w))
    return model(nodes, inits, inputs, outputs), "a NaN in the Conv weight", "error"


def gemm_inf_weight():
    nodes, inits, inputs, outputs = tiny_cnn()
    fw = weights()["fc.w"]
    fw[1, 2] = np.inf
    inits = replace_init(inits, "fc.w", tensor("fc.w", fw))
    return model(nodes, inits, inputs, outputs), "a +Inf in the Gemm weight", "error"


# file (relative to this folder) -> case function; cases.json keeps this order sorted by file.
CASES = {
    "valid.onnx": valid,
    "ext_ok.onnx": ext_ok,
    "ext_abs_path.onnx": ext_abs_path,
    "ext_dev_zero.onnx": ext_dev_zero,
    "escape/ext_parent_dir.onnx": ext_parent_dir,
    "escape/ext_symlink.onnx": ext_symlink,
    "ext_short_file.onnx": ext_short_file,
    "ext_offset_past_end.onnx": ext_offset_past_end,
    "ext_length_mismatch.onnx": ext_length_mismatch,
    "init_rank7.onnx": init_rank7,
    "bn_short_params.onnx": bn_short_params,
    "conv_zero_out_channels.onnx": conv_zero_out_channels,
    "conv_zero_kernel.onnx": conv_zero_kernel,
    "conv_bias_short.onnx": conv_bias_short,
    "gemm_bias_wrong.onnx": gemm_bias_wrong,
    "matmul_inner_mismatch.onnx": matmul_inner_mismatch,
    "squeeze_non_unit.onnx": squeeze_non_unit,
    "reshape_overflow.onnx": reshape_overflow,
    "reshape_div_min.onnx": reshape_div_min,
    "conv_huge_pads.onnx": conv_huge_pads,
    "maxpool_huge_pads.onnx": maxpool_huge_pads,
    "avgpool_huge_pads.onnx": avgpool_huge_pads,
    "pad_huge.onnx": pad_huge,
    "input_huge.onnx": input_huge,
    "cycle.onnx": cycle,
    "out_of_order.onnx": out_of_order,
    "duplicate_output.onnx": duplicate_output,
    "output_shadows_input.onnx": output_shadows_input,
    "conv_group_mismatch.onnx": conv_group_mismatch,
    "conv_kernel_attr_mismatch.onnx": conv_kernel_attr_mismatch,
    "input_rank0.onnx": input_rank0,
    "input_rank1.onnx": input_rank1,
    "input_rank5.onnx": input_rank5,
    "conv_nan_weight.onnx": conv_nan_weight,
    "gemm_inf_weight.onnx": gemm_inf_weight,
}


# ----------------------------------------------------------------------------- long chain

def long_chain(n, path):
    """input [1,3,8,8] -> n Identity nodes -> output; legitimate but deep."""
    names = ["input"] + [f"id{i}" for i in range(n)]
    nodes = [node("Identity", [names[i]], names[i + 1]) for i in range(n)]
    m = model(nodes, [], [vinfo("input", [1, 3, 8, 8])], [vinfo(names[-1], [1, 3, 8, 8])],
              name="long_chain")
    Path(path).write_bytes(m.SerializeToString())


# ----------------------------------------------------------------------------- onnxruntime check

ORT_PROBE = r"""
import re, resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
import onnxruntime as ort

def short(e):
    # the gist of an onnxruntime error, without its prefixes, source paths and signatures
    msg = re.sub(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", "", str(e))
    msg = re.sub(r"Load model from \S+ failed:", "", msg)
    msg = re.sub(r"Non-zero status code returned while running \w+ node\. Name:'[^']*' "
                 r"Status Message: ", "", msg)
    msg = msg.replace("Exception during initialization: ", "")
    parts = re.split(r"\S+\.(?:cc|h):\d+ ", msg)
    msg = parts[-1]
    if len(parts) > 1:  # drop the C++ function named after the source position
        msg = re.sub(r"^.*?\[with [^\]]*\] ", "", msg)
        msg = re.sub(r"^[\w:<>, ]*\(\) ", "", msg)
        msg = re.sub(r"^[A-Z]\w+ (?=[A-Z])", "", msg)
        msg = msg.split(" was false. ")[-1]
    return " ".join(msg.split())[:80]

try:
    s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
except Exception as e:
    print("refuses: " + short(e)); sys.exit()
feed = {}
for i in s.get_inputs():
    shape = i.shape
    if any(not isinstance(d, int) for d in shape) or int(np.prod(shape, dtype=np.float64)) > 10**7:
        print(f"loads; not run (input {i.name} {shape} too big or symbolic to feed)"); sys.exit()
    feed[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
try:
    out = s.run(None, feed)
except Exception as e:
    print("refuses at run: " + short(e)); sys.exit()
finite = all(np.isfinite(o).all() for o in out)
print("runs" if finite else "runs (non-finite output)")
"""


def ort_verdict(path):
    try:
        r = subprocess.run([sys.executable, "-c", ORT_PROBE, path.name], capture_output=True,
                           text=True, timeout=120, cwd=path.parent)
    except subprocess.TimeoutExpired:
        return "times out (120 s)"
    if r.returncode < 0:
        return f"crashes (signal {-r.returncode})"
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        return f"exits {r.returncode}: " + (r.stderr.strip().splitlines() or [""])[-1][:80]
    return lines[-1]


def have_ort():
    try:
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return False


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long-chain", nargs=2, metavar=("N", "PATH"),
                    help="write only a chain of N Identity nodes to PATH")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime check")
    args = ap.parse_args()
    if args.long_chain:
        long_chain(int(args.long_chain[0]), args.long_chain[1])
        return

    check = have_ort() and not args.no_ort
    listing = HERE / "cases.json"
    earlier = {}
    if not check:
        print("onnxruntime not checked; cases.json keeps its earlier verdicts", file=sys.stderr)
        if listing.exists():
            earlier = {r["file"]: r["onnxruntime"] for r in json.loads(listing.read_text())
                       if "onnxruntime" in r}
    records, failures = [], []
    for file in sorted(CASES):
        m, what, expect = CASES[file]()
        path = HERE / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(m.SerializeToString())
        if expect == "ok" and file != "out_of_order.onnx":  # the checker wants sorted nodes
            onnx.checker.check_model(str(path), full_check=True)
        record = {"file": file, "what": what, "expect": expect}
        if check:
            record["onnxruntime"] = ort_verdict(path)
            if expect == "ok" and not record["onnxruntime"].startswith("runs"):
                failures.append(file)
        elif file in earlier:
            record["onnxruntime"] = earlier[file]
        records.append(record)
        print(f"{file:34} {expect:5} {record.get('onnxruntime', '')}")
    listing.write_text(json.dumps(records, indent=1) + "\n")
    if failures:
        sys.exit(f"onnxruntime does not run the ok cases {failures}")


if __name__ == "__main__":
    main()
