#!/usr/bin/env bash
# A real-size rehearsal of the catalogue through Slurm, on a one-node cluster started here
# (local_cluster.sh): the bundled model's head.conv, 1,280 units at a few steps, as a 16-task
# array that ranks a photo folder for dataset examples; two tasks are cancelled mid-run and
# rerun alone, then the index step builds the site. Prints each phase's time, units per hour
# per task, and the time spent outside rendering (planning, ranking, index and site).
#
#   bash deploy/slurm/rehearsal.sh [PHOTO_DIR]    (default: testdata/demo_images)
#
# Each task gets every core of the node (CPUS_PER_TASK, default nproc), so tasks run one at a
# time and a task's rate is the machine's. Environment: EXCITE (the binary), LAYER (default
# head.conv: 1,280 units, none dead, as ReLU6's clipped units would be from a grey start),
# STEPS (default 4), SIZE (default 96), KEEP=1 (keep the temporary folder with the catalogue
# and the job logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
model=$root/models/efficientnet_lite0.onnx
photos=$(cd "${1:-testdata/demo_images}" && pwd)
steps=${STEPS:-4} size=${SIZE:-96} layer=${LAYER:-head.conv}
CPUS_PER_TASK=${CPUS_PER_TASK:-$(nproc)}
submit=$root/deploy/slurm/submit.sh
shards=16 victims=(3 10)

source "$root/deploy/slurm/local_cluster.sh"
[ -f "$model" ] || fail "no $model"

out=$work/catalogue
args=(--model "$model" --layers "$layer" --steps "$steps" --size "$size" --diverse 0
  --no-negative --saliency-method gradient --images "$photos" --out "$out")
log() { echo "$work/jobs/excite-catalogue-$1_$2.out"; }
# stored_batches JOB TASK: the batches the task has stored so far (one "stored" line each)
stored_batches() {
  local f; f=$(log "$1" "$2")
  if [ -f "$f" ]; then grep -c '^stored ' "$f" || true; else echo 0; fi
}
midway() { local k; k=$(stored_batches "$1" "$2"); [ "$k" -ge 1 ]; }

phase "$shards tasks of $layer (1,280 units, $steps steps, $size px); cancel tasks ${victims[*]} midway"
submit_jobs "$shards" "${args[@]}"
first=$array first_merge=$merge
for t in "${victims[@]}"; do
  wait_for 3600 "task $t to store its first batch" midway "$first" "$t"
  scancel "${first}_$t"
  echo "   cancelled task ${first}_$t after $(stored_batches "$first" "$t") of its 5 batches"
done
wait_for 3600 "the array to end" jobs_done "$first" "$first_merge"
for t in "${victims[@]}"; do
  [ "$(scontrol show job -o "${first}_$t" | grep -o 'JobState=[A-Z]*')" = JobState=CANCELLED ] ||
    fail "task ${first}_$t ended as $(job_states "${first}_$t")"
done
expect_state "$first_merge" CANCELLED

phase "rerun tasks ${victims[*]} alone, then the index"
victim_list=$(IFS=,; echo "${victims[*]}")
EXCITE_ARRAY=$victim_list submit_jobs "$shards" "${args[@]}"
rerun=$array
wait_for 3600 "the rerun and the index" jobs_done "$rerun" "$merge"
expect_state "$rerun" COMPLETED "${#victims[@]}"
expect_state "$merge" COMPLETED
check_site "$out" 1280 "$layer:1280"
index_log=$work/jobs/excite-index-$merge.out

phase "done"
echo "rehearsal passed in $SECONDS s:"
printf '%s\n' "${times[@]}"
# Per task: its wall time (the job's start and end stamps), the units it stored, its run's
# time and the part of it spent on examples (the CLI's summary line).
python3 - "$work/jobs" "$first" "$rerun" "$out" <<'EOF'
import glob, json, os, re, sys
from datetime import datetime
jobs, first, rerun, out = sys.argv[1:]
def seconds(text):
    h = re.search(r"(\d+)h (\d+)m", text)
    if h:
        return int(h[1]) * 3600 + int(h[2]) * 60
    m = re.search(r"(\d+)m (\d+)s", text)
    if m:
        return int(m[1]) * 60 + int(m[2])
    return int(re.search(r"(\d+)s", text)[1])
rows = []
for job in (first, rerun):
    for path in sorted(glob.glob(os.path.join(jobs, f"excite-catalogue-{job}_*.out"))):
        text = open(path).read()
        stamps = re.findall(r"(\d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d)", text)
        task = path.rsplit("_", 1)[1][:-4]
        wall = (datetime.fromisoformat(stamps[-1]) - datetime.fromisoformat(stamps[0])).total_seconds() if len(stamps) > 1 else None
        summary = re.search(r"(\d+) units rendered in ([^,(]+)(?:\(of which ([^)]+) on examples\))?", text)
        units = sum(int(b) - int(a) + 1 for a, b in re.findall(r"^stored \S+?:(\d+)\.\.\S+?:(\d+) ", text, re.M))
        run = seconds(summary[2]) if summary else None
        examples = seconds(summary[3]) if summary and summary[3] else 0
        rows.append((job == rerun, task, units, wall, run, examples))
rows.sort(key=lambda r: (r[0], int(r[1])))
print("\n  run    task  units  wall s  run s  examples s")
for again, task, units, wall, run, examples in rows:
    print(f"  {'rerun' if again else 'first':<6} {task:>4} {units:>6} {wall if wall is not None else '-':>7} {run if run is not None else '-':>6} {examples:>11}")
done = [r for r in rows if r[3] is not None and r[4] is not None]
render = sum(r[4] - r[5] for r in done)
units = sum(r[2] for r in rows)
startup = sum(r[3] - r[4] for r in done)
examples = sum(r[5] for r in done)
print(f"\n  units stored: {units}; rendering {render} s over {len(done)} finished tasks: {3600 * sum(r[2] for r in done) / max(render, 1):.0f} units per hour per task")
print(f"  outside rendering: {startup} s starting tasks (model load, plan, listing, estimate), {examples} s on examples (ranking, or waiting for it)")
records = glob.glob(os.path.join(out, "units", "*", "*", "unit.json"))
dead = sum(json.load(open(r))["dead"] for r in records)
print(f"  {len(records)} unit records, {dead} of them dead")
EOF
job_time() { scontrol show job -o "$1" | grep -o "$2=[^ ]*" | cut -d= -f2; }
index_seconds=$(($(date -d "$(job_time "$merge" EndTime)" +%s) - $(date -d "$(job_time "$merge" StartTime)" +%s)))
echo "  index and site: ${index_seconds} s (job $merge: $(grep -o 'site: .*' "$index_log" | head -1))"
