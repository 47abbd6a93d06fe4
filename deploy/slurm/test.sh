#!/usr/bin/env bash
# End-to-end test of deploy/slurm on a one-node Slurm cluster started here, on localhost, in a
# temporary folder (munged, slurmctld, slurmd; no systemd, no cgroups). Needs root on Debian;
# installs slurm-wlm and munge when missing. Run it from anywhere after the release build:
#
#   bash deploy/slurm/test.sh
#
# Round 1: a 3-task array renders conv1+conv2 of the tiny model (64 units), the index step
# follows; the site must be complete. Round 2: a 2-task array at more steps; one task is
# cancelled once it has finished some units but not all; the index job must then be cancelled
# by Slurm (its dependency can never be met), rerunning that one shard alone and a new index
# step must complete the site without touching the units finished before the kill.
#
# Environment: EXCITE (the binary; default $CARGO_TARGET_DIR or target, /release/xtask), EXCITE_TEST_STEPS (steps per
# unit in round 2, default 200: enough that a shard can be caught half done), KEEP=1 (keep the
# temporary folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
model=$root/testdata/tiny_cnn.onnx
slow_steps=${EXCITE_TEST_STEPS:-200}
submit=$root/deploy/slurm/submit.sh

# The cluster, and the helpers below.
source "$root/deploy/slurm/local_cluster.sh"
[ -f "$model" ] || fail "no $model"

phase "round 1: 3 shards of conv1,conv2 (64 units), then the index"
out1=$work/out1
submit_jobs 3 --model "$model" --layers conv1,conv2 --steps 8 --size 32 --batch 8 --out "$out1"
wait_for 600 "round 1's jobs" jobs_done "$array" "$merge"
expect_state "$array" COMPLETED 3
expect_state "$merge" COMPLETED
check_site "$out1" 64 conv1:16 conv2:48
echo "   site complete: $(tr -d '\n' <"$out1/status.json" | cut -c1-60)..."

phase "round 2: 2 shards of conv1 at $slow_steps steps, cancel shard 1 half done"
out2=$work/out2
args2=(--model "$model" --layers conv1 --steps "$slow_steps" --size 32 --batch 2 --out "$out2")
submit_jobs 2 "${args2[@]}"
array2=$array merge2=$merge
# conv1 has 16 units: shard 1 of 2 is channels 8..15.
victim_done() { local c k=0; for ((c = 8; c < 16; c++)); do [ ! -f "$out2/units/conv1/$c/unit.json" ] || k=$((k + 1)); done; echo $k; }
half_done() {
  local k; k=$(victim_done)
  [ "$k" -lt 8 ] || fail "shard 1 finished before it could be cancelled: raise EXCITE_TEST_STEPS (now $slow_steps)"
  [ "$k" -ge 1 ]
}
wait_for 300 "shard 1 to finish its first units" half_done
scancel "${array2}_1"
echo "   cancelled task ${array2}_1 with $(victim_done) of its 8 units done"
wait_for 300 "round 2's jobs to end" jobs_done "$array2" "$merge2"
[ "$(scontrol show job -o "${array2}_0" | grep -o 'JobState=[A-Z]*')" = JobState=COMPLETED ] ||
  fail "task ${array2}_0 ended as $(job_states "${array2}_0")"
[ "$(scontrol show job -o "${array2}_1" | grep -o 'JobState=[A-Z]*')" = JobState=CANCELLED ] ||
  fail "task ${array2}_1 ended as $(job_states "${array2}_1")"
# The index job never ran: Slurm cancelled it (--kill-on-invalid-dep) once the array ended.
scontrol show job -o "$merge2" | grep -E 'JobState=CANCELLED .*Reason=DependencyNeverSatisfied' >/dev/null ||
  fail "index job $merge2 after a cancelled shard: $(scontrol show job -o "$merge2" | grep -o 'JobState=[A-Z_]* Reason=[A-Za-z_]*')"
[ ! -e "$out2/status.json" ] || fail "the index step ran although shard 1 was cancelled"
k=$(victim_done)
[ "$k" -ge 1 ] && [ "$k" -lt 8 ] || fail "shard 1 left $k of 8 units (expected some, not all)"
for d in "$out2"/units/conv1/*/; do  # a killed shard leaves no half unit
  [[ ! $(basename "$d") =~ ^[0-9]+$ ]] || [ -f "$d/unit.json" ] || fail "unit folder $d has no unit.json"
done
before=$(unit_mtimes "$out2")
echo "   $(grep -c . <<<"$before") of 16 units done after the cancel; index job $merge2 cancelled by Slurm"

phase "round 2: rerun shard 1 alone, then the index"
sleep 1.1  # a rewritten unit.json would show a later mtime even on a filesystem with 1 s stamps
EXCITE_ARRAY=1 submit_jobs 2 "${args2[@]}"
wait_for 300 "the rerun's jobs" jobs_done "$array" "$merge"
expect_state "$array" COMPLETED
expect_state "$merge" COMPLETED
grep -q '^shard 1/2 ' "$work/jobs/excite-catalogue-${array}_1.out" ||
  fail "the rerun did not run shard 1/2: $(head -n 3 "$work/jobs/excite-catalogue-${array}_1.out")"
check_site "$out2" 16 conv1:16
after=$(unit_mtimes "$out2")
changed=$(comm -23 <(echo "$before") <(echo "$after"))
[ -z "$changed" ] || fail "units finished before the cancel were rewritten: $changed"
# The killed shard's staging folders (.CHANNEL.PID.partial) are gone: the rerun removed them.
left=$(find "$out2/units" -name '*.partial')
[ -z "$left" ] || fail "staging folders were left behind: $(tr '\n' ' ' <<<"$left")"

phase "done"
echo "slurm test passed in $SECONDS s:"
printf '%s\n' "${times[@]}"
