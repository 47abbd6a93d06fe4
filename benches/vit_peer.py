"""Peer benchmark on a vision transformer: excite's CLI against a Lucent-style PyTorch loop (the
real Lucent, PyPI `torch-lucent`, `render.render_vis`) on ViT-S/16 at 224 px, the same machine,
the same objective and the same steps, one tool at a time, with one evaluator for the
activation each final image reaches.

Model: timm `vit_small_patch16_224` with random weights (`pretrained=False` after
`torch.manual_seed(0)`; nothing is downloaded), eval mode, exported by this script with the
TorchScript exporter (opset 17, input `input` with a dynamic batch axis, output `logits`) to
`target/vit_peer/vit_small.onnx`, with a manifest `vit_small.toml` beside it (input size 224,
normalisation mean = std = 127.5 on the 0..255 scale: timm's mean = std = 0.5). The export is
checked against the torch model with onnxruntime.

Objective: the mean over the 14 x 14 grid tokens (the class token excluded) of feature C of
the output of block 8 (timm `blocks.8`; in ONNX the tensor of the last Add of block 8,
`/blocks/blocks.8/Add_1_output_0`): excite `LAYER:C`; torch `out[:, 1:, C].mean()` of
`model.blocks[8]`'s output `[N, 197, 384]`.

Workloads, 224 px images, Fourier parameterization with decorrelated colour, Adam lr 0.05,
Lucid's standard transforms, seed 0:
  one      feature 0, batch 1, 64 steps
  batched  features 0..8 in one batch of 8 (image i ascends feature i), 32 steps

Lucent computes on CUDA whenever torch sees a GPU (its own choice), and the model goes there
too; excite's device is `--excite-backend` (`benches/gpu.sh` runs this on a GPU).

excite runs as a subprocess (the whole process is timed: start-up, model load, render, the
final measuring forward, PNG writing); Lucent runs in-process (`render_vis`, the model built
once beforehand). Every final image is saved as a PNG, reloaded as uint8 RGB, scaled to [0, 1]
and scored by the same torch model at 224 px without transforms.

Equal work: excite's transforms resample to a constant `224 + 12 = 236` px; the export takes any
side in 224..239 (the stride-16 patch convolution gives 14 x 14 patches, the last 12 rows and
columns unread), so excite finds no baked-in size and feeds 236 px, of which the transformer sees
197 tokens. Lucent gets `fixed_image_size=224` (its transforms' output upsampled to 224 px: the
same 197 tokens; without it timm's ViT refuses, with an AssertionError, the 243..253 px images of
Lucent's transforms). The torch model stops after block 8, as excite does (`--lucent-full` adds a
run of Lucent on the whole network, as a Lucent user would write it); its weights do not require
gradients. Lucent's renders are timed warm: one untimed step at each batch size runs first
(`--no-warmup` times them cold); excite's include its whole process.

See benches/README.md for the environment. Run from the repository root:

    .venv-vit/bin/python benches/vit_peer.py
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import statistics
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from lucent.optvis import objectives, param, render, transform  # noqa: E402
from common import busy_processes, cpu_info, CpuMeter, idle_fraction, loadavg, save_lucent, torch_device  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARCH = "vit_small_patch16_224"
SIZE = 224
BLOCK = 8
HOOK = f"vit_blocks_{BLOCK}"  # Lucent's hook name of `blocks.8` inside the wrappers (`vit` + '_')
MEAN = STD = 0.5  # timm's normalisation of this model, on [0, 1] pixels


class Trunk(torch.nn.Module):
    """The ViT behind its input normalisation ((p - 0.5) / 0.5, p in [0, 1]), run as far as
    block `last` (the objective's layer), as excite runs its graph only as far as the layer."""

    def __init__(self, vit, last):
        super().__init__()
        self.vit = vit
        self.last = last

    def forward(self, x):
        v = self.vit
        x = v.patch_embed((x - MEAN) / STD)
        x = v.norm_pre(v.patch_drop(v._pos_embed(x)))
        for block in v.blocks[: self.last + 1]:
            x = block(x)
        return x  # [N, 197, 384]: blocks.8's output


class Full(torch.nn.Module):
    """The whole ViT (to the logits) behind its input normalisation."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        return self.vit((x - MEAN) / STD)


@objectives.wrap_objective()
def token_feature(layer, feature, batch=None):
    """Feature `feature` of a token layer `[N, 1 + 14*14, D]`, averaged over the grid tokens
    (the class token excluded): excite's `LAYER:C` on a token layer."""

    @objectives.handle_batch(batch)
    def inner(model):
        return -model(layer)[:, 1:, feature].mean()

    return inner


def versions():
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ["torch", "timm", "torch-lucent", "kornia", "onnx", "onnxruntime", "numpy", "pillow"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def wait_quiet(limit):
    """Waits (at most `limit` seconds) until the machine has been at least 90% idle over two
    5-second windows in a row; returns the seconds waited and whether it got quiet. A workload
    started after it can still be disturbed: its `other_cpu_s` says."""
    if limit <= 0:
        return {}
    started, calm = time.perf_counter(), 0
    while time.perf_counter() - started < limit:
        calm = calm + 1 if idle_fraction(5.0) >= 0.9 else 0
        if calm == 2:
            break
    waited = round(time.perf_counter() - started, 1)
    if calm < 2:
        print(f"WARNING: the machine was not quiet after {waited} s; timing anyway", flush=True)
    return {"waited_quiet_s": waited, "quiet": calm == 2}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def binary_info(path):
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc).isoformat()
    return {"path": path, "sha256": sha256(path), "mtime": mtime}


def build_model():
    """timm's ViT-S/16 with random weights (seed 0), eval mode, no weight gradients."""
    torch.manual_seed(0)
    vit = timm.create_model(ARCH, pretrained=False)
    vit.eval()
    for p in vit.parameters():
        p.requires_grad_(False)
    cfg = vit.pretrained_cfg
    assert tuple(cfg["mean"]) == (MEAN,) * 3 and tuple(cfg["std"]) == (STD,) * 3, (cfg["mean"], cfg["std"])
    return vit


def export(vit, folder):
    """The ONNX file (TorchScript exporter, opset 17, dynamic batch) and its manifest; returns
    the path, the layer's tensor name and a record of what was done."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "vit_small.onnx")
    started = time.perf_counter()
    torch.onnx.export(
        vit, torch.rand(1, 3, SIZE, SIZE), path, dynamo=False, opset_version=17,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    seconds = time.perf_counter() - started
    graph = onnx.load(path).graph
    adds = [n for n in graph.node if n.op_type == "Add" and n.name.startswith(f"/blocks/blocks.{BLOCK}/")]
    # The block's output is its last Add (the residual after the MLP), in graph order.
    layer = adds[-1].output[0]
    with open(os.path.join(folder, "vit_small.toml"), "w") as f:
        f.write(
            f'# timm {ARCH}, random weights (seed 0), written by benches/vit_peer.py.\n'
            f'name = "ViT-S/16 (random weights)"\n'
            f'onnx = "vit_small.onnx"\n'
            f'input_size = {SIZE}\n'
            f'output = "logits"\n\n'
            f'# x = (pixel - 127.5) / 127.5, pixel in 0..255, RGB (timm: mean = std = 0.5).\n'
            f'[normalization]\n'
            f'mean = [{MEAN * 255}, {MEAN * 255}, {MEAN * 255}]\n'
            f'std = [{STD * 255}, {STD * 255}, {STD * 255}]\n'
        )
    return path, layer, {"path": path, "sha256": sha256(path), "export_seconds": round(seconds, 2),
                         "layer_tensor": layer, "exporter": "torch.onnx.export(dynamo=False, opset_version=17)",
                         "dynamic_axes": "input/logits axis 0"}


def check_export(vit, path, layer):
    """onnxruntime on the export against the torch model (logits and the layer, batch 2), and
    the square sides the export takes (its spatial axes made free)."""
    m = onnx.load(path)
    m.graph.output.append(onnx.helper.make_tensor_value_info(layer, onnx.TensorProto.FLOAT, None))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    options = ort.SessionOptions()
    options.log_severity_level = 4
    sess = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((2, 3, SIZE, SIZE), dtype=np.float32)
    normalised = (x - MEAN) / STD
    logits_ort, layer_ort = sess.run(["logits", layer], {"input": normalised})
    with torch.no_grad():
        logits_t = vit(torch.from_numpy(normalised)).numpy()
        layer_t = Trunk(vit, BLOCK)(torch.from_numpy(x)).numpy()
    takes = {}
    for side in (SIZE, SIZE + 8, SIZE + 12, SIZE + 16, SIZE + 24):
        try:
            sess.run(["logits"], {"input": np.zeros((1, 3, side, side), np.float32)})
            takes[side] = True
        except Exception:  # onnxruntime's errors have no common class
            takes[side] = False
    return {
        "input": "uniform [0, 1] pixels, normalised, 2x3x224x224, seed 0",
        "logits_max_abs_diff": float(np.abs(logits_t - logits_ort).max()),
        "logits_max_abs": float(np.abs(logits_ort).max()),
        "layer_max_abs_diff": float(np.abs(layer_t - layer_ort).max()),
        "layer_max_abs": float(np.abs(layer_ort).max()),
        "layer_shape": list(layer_ort.shape),
        "onnxruntime_takes_side": takes,
    }


def excite_layers_line(xtask, model, layer):
    out = subprocess.run([xtask, "layers", "--model", model], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"failed: {xtask} layers --model {model}")
    hits = [line.strip() for line in out.stdout.splitlines() if line.split() and line.split()[0] == layer]
    assert len(hits) == 1, (layer, out.stdout[-2000:])
    return " ".join(hits[0].split())


class Evaluator:
    """The one scorer for both tools: a PNG reloaded as uint8 RGB, scaled to [0, 1], through the
    torch model at 224 px without transforms; the mean over grid tokens of feature C of
    blocks.8."""

    def __init__(self, vit):
        self.model = Trunk(vit, BLOCK).eval()

    def __call__(self, path, feature):
        img = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        assert img.shape == (SIZE, SIZE, 3), (path, img.shape)
        x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            out = self.model(x.to(next(self.model.parameters()).device))
        return float(out[0, 1:, feature].mean())


def run_excite(cmd):
    """Runs excite's CLI; its last output line."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[-1] if lines else ""


def layer_png(folder, channel):
    """excite render-layer's PNG of one channel (`channel_0003.png`, checked against the disk)."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    hits = [n for n in names if n.startswith("channel") and int("".join(c for c in n if c.isdigit()) or -1) == channel]
    assert len(hits) == 1, (folder, channel, names)
    return os.path.join(folder, hits[0])


def disturbed(cpu, seconds):
    """Whether other processes took more than 5% of the machine (at least 1 CPU second) while a
    workload ran."""
    return cpu["other_cpu_s"] > max(1.0, 0.05 * seconds * os.cpu_count())


def measure(args, work):
    """Times `work()` (after `--wait-quiet`), again up to `--retry-busy` times while other
    processes disturbed it; the least disturbed attempt counts. Returns its seconds, the CPU
    record, the result of the last attempt (the renders are seeded: every attempt gives the same
    images) and every attempt's seconds and other CPU seconds."""
    attempts = []
    for _ in range(1 + args.retry_busy):
        quiet = wait_quiet(args.wait_quiet)
        meter = CpuMeter()
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        cpu = {**meter.stop(), **quiet}
        attempts.append((seconds, cpu))
        if not disturbed(cpu, seconds):
            break
        print(f"  (disturbed: {seconds:.1f} s with {cpu['other_cpu_s']} CPU s of other processes)", flush=True)
    seconds, cpu = min(attempts, key=lambda a: a[1]["other_cpu_s"])
    tries = [{"seconds": round(t, 2), "other_cpu_s": c["other_cpu_s"]} for t, c in attempts]
    return seconds, {**cpu, "disturbed": disturbed(cpu, seconds), "attempts": tries}, result


def row(tag, workload, seconds, steps, batch, acts, cpu, **extra):
    res = {"seconds": round(seconds, 2), "steps": steps, "batch": batch,
           "seconds_per_step": round(seconds / steps, 4),
           "seconds_per_image_step": round(seconds / (steps * batch), 4),
           "activations": acts, **extra, **cpu}
    act = acts[0] if len(acts) == 1 else statistics.median(acts)
    label = "act" if len(acts) == 1 else "median act"
    print(f"{tag:>12} {workload:<8} {seconds:8.1f} s  {seconds / steps:7.3f} s/step  {label} {act:.4f}"
          f"  other CPU {res['other_cpu_s']} s", flush=True)
    return res


def excite_workloads(xtask, model, layer, out, args, evaluate):
    res = {}
    path = os.path.join(out, "excite_f0.png")
    xtask = [xtask, "--backend", args.excite_backend]
    cmd = [*xtask, "render", "--model", model, "--objective", f"{layer}:0", "--size", str(SIZE),
           "--steps", str(args.steps_one), "--param", "fourier", "--out", path]
    secs, cpu, last = measure(args, lambda: run_excite(cmd))
    res["one"] = row("excite", "one", secs, args.steps_one, 1, [evaluate(path, 0)], cpu,
                     command=" ".join(cmd), excite_says=last)

    folder = os.path.join(out, "excite_layer")
    cmd = [*xtask, "render-layer", "--model", model, "--layer", layer, "--channels", f"0..{args.features}",
           "--batch", str(args.features), "--size", str(SIZE), "--steps", str(args.steps_batched),
           "--param", "fourier", "--out", folder]

    def batched():
        shutil.rmtree(folder, ignore_errors=True)  # no `--resume`: render every channel
        return run_excite(cmd)

    secs, cpu, last = measure(args, batched)
    acts = [evaluate(layer_png(folder, c), c) for c in range(args.features)]
    with open(os.path.join(folder, "record.json")) as f:
        record = {c["channel"]: c["activation"] for c in json.load(f)["channels"]}
    res["batched"] = row("excite", "batched", secs, args.steps_batched, args.features, acts, cpu,
                         command=" ".join(cmd), excite_says=last, files=sorted(os.listdir(folder)),
                         # excite's own measure (float images, before the PNG): a check of the objective.
                         excite_record_activations=[record[c] for c in range(args.features)])
    return res


def lucent_render(model, objective, batch, steps):
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
        fixed_image_size=SIZE,
    )
    return images[-1]  # [batch, H, W, 3], floats in [0, 1]


