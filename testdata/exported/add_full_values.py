"""Add every value of every compared tensor to the importer-parity fixtures.

The older fixtures record only a sum, an absolute sum and 8-16 sampled (or leading)
values of each tensor they compare. This script reloads each fixture's ONNX model,
recomputes those tensors with onnxruntime the way the fixture's generator did (same
input, intermediate tensors added as extra graph outputs of a temporary copy of the
model), checks that the recomputed shape, sum, absolute sum and recorded samples equal
what the JSON already holds (it aborts on a relative mismatch above 1e-5), and adds
``"values"`` to each compared tensor's entry: every value, flat row-major, as the
``vit_*`` fixtures hold them, as one JSON array on one line. The numbers are written as
the shortest decimal that rounds back to the same float32 (``str(np.float32(v))``,
e.g. ``-0.15889287``, ``1e-05``, ``0.0``).

A fixture whose ``values`` would add more than ``--max-fixture-bytes`` (default 2,000,000)
to its JSON gets them in a NumPy file beside it instead, ``<fixture stem>.values.npy``
(``np.save`` of one flat little-endian float32 array, ``<f4``, npy format 1.0): the
compared tensors' values, each flat row-major, concatenated in the order their entries
appear in the JSON. Each of those entries gets, where ``values`` would go, one line

    "values_npy": {"file": "torch_vgg_ts13.values.npy", "offset": 0, "count": 10}

(``file`` relative to the JSON's folder; ``offset`` and ``count`` in elements, so the
tensor is ``np.load(file)[offset:offset + count]``). With the default this applies to
``torch_vgg_*`` (246,202 values each, +2.8 MB of JSON text, a 985 kB .npy) and
``efficientnet_lite0`` (646,016 values, +5.7 MB of text, a 2.6 MB .npy). The .npy is
read back before the JSON is written: every slice must equal onnxruntime's tensor bit for
bit.

Fixtures (paths relative to the repository root):

* ``testdata/exported/{torch,keras,paddle}_*.json``: every ``outputs`` entry (the graph
  output and the intermediates). Input: ``input_rule``, x[i] = ((i*37+11)%251)/125 - 1 over
  ``input_shape``; onnxruntime CPU with graph optimizations disabled, as
  ``make_{torch,keras,paddle}_exports.py`` ran it. ``vit_*`` already hold ``values``.
* ``testdata/op_zoo_fixture.json``, ``op_zoo2_fixture.json``, ``tiny_cnn_fixture.json``:
  every ``intermediates`` entry. Input: the JSON's ``input``; every node output a graph
  output, default session options, as ``make_op_zoo*.py`` ran it.
* ``testdata/efficientnet_lite0_fixture.json``: every ``intermediates`` entry of
  ``models/efficientnet_lite0.onnx`` on ``testdata/chelsea_224.png``,
  x = (rgb - 127) / 128, NCHW. (Its ``logits`` already hold all 1000 values.) It was made
  (no generator script is kept) with default session options and only those six tensors
  added to the graph outputs: that reproduces its sums, means, maxima, ``first8`` and all
  1000 ``logits`` bit for bit, whereas every node output as a graph output (as for the
  op-zoo fixtures) stops onnxruntime's Conv+Clip fusion and changes the last bits (up to
  2e-6 relative). The script checks the logits too.

Every other byte of a JSON stays as it was: the record is re-serialised with
``json.dumps(indent=1)`` (which reproduces the files exactly; the script checks this before
writing) and each ``values`` list (or ``values_npy`` object) is put, on one line, after the
entry's last key.

A fixture whose compared tensors all hold ``values`` or ``values_npy`` is only checked (its
recorded values, and its .npy, against onnxruntime's), never rewritten, so rerunning is a
no-op. Pass e.g. ``--max-fixture-bytes 6000000`` to a fixture not yet written to put its
values in the JSON instead of a .npy.

Rerun (from the repository root; needs numpy, onnx, onnxruntime and Pillow):

    .venv-vit/bin/python testdata/exported/add_full_values.py            # add / check
    .venv-vit/bin/python testdata/exported/add_full_values.py --dry-run  # sizes only
    .venv-vit/bin/python testdata/exported/add_full_values.py torch_vgg  # names containing

Recorded with onnxruntime 1.32.0, onnx 1.23.2, numpy 2.x; other onnxruntime versions may
differ in the last bits, which the 1e-5 check reports.
"""

