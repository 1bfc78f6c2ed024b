#!/usr/bin/env bash
# CUDA parity tests (crates/model/tests/cuda.rs) for a GPU machine without network access.
#
#   scripts/gpu-check.sh build   # here: build the test and benchmark binaries with `--features
#                                # cuda`, stripped and gzipped, into gpu-bin/ (git-ignored, ~16 MB
#                                # in all, under the device tool's 64 MiB carry limit; ~7 minutes)
#   scripts/gpu-check.sh run     # on the GPU machine, from the repository root (carry gpu-bin/):
#                                # the tiny GPT-2/T5 logits, greedy tokens and gradients on CUDA
#                                # must equal the CPU's within 1e-4; a missing GPU is a failure
#   scripts/gpu-check.sh bench   # on the GPU machine: the GPT-2 124M train-step and sampling
#                                # benchmarks on CUDA (the `build` step makes this binary too)
set -euo pipefail
cd "$(dirname "$0")/.."

# Unpacks gpu-bin/NAME.gz to a temporary executable and prints its path.
unpack() {
  [ -f "gpu-bin/$1.gz" ] || { echo "error: gpu-bin/$1.gz missing; run '$0 build' first" >&2; exit 2; }
  local exe
  exe="$(mktemp -d)/$1"
  gunzip -c "gpu-bin/$1.gz" >"$exe" && chmod +x "$exe"
  echo "$exe"
}

case "${1:-}" in
  build)
    bin=$(cargo test -p model --features cuda --test cuda --no-run --message-format=json \
      | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cuda" and m.get("executable"):
        print(m["executable"])')
    mkdir -p gpu-bin
    strip -o gpu-bin/cuda-parity.tmp "$bin" && gzip -9 -f gpu-bin/cuda-parity.tmp && mv gpu-bin/cuda-parity.tmp.gz gpu-bin/cuda-parity.gz
    bench=$(cargo bench -p model --features cuda --bench model --no-run --message-format=json \
      | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "model" and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["executable"])')
    strip -o gpu-bin/model-bench.tmp "$bench" && gzip -9 -f gpu-bin/model-bench.tmp && mv gpu-bin/model-bench.tmp.gz gpu-bin/model-bench.gz
    ls -la gpu-bin/
    ;;
  bench)
    exe=$(unpack model-bench)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    "$exe" --bench cuda_gpt2_124m --warm-up-time 3
    ;;
  run)
    exe=$(unpack cuda-parity)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    RFT_MODEL_FIXTURES=crates/model/tests/fixtures RFT_REQUIRE_CUDA=1 "$exe" --nocapture --test-threads 1
    ;;
  *)
    echo "usage: $0 build|run|bench" >&2
    exit 2
    ;;
esac
