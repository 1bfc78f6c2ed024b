#!/usr/bin/env bash
# CUDA parity tests (crates/model/tests/cuda.rs) for a GPU machine without network access.
#
#   scripts/gpu-check.sh build   # here: build the test binary with `--features cuda`, stripped,
#                                # into gpu-bin/ (git-ignored, ~36 MB)
#   scripts/gpu-check.sh run     # on the GPU machine, from the repository root (carry gpu-bin/):
#                                # the tiny GPT-2/T5 logits, greedy tokens and gradients on CUDA
#                                # must equal the CPU's within 1e-4; a missing GPU is a failure
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  build)
    bin=$(cargo test -p model --features cuda --test cuda --no-run --message-format=json \
      | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cuda" and m.get("executable"):
        print(m["executable"])')
    mkdir -p gpu-bin
    cp "$bin" gpu-bin/cuda-parity.tmp && strip gpu-bin/cuda-parity.tmp && mv gpu-bin/cuda-parity.tmp gpu-bin/cuda-parity
    ls -la gpu-bin/cuda-parity
    ;;
  run)
    [ -x gpu-bin/cuda-parity ] || { echo "error: gpu-bin/cuda-parity missing; run '$0 build' first" >&2; exit 2; }
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    RFT_MODEL_FIXTURES=crates/model/tests/fixtures RFT_REQUIRE_CUDA=1 gpu-bin/cuda-parity --nocapture --test-threads 1
    ;;
  *)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
