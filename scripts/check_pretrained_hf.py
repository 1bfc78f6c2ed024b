#!/usr/bin/env python3
"""Opens the models pretrained here (`runner pretrain pretrain.yaml`, cached under
runs/.cache/pretrained/) with Hugging Face `transformers` (`AutoModel*.from_pretrained`,
`AutoTokenizer.from_pretrained`) and checks that they agree with our burn models: the token ids of a
text equal our tokenizer's, and the per-token log-probabilities `runner logprobs` prints equal
transformers' within 1e-4. `just check-hf` runs it after the tiny-model check.

    pip install torch transformers safetensors
    python3 scripts/check_pretrained_hf.py [runs/.cache/pretrained]

`RUNNER` names the runner command (default `cargo run -q -p runner --`).
"""
import glob
import json
import os
import subprocess
import sys

import torch
from transformers import (AutoModelForCausalLM, AutoModelForSeq2SeqLM,
                          AutoModelForSequenceClassification, AutoTokenizer)

PROMPT = "The film was shot in London and"
COMPLETION = " it was a great success with the critics."


def ours(checkpoint):
    line = json.dumps({"prompt": PROMPT, "completion": COMPLETION})
    runner = os.environ.get("RUNNER", "cargo run -q -p runner --").split()
    out = subprocess.run(
        runner + ["logprobs", "--checkpoint", checkpoint, "--input", "-"],
        input=line, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[0])


def main(root):
    ok = True
    dirs = sorted(d for d in glob.glob(os.path.join(root, "*")) if os.path.isfile(os.path.join(d, "config.json")))
    if not dirs:
        print(f"no pretrained checkpoints under {root}; run `runner pretrain pretrain.yaml` first")
        return 1
    for d in dirs:
        config = json.load(open(os.path.join(d, "config.json")))
        kind = config["model_type"]
        tok = AutoTokenizer.from_pretrained(d)
        if kind == "distilbert":
            model = AutoModelForSequenceClassification.from_pretrained(d).eval()
            with torch.no_grad():
                enc = tok(["a wonderful, moving film", "a dull and awful mess"], return_tensors="pt", padding=True)
                p = model(**enc).logits.softmax(-1)[:, 1].tolist()
            print(f"{os.path.basename(d)}: transformers opens it; P(positive) = {p[0]:.3f} / {p[1]:.3f}")
            continue
        ref = ours(d)
        with torch.no_grad():
            if kind == "gpt2":
                model = AutoModelForCausalLM.from_pretrained(d).eval()
                prompt = tok(PROMPT)["input_ids"]
                completion = tok(COMPLETION)["input_ids"]
                ids = torch.tensor([prompt + completion])
                logp = model(ids).logits.log_softmax(-1)[0]
                got = [logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(completion)]
            else:
                model = AutoModelForSeq2SeqLM.from_pretrained(d).eval()
                src = tok(PROMPT, return_tensors="pt")
                labels = tok(COMPLETION, return_tensors="pt")["input_ids"]
                completion = labels[0].tolist()
                logp = model(**src, labels=labels).logits.log_softmax(-1)[0]
                got = [logp[i, t].item() for i, t in enumerate(completion)]
        same_ids = completion == ref["token_ids"]
        diff = max(abs(a - b) for a, b in zip(got, ref["logprobs"])) if same_ids else float("inf")
        print(f"{os.path.basename(d)} ({kind}): token ids equal: {same_ids}; "
              f"max |log-prob difference| = {diff:.2e} over {len(completion)} tokens")
        ok &= same_ids and diff <= 1e-4
    print("OK: transformers opens the models pretrained here and agrees with ours" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/.cache/pretrained"))
