"""Peer benchmark: excite's CLI against real Lucent (PyPI `torch-lucent`) on the same model,
the same machine and the same three workloads, one tool at a time, with one evaluator for the
activation each final image reaches.

Model: models/efficientnet_lite0.onnx, converted to torch with onnx2torch (checked against
onnxruntime). Objective: the mean over positions of channel C of the ONNX tensor `blocks.5`
(excite `blocks.5:C`; Lucent `objectives.channel("net_blocks/5", C)`: the converted model's
module `blocks/5`, the Conv producing `blocks.5`, inside the normalising wrapper `net`).

Workloads, 128 px images (the step counts and the 16 channels are options):
  one      one channel (0), 512 steps
  batched  16 channels (0..16) in one batch of 16, 128 steps
  oneby    16 channels one after the other, 128 steps each (`--oneby-* 0` skips it)

Lucent computes on CUDA whenever torch sees a GPU (its own choice), and the converted model
goes there too; excite's device is its `--backend` (`benches/gpu.sh` runs this on a GPU).

excite runs as a subprocess (the whole process is timed: start-up, model load, render, PNG
writing); Lucent runs in-process (`render.render_vis`, model conversion excluded, timed
separately). Every final image is saved as a PNG, reloaded as uint8 RGB, and scored by the
same converted torch model at 128 px without transforms.

Lucent runs with its defaults (standard_transforms, Adam lr 0.05, param.image(128, fft=True,
decorrelate=True), thresholds=(512,) or (128,)), except preprocess=False (its default would add
torchvision's ImageNet normalisation; the model wrapper applies the model's own (255 p - 127) / 128
instead). Note that render_vis upsamples every image smaller than 224 px to 224 px after the
transforms (its default); `--lucent-input 140` adds a variant with fixed_image_size=140, the
model input size excite's transforms give at 128 px (128 + 24 - 8 - 4).

See benches/README.md for the environment. Run from the repository root:

    python benches/lucent_peer.py
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=UserWarning)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from onnx2torch import convert  # noqa: E402
from PIL import Image  # noqa: E402

from lucent.optvis import objectives, param, render, transform  # noqa: E402
from common import busy_processes, cpu_info, CpuMeter, loadavg, save_lucent, torch_device  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MODEL = os.path.join(ROOT, "models", "efficientnet_lite0.onnx")
LAYER_ONNX = "blocks.5"
LAYER_MODULE = "blocks/5"  # onnx2torch's module for the ONNX node `blocks.5`
LAYER_LUCENT = "net_" + LAYER_MODULE  # Lucent's hook name inside the wrapper (`net` + '_')
SIZE = 128


class Normalised(torch.nn.Module):
    """The converted model behind the model's own input normalisation: p in [0, 1] ->
    (255 p - 127) / 128."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net((x * 255.0 - 127.0) / 128.0)


