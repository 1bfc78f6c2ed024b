#!/usr/bin/env bash
# `just test-slurm`: a real single-node Slurm on localhost runs a smoke sweep as a 4-task job array
# (`runner slurm ... --submit`), then a dependent job merges and reports; the merged results must
# equal a local run's bit for bit.
#
# Installs Debian's slurm-wlm and munge when missing (needs root, or sudo), starts munged, slurmctld
# and slurmd with a minimal configuration under a temporary directory, and stops them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ARRAY=${ARRAY:-4}
SWEEP=${SWEEP:-theory.yaml}
PROFILE=${PROFILE:-smoke}
TIMEOUT=${SLURM_TEST_TIMEOUT:-900}
start=$(date +%s)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  echo "installing slurm-wlm and munge"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
    || { sudo_ apt-get update -qq && sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rft-slurm.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do sudo_ kill "$p" 2>/dev/null || true; done
  sleep 1
  if [ "${KEEP_SLURM_DIR:-0}" != 1 ]; then sudo_ rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

user=$(id -un)
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2/1024) - 512}' /proc/meminfo)

# munge: a fresh key in our directory, its own socket.
mkdir -p "$work/munge" "$work/spool/ctld" "$work/spool/d" "$work/log"
sudo_ chown "$user" "$work/munge"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munge_sock="$work/munge/munge.socket"
munged --key-file="$work/munge/munge.key" --socket="$munge_sock" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" --force
for _ in $(seq 50); do [ -f "$work/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/munged.pid")")

conf="$work/slurm.conf"
cat > "$conf" <<CONF
ClusterName=rft-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_sock
CredType=cred/munge
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

slurmctld -f "$conf" -i
slurmd -f "$conf"
for _ in $(seq 100); do [ -f "$work/slurmctld.pid" ] && [ -f "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")" "$(cat "$work/slurmd.pid")")
for _ in $(seq 60); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 1
done
sinfo

# Build once; the jobs run this binary from this checkout (localhost shares the filesystem).
cargo build -q -p runner
runner="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/runner"

echo "== submitting $SWEEP ($PROFILE) as a $ARRAY-task array"
submit_out=$("$runner" slurm "$SWEEP" --profile "$PROFILE" --array "$ARRAY" --submit \
  --out "$work/store" --results "$work/results-slurm" --script-dir "$work/scripts")
echo "$submit_out"
merge_job=$(sed -n 's/.* and merge job \([0-9]*\) .*/\1/p' <<<"$submit_out")
[ -n "$merge_job" ] || { echo "FAIL: no merge job id in the output above"; exit 1; }

show_logs() { for f in "$work"/scripts/logs/*; do echo "--- $f"; cat "$f"; done; tail -20 "$work/log/slurmd.log" || true; }
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  info=$(scontrol show job "$merge_job" 2>/dev/null || true)
  state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info" | head -1)
  reason=$(sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p' <<<"$info" | head -1)
  case "$state" in
    COMPLETED) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
      echo "FAIL: merge job $merge_job ended $state"; show_logs; exit 1 ;;
  esac
  if [ "$reason" = DependencyNeverSatisfied ]; then
    echo "FAIL: an array task failed, so the merge job never ran"; show_logs; exit 1
  fi
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "FAIL: merge job $merge_job not done after ${TIMEOUT}s (state $state, reason $reason)"; show_logs; exit 1
  fi
  sleep 2
done
echo "== array and merge job finished"
for f in "$work"/scripts/logs/*; do echo "--- $(basename "$f")"; tail -3 "$f"; done

echo "== the same sweep locally"
"$runner" sweep "$SWEEP" --profile "$PROFILE" --jobs 2 --out "$work/local" --results "$work/results-local" >/dev/null

# Bit for bit: every table of every run, the gathered tables in the store, and every figure,
# table and data file of the report (run.json and log.txt hold wall times, so they differ).
compare() {
  (cd "$1" && find . -type f ! -name run.json ! -name log.txt ! -path './slurm/*' ! -path './shards/*' | sort) > "$work/files-a"
  (cd "$2" && find . -type f ! -name run.json ! -name log.txt ! -path './slurm/*' ! -path './shards/*' | sort) > "$work/files-b"
  if ! diff -u "$work/files-a" "$work/files-b"; then echo "FAIL: $1 and $2 hold different files"; exit 1; fi
  n=0
  while read -r f; do
    cmp -s "$1/$f" "$2/$f" || { echo "FAIL: $f differs between $1 and $2"; exit 1; }
    n=$((n + 1))
  done < "$work/files-a"
  [ "$n" -gt 0 ] || { echo "FAIL: nothing to compare in $1"; exit 1; }
  echo "identical: $n files ($1 vs $2)"
}
compare "$work/local" "$work/store"
compare "$work/results-local" "$work/results-slurm"

echo "PASS: test-slurm ($ARRAY-task array of $SWEEP/$PROFILE merged = local run) in $(( $(date +%s) - start ))s"
