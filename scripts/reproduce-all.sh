#!/usr/bin/env bash
# `just reproduce-all`: fetch the data the sweeps need, run every sweep whose data is present,
# skip (with one line each) those whose data could not be fetched, and write a report of what
# ran and what was skipped to runs/reproduce-all.md.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${1:-2}
profile=${PROFILE:-default}
sweeps=(theory.yaml synthetic.yaml controlled.yaml reward_std.yaml grue.yaml heuristics.yaml partial_sft.yaml remedies.yaml)
# Models the language-model sweeps finetune or measure: pretrained here first (cached in runs/).
pretrain=pretrain.yaml

# METEOR (CommonGen, NarrativeQA, ToTTo, ...) matches synonyms through WordNet 3.0, as NLTK does; without
# it the rewards, and so every committed number of those tasks, would differ. Install it the way .ci/run
# does, or stop with the fix.
wordnet=${WORDNET_DIR:-/usr/share/wordnet}
if [ ! -f "$wordnet/data.noun" ]; then
  echo "== installing wordnet-base (WordNet 3.0 for METEOR)"
  (apt-get install -y -qq wordnet-base || (apt-get update -qq && apt-get install -y -qq wordnet-base) \
    || sudo apt-get install -y -qq wordnet-base) >/dev/null 2>&1 || true
fi
if [ ! -f "$wordnet/data.noun" ] && [ -z "${RFT_ALLOW_NO_WORDNET:-}" ]; then
  echo "error: METEOR needs WordNet 3.0 in $wordnet (data.noun missing): install Debian's wordnet-base" \
    "or point WORDNET_DIR at a WordNet 3.0 dict/ directory (RFT_ALLOW_NO_WORDNET=1 runs without synonyms," \
    "which changes every METEOR reward)" >&2
  exit 1
fi

cargo build -q -p runner
runner() { cargo run -q -p runner -- "$@"; }

echo "== fetching the data of ${sweeps[*]} (into ${RFT_DATA_DIR:-data})"
fetch_log=$(mktemp)
runner data fetch "$pretrain" "${sweeps[@]}" --keep-going | tee "$fetch_log"

ran=()
skipped=()
if why=$(runner data check "$pretrain"); then
  echo "== $pretrain"
  runner pretrain "$pretrain" --profile "$profile"
  ran+=("$pretrain")
else
  echo "SKIPPED $pretrain: $why"
  skipped+=("$pretrain: $why")
fi
for sweep in "${sweeps[@]}"; do
  if why=$(runner data check "$sweep"); then
    echo "== $sweep"
    runner sweep "$sweep" --profile "$profile" --jobs "$jobs"
    ran+=("$sweep")
  else
    echo "SKIPPED $sweep: $why"
    skipped+=("$sweep: $why")
  fi
done

echo "== results/REPORT.md"
runner report-all

mkdir -p runs
report=runs/reproduce-all.md
{
  echo "# just reproduce-all ($(date -u +%Y-%m-%dT%H:%M:%SZ), profile $profile)"
  echo
  echo "Ran: ${ran[*]:-none}"
  echo
  if [ ${#skipped[@]} -eq 0 ]; then
    echo "Skipped: none"
  else
    echo "Skipped (their results/ files were not regenerated):"
    for s in "${skipped[@]}"; do echo "- $s"; done
  fi
  echo
  echo "Data fetch:"
  echo '```'
  cat "$fetch_log"
  echo '```'
} > "$report"
rm -f "$fetch_log"
echo
cat "$report"
