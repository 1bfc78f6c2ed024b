# Vanishing gradients in reinforcement finetuning: reproduce the paper's experiments.
# `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Regenerate every committed figure and table under results/ (default profile). Fetches the
# datasets first; a sweep whose data cannot be fetched (no network) is skipped with one line, and
# runs/reproduce-all.md says what ran and what was skipped.
reproduce-all jobs="2":
    bash scripts/reproduce-all.sh {{jobs}}

# Download and verify every dataset the experiments read (see `runner data status`).
fetch-data *targets="":
    cargo run -q -p runner -- data fetch {{targets}}

# Run a smoke sweep as a 4-task job array on a real single-node Slurm started on localhost
# (installs Debian's slurm-wlm and munge if missing; needs root or sudo) and check that the merged
# results equal a local run's bit for bit.
test-slurm:
    bash scripts/test-slurm.sh

# The README's set-up on a fresh clone with a local server standing in for the internet: clone,
# serve ../shared/data on 127.0.0.1, run reproduce-all (profile `smoke` by default) without
# RFT_DATA_DIR, and check that nothing was skipped and every result was written.
test-clean-clone profile="smoke":
    bash scripts/test-clean-clone.sh {{profile}}

# Run the whole test suite: every crate on the CPU backend, then the GPU backends: `wgpu` and
# `cuda` must compile (no GPU needed), and the wgpu parity tests run on a software Vulkan
# (`mesa-vulkan-drivers`; they print SKIPPED without one).
test:
    cargo test --workspace
    cargo check -p runner --features wgpu,cuda
    cargo test -p model --features wgpu --test wgpu --test wgpu_no_device

# Property tests of every parser of outside input (sweep YAML, JSONL of `score`/`logprobs`,
# config.json + safetensors, tokenizers, every reward) with `cases` generated cases per property
# (`just test` runs 32-64); prints each target's cases and wall time. Result in README.md.
fuzz cases="100000":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo test -p rewards -p runner -p model --test prop --no-run
    for crate in rewards runner model; do
        start=$(date +%s)
        PROPTEST_CASES={{cases}} cargo test -q -p $crate --test prop -- --test-threads 2
        echo "fuzz: $crate: {{cases}} cases per property, $(( $(date +%s) - start )) s"
    done

# Worst-case time per reward on long and degenerate generations (10,000 tokens; one thread).
bench-degenerate:
    cargo run --release -p rewards --example degenerate_bench

# Run one sweep file, e.g. `just sweep theory.yaml smoke --jobs 2`.
sweep file profile="default" *args="":
    cargo run -p runner -- sweep {{file}} --profile {{profile}} {{args}}

# Re-render figures and tables from finished runs.
report file profile="default":
    cargo run -p runner -- report {{file}} --profile {{profile}}

# Format the code.
fmt:
    cargo fmt --all

# Check formatting and lints (warnings are errors).
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy -p model --features wgpu,cuda --all-targets -- -D warnings

# Render one figure with every panel type into target/gallery.{png,svg}.
gallery:
    cargo run -p plotting --example gallery -- target/gallery

# Benchmark the rewards against the Python references, side by side
# (needs `pip install sacrebleu rouge-score py-rouge nltk 'setuptools<81'`).
bench-rewards:
    cargo bench -p rewards --bench rewards
    python3 scripts/bench_rewards.py

# Benchmark the models against PyTorch eager on the same shapes, side by side, with `threads`
# threads each, peak RSS and the machine's load printed (needs `pip install torch transformers`);
# `fused=0` runs our side on the decomposed burn ops. Numbers go to results/perf/model.md by hand.
bench-model threads="2" fused="1":
    scripts/bench_model.sh {{threads}} {{fused}}

# Train tiny GPT-2 and T5 models here, save them, and open them with Hugging Face `transformers`
# (needs `pip install torch transformers safetensors`): logits must agree within 1e-4. Then the
# same for the models `runner pretrain pretrain.yaml` made (if any): tokenizer ids and log-probs.
check-hf:
    cargo run -p model --example export_trained -- target/hf-export
    python3 scripts/check_hf_load.py target/hf-export
    if [ -d runs/.cache/pretrained ]; then python3 scripts/check_pretrained_hf.py runs/.cache/pretrained; fi

# Throughput of `runner diagnose`'s sampling against PyTorch + transformers on the same mini models,
# prompts and shapes, side by side (needs `pip install torch transformers` and `runner pretrain
# pretrain.yaml` first); numbers go to results/perf/diagnose.md by hand.
bench-diagnose threads="2":
    cargo build -q -p runner
    RUNNER=target/debug/runner python3 scripts/bench_diagnose.py --threads {{threads}}

# One PPO iteration (rollout + update) of `runner rl4lms` on CommonGen's PPO config against the same
# computation in PyTorch + transformers, same checkpoint (t5-mini), shapes and threads (needs `pip
# install torch transformers` and `runner pretrain pretrain.yaml` first); numbers go to
# results/perf/ppo.md by hand.
bench-ppo threads="2":
    cargo build -q -p runner
    RUNNER=target/debug/runner python3 scripts/bench_ppo.py --threads {{threads}}
