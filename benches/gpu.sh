#!/usr/bin/env bash
# Every GPU measurement of BENCHMARKS.md in one script, for a bare GPU machine that cannot
# download or build, with excite's binary built beforehand on a CPU machine:
#
#   peer       excite against Lucent on CUDA (benches/lucent_peer.py): one channel of blocks.5,
#              512 steps, and 16 channels batched, 128 steps, at 128 px; Lucent at excite's
#              input size (140 px, equal work) and at its default (upsampled to 224 px)
#   vit        a ViT-S/16 at 224 px against Lucent on CUDA (benches/vit_peer.py)
#   catalogue  a 64-unit catalogue of blocks.5 (256 steps, 2 diverse renders) with dataset
#              examples and saliency, timed (16 units in a dry run)
#
# Each step writes one JSON into OUT and prints one summary line (all of them also go to
# OUT/summary.txt); a step that fails or runs past its time limit (160 s each) says so, the
# others still run, and the exit status is 1. Missing peers (no Lucent, no CUDA) fail a real run.
#
# Before, on the CPU machine (the README's "Backends"; the wheels: benches/gpu_wheels.txt):
#   cargo build --release -p xtask --features wgpu
#   pip download --no-deps -r benches/gpu_wheels.txt -d benches/wheels
# then carry target/release/xtask and benches/wheels to the GPU machine and run, from anywhere:
#   bash benches/gpu.sh
# The GPU machine needs python3 with CUDA torch, torchvision, onnx, onnxruntime, timm, numpy
# and pillow; Lucent, onnx2torch and what they import come from benches/wheels (unpacked into
# OUT, no pip needed). A binary built with `--features wgpu,tch` against a CUDA LibTorch adds a
# `tch-cuda` run to the peer benchmark.
#
#   --dry-run  the same steps on flex (the CPU), a few iterations each, no installs or builds:
#              CI runs it so that this script cannot rot while no GPU is at hand. The Python
#              peers run where PYTHON already has torch, Lucent, onnx2torch and timm, and are
#              reported as skipped otherwise (their scripts are still compiled).
#
# Environment: XTASK (default ${CARGO_TARGET_DIR:-target}/release/xtask), PYTHON
# (default python3), OUT (default target/gpu-bench), BACKEND (default wgpu; flex in a dry run).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

dry=0
case "${1:-}" in
  --dry-run) dry=1 ;;
  "") ;;
  *) echo "usage: bash benches/gpu.sh [--dry-run]" >&2; exit 2 ;;
esac

