#!/usr/bin/env python3
"""Side-by-side throughput of `runner diagnose`'s sampling against the same sampling loop in
PyTorch + `transformers`, on the same checkpoints (the mini models pretrained here, which
`transformers` opens), the same prompts, batch shapes, sampling settings and threads, in one run.

For each (checkpoint, task): `runner diagnose` is run on N inputs x K samples and its
`per_input.csv` gives the prompts it sampled for; PyTorch then runs `model.generate(do_sample=True)`
on exactly those prompts (tokenised by the same tokenizer.json, truncated the same way by reading
our token counts is not possible here, so prompts are re-tokenised and cut to the task's
max_prompt_length) in chunks of the same size, with the task's top_k / max_new_tokens / min_length.
Ours is the rate `diagnose` states (sampling plus scoring with the task's reward, after loading;
also shown with process start-up and data loading); PyTorch's is sampling only, model loaded.
Prints inputs/s for both and the ratio of times.

    pip install torch transformers
    python3 scripts/bench_diagnose.py --threads 2 [--inputs 32]
"""
import argparse
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

# task -> (model dir glob, seq2seq, top_k, max_new_tokens, min_new_tokens, max_prompt_length, truncation side)
TASKS = {
    "commongen": ("t5-mini-*", True, None, 20, 4, 20, "right"),
    "iwslt2017": ("t5-mini-*", True, 10, 128, 0, 128, "right"),
    "dailydialog": ("gpt2-mini-*", False, 20, 20, 2, 128, "left"),
}


def ours(runner, ckpt, task, inputs, samples, chunk, out):
    start = time.perf_counter()
    subprocess.run(runner + ["diagnose", "--checkpoint", ckpt, "--task", task, "--inputs", str(inputs),
                             "--samples", str(samples), "--chunk", str(chunk), "--out", out],
                   check=True, capture_output=True)
    wall = time.perf_counter() - start
    with open(os.path.join(out, "per_input.csv")) as f:
        prompts = [row["prompt"] for row in csv.DictReader(f)]
    # summary.md states the measurement's own rate (sampling + reward, after loading).
    summary = open(os.path.join(out, "summary.md")).read()
    rate = float(summary.split(" inputs/s)")[0].rsplit("(", 1)[1])
    return wall, rate, prompts


def torch_side(ckpt, seq2seq, top_k, max_new, min_new, max_prompt, side, prompts, samples, chunk):
    tok = AutoTokenizer.from_pretrained(ckpt)
    tok.truncation_side = side
    tok.padding_side = "right" if seq2seq else "left"
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(ckpt).eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(prompts), chunk):
            batch = [p for p in prompts[i:i + chunk] for _ in range(samples)]
            enc = tok(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_prompt)
            model.generate(**enc, do_sample=True, top_k=top_k or 0, max_new_tokens=max_new,
                           min_new_tokens=min_new, pad_token_id=tok.pad_token_id)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inputs", type=int, default=32)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--models", default="runs/.cache/pretrained")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    runner = os.environ.get("RUNNER", "cargo run -q -p runner --").split()
    print(f"threads {args.threads}, {args.inputs} inputs x {args.samples} samples, {args.chunk} inputs per batch; "
          f"torch {torch.__version__}; load average {os.getloadavg()[0]:.1f}")
    print("| task | model | ours: diagnose (inputs/s) | PyTorch generate (inputs/s) | ours / PyTorch (time) |")
    print("|---|---|---:|---:|---:|")
    for task, (pattern, seq2seq, top_k, max_new, min_new, max_prompt, side) in TASKS.items():
        found = sorted(d for d in glob.glob(os.path.join(args.models, pattern)) if not d.endswith(".partial"))
        if not found:
            print(f"| {task} | missing: run `runner pretrain pretrain.yaml` | | | |")
            continue
        ckpt = found[0]
        wall, rate, prompts = ours(runner, ckpt, task, args.inputs, args.samples, args.chunk,
                                   os.path.join(tempfile.mkdtemp(prefix="bench-diagnose-"), task))
        t = torch_side(ckpt, seq2seq, top_k, max_new, min_new, max_prompt, side, prompts, args.samples, args.chunk)
        print(f"| {task} | {os.path.basename(ckpt).rsplit('-', 1)[0]} | {rate:.2f} ({len(prompts) / wall:.2f} "
              f"with start-up and data loading) | {len(prompts) / t:.2f} | {len(prompts) / rate / t:.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