def versions():
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ["torch", "torchvision", "torch-lucent", "onnx2torch", "onnx", "onnxruntime", "kornia", "numpy"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def convert_model():
    started = time.perf_counter()
    net = convert(onnx.load(MODEL))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    seconds = time.perf_counter() - started
    assert LAYER_MODULE in dict(net.named_modules()), f"no module {LAYER_MODULE}"
    return net, seconds


def check_against_onnxruntime(net):
    """Max abs diff of logits and of the `blocks.5` tensor on one random 224 px input."""
    m = onnx.load(MODEL)
    m.graph.output.append(onnx.helper.make_tensor_value_info(LAYER_ONNX, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    logits_ort, layer_ort = sess.run(["logits", LAYER_ONNX], {"input": x})
    store = {}
    hook = dict(net.named_modules())[LAYER_MODULE].register_forward_hook(
        lambda mod, i, o: store.__setitem__("t", o)
    )
    with torch.no_grad():
        logits_t = net(torch.from_numpy(x)).numpy()
    hook.remove()
    layer_t = store["t"].numpy()
    return {
        "input": "standard normal, 1x3x224x224, seed 0",
        "logits_max_abs_diff": float(np.abs(logits_t - logits_ort).max()),
        "logits_max_abs": float(np.abs(logits_ort).max()),
        "blocks5_max_abs_diff": float(np.abs(layer_t - layer_ort).max()),
        "blocks5_max_abs": float(np.abs(layer_ort).max()),
        "blocks5_shape": list(layer_t.shape),
    }


class Evaluator:
    """The one scorer for both tools: mean of channel C of `blocks.5` at 128 px, no transforms."""

    def __init__(self, net):
        self.model = Normalised(net).eval()
        self.store = {}
        dict(net.named_modules())[LAYER_MODULE].register_forward_hook(
            lambda mod, i, o: self.store.__setitem__("t", o)
        )

    def __call__(self, path, channel):
        img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        assert img.shape == (SIZE, SIZE, 3), (path, img.shape)
        x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            self.model(x.to(next(self.model.parameters()).device))
        return float(self.store["t"][0, channel].mean())


def binary_info(path):
    import hashlib

    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc).isoformat()
    return {"path": path, "sha256": digest, "mtime": mtime}


def run_timed(cmd):
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds


def layer_png(folder, channel):
    """excite render-layer's PNG of one channel (name checked against what is on disk)."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    hits = [n for n in names if n.startswith("channel") and int("".join(c for c in n if c.isdigit()) or -1) == channel]
    assert len(hits) == 1, (folder, channel, names)
    return os.path.join(folder, hits[0])


def excite_workloads(xtask, backend, out, args, evaluate):
    res = {}
    tag = "excite" if backend == "flex" else f"excite_{backend}"
    xtask = [xtask, "--backend", backend]
    path = os.path.join(out, f"{tag}_c0.png")
    cmd = [*xtask, "render", "--objective", f"{LAYER_ONNX}:0", "--size", str(SIZE), "--steps", str(args.steps_one),
           "--out", path]
    meter = CpuMeter()
    secs = run_timed(cmd)
    res["one"] = {"seconds": secs, "command": " ".join(cmd), "activations": [evaluate(path, 0)], **meter.stop()}
    print(f"{tag} one:     {secs:8.1f} s  act {res['one']['activations'][0]:.3f}  other CPU {res['one']['other_cpu_s']} s", flush=True)

    folder = os.path.join(out, f"{tag}_layer")
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [*xtask, "render-layer", "--layer", LAYER_ONNX, "--channels", f"0..{args.channels}", "--size", str(SIZE),
           "--steps", str(args.steps_batched), "--batch", str(args.channels), "--out", folder]
    meter = CpuMeter()
    secs = run_timed(cmd)
    acts = [evaluate(layer_png(folder, c), c) for c in range(args.channels)]
    res["batched"] = {"seconds": secs, "command": " ".join(cmd), "activations": acts,
                      "files": sorted(os.listdir(folder)), **meter.stop()}
    print(f"{tag} batched: {secs:8.1f} s  median act {statistics.median(acts):.3f}  other CPU {res[list(res)[-1]]['other_cpu_s']} s", flush=True)

    oneby = args.oneby_excite
    if oneby == 0:
        return res
    folder = os.path.join(out, f"{tag}_oneby")
    os.makedirs(folder, exist_ok=True)
    total, acts, cmds = 0.0, [], []
    meter = CpuMeter()
    for c in range(oneby):
        path = os.path.join(folder, f"c{c:02d}.png")
        cmd = [*xtask, "render", "--objective", f"{LAYER_ONNX}:{c}", "--size", str(SIZE),
               "--steps", str(args.steps_batched), "--out", path]
        total += run_timed(cmd)
        acts.append(evaluate(path, c))
        cmds.append(" ".join(cmd))
    res["oneby"] = {"seconds": total, "channels_run": oneby, "seconds_extrapolated": total * args.channels / oneby,
                    "command": cmds[0].replace(":0 ", ":C ") + f"  (C = 0..{oneby - 1})", "activations": acts,
                    **meter.stop()}
    print(f"{tag} oneby:   {total:8.1f} s ({oneby} ch)  median act {statistics.median(acts):.3f}  other CPU {res[list(res)[-1]]['other_cpu_s']} s", flush=True)
    return res


def lucent_render(model, objective, batch, steps, input_size):
    torch.manual_seed(0)
    np.random.seed(0)
    images = render.render_vis(
        model,
        objective,
        lambda: param.image(SIZE, fft=True, decorrelate=True, batch=batch),
        optimizer=lambda params: torch.optim.Adam(params, lr=0.05),
        transforms=transform.standard_transforms,
        thresholds=(steps,),
        preprocess=False,
        progress=False,
        show_image=False,
        fixed_image_size=input_size,
    )
    return images[-1]  # [batch, H, W, 3], floats in [0, 1]


def lucent_workloads(model, out, args, evaluate, input_size, tag):
    res = {}
    meter = CpuMeter()
    started = time.perf_counter()
    imgs = lucent_render(model, objectives.channel(LAYER_LUCENT, 0), 1, args.steps_one, input_size)
    secs = time.perf_counter() - started
    path = os.path.join(out, f"{tag}_c0.png")
    save_lucent(imgs[0], path)
    res["one"] = {"seconds": secs, "activations": [evaluate(path, 0)], **meter.stop()}
    print(f"{tag} one:     {secs:8.1f} s  act {res['one']['activations'][0]:.3f}  other CPU {res['one']['other_cpu_s']} s", flush=True)

    folder = os.path.join(out, f"{tag}_layer")
    os.makedirs(folder, exist_ok=True)
    objective = objectives.Objective.sum([objectives.channel(LAYER_LUCENT, c, batch=c) for c in range(args.channels)])
    meter = CpuMeter()
    started = time.perf_counter()
    imgs = lucent_render(model, objective, args.channels, args.steps_batched, input_size)
    secs = time.perf_counter() - started
    acts = []
    for c in range(args.channels):
        path = os.path.join(folder, f"c{c:02d}.png")
        save_lucent(imgs[c], path)
        acts.append(evaluate(path, c))
    res["batched"] = {"seconds": secs, "activations": acts, **meter.stop()}
    print(f"{tag} batched: {secs:8.1f} s  median act {statistics.median(acts):.3f}  other CPU {res[list(res)[-1]]['other_cpu_s']} s", flush=True)

    oneby = args.oneby_lucent
    if oneby == 0:
        return res
    folder = os.path.join(out, f"{tag}_oneby")
    os.makedirs(folder, exist_ok=True)
    total, acts = 0.0, []
    meter = CpuMeter()
    for c in range(oneby):
        started = time.perf_counter()
        imgs = lucent_render(model, objectives.channel(LAYER_LUCENT, c), 1, args.steps_batched, input_size)
        total += time.perf_counter() - started
        path = os.path.join(folder, f"c{c:02d}.png")
        save_lucent(imgs[0], path)
        acts.append(evaluate(path, c))
    res["oneby"] = {"seconds": total, "channels_run": oneby, "seconds_extrapolated": total * args.channels / oneby,
                    "activations": acts, **meter.stop()}
    print(f"{tag} oneby:   {total:8.1f} s ({oneby} ch)  median act {statistics.median(acts):.3f}  other CPU {res[list(res)[-1]]['other_cpu_s']} s", flush=True)
    return res


def summarise(excite, lucent):
    rows = {}
    for w in [w for w in ["one", "batched", "oneby"] if w in excite and w in lucent]:
        e = excite[w].get("seconds_extrapolated", excite[w]["seconds"])
        l = lucent[w].get("seconds_extrapolated", lucent[w]["seconds"])
        ea, la = excite[w]["activations"], lucent[w]["activations"]
        rows[w] = {
            "excite_s": round(e, 2),
            "lucent_s": round(l, 2),
            "lucent_over_excite": round(l / e, 3),
            "excite_activation": round(ea[0] if w == "one" else statistics.median(ea), 4),
            "lucent_activation": round(la[0] if w == "one" else statistics.median(la), 4),
        }
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xtask", default=os.path.join(ROOT, "target", "release", "xtask"))
    parser.add_argument("--out", default="/tmp/peer", help="where the images go")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--steps-one", type=int, default=512, help="steps of `one`")
    parser.add_argument("--steps-batched", type=int, default=128, help="steps of `batched` and of each `oneby` render")
    parser.add_argument("--channels", type=int, default=16, help="channels 0..N of `batched` (one batch) and `oneby`")
    parser.add_argument("--oneby-excite", type=int, default=16, help="channels run one by one (excite)")
    parser.add_argument("--oneby-lucent", type=int, default=16, help="channels run one by one (Lucent)")
    parser.add_argument("--lucent-input", type=int, action="append", default=[],
                        help="also run Lucent with fixed_image_size=N (repeatable)")
    parser.add_argument("--skip-excite", action="store_true")
    parser.add_argument("--skip-lucent-default", action="store_true",
                        help="run Lucent only at the --lucent-input sizes (not at its default 224 px upsampling)")
    parser.add_argument("--excite-backend", action="append", default=[],
                        help="excite's --backend (repeatable; default flex): each compiled into --xtask")
    parser.add_argument("--results", default=None, help="JSON file (default benches/results/lucent_peer_DATE.json)")
    args = parser.parse_args()
    args.excite_backend = args.excite_backend or ["flex"]

    torch.set_num_threads(args.threads)
    device, device_name = torch_device()
    info = {"date": datetime.date.today().isoformat(), "machine": cpu_info(), "versions": versions(),
            "torch_threads": torch.get_num_threads(), "torch_device": device_name, "size": SIZE,
            "steps": {"one": args.steps_one, "batched": args.steps_batched}, "channels": args.channels,
            "lucent_layer": LAYER_LUCENT, "excite_objective": f"{LAYER_ONNX}:C"}
    if not args.skip_excite:
        info["excite_binary"] = binary_info(args.xtask)
    info["load1_at_start"] = loadavg()
    info["busy_processes_at_start"] = busy_processes(os.getpid())
    print(json.dumps(info, indent=1), flush=True)
    if info["busy_processes_at_start"]:
        print("WARNING: other processes are busy; the times will not be clean", flush=True)

    net, conv_s = convert_model()
    info["onnx2torch_convert_seconds"] = round(conv_s, 2)
    info["onnx2torch_vs_onnxruntime"] = check_against_onnxruntime(net)
    print(json.dumps(info["onnx2torch_vs_onnxruntime"]), flush=True)
    net.to(device)
    evaluate = Evaluator(net)
    model = Normalised(net).eval()  # Lucent hooks this one (its own hooks, names `net_...`)

    path = args.results or os.path.join(ROOT, "benches", "results", f"lucent_peer_{info['date']}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    runs = []
    for r in range(args.repeats):
        out = os.path.join(args.out, f"rep{r}")
        os.makedirs(out, exist_ok=True)
        run = {"repeat": r}
        if not args.skip_excite:
            for backend in args.excite_backend:
                tag = "excite" if backend == "flex" else f"excite_{backend}"
                run[tag] = excite_workloads(args.xtask, backend, out, args, evaluate)
        if not args.skip_lucent_default:
            run["lucent"] = lucent_workloads(model, out, args, evaluate, None, "lucent")
        for n in args.lucent_input:
            run[f"lucent_input{n}"] = lucent_workloads(model, out, args, evaluate, n, f"lucent_input{n}")
        excites = [k for k in run if k.startswith("excite")]
        if excites:
            run["summary"] = {f"{e}/{k}": summarise(run[e], v)
                              for e in excites for k, v in run.items() if k.startswith("lucent")}
            print(json.dumps(run["summary"], indent=1), flush=True)
        runs.append(run)
        info["runs"] = runs
        with open(path, "w") as f:  # after every repeat, so that a cut-short run keeps its results
            # Paths inside the repository are written relative to it.
            f.write(json.dumps(info, indent=1).replace(ROOT + os.sep, ""))
        print("wrote", path, flush=True)


if __name__ == "__main__":
    main()
