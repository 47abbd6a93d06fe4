"""Class visualizations of the bundled model by three renderers, scored by one evaluator:
excite's MACO (`--param maco`, 128 steps), excite's Fourier at equal wall time, and Lucent's
default `render_vis` (param.image(128), 512 steps), for 12 ImageNet classes.

For each class K (seed 0):

  maco     `xtask render --objective logit:K --param maco --steps 128 --seed 0 --out maco_K.png`:
           the saved 224 px picture; the whole process is timed.
  canvas   the same run's `maco_K_alpha.png` (the whole 448 px canvas, RGBA): its RGB channels,
           the old-style MACO output, scored for comparison (no run of its own).
  fourier  `xtask render --objective logit:K --param fourier --size 224 --steps N --seed 0`,
           N chosen so that its wall time matches that class's MACO run: Fourier's seconds per
           step and fixed start-up cost are measured once, by two short probe runs
           (`--probe-steps`, default 16 and 48 steps), and N = (T_maco - start-up) / per step.
  lucent   Lucent's `render.render_vis` with its defaults (param.image(128, fft=True,
           decorrelate=True), standard_transforms, Adam lr 0.05, thresholds=(512,), its upsampling
           to 224 px) on the onnx2torch conversion of the model, behind a wrapper applying the
           model's own normalisation (preprocess=False); objective
           `objectives.channel("net_fc", K)` (the Gemm `fc` producing the logits, [N, 1000]).
           Timed in-process (conversion excluded; one untimed 2-step warm-up render first).

The evaluator, the same for every PNG: onnxruntime on models/efficientnet_lite0.onnx, the whole
saved image (uint8 RGB; RGBA's alpha dropped) resized to 224 x 224 (PIL bilinear), normalised as
the model wants ((255 p - 127) / 128), no other transform: the target's logit, its softmax
probability, its rank (1 = top-1) and the top-1 label.

See benches/README.md. Run from the repository root, on a quiet machine:

    .venv-vit/bin/python benches/maco_classes.py
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
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
from common import busy_processes, cpu_info, CpuMeter, idle_fraction, loadavg, save_lucent  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MODEL = os.path.join(ROOT, "models", "efficientnet_lite0.onnx")
LABELS = os.path.join(ROOT, "models", "imagenet_labels.txt")
LOGITS_MODULE = "fc"  # onnx2torch's module for the ONNX Gemm `fc` (output `logits`)
LOGITS_LUCENT = "net_" + LOGITS_MODULE  # Lucent's hook name inside the wrapper `net`
SIZE = 224

# (index, the name the brief gives it); each checked against the labels file.
CLASSES = [
    (1, "goldfish"), (9, "ostrich"), (130, "flamingo"), (309, "bee"), (282, "tiger cat"),
    (323, "monarch"), (417, "balloon"), (574, "golf ball"), (963, "pizza"), (949, "strawberry"),
    (980, "volcano"), (985, "daisy"),
]
METHODS = ["maco", "canvas", "fourier", "lucent"]


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
    for name in ["torch", "torchvision", "torch-lucent", "onnx2torch", "onnx", "onnxruntime", "kornia",
                 "numpy", "pillow"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def wait_quiet(limit):
    """Waits (at most `limit` seconds) until the machine has been at least 90% idle over two
    5-second windows in a row; returns the seconds waited and whether it got quiet."""
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


def binary_info(path):
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc).isoformat()
    return {"path": path, "sha256": digest, "mtime": mtime}


def cpu_seconds(who):
    import resource

    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_timed(cmd):
    """Runs a command; returns its wall seconds, its CPU seconds (user + system, from the
    children's rusage: a measure of its work that other processes on the machine disturb less
    than the wall time) and its last line of output."""
    import resource

    cpu0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return seconds, round(cpu, 2), lines[-1] if lines else ""


def read_labels():
    with open(LABELS) as f:
        labels = [line.rstrip("\n") for line in f]
    assert len(labels) == 1000, len(labels)
    return labels


class Evaluator:
    """The one scorer: onnxruntime on the bundled model, the whole image resized to 224 px."""

    def __init__(self, labels, threads):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(MODEL, opts, providers=["CPUExecutionProvider"])
        self.labels = labels

    def logits(self, path):
        img = Image.open(path).convert("RGB")  # RGBA: the alpha is dropped, not composited
        size = list(img.size)
        if img.size != (SIZE, SIZE):
            img = img.resize((SIZE, SIZE), Image.BILINEAR)
        u8 = np.asarray(img, dtype=np.uint8)
        x = ((u8.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        (logits,) = self.sess.run(["logits"], {"input": np.ascontiguousarray(x)})
        return logits[0].astype(np.float64), size

    def __call__(self, path, target):
        z, size = self.logits(path)
        p = np.exp(z - z.max())
        p /= p.sum()
        top = int(z.argmax())
        return {
            "image": path,
            "image_size": size,
            "logit": round(float(z[target]), 4),
            "prob": float(p[target]),
            "rank": int((z > z[target]).sum()) + 1,
            "top1": top,
            "top1_label": self.labels[top],
            "top1_prob": float(p[top]),
        }


def convert_model():
    started = time.perf_counter()
    net = convert(onnx.load(MODEL))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    seconds = time.perf_counter() - started
    assert LOGITS_MODULE in dict(net.named_modules()), f"no module {LOGITS_MODULE}"
    return net, seconds


def check_against_onnxruntime(net):
    """Max abs diff of the logits, torch conversion against onnxruntime, one random input."""
    sess = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, SIZE, SIZE)).astype(np.float32)
    (ref,) = sess.run(["logits"], {"input": x})
    store = {}
    hook = dict(net.named_modules())[LOGITS_MODULE].register_forward_hook(
        lambda mod, i, o: store.__setitem__("t", o))
    with torch.no_grad():
        out = net(torch.from_numpy(x)).numpy()
    hook.remove()
    return {
        "input": "standard normal, 1x3x224x224, seed 0",
        "logits_max_abs_diff": float(np.abs(out - ref).max()),
        "fc_hook_vs_output_max_abs_diff": float(np.abs(store["t"].numpy() - out).max()),
        "logits_max_abs": float(np.abs(ref).max()),
    }


def lucent_render(model, objective, steps):
    torch.manual_seed(0)
    np.random.seed(0)
    images = render.render_vis(
        model,
        objective,
        lambda: param.image(128, fft=True, decorrelate=True),
        optimizer=lambda params: torch.optim.Adam(params, lr=0.05),
        transforms=transform.standard_transforms,
        thresholds=(steps,),
        preprocess=False,
        progress=False,
        show_image=False,
    )
    return images[-1]  # [1, 128, 128, 3], floats in [0, 1]


def probe_fourier(xtask, out, k, probe_steps):
    """Fourier's whole-process time at two step counts: seconds per step (the slope) and the
    fixed cost (start-up, model load, PNG writing: the intercept)."""
    runs = []
    for steps in probe_steps:
        path = os.path.join(out, f"probe_fourier_{k}_{steps}.png")
        cmd = [xtask, "render", "--objective", f"logit:{k}", "--param", "fourier", "--size", str(SIZE),
               "--steps", str(steps), "--seed", "0", "--out", path]
        meter = CpuMeter()
        secs, cpu, last = run_timed(cmd)
        runs.append({"steps": steps, "seconds": round(secs, 3), "process_cpu_s": cpu, "command": " ".join(cmd),
                     "excite_says": last, **meter.stop()})
        print(f"fourier probe {steps:4d} steps: {secs:7.2f} s", flush=True)
    (s0, t0), (s1, t1) = [(r["steps"], r["seconds"]) for r in runs[:2]]
    per_step = (t1 - t0) / (s1 - s0)
    fixed = max(0.0, t0 - s0 * per_step)
    return {"runs": runs, "class": k, "seconds_per_step": round(per_step, 5), "fixed_seconds": round(fixed, 3)}


def fmt(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def markdown(results):
    lines = ["| class | method | seconds | steps | logit | rank | top-1 label |",
             "|---|---|---:|---:|---:|---:|---|"]
    for c in results:
        for m in METHODS:
            r = c.get(m)
            if not r:
                continue
            secs = "(maco run)" if m == "canvas" else fmt(r["seconds"], 1)
            steps = "(maco run)" if m == "canvas" else str(r["steps"])
            e = r["score"]
            lines.append(f"| {c['index']} {c['label'].split(',')[0]} | {m} | {secs} | {steps} | "
                         f"{e['logit']:.2f} | {e['rank']} | {e['top1_label'].split(',')[0]} |")
    return "\n".join(lines)


def summarise(results):
    present = [m for m in METHODS if any(m in c for c in results)]
    n = len(results)
    top1 = {m: sum(1 for c in results if m in c and c[m]["score"]["rank"] == 1) for m in present}
    rendered = [m for m in present if m != "canvas"]
    best = {m: 0 for m in rendered}
    for c in results:
        have = [m for m in rendered if m in c]
        if have:
            best[max(have, key=lambda m: c[m]["score"]["logit"])] += 1
    out = {"classes": n, "top1_count": top1, "highest_target_logit_count": best,
           "median_rank": {m: statistics.median(c[m]["score"]["rank"] for c in results if m in c) for m in present},
           "median_logit": {m: round(statistics.median(c[m]["score"]["logit"] for c in results if m in c), 3)
                            for m in present},
           "median_prob": {m: round(statistics.median(c[m]["score"]["prob"] for c in results if m in c), 4)
                           for m in present}}
    pairs = [(c["maco"]["score"]["logit"], c["fourier"]["score"]["logit"]) for c in results
             if "maco" in c and "fourier" in c]
    if pairs:
        out["median_ratio_maco_over_fourier_logit"] = round(statistics.median(a / b for a, b in pairs), 3)
        out["median_diff_maco_minus_fourier_logit"] = round(statistics.median(a - b for a, b in pairs), 3)
        out["fourier_over_maco_cpu_seconds"] = [round(c["fourier"]["process_cpu_s"] / c["maco"]["process_cpu_s"], 3)
                                                for c in results if "maco" in c and "fourier" in c]
        out["fourier_over_maco_seconds"] = [round(c["fourier"]["seconds"] / c["maco"]["seconds"], 3)
                                            for c in results if "maco" in c and "fourier" in c]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xtask", default=os.path.join(ROOT, "target", "release", "xtask"))
    parser.add_argument("--out", default="/tmp/maco_classes", help="where the images go")
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads")
    parser.add_argument("--classes", default=None, help="comma-separated class indices (default: all 12)")
    parser.add_argument("--maco-steps", type=int, default=128)
    parser.add_argument("--lucent-steps", type=int, default=512)
    parser.add_argument("--probe-steps", default="16,48", help="two step counts timing Fourier")
    parser.add_argument("--skip-excite", action="store_true")
    parser.add_argument("--skip-lucent", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="before each timed run wait up to S s for a quiet machine")
    parser.add_argument("--results", default=None,
                        help="JSON file (default benches/results/maco_classes-DATE.json)")
    args = parser.parse_args()
    wall0 = time.perf_counter()

    labels = read_labels()
    classes = CLASSES
    if args.classes:
        want = [int(v) for v in args.classes.split(",")]
        classes = [c for c in CLASSES if c[0] in want]
    print("classes (index: the labels file's line):")
    for k, name in classes:
        print(f"  {k:4d} {name:10s} -> {labels[k]}")
        assert labels[k].split(",")[0].strip().lower() == name, (k, name, labels[k])

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    info = {"date": datetime.date.today().isoformat(), "machine": cpu_info(), "versions": versions(),
            "torch_threads": torch.get_num_threads(), "torch_device": "cpu", "args": vars(args),
            "model": os.path.relpath(MODEL, ROOT), "evaluator": (
                "onnxruntime CPU on the bundled model; the whole saved PNG (RGB, alpha dropped) "
                "resized to 224x224 with PIL bilinear, x = (u8 - 127) / 128; logit, softmax "
                "probability and rank (1 = top-1) of the target, top-1 label"),
            "lucent_objective": f'objectives.channel("{LOGITS_LUCENT}", K)'}
    if not args.skip_excite:
        info["excite_binary"] = binary_info(args.xtask)
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()
    info["git"] = {"head": git("rev-parse", "HEAD"), "dirty": git("status", "--short").splitlines()}
    info["load1_at_start"] = loadavg()
    info["busy_processes_at_start"] = busy_processes(os.getpid())
    print(json.dumps(info, indent=1), flush=True)
    if info["busy_processes_at_start"]:
        print("WARNING: other processes are busy; the times will not be clean", flush=True)

    evaluate = Evaluator(labels, args.threads)
    path = args.results or os.path.join(ROOT, "benches", "results", f"maco_classes-{info['date']}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)

    def save():
        with open(path, "w") as f:  # after every class, so that a cut-short run keeps its results
            f.write(json.dumps(info, indent=1).replace(ROOT + os.sep, ""))

    results = [{"index": k, "label": labels[k]} for k, _ in classes]
    info["classes"] = results

    if not args.skip_excite:
        info.update(wait_quiet(args.wait_quiet))
        probe = probe_fourier(args.xtask, args.out, classes[0][0], [int(v) for v in args.probe_steps.split(",")])
        info["fourier_probe"] = probe
        print(f"fourier: {probe['seconds_per_step']:.4f} s/step + {probe['fixed_seconds']:.2f} s fixed", flush=True)
        for c in results:
            k = c["index"]
            quiet = wait_quiet(args.wait_quiet)
            png = os.path.join(args.out, f"maco_{k}.png")
            cmd = [args.xtask, "render", "--objective", f"logit:{k}", "--param", "maco",
                   "--steps", str(args.maco_steps), "--seed", "0", "--out", png]
            meter = CpuMeter()
            secs, cpu, last = run_timed(cmd)
            c["maco"] = {"seconds": round(secs, 3), "process_cpu_s": cpu, "steps": args.maco_steps, "command": " ".join(cmd),
                         "excite_says": last, **meter.stop(), **quiet, "score": evaluate(png, k)}
            canvas = os.path.join(args.out, f"maco_{k}_alpha.png")
            c["canvas"] = {"seconds": round(secs, 3), "steps": args.maco_steps,
                           "note": "RGB channels of the MACO run's whole canvas (maco_K_alpha.png)",
                           "score": evaluate(canvas, k)}

            steps = max(1, round((secs - probe["fixed_seconds"]) / probe["seconds_per_step"]))
            quiet = wait_quiet(args.wait_quiet)
            png = os.path.join(args.out, f"fourier_{k}.png")
            cmd = [args.xtask, "render", "--objective", f"logit:{k}", "--param", "fourier", "--size", str(SIZE),
                   "--steps", str(steps), "--seed", "0", "--out", png]
            meter = CpuMeter()
            fsecs, fcpu, last = run_timed(cmd)
            c["fourier"] = {"seconds": round(fsecs, 3), "process_cpu_s": fcpu, "steps": steps, "target_seconds": round(secs, 3),
                            "command": " ".join(cmd), "excite_says": last, **meter.stop(), **quiet,
                            "score": evaluate(png, k)}
            m, f = c["maco"], c["fourier"]
            print(f"{k:4d} {labels[k][:24]:24s} maco {m['seconds']:6.1f} s logit {m['score']['logit']:7.2f} "
                  f"rank {m['score']['rank']:4d} | canvas logit {c['canvas']['score']['logit']:7.2f} rank "
                  f"{c['canvas']['score']['rank']:4d} | fourier {f['steps']:4d} steps {f['seconds']:6.1f} s "
                  f"logit {f['score']['logit']:7.2f} rank {f['score']['rank']:4d}  "
                  f"(other CPU {m['other_cpu_s']} / {f['other_cpu_s']} s)", flush=True)
            save()

    if not args.skip_lucent:
        net, conv_s = convert_model()
        info["onnx2torch_convert_seconds"] = round(conv_s, 2)
        info["onnx2torch_vs_onnxruntime"] = check_against_onnxruntime(net)
        print(json.dumps(info["onnx2torch_vs_onnxruntime"]), flush=True)
        model = Normalised(net).eval()  # Lucent hooks this one (its own hooks, names `net_...`)
        started = time.perf_counter()
        lucent_render(model, objectives.channel(LOGITS_LUCENT, 0), 2)  # warm-up, not timed
        info["lucent_warmup_seconds"] = round(time.perf_counter() - started, 2)
        for c in results:
            k = c["index"]
            quiet = wait_quiet(args.wait_quiet)
            meter = CpuMeter()
            cpu0 = cpu_seconds(resource.RUSAGE_SELF)
            started = time.perf_counter()
            imgs = lucent_render(model, objectives.channel(LOGITS_LUCENT, k), args.lucent_steps)
            secs = time.perf_counter() - started
            cpu = round(cpu_seconds(resource.RUSAGE_SELF) - cpu0, 2)
            png = os.path.join(args.out, f"lucent_{k}.png")
            save_lucent(imgs[0], png)
            c["lucent"] = {"seconds": round(secs, 3), "process_cpu_s": cpu, "steps": args.lucent_steps, **meter.stop(), **quiet,
                           "score": evaluate(png, k)}
            s = c["lucent"]["score"]
            print(f"{k:4d} {labels[k][:24]:24s} lucent {secs:6.1f} s logit {s['logit']:7.2f} rank {s['rank']:4d} "
                  f"(other CPU {c['lucent']['other_cpu_s']} s)", flush=True)
            save()

    info["summary"] = summarise(results)
    info["load1_at_end"] = loadavg()
    info["total_seconds"] = round(time.perf_counter() - wall0, 1)
    table = markdown(results)
    info["table_markdown"] = table
    save()
    print()
    print(table)
    print()
    s = info["summary"]
    print(f"classes: {s['classes']}")
    print("ranked first (target is top-1): " + ", ".join(f"{m} {v}/{s['classes']}" for m, v in s["top1_count"].items()))
    print("highest target logit among renderers: " + ", ".join(f"{m} {v}" for m, v in s["highest_target_logit_count"].items()))
    print("median rank: " + ", ".join(f"{m} {v}" for m, v in s["median_rank"].items()))
    if "median_ratio_maco_over_fourier_logit" in s:
        print(f"median ratio of MACO's saved-image logit to Fourier's at equal time: "
              f"{s['median_ratio_maco_over_fourier_logit']} (median difference {s['median_diff_maco_minus_fourier_logit']})")
    print(f"total {info['total_seconds']} s; wrote {path}", flush=True)


if __name__ == "__main__":
    main()
