#!/usr/bin/env python3
"""One PPO iteration (rollout + update) of our trainer against the same computation in PyTorch +
`transformers`, side by side in one run, on the same checkpoint (the mini T5 pretrained here, which
`transformers` opens), task, shapes and threads.

Ours: `runner rl4lms` on ml-rlgrad's CommonGen PPO config with the GRUE default profile's scale
(env.n_envs 8, n_steps 16, batch_size 64, n_epochs 2, prompts of the first 32 train inputs); its
`speed` table gives PPO iterations/s and token transitions/s of the PPO phase alone (no evaluation,
no reward-std tracking).

PyTorch: the same iteration written out with `transformers`: rollouts of 8 prompts sampled with
the config's settings (top_k 0, min_length 5, max_new_tokens 20) until 128 token transitions,
reference-model log-probs (KL penalty 0.001 per token), a critic (a copy of the model with a linear
head on the decoder's last layer), GAE (0.99, 0.95), then 2 epochs of minibatches of >= 64 tokens
with the clipped surrogate, value loss, Adam (eps 1e-5) and gradient clipping at 0.5. The rewards
are not computed (a constant stands in), so PyTorch's side is a lower bound of its time; ours
includes the METEOR reward of every episode.

    pip install torch transformers
    python3 scripts/bench_ppo.py --threads 2 [--iterations 3]
"""
import argparse
import copy
import glob
import os
import subprocess
import tempfile
import time

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

CONFIG = "crates/rl4lms/ml-rlgrad/training/common_gen/t5_ppo.yml"
N_ENVS, N_STEPS, BATCH, EPOCHS, LR = 8, 16, 64, 2, 1e-4


