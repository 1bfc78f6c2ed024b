#!/usr/bin/env python3
"""PyTorch eager side of the `model` crate's benchmarks (`crates/model/benches/model.rs`).

Same shapes as the Rust bench, on the CPU, float32, `torch.set_num_threads(2)`:

* gpt2 train_step: GPT-2 (6 layers, 384 wide, 6 heads, vocab 8192), batch 16 x 128 tokens,
  forward + mean next-token cross-entropy + backward + AdamW step.
* gpt2 sample_16x48: 16 left-padded prompts (8..16 tokens) x 48 new tokens with `generate`
  (do_sample, temperature 1, top_k 0, KV cache).
* t5_small train_step: T5-small shapes (d_model 512, 6+6 layers, 8 heads, d_ff 2048, vocab
  32128), batch 16, source 64 tokens, target 32 tokens (`labels`), AdamW.
* t5_small sample_16x48: 16 sources x 48 new tokens with `generate`.
* grue_mini gpt2_train_step / t5_train_step: the GRUE default profile's models (gpt2-mini: 4
  layers, 256 wide, 4 heads; t5-mini: d_model 256, d_kv 64, d_ff 1024, 4+4 layers, 4 heads; vocab
  8192, +100 sentinels for T5) at the PPO minibatch size 64: 64 x 64 tokens (GPT-2), sources 32
  and targets 24 tokens (T5).
* `*_loop`: the same sampling as a hand-written cached loop (forward with `past_key_values`,
  `torch.multinomial`), without `generate`'s machinery.

Prints one line per benchmark: median and min seconds over the timed repetitions, and tokens/s
for sampling. `--json FILE` also writes them.

    pip install torch transformers
    python3 scripts/bench_torch.py [--reps 5] [--only gpt2]
"""

import argparse
import json
import resource
import statistics
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

BATCH, GPT2_SEQ, NEW_TOKENS, T5_SRC, T5_TGT = 16, 128, 48, 64, 32
GRUE_BATCH, GRUE_GPT2_SEQ, GRUE_T5_SRC, GRUE_T5_TGT = 64, 64, 32, 24


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def gpt2(reps):
    torch.manual_seed(0)
    config = GPT2Config(n_layer=6, n_embd=384, n_head=6, vocab_size=8192, n_positions=256,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=1, eos_token_id=1)
    model = GPT2LMHeadModel(config)
    model.config._attn_implementation = "eager"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    ids = torch.randint(2, 8192, (BATCH, GPT2_SEQ))

    def step():
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    yield "gpt2/train_step", timed(step, reps), None

    model.eval()
    lens = [8 + i % 9 for i in range(BATCH)]
    width = max(lens)
    prompt = torch.zeros(BATCH, width, dtype=torch.long)
    mask = torch.zeros(BATCH, width, dtype=torch.long)
    for i, n in enumerate(lens):
        prompt[i, width - n:] = torch.randint(2, 8192, (n,))
        mask[i, width - n:] = 1

    @torch.no_grad()
    def sample():
        model.generate(input_ids=prompt, attention_mask=mask, do_sample=True, temperature=1.0,
                       top_k=0, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                       pad_token_id=0)

    yield "gpt2/sample_16x48", timed(sample, reps), BATCH * NEW_TOKENS

    @torch.no_grad()
    def sample_loop():
        # The same sampling as a plain cached loop (no `generate` machinery).
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=prompt, attention_mask=mask, position_ids=pos, use_cache=True)
        m, last = mask, pos[:, -1:]
        for step in range(NEW_TOKENS):
            tok = torch.multinomial(torch.softmax(out.logits[:, -1].float(), -1), 1)
            if step == NEW_TOKENS - 1:
                break
            m, last = torch.cat([m, torch.ones_like(tok)], 1), last + 1
            out = model(input_ids=tok, attention_mask=m, position_ids=last,
                        past_key_values=out.past_key_values, use_cache=True)

    yield "gpt2/sample_16x48_loop", timed(sample_loop, reps), BATCH * NEW_TOKENS


def t5(reps):
    torch.manual_seed(0)
    # t5-small shapes
    config = T5Config(dropout_rate=0.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    model = T5ForConditionalGeneration(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    src = torch.randint(2, 32100, (BATCH, T5_SRC))
    tgt = torch.randint(2, 32100, (BATCH, T5_TGT))

    def step():
        loss = model(input_ids=src, attention_mask=torch.ones_like(src), labels=tgt).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    yield "t5_small/train_step", timed(step, reps), None

    model.eval()

    @torch.no_grad()
    def sample():
        model.generate(input_ids=src, attention_mask=torch.ones_like(src), do_sample=True,
                       temperature=1.0, top_k=0, max_new_tokens=NEW_TOKENS,
                       min_new_tokens=NEW_TOKENS)

    yield "t5_small/sample_16x48", timed(sample, reps), BATCH * NEW_TOKENS

    @torch.no_grad()
    def sample_loop():
        mask = torch.ones_like(src)
        enc = model.get_encoder()(input_ids=src, attention_mask=mask)
        tok = torch.zeros(BATCH, 1, dtype=torch.long)
        past = None
        for step in range(NEW_TOKENS):
            out = model(encoder_outputs=enc, attention_mask=mask, decoder_input_ids=tok,
                        past_key_values=past, use_cache=True)
            past = out.past_key_values
            tok = torch.multinomial(torch.softmax(out.logits[:, -1].float(), -1), 1)

    yield "t5_small/sample_16x48_loop", timed(sample_loop, reps), BATCH * NEW_TOKENS


def grue_mini(reps):
    torch.manual_seed(0)
    config = GPT2Config(n_layer=4, n_embd=256, n_head=4, vocab_size=8192, n_positions=256,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=1, eos_token_id=1)
    model = GPT2LMHeadModel(config)
    model.config._attn_implementation = "eager"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    ids = torch.randint(2, 8192, (GRUE_BATCH, GRUE_GPT2_SEQ))

    def step():
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    yield "grue_mini/gpt2_train_step", timed(step, reps), None

    config = T5Config(vocab_size=8292, d_model=256, d_kv=64, d_ff=1024, num_layers=4,
                      num_heads=4, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
                      decoder_start_token_id=0)
    model = T5ForConditionalGeneration(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    src = torch.randint(2, 8192, (GRUE_BATCH, GRUE_T5_SRC))
    tgt = torch.randint(2, 8192, (GRUE_BATCH, GRUE_T5_TGT))

    def t5_step():
        loss = model(input_ids=src, attention_mask=torch.ones_like(src), labels=tgt).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    yield "grue_mini/t5_train_step", timed(t5_step, reps), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["gpt2", "t5", "grue_mini"])
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, eager, float32")
    results = {}
    for bench in (gpt2, t5, grue_mini):
        if args.only and not bench.__name__.startswith(args.only):
            continue
        for name, (median, best), tokens in bench(args.reps):
            line = f"{name:<24} median {median:8.3f} s   min {best:8.3f} s"
            if tokens:
                line += f"   {tokens / median:8.1f} tokens/s"
            if name.endswith("train_step"):
                # Peak resident memory of the process so far (each --only run is its own process).
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                line += f"   peak RSS {peak:.0f} MiB"
            print(line, flush=True)
            results[name] = {"median_s": median, "min_s": best, "tokens": tokens}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