def lucent_workloads(model, tag, out, args, evaluate):
    res = {}
    batched = objectives.Objective.sum([token_feature(HOOK, c, batch=c) for c in range(args.features)])
    if args.warmup:
        # One step at each batch size first, untimed: torch's one-time costs (thread pool,
        # kernel selection for the shapes), which a Lucent session pays once, not per render.
        started = time.perf_counter()
        lucent_render(model, token_feature(HOOK, 0), 1, 1)
        lucent_render(model, batched, args.features, 1)
        res["warmup_seconds"] = round(time.perf_counter() - started, 2)
    secs, cpu, imgs = measure(args, lambda: lucent_render(model, token_feature(HOOK, 0), 1, args.steps_one))
    path = os.path.join(out, f"{tag}_f0.png")
    save_lucent(imgs[0], path)
    res["one"] = row(tag, "one", secs, args.steps_one, 1, [evaluate(path, 0)], cpu)

    folder = os.path.join(out, f"{tag}_layer")
    os.makedirs(folder, exist_ok=True)
    secs, cpu, imgs = measure(args, lambda: lucent_render(model, batched, args.features, args.steps_batched))
    acts = []
    for c in range(args.features):
        path = os.path.join(folder, f"f{c:02d}.png")
        save_lucent(imgs[c], path)
        acts.append(evaluate(path, c))
    res["batched"] = row(tag, "batched", secs, args.steps_batched, args.features, acts, cpu)
    return res