def ours(runner, iterations, out):
    overrides = {
        "alg.policy.args.model_name": "pretrained:t5-mini",
        "train_evaluation.n_iters": iterations,
        "train_evaluation.eval_every": iterations,
        "env.n_envs": N_ENVS,
        "alg.args.n_steps": N_STEPS,
        "alg.args.batch_size": BATCH,
        "alg.args.n_epochs": EPOCHS,
        "alg.args.learning_rate": LR,
    }
    args = runner + ["rl4lms", CONFIG, "--train-inputs", "32", "--test-inputs", "8", "--samples", "2",
                     "--out", os.path.join(out, "runs"), "--results", os.path.join(out, "results")]
    for k, v in overrides.items():
        args += ["--override", f"{k}={v}"]
    # The store's model cache is shared with the main store, so nothing is pretrained again.
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    os.symlink(os.path.abspath("runs/.cache"), os.path.join(out, "runs", ".cache"))
    subprocess.run(args, check=True, capture_output=True)
    speed = open(os.path.join(out, "results", "rl4lms-t5_ppo", "speed.md")).read()
    row = next(line for line in speed.splitlines() if line.startswith("| CommonGen |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    return float(cells[2]), float(cells[3])


def logprobs(model, enc, labels, mask):
    out = model(**enc, labels=labels.masked_fill(mask == 0, -100), output_hidden_states=True)
    lp = torch.log_softmax(out.logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return lp, out.decoder_hidden_states[-1]


def torch_side(ckpt, prompts, iterations):
    tok = AutoTokenizer.from_pretrained(ckpt)
    policy = AutoModelForSeq2SeqLM.from_pretrained(ckpt)
    reference = copy.deepcopy(policy).eval()
    critic = copy.deepcopy(policy)
    head = torch.nn.Linear(policy.config.d_model, 1)
    params = list(policy.parameters()) + list(critic.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=LR, eps=1e-5)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    times, transitions = [], 0
    for _ in range(iterations):
        start = time.perf_counter()
        episodes, n = [], 0
        while n < N_ENVS * N_STEPS:
            pick = [prompts[i] for i in torch.randint(len(prompts), (N_ENVS,), generator=g).tolist()]
            enc = tok(pick, return_tensors="pt", padding=True, truncation=True, max_length=512)
            with torch.no_grad():
                gen = policy.generate(**enc, do_sample=True, top_k=0, min_length=5, max_new_tokens=20)
            labels = gen[:, 1:]
            mask = (labels != tok.pad_token_id).long()
            mask[:, 0] = 1
            with torch.no_grad():
                old, _ = logprobs(policy, enc, labels, mask)
                ref, _ = logprobs(reference, enc, labels, mask)
                _, hidden = logprobs(critic, enc, labels, mask)
                values = head(hidden).squeeze(-1)
            for b in range(len(pick)):
                length = int(mask[b].sum())
                kl = (old[b, :length] - ref[b, :length])
                rewards = -0.001 * kl
                rewards[-1] += 0.1  # a constant stands in for the task reward
                v = values[b, :length]
                adv, last = torch.zeros(length), 0.0
                for t in reversed(range(length)):
                    nxt = v[t + 1] if t + 1 < length else 0.0
                    delta = rewards[t] + 0.99 * nxt - v[t]
                    last = delta + 0.99 * 0.95 * last
                    adv[t] = last
                episodes.append((pick[b], labels[b, :length], old[b, :length], adv, adv + v))
                n += length
        transitions += n
        for _ in range(EPOCHS):
            order = torch.randperm(len(episodes), generator=g).tolist()
            i = 0
            while i < len(order):
                mb, toks = [], 0
                while i < len(order) and toks < BATCH:
                    mb.append(episodes[order[i]])
                    toks += len(episodes[order[i]][1])
                    i += 1
                enc = tok([e[0] for e in mb], return_tensors="pt", padding=True, truncation=True, max_length=512)
                width = max(len(e[1]) for e in mb)
                pad = lambda xs, fill: torch.stack([torch.nn.functional.pad(x, (0, width - len(x)), value=fill) for x in xs])
                labels = pad([e[1] for e in mb], tok.pad_token_id)
                mask = pad([torch.ones(len(e[1])) for e in mb], 0.0)
                old, adv, ret = (pad([e[k] for e in mb], 0.0) for k in (2, 3, 4))
                adv = (adv - adv[mask > 0].mean()) / (adv[mask > 0].std() + 1e-8)
                lp, _ = logprobs(policy, enc, labels, mask.long())
                _, hidden = logprobs(critic, enc, labels, mask.long())
                ratio = (lp - old).exp()
                surrogate = torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv)
                loss = -(surrogate * mask).sum() / mask.sum()
                loss = loss + 0.5 * (((head(hidden).squeeze(-1) - ret) ** 2) * mask).sum() / mask.sum()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 0.5)
                opt.step()
        times.append(time.perf_counter() - start)
    return len(times) / sum(times), transitions / sum(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--models", default="runs/.cache/pretrained")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    runner = os.environ.get("RUNNER", "cargo run -q -p runner --").split()
    found = sorted(d for d in glob.glob(os.path.join(args.models, "t5-mini-*")) if not d.endswith(".partial"))
    if not found:
        raise SystemExit("no t5-mini in runs/.cache/pretrained: run `cargo run -p runner -- pretrain pretrain.yaml` first")
    out = tempfile.mkdtemp(prefix="bench-ppo-")
    it_ours, tr_ours = ours(runner, args.iterations, out)
    # Prompts of the same shape: CommonGen concept sets as the task builds them (the runner's pool is a
    # seed-7 permutation of them; lengths, not identities, set the cost).
    path = os.path.join(os.environ.get("RFT_DATA_DIR", "data"), "commongen", "commongen.train.src_alpha.txt")
    concepts = list(dict.fromkeys(line.strip() for line in open(path)))[:32]
    prompts = ["generate a sentence with: " + c + "." for c in concepts]
    it_torch, tr_torch = torch_side(found[0], prompts, args.iterations)
    print(f"threads {args.threads}, {args.iterations} PPO iterations of {N_ENVS} x {N_STEPS} transitions, "
          f"{EPOCHS} epochs, minibatches of >= {BATCH} tokens; t5-mini; torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| side | iterations/s | transitions/s |")
    print("|---|---:|---:|")
    print(f"| ours (runner rl4lms, reward included) | {it_ours:.3f} | {tr_ours:.1f} |")
    print(f"| PyTorch + transformers (no reward) | {it_torch:.3f} | {tr_torch:.1f} |")
    print(f"ours / PyTorch time per transition: {tr_torch / tr_ours:.2f}")


if __name__ == "__main__":
    main()
