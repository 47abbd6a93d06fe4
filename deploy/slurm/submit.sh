#!/usr/bin/env bash
# Submits a catalogue as a job array of N shards, and the index step to run once they all
# succeeded. Prints both job ids ("array ID", "merge ID").
#
#   deploy/slurm/submit.sh [SBATCH OPTIONS] N CATALOGUE ARGS
#   deploy/slurm/submit.sh --gres=gpu:1 8 --model m.onnx --layers all --out cat
#
# SBATCH OPTIONS (each one word: --opt=value) go to both sbatch calls, but GPU requests
# (--gres, --gpus*) only to the array. Environment:
#   EXCITE        the binary (default target/release/xtask, relative to where you submit)
#   EXCITE_ARRAY  which shards to run (default 0-(N-1)); EXCITE_ARRAY=5 or 2,5 reruns those
#                 shards of the same N, followed by a new index step.
# Run it from the directory the relative paths (binary, model, --out) are relative to: the
# jobs run there and write their logs there (excite-catalogue-JOB_TASK.out, excite-index-JOB.out).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

opts=()
while [ $# -gt 0 ] && [[ $1 == -* ]]; do opts+=("$1"); shift; done
n=${1:-}
[[ $n =~ ^[1-9][0-9]*$ ]] && [ $# -gt 1 ] || {
  echo "usage: $0 [SBATCH OPTIONS] N CATALOGUE ARGS (--out DIR among them)" >&2; exit 2; }
shift
# The index step needs the output folder.
out=; prev=
for a in "$@"; do
  [ "$prev" = --out ] && out=$a
  [[ $a == --out=* ]] && out=${a#--out=}
  prev=$a
done
[ -n "$out" ] || { echo "error: no --out DIR among the catalogue arguments" >&2; exit 2; }

export EXCITE=${EXCITE:-target/release/xtask} EXCITE_SHARD_COUNT=$n
array=$(sbatch --parsable "${opts[@]}" --array="${EXCITE_ARRAY:-0-$((n - 1))}" \
  "$here/catalogue.sbatch" "$@")
array=${array%%;*}  # --parsable prints "id;cluster" on multi-cluster sites
# afterok on an array job waits for every task. If one fails or is cancelled, the dependency
# can never be met and --kill-on-invalid-dep cancels the index job instead of leaving it
# pending forever; rerun the failed shards with EXCITE_ARRAY, which submits a new one.
mopts=()
for o in "${opts[@]}"; do [[ $o == --gres=* || $o == --gpus* || $o == -G* ]] || mopts+=("$o"); done
merge=$(sbatch --parsable "${mopts[@]}" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  "$here/merge.sbatch" "$out")
echo "array ${array}"
echo "merge ${merge%%;*}"
