# A one-node Slurm cluster on localhost for deploy/slurm's scripts, sourced by test.sh and
# rehearsal.sh after they set root (the repository) and submit (submit.sh): munged, slurmctld
# and slurmd in a temporary folder ($work; no systemd, no cgroups), stopped on exit with the
# job logs shown on failure; and the helpers the scripts share (phase, fail, wait_for, job
# states, submit_jobs, check_site). Needs root on Debian; installs slurm-wlm and munge when
# missing. KEEP=1 keeps the temporary folder. CPUS_PER_TASK (default 1): each task's CPUs.
fail() { echo "$(basename "$0") FAILED: $*" >&2; exit 1; }
export PATH=$PATH:/usr/sbin:/sbin
# The binary: EXCITE, else the release build of $CARGO_TARGET_DIR (or target), from $root.
EXCITE=${EXCITE:-${CARGO_TARGET_DIR:-target}/release/xtask}
[[ $EXCITE == /* ]] || EXCITE=$root/$EXCITE
export EXCITE
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and runs slurmd)"
[ -x "$EXCITE" ] || fail "no binary at $EXCITE (build it, or set EXCITE)"

# Phases and their times.
phase_name=; phase_start=$SECONDS; times=()
phase() {
  if [ -n "$phase_name" ]; then
    times+=("$(printf '  %4ds  %s' $((SECONDS - phase_start)) "$phase_name")")
  fi
  phase_name=$1; phase_start=$SECONDS
  echo "== $1"
}

phase "install slurm-wlm and munge (when missing)"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
   ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
fi

phase "start munged, slurmctld, slurmd"
work=$(mktemp -d)
chmod 755 "$work"  # munged wants every folder above its socket open to all
mkdir -p "$work"/{munge,run,state,spool,log,jobs}
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
sock=$work/run/munge.socket
pids=()  # daemons we started, killed in reverse order on exit

dump_logs() {
  local f
  for f in "$work"/jobs/*.out; do
    [ -f "$f" ] || continue
    echo "---- job log $(basename "$f") (last 40 lines)"; tail -n 40 "$f"
  done
  for f in "$work"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- $(basename "$f") (last 30 lines)"; tail -n 30 "$f"
  done
}
cleanup() {
  local rc=$? pid end
  set +e
  trap - EXIT
  if [ $rc -ne 0 ]; then
    echo "---- queue:"; squeue -a 2>&1
    dump_logs >&2
  fi
  if [ ${#pids[@]} -gt 1 ]; then  # slurmctld is up: end the jobs first, their steps outlive slurmd
    scancel --user="$(id -un)" 2>/dev/null
    end=$((SECONDS + 30))
    while [ -n "$(squeue -h 2>/dev/null)" ] && [ $SECONDS -lt $end ]; do sleep 0.5; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null
    end=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ $rc -ne 0 ] || [ -n "${KEEP:-}" ]; then
    echo "work folder kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

daemons_alive() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a daemon (pid $pid) died"; done
}
# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.3 s until it succeeds, or fails the
# test after SECONDS.
wait_for() {
  local limit=$1 what=$2 end=$((SECONDS + $1))
  shift 2
  until "$@"; do
    daemons_alive
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.3
  done
}

munged -F --socket="$sock" --key-file="$work/munge/munge.key" --log-file="$work/log/munged.log" \
  --pid-file="$work/run/munged.pid" --seed-file="$work/munge/munged.seed" \
  >>"$work/log/munged.out" 2>&1 &
pids+=($!)
munge_ok() { munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; }
wait_for 20 munged munge_ok

free_port() {  # a port nothing listens on (ports given in $@ excluded)
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    [[ " $* " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port"
}
ctld_port=$(free_port)
slurmd_port=$(free_port "$ctld_port")
node_line=$(slurmd -C | sed -n 1p)  # NodeName=HOST CPUs=... RealMemory=..., as slurmd sees it
node=${node_line%% *}
node=${node#NodeName=}
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=excitetest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Finished jobs stay visible to scontrol for an hour (no accounting database here).
MinJobAge=3600
KillWait=5
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" >>"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$work/log/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ]; }
wait_for 60 "node $node to be idle" node_idle
echo "   node: $node_line"

# Job helpers. A job id may be an array's: scontrol then prints one line per task (or range).
job_states() { scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | tr -s ' \n' ' '; }
jobs_done() {
  local j
  for j in "$@"; do
    ! scontrol show job -o "$j" |
      grep -E 'JobState=(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT)' >/dev/null ||
      return 1
  done
}
# expect_state JOB STATE [COUNT]: every task (COUNT of them) of JOB ended in STATE
expect_state() {
  local n all
  all=$(scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  n=$(grep -c . <<<"$all")
  [ "$(sort -u <<<"$all")" = "$2" ] && [ "$n" = "${3:-1}" ] ||
    fail "job $1 ended as: $(job_states "$1") (expected ${3:-1} x $2)"
}
submit_jobs() {  # runs submit.sh in the jobs folder; sets $array and $merge
  local out
  out=$(cd "$work/jobs" && "$submit" --cpus-per-task="${CPUS_PER_TASK:-1}" "$@") || fail "submit.sh failed: $out"
  array=$(awk '$1 == "array" { print $2 }' <<<"$out")
  merge=$(awk '$1 == "merge" { print $2 }' <<<"$out")
  [[ $array =~ ^[0-9]+$ && $merge =~ ^[0-9]+$ ]] || fail "submit.sh printed: $out"
  echo "   array job $array, index job $merge"
}
# check_site DIR TOTAL LAYER:CHANNELS...: a complete site and every unit folder
check_site() {
  local dir=$1 total=$2 s l c n
  shift 2
  [ -f "$dir/status.json" ] || fail "no $dir/status.json"
  s=$(tr -d '[:space:]' <"$dir/status.json")
  [[ $s =~ \"total\":${total}[,}] && $s =~ \"done\":${total}[,}] && $s =~ \"missing\":\[\] ]] ||
    fail "$dir/status.json is $s, expected total = done = $total and nothing missing"
  [ "$(grep -o '"channel"' "$dir/plan.json" | wc -l)" = "$total" ] || fail "$dir/plan.json does not list $total units"
  for lc in "$@"; do
    l=${lc%%:*}; n=${lc##*:}
    for ((c = 0; c < n; c++)); do [ -f "$dir/units/$l/$c/unit.json" ] || fail "no $dir/units/$l/$c/unit.json"; done
  done
  [ "$(units_done "$dir" | wc -l)" = "$total" ] ||
    fail "$dir/units holds other units than the $total planned"
  [ -f "$dir/index.html" ] || fail "no $dir/index.html"
  compgen -G "$dir/layers/*.html" >/dev/null || fail "no $dir/layers/*.html"
}
# units_done DIR [FIND ACTIONS]: the unit.json of every finished unit (not of temporary folders)
units_done() {
  local dir=$1; shift
  find "$dir/units" -mindepth 3 -maxdepth 3 -regextype posix-extended \
    -regex '.*/units/[^/]+/[0-9]+/unit\.json' "${@:--print}"
}
unit_mtimes() { units_done "$1" -printf '%p %T@\n' | sort; }