import argparse
import copy
import glob
import io
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTDATA = os.path.join(ROOT, "testdata")
EXPORTED = os.path.join(TESTDATA, "exported")
INPUT_RULE = "x[i] = ((i * 37 + 11) % 251) / 125 - 1 for the flat row-major index i, float32"
REL_TOL = 1e-5
THREADS = 2  # modest CPU use; onnxruntime's CPU kernels give the same bits for any count


def make_input(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    x = ((i * 37 + 11) % 251) / 125 - 1
    return x.astype(np.float32).reshape(shape)


def session(model, disable_optimizations):
    so = ort.SessionOptions()
    if disable_optimizations:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def run_exported(model, feeds, names):
    """``make_{torch,keras,paddle}_exports.py``: a copy of ``model`` with ``names`` appended
    as float graph outputs, graph optimizations disabled."""
    tmp = copy.deepcopy(model)
    existing = {o.name for o in tmp.graph.output}
    for n in names:
        if n not in existing:
            tmp.graph.output.append(
                helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    sess = session(tmp, disable_optimizations=True)
    out_names = [o.name for o in sess.get_outputs()]
    return dict(zip(out_names, sess.run(out_names, feeds)))


def run_every_node(model, feeds, disable_optimizations=False):
    """``make_op_zoo*.py``: a copy whose graph outputs are every node output, default
    session options."""
    tmp = copy.deepcopy(model)
    del tmp.graph.output[:]
    names = [o for n in tmp.graph.node for o in n.output if o]
    for n in names:
        tmp.graph.output.append(helper.make_empty_tensor_value_info(n))
    sess = session(tmp, disable_optimizations)
    return dict(zip(names, sess.run(names, feeds)))


def paddle_float_outputs(model):
    """The extra outputs ``make_paddle_exports.py`` added: every float node output."""
    inferred = onnx.shape_inference.infer_shapes(model)
    floats = {vi.name for vi in inferred.graph.value_info
              if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    return [o for n in model.graph.node for o in n.output if o in floats]


# --------------------------------------------------------------------------------------
# The fixtures: where their compared tensors are and how they were computed
# --------------------------------------------------------------------------------------
def exported_fixture(path):
    rec = load(path)
    family = os.path.basename(path).split("_")[0]
    if rec["input_rule"] != INPUT_RULE:
        raise SystemExit(f"{path}: unknown input rule {rec['input_rule']!r}")

    def compute(names):
        model = onnx.load(os.path.join(EXPORTED, rec["model"]))
        feeds = {rec["input_name"]: make_input(rec["input_shape"])}
        extra = paddle_float_outputs(model) if family == "paddle" else list(names)
        return run_exported(model, feeds, extra)

    return rec, "outputs", compute


def every_node_fixture(path, model_path):
    rec = load(path)

    def compute(_names):
        model = onnx.load(model_path)
        x = np.asarray(rec["input"], dtype=np.float32).reshape(rec["input_shape"])
        return run_every_node(model, {model.graph.input[0].name: x})

    return rec, "intermediates", compute


def efficientnet_fixture(path):
    rec = load(path)

    def compute(names):
        from PIL import Image

        model = onnx.load(os.path.join(ROOT, "models", rec["model"]))
        rgb = np.asarray(Image.open(os.path.join(TESTDATA, rec["image"])).convert("RGB"))
        x = ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None].copy()
        # default session options, only the compared tensors added as graph outputs
        tmp = copy.deepcopy(model)
        for n in names:
            tmp.graph.output.append(helper.make_empty_tensor_value_info(n))
        sess = session(tmp, disable_optimizations=False)
        out_names = [o.name for o in sess.get_outputs()]
        vals = dict(zip(out_names, sess.run(out_names, {model.graph.input[0].name: x})))
        logits = vals[model.graph.output[0].name].reshape(-1).astype(np.float64)
        want = np.asarray(rec["logits"], dtype=np.float64)
        r = float(np.abs(logits - want).max() / np.abs(want).max())
        if logits.size != want.size or r > REL_TOL:
            raise SystemExit(f"{path}: logits differ from the recorded ones ({r:.2e})")
        return vals

    return rec, "intermediates", compute


def fixtures():
    out = []
    for p in sorted(glob.glob(os.path.join(EXPORTED, "*.json"))):
        if os.path.basename(p).split("_")[0] in ("torch", "keras", "paddle", "vit"):
            out.append((p, lambda p=p: exported_fixture(p)))
    for stem, model in (("op_zoo", "op_zoo.onnx"), ("op_zoo2", "op_zoo2.onnx"),
                        ("tiny_cnn", "tiny_cnn.onnx")):
        p = os.path.join(TESTDATA, f"{stem}_fixture.json")
        out.append((p, lambda p=p, m=model: every_node_fixture(p, os.path.join(TESTDATA, m))))
    p = os.path.join(TESTDATA, "efficientnet_lite0_fixture.json")
    out.append((p, lambda p=p: efficientnet_fixture(p)))
    return out


# --------------------------------------------------------------------------------------
# JSON text
# --------------------------------------------------------------------------------------
def load(path):
    with open(path) as f:
        return json.load(f)


def dumps(rec, newline):
    """``json.dumps(indent=1)``, each ``values`` list or ``values_npy`` object of an
    entry on one line."""
    lines = {}
    rec = copy.deepcopy(rec)
    for key in ("outputs", "intermediates"):
        for entry in rec.get(key, {}).values():
            for field in ("values", "values_npy"):
                if field in entry:
                    # a str is text made by values_text; a list or dict was read from a file
                    v = entry[field]
                    mark = f"@@VALUES{len(lines)}@@"
                    lines[json.dumps(mark)] = v if isinstance(v, str) else json.dumps(v)
                    entry[field] = mark
    text = json.dumps(rec, indent=1)
    for mark, line in lines.items():
        assert text.count(mark) == 1
        text = text.replace(mark, line)
    return text + ("\n" if newline else "")


def values_text(a):
    """Every value of ``a`` (float32, row-major) as one JSON array: shortest float32 text."""
    flat = np.asarray(a, dtype=np.float32).reshape(-1)
    if not np.isfinite(flat).all():
        raise SystemExit("non-finite value")
    words = [str(v) for v in flat]  # numpy's shortest repr that round-trips the float32
    back = np.array([float(w) for w in words], dtype=np.float64).astype(np.float32)
    assert np.array_equal(back.view(np.uint32), flat.view(np.uint32)) or np.array_equal(
        back, flat), "float text does not round-trip"
    return "[" + ", ".join(words) + "]"


def npy_name(path):
    """``<fixture stem>.values.npy``, relative to the fixture's folder."""
    return os.path.splitext(os.path.basename(path))[0] + ".values.npy"


def load_npy(path):
    """A fixture's values file: one flat little-endian float32 array."""
    a = np.load(path, allow_pickle=False)
    if a.dtype != np.dtype("<f4") or a.ndim != 1:
        raise SystemExit(f"{path}: {a.dtype} {a.shape}, want flat <f4")
    return a


def stored_values(json_path, entry, cache):
    """The values ``entry`` records (``values`` or its ``values_npy`` slice), or None."""
    if "values" in entry:
        return np.asarray(entry["values"], dtype=np.float32)
    if "values_npy" in entry:
        ref = entry["values_npy"]
        file = os.path.join(os.path.dirname(json_path), ref["file"])
        if file not in cache:
            cache[file] = load_npy(file)
        a = cache[file]
        if ref["offset"] + ref["count"] > a.size:
            raise SystemExit(f"{file}: {a.size} values, entry wants "
                             f"[{ref['offset']}, {ref['offset'] + ref['count']})")
        return a[ref["offset"]:ref["offset"] + ref["count"]]
    return None


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------
def check(name, a, want, stored=None):
    """Recomputed ``a`` against the recorded shape / sum / abs_sum / samples / first /
    values (``stored``: the entry's ``values`` or ``values_npy`` slice); the largest
    relative deviation (aborts above REL_TOL)."""
    a = np.asarray(a, dtype=np.float32)
    flat = a.reshape(-1)
    if list(a.shape) != list(want["shape"]):
        # efficientnet_lite0 records some shapes truncated to their leading dims
        if list(a.shape)[:len(want["shape"])] != list(want["shape"]):
            raise SystemExit(f"{name}: shape {list(a.shape)} != {want['shape']}")
    n = flat.size
    f64 = flat.astype(np.float64)
    abs_sum = float(np.abs(f64).sum())
    scale = abs_sum / n + 1e-12
    worst = 0.0

    def rel(got, exp, denom):
        nonlocal worst
        r = abs(float(got) - float(exp)) / denom
        worst = max(worst, r)
        if r > REL_TOL:
            raise SystemExit(f"{name}: recomputed {got!r}, recorded {exp!r} (relative {r:.2e})")

    rel(f64.sum(), want["sum"], max(abs_sum, 1e-12))
    if "abs_sum" in want:
        rel(abs_sum, want["abs_sum"], max(abs_sum, 1e-12))
    if "mean" in want:
        rel(f64.mean(), want["mean"], max(abs_sum / n, 1e-12))
    for key in ("min", "max"):
        if key in want:
            v = flat.min() if key == "min" else flat.max()
            rel(v, want[key], abs(float(v)) + scale)
    for i, v in want.get("samples", []):
        rel(flat[i], v, abs(float(v)) + scale)
    for key in ("first", "first8"):
        for i, v in enumerate(want.get(key, [])):
            rel(flat[i], v, abs(float(v)) + scale)
    if stored is not None:
        if len(stored) != n:
            raise SystemExit(f"{name}: {len(stored)} recorded values, {n} computed")
        exp = np.asarray(stored, dtype=np.float64)
        r = np.abs(f64 - exp) / (np.abs(exp) + scale)
        k = int(r.argmax())
        rel(flat[k], exp[k], abs(exp[k]) + scale)
    return worst


# --------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="fixtures whose file name contains one of these")
    ap.add_argument("--dry-run", action="store_true", help="check and report sizes only")
    ap.add_argument("--max-fixture-bytes", type=int, default=2_000_000,
                    help="put the values of a fixture whose JSON would grow by more than "
                         "this in <fixture stem>.values.npy beside it")
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    total_before = total_after = 0
    changed, npys, complete = [], [], []
    for path, open_fixture in fixtures():
        rel_path = os.path.relpath(path, ROOT)
        if args.only and not any(o in os.path.basename(path) for o in args.only):
            continue
        with open(path) as f:
            original = f.read()
        rec, key, compute = open_fixture()
        entries = rec[key]
        newline = original.endswith("\n")
        if dumps(rec, newline) != original:
            raise SystemExit(f"{rel_path}: json.dumps(indent=1) does not reproduce the file; "
                             "refusing to rewrite it")
        names = [k for k, e in entries.items() if not e.get("initializer")]
        missing = [k for k in names if "values" not in entries[k]
                   and "values_npy" not in entries[k]]
        vals = compute(names)
        worst, exact, cache = 0.0, 0, {}
        for k in names:
            if k not in vals:
                raise SystemExit(f"{rel_path}: {k} is no node output of the model")
            stored = stored_values(path, entries[k], cache)
            worst = max(worst, check(f"{rel_path}: {k}", vals[k], entries[k], stored))
            if stored is not None:
                exact += np.array_equal(
                    np.asarray(stored, dtype=np.float32).view(np.uint32),
                    np.asarray(vals[k], dtype=np.float32).reshape(-1).view(np.uint32))
        # a values file holds exactly its entries' slices, contiguous, in entry order
        for file, a in cache.items():
            refs = [entries[k]["values_npy"] for k in entries if "values_npy" in entries[k]
                    and os.path.join(os.path.dirname(path), entries[k]["values_npy"]["file"])
                    == file]
            ends = np.cumsum([0] + [r["count"] for r in refs])
            if [r["offset"] for r in refs] != list(ends[:-1]) or ends[-1] != a.size:
                raise SystemExit(f"{file}: slices {refs} do not tile its {a.size} values")
        if not missing:
            complete.append(rel_path)
            held = len([k for k in names if "values" in entries[k] or
                        "values_npy" in entries[k]])
            print(f"{rel_path}: every compared tensor holds its values "
                  f"({'in ' + ', '.join(os.path.basename(c) for c in cache) + '; ' if cache else ''}"
                  f"{exact} of {held} equal onnxruntime's bit for bit; "
                  f"max relative deviation {worst:.1e})", flush=True)
            continue
        if cache:
            raise SystemExit(f"{rel_path}: some entries already refer to a values file; "
                             "refusing to add to it")
        flats = {k: np.asarray(vals[k], dtype=np.float32).reshape(-1) for k in missing}
        count = sum(a.size for a in flats.values())
        new = copy.deepcopy(rec)
        for k in missing:
            new[key][k]["values"] = values_text(flats[k])
        text = dumps(new, newline)
        added = len(text.encode()) - len(original.encode())
        npy_path, npy_bytes = None, 0
        if added > args.max_fixture_bytes:
            # too large for JSON text: every missing tensor into one .npy, in entry order
            npy_path = os.path.join(os.path.dirname(path), npy_name(path))
            new = copy.deepcopy(rec)
            offset = 0
            for k in missing:
                new[key][k]["values_npy"] = {"file": npy_name(path), "offset": offset,
                                             "count": int(flats[k].size)}
                offset += flats[k].size
            text = dumps(new, newline)
            added = len(text.encode()) - len(original.encode())
            data = np.concatenate([flats[k] for k in missing]).astype("<f4")
            assert data.size == count
            buf = io.BytesIO()
            np.save(buf, data, allow_pickle=False)
            npy_bytes = len(buf.getvalue())
            if not args.dry_run:
                with open(npy_path, "wb") as f:
                    f.write(buf.getvalue())
                back = load_npy(npy_path)
            else:
                back = np.load(io.BytesIO(buf.getvalue()), allow_pickle=False)
        # the new record is the old one plus `values` / `values_npy`, every value being
        # onnxruntime's
        parsed = json.loads(text)
        field = "values" if npy_path is None else "values_npy"
        for k in missing:
            if npy_path is None:
                got = np.asarray(parsed[key][k]["values"], dtype=np.float32)
            else:
                ref = parsed[key][k]["values_npy"]
                got = back[ref["offset"]:ref["offset"] + ref["count"]]
            want = flats[k]
            assert got.dtype == np.float32 and got.shape == want.shape and np.array_equal(
                got.view(np.uint32), want.view(np.uint32)), k
            assert list(parsed[key][k])[-1] == field, k
            del parsed[key][k][field]
        assert parsed == rec and json.dumps(parsed, indent=1) + (
            "\n" if newline else "") == original, rel_path
        if not args.dry_run:
            with open(path, "w") as f:
                f.write(text)
        total_before += len(original.encode())
        total_after += len(text.encode())
        status = "would add" if args.dry_run else "added"
        where = "" if npy_path is None else (
            f" as {os.path.relpath(npy_path, ROOT)} ({npy_bytes} bytes)")
        (changed if npy_path is None else npys).append((rel_path, npy_bytes))
        print(f"{rel_path}: {status} {count} values of {len(missing)} tensors{where}, "
              f"{len(original.encode())} -> {len(original.encode()) + added} bytes "
              f"(max relative deviation of the recorded stats {worst:.1e})", flush=True)
    print(f"\n{'would change' if args.dry_run else 'changed'} {len(changed) + len(npys)} "
          f"fixtures ({len(npys)} with a .npy), JSON {total_before} -> {total_after} bytes "
          f"(+{total_after - total_before}), .npy files {sum(b for _, b in npys)} bytes; "
          f"{len(complete)} already complete")


if __name__ == "__main__":
    sys.exit(main())
