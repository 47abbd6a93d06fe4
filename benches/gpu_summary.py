"""The one summary line of each step of `benches/gpu.sh`, from its result file, and the
catalogue step's result file itself. Standard library only (any python3).

    python3 benches/gpu_summary.py peer OUT/peer.json
    python3 benches/gpu_summary.py vit OUT/vit.json
    python3 benches/gpu_summary.py catalogue OUT/catalogue.json SECONDS CATALOGUE_DIR BACKEND STEPS DIVERSE GPU
"""

import json
import sys


def peer(path):
    result = json.load(open(path))
    run = result["runs"][0]
    parts = []
    for pair, rows in run["summary"].items():
        one, batched = rows["one"], rows["batched"]
        parts.append(f"{pair}: one {one['lucent_over_excite']}x (act {one['excite_activation']} vs "
                     f"{one['lucent_activation']}), batched {batched['lucent_over_excite']}x (median act "
                     f"{batched['excite_activation']} vs {batched['lucent_activation']})")
    return (f"peer (Lucent on {result['torch_device']}): " + "; ".join(parts)
            + " [Lucent's seconds over excite's]")


def vit(path):
    result = json.load(open(path))
    rows = result["runs"][0]["summary"]
    return f"vit (Lucent on {result['torch_device']}): " + "; ".join(f"{r['tool']} {r['workload']} {r['s_per_image_step']} s/image-step, act {r['activation']}"
                               for r in rows)


def catalogue(path, seconds, folder, backend, steps, diverse, gpu):
    """Writes the catalogue step's record from the site's status.json; its line."""
    status = json.load(open(f"{folder}/status.json"))
    seconds = float(seconds)
    record = {"seconds": round(seconds, 2), "units": status["done"], "units_total": status["total"],
              "units_per_hour": round(status["done"] * 3600 / seconds), "backend": backend, "gpu": gpu,
              "layer": "blocks.5", "size": 128, "steps": int(steps), "diverse": int(diverse),
              "images": "testdata/demo_images"}
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    line = (f"catalogue: {record['units']} of {record['units_total']} units in {record['seconds']} s, "
            f"{record['units_per_hour']} units/hour on {backend}")
    if status["done"] != status["total"]:
        print(line, file=sys.stderr)
        raise SystemExit(f"catalogue: {status['total'] - status['done']} units missing")
    return line


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    print({"peer": peer, "vit": vit, "catalogue": catalogue}[kind](*rest))