def summary_table(run):
    rows = []
    for tool, res in run.items():
        if not isinstance(res, dict) or "one" not in res:  # the repeat number
            continue
        for w in ("one", "batched"):
            r = res[w]
            acts = r["activations"]
            rows.append({
                "tool": tool, "workload": w, "wall_s": r["seconds"], "s_per_step": r["seconds_per_step"],
                "s_per_image_step": r["seconds_per_image_step"],
                "activation": round(acts[0] if len(acts) == 1 else statistics.median(acts), 4),
                "activation_mean": round(statistics.mean(acts), 4),
                "other_cpu_s": r["other_cpu_s"], "disturbed": r["disturbed"],
            })
    print(f"\n{'tool':<12} {'workload':<8} {'wall s':>8} {'s/step':>8} {'s/img-step':>10} "
          f"{'activation':>10} {'other CPU s':>11}  clean")
    for r in rows:
        print(f"{r['tool']:<12} {r['workload']:<8} {r['wall_s']:8.1f} {r['s_per_step']:8.3f} "
              f"{r['s_per_image_step']:10.3f} {r['activation']:10.4f} {r['other_cpu_s']:11.1f}  "
              f"{'no' if r['disturbed'] else 'yes'}")
    print("(activation: `one` the image's value; `batched` the median over the features)", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xtask", default=os.path.join(ROOT, "target", "release", "xtask"))
    parser.add_argument("--model-dir", default=os.path.join(ROOT, "target", "vit_peer"),
                        help="where the ONNX export and its manifest go (not in git)")
    parser.add_argument("--out", default="/tmp/vit_peer", help="where the images go")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: the cores)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--steps-one", type=int, default=64, help="steps of `one` (feature 0, batch 1)")
    parser.add_argument("--steps-batched", type=int, default=32, help="steps of `batched`")
    parser.add_argument("--features", type=int, default=8, help="features 0..N of `batched`, in one batch of N")
    parser.add_argument("--lucent-full", action="store_true",
                        help="also run Lucent on the whole network (to the logits), as a Lucent user would")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="time Lucent's first render cold (default: one untimed step at each batch size first)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="before each timed workload, wait up to S seconds for the machine to be idle")
    parser.add_argument("--retry-busy", type=int, default=0, metavar="N",
                        help="time a workload again, up to N more times, while other processes took more "
                             "than 5%% of the machine during it; the least disturbed attempt counts")
    parser.add_argument("--skip-excite", action="store_true")
    parser.add_argument("--excite-backend", default="flex", help="excite's --backend (compiled into --xtask)")
    parser.add_argument("--skip-lucent", action="store_true")
    parser.add_argument("--results", default=None, help="JSON file (default benches/results/vit_peer-DATE.json)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device, device_name = torch_device()
    info = {"date": datetime.date.today().isoformat(), "machine": cpu_info(), "versions": versions(),
            "torch_threads": torch.get_num_threads(), "torch_device": device_name, "arch": ARCH,
            "excite_backend": args.excite_backend,
            "weights": "random (pretrained=False, torch.manual_seed(0))", "size": SIZE,
            "workloads": {"one": {"features": [0], "batch": 1, "steps": args.steps_one},
                          "batched": {"features": list(range(args.features)), "batch": args.features,
                                      "steps": args.steps_batched}},
            "lucent_warmup": "one untimed step at batch 1 and at batch N before the timed renders" if args.warmup
                             else "none (cold)",
            "lucent_layer": HOOK, "lucent_objective": f"-{HOOK}[:, 1:, C].mean()",
            "lucent_settings": "render_vis, param.image(224, fft=True, decorrelate=True), standard_transforms, "
                               "Adam lr 0.05, preprocess=False, fixed_image_size=224, seed 0"}
    if not args.skip_excite:
        info["excite_binary"] = binary_info(args.xtask)
    info["load1_at_start"] = loadavg()
    info["busy_processes_at_start"] = busy_processes(os.getpid())
    print(json.dumps(info, indent=1), flush=True)
    if info["busy_processes_at_start"]:
        print("WARNING: other processes are busy; the times will not be clean", flush=True)

    vit = build_model()
    model_path, layer, info["export"] = export(vit, args.model_dir)
    info["excite_objective"] = f"{layer}:C"
    info["export_vs_torch"] = check = check_export(vit, model_path, layer)
    print(json.dumps({"export": info["export"], "export_vs_torch": check}, indent=1), flush=True)
    takes = check["onnxruntime_takes_side"]
    excite_side = SIZE + 12  # excite's constant size: 224 + 2*12 pad - 8 - 4 jitter
    if takes[SIZE + 8] and takes[excite_side]:
        seen = (f"{excite_side} px (excite's constant size H + 12; the export takes it: the stride-16 patch "
                f"convolution makes 14 x 14 patches of its top-left {SIZE} x {SIZE} px, so the transformer "
                f"sees 197 tokens)")
    else:
        seen = f"{SIZE} px (the export bakes {SIZE} px in; excite resamples its {excite_side} px images to it)"
    info["model_input"] = {"excite": seen,
                           "lucent": f"{SIZE} px (fixed_image_size={SIZE}: the transformed image upsampled "
                                     f"to {SIZE} px; 197 tokens)",
                           "torch_forward_extent": "patch embedding to blocks.8 (the model stops at the layer)"
                                                   + (" ; lucent_full: the whole network" if args.lucent_full else "")}
    print(json.dumps(info["model_input"], indent=1), flush=True)
    if not args.skip_excite:
        info["excite_layers_line"] = excite_layers_line(args.xtask, model_path, layer)
        print("xtask layers:", info["excite_layers_line"], flush=True)

    vit.to(device)  # Lucent computes on CUDA when there is one
    evaluate = Evaluator(vit)
    trunk = Trunk(vit, BLOCK).eval()
    full = Full(vit).eval()

    path = args.results or os.path.join(ROOT, "benches", "results", f"vit_peer-{info['date']}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    runs = []
    for r in range(args.repeats):
        out = os.path.join(args.out, f"rep{r}")
        os.makedirs(out, exist_ok=True)
        run = {"repeat": r}
        if not args.skip_excite:
            run["excite"] = excite_workloads(args.xtask, model_path, layer, out, args, evaluate)
        if not args.skip_lucent:
            run["lucent"] = lucent_workloads(trunk, "lucent", out, args, evaluate)
            if args.lucent_full:
                run["lucent_full"] = lucent_workloads(full, "lucent_full", out, args, evaluate)
        run["summary"] = summary_table(run)
        runs.append(run)
        info["runs"] = runs
        info["load1_at_end"] = loadavg()
        with open(path, "w") as f:  # after every repeat, so that a cut-short run keeps its results
            # Paths inside the repository are written relative to it.
            f.write(json.dumps(info, indent=1).replace(ROOT + os.sep, ""))
        print("wrote", path, flush=True)


if __name__ == "__main__":
    main()