xtask=${XTASK:-${CARGO_TARGET_DIR:-target}/release/xtask}
[[ $xtask = /* ]] || xtask=$root/$xtask
python=${PYTHON:-python3}
out=${OUT:-target/gpu-bench}
mkdir -p "$out" && out=$(cd "$out" && pwd)
: >"$out/summary.txt"

if [ $dry = 1 ]; then
  backend=${BACKEND:-flex}
  # steps of one channel / of the batch, channels batched, ViT steps one / batched, ViT
  # features, catalogue steps, diverse renders per unit, units, step time limit (s)
  s_one=4 s_batch=2 channels=4 vit_one=2 vit_batch=1 vit_features=2 cat_steps=2 cat_diverse=2 units=16 limit=600
else
  backend=${BACKEND:-wgpu}
  s_one=512 s_batch=128 channels=16 vit_one=64 vit_batch=32 vit_features=8 cat_steps=256 cat_diverse=2 units=64 limit=160
fi

say() { echo "$*" | tee -a "$out/summary.txt"; }
fail() { echo "error: $*" >&2; exit 1; }

[ -x "$xtask" ] || fail "no excite binary at $xtask: build it first (cargo build --release -p xtask --features wgpu), or set XTASK"
"$python" -c "" 2>/dev/null || fail "no $python to run the benchmarks' scripts with: install python3, or set PYTHON"
"$xtask" --backend "$backend" render --objective blocks.5:0 --size 32 --steps 1 --out "$out/smoke.png" \
  >"$out/smoke.log" 2>&1 || fail "excite cannot render on $backend: $(tail -1 "$out/smoke.log")"
backends=("$backend")
if [ $dry = 0 ]; then
  if "$xtask" --backend tch-cuda render --objective blocks.5:0 --size 32 --steps 1 --out "$out/smoke.png" \
    >"$out/smoke_tch.log" 2>&1; then
    backends+=(tch-cuda)
  else
    say "tch-cuda: skipped ($(tail -1 "$out/smoke_tch.log"))"
  fi
fi

gpu="none (dry run on the CPU)"
if [ $dry = 0 ]; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$gpu" ] || fail "nvidia-smi finds no GPU (use --dry-run on a machine without one)"
fi
say "gpu.sh $([ $dry = 1 ] && echo '--dry-run ')on $(nproc) cores; GPU: $gpu; excite: ${backends[*]}"

# The Python peers: their packages from benches/wheels where PYTHON lacks them (not in a dry run).
# lacking MODULE...: those of the modules that PYTHON does not have (found, not imported).
lacking() {
  "$python" -c 'import importlib.util as u, sys; print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))' "$@"
}
peers=1
missing=$(lacking torch torchvision onnx onnxruntime timm numpy PIL)
if [ -z "$missing" ] && [ $dry = 0 ] && [ -d benches/wheels ] && [ -n "$(lacking lucent onnx2torch)" ]; then
  rm -rf "$out/pylib" && mkdir -p "$out/pylib"
  for wheel in benches/wheels/*.whl; do "$python" -m zipfile -e "$wheel" "$out/pylib" || fail "cannot unpack $wheel"; done
  export PYTHONPATH=$out/pylib${PYTHONPATH:+:$PYTHONPATH}
fi
missing=$(echo $missing $(lacking lucent onnx2torch))
if [ -z "$missing" ] && [ $dry = 0 ] && ! "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  missing="a CUDA device for torch"
fi
if [ -n "$missing" ]; then
  peers=0
  "$python" -m py_compile benches/common.py benches/lucent_peer.py benches/vit_peer.py ||
    fail "the peer scripts do not compile"
fi

failed=()
# step NAME SECONDS CMD...: runs CMD with its output in OUT/NAME.log, at most SECONDS.
step() {
  local name=$1 seconds=$2
  shift 2
  echo "-- $name: $*" >"$out/$name.log"
  timeout "$seconds" "$@" >>"$out/$name.log" 2>&1
  local rc=$?
  if [ $rc = 0 ]; then return 0; fi
  failed+=("$name")
  if [ $rc = 124 ]; then say "$name: FAILED, past its $seconds s limit (log: $out/$name.log)"
  else say "$name: FAILED with status $rc (log: $out/$name.log)"; tail -5 "$out/$name.log" >&2; fi
  return 1
}

# summary KIND ARGS...: a step's summary line (benches/gpu_summary.py), or the step fails.
summary() {
  local line
  if line=$("$python" benches/gpu_summary.py "$@"); then say "$line"; else failed+=("$1"); say "$1: FAILED"; fi
}

if [ $peers = 1 ]; then
  args=()
  for b in "${backends[@]}"; do args+=(--excite-backend "$b"); done
  if step peer "$limit" "$python" benches/lucent_peer.py --xtask "$xtask" "${args[@]}" --threads "$(nproc)" \
    --lucent-input 140 --oneby-excite 0 --oneby-lucent 0 --steps-one $s_one --steps-batched $s_batch \
    --channels $channels --out "$out/peer" --results "$out/peer.json"; then
    summary peer "$out/peer.json"
  fi
  if step vit "$limit" "$python" benches/vit_peer.py --xtask "$xtask" --excite-backend "$backend" \
    --threads "$(nproc)" --steps-one $vit_one --steps-batched $vit_batch --features $vit_features \
    --model-dir "$out/vit_model" --out "$out/vit" --results "$out/vit.json"; then
    summary vit "$out/vit.json"
  fi
else
  say "peer: skipped ($python lacks: $missing)"
  say "vit: skipped ($python lacks: $missing)"
  # On the GPU machine the peers are the main figures: their absence fails the run.
  [ $dry = 1 ] || failed+=(peer vit)
fi

rm -rf "$out/catalogue"
started=$(date +%s.%N)
if step catalogue "$limit" "$xtask" --backend "$backend" catalogue --layers blocks.5 --channels 0..$units --size 128 \
  --steps $cat_steps --diverse $cat_diverse --images testdata/demo_images --out "$out/catalogue"; then
  seconds=$("$python" -c "print($(date +%s.%N) - $started)")
  summary catalogue "$out/catalogue.json" "$seconds" "$out/catalogue" "$backend" $cat_steps $cat_diverse "$gpu"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
echo "all done: $out/summary.txt"
