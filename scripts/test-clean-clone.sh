#!/usr/bin/env bash
# `just test-clean-clone [profile]`: the README's set-up on a fresh checkout, with a local server
# standing in for the internet. Clones the committed state of this repository into a temporary
# directory, serves a data directory (MIRROR_DIR, default ../shared/data) on 127.0.0.1, and runs
# `just reproduce-all`'s script there with RFT_DATA_DIR unset (so the clone's default `data/` is
# filled by `runner data fetch` from the server, RFT_DATA_MIRROR), on profile `smoke` by default.
# Fails unless every sweep ran (none skipped for missing data), every sweep wrote its results and
# results/REPORT.md was written. Prints the wall time of the whole and of the fetch.
# A warm CARGO_TARGET_DIR, if set, is used (the timing then excludes the cold build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-smoke}
mirror_dir=$(cd "${MIRROR_DIR:-../shared/data}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/rft-clean.XXXXXX")
git clone -q . "$work/repo"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$mirror_dir" "$port" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
sleep 1

cd "$work/repo"
unset RFT_DATA_DIR
export RFT_DATA_MIRROR="http://127.0.0.1:$port"
echo "== clean clone in $work/repo, data served from $mirror_dir at $RFT_DATA_MIRROR, profile $profile"
start=$(date +%s)
PROFILE=$profile bash scripts/reproduce-all.sh 2 2>&1 | tee "$work/reproduce-all.log"
elapsed=$(( $(date +%s) - start ))

fail() { echo "FAILED: $*" >&2; exit 1; }
report=runs/reproduce-all.md
[ -f "$report" ] || fail "no $report"
grep -q '^Skipped: none' "$report" || fail "some sweeps were skipped: $(sed -n '/^Skipped/,/^$/p' "$report")"
[ -d data ] && [ -z "${RFT_DATA_DIR:-}" ] || fail "the default data directory data/ was not filled"
[ -f results/REPORT.md ] || fail "results/REPORT.md was not written"
suffix=""
[ "$profile" = default ] || suffix="-$profile"
for sweep in theory synthetic controlled reward_std grue heuristics partial_sft remedies; do
  dir="results/$sweep$suffix"
  [ -n "$(ls "$dir" 2>/dev/null)" ] || fail "$dir is empty"
done
echo
echo "clean clone: runner data fetch from a local mirror, then reproduce-all ($profile): $elapsed s; data/ holds $(du -sh data | cut -f1)"
