#!/usr/bin/env bash
# Side by side: the `model` crate's benchmarks (crates/model/benches/model.rs, release profile,
# criterion) and the same shapes in PyTorch eager (scripts/bench_torch.py), with THREADS threads
# each, one process per model (so each "peak RSS" line is that model's), the machine's load
# printed before and after. FUSED=0 runs our side with the decomposed burn ops instead of
# `model::fused` (the "before" of the fused kernels).
#
#   scripts/bench_model.sh [THREADS] [FUSED]      (= just bench-model THREADS FUSED)
set -euo pipefail
threads="${1:-2}"
fused="${2:-1}"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load: $(uptime | sed 's/.*load average/load average/')"
echo "== ours (burn, MODEL_FUSED=$fused), $threads threads"
for group in gpt2/ t5_small/ grue_mini/; do
    RAYON_NUM_THREADS="$threads" MODEL_FUSED="$fused" \
        cargo bench -q -p model --bench model -- --warm-up-time 2 --noplot "$group" 2>&1 |
        grep -E "time:|peak RSS|^[a-z_0-9]+/[a-z_0-9]+ *$" || true
done
if [ "$fused" = 1 ]; then
    echo "== PyTorch eager, $threads threads"
    for only in gpt2 t5 grue_mini; do
        python3 scripts/bench_torch.py --reps 3 --threads "$threads" --only "$only" | grep -v "^torch " || true
    done
    python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
fi
echo "== $(date -u '+%H:%M UTC'), load: $(uptime | sed 's/.*load average/load average/')"
