#!/usr/bin/env python3
"""Opens the checkpoints that `crates/model/examples/export_trained.rs` trained and saved with
`transformers` (`from_pretrained`), runs them on the same inputs, and compares the logits with
the ones our burn models gave (max |difference| must be <= 1e-4). `just check-hf` runs both.

    pip install torch transformers safetensors
    python3 scripts/check_hf_load.py OUT_DIR
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import GPT2LMHeadModel, T5ForConditionalGeneration


def main(out):
    expected = load_file(f"{out}/expected.safetensors")
    ok = True
    gpt2 = GPT2LMHeadModel.from_pretrained(f"{out}/gpt2").eval()
    t5 = T5ForConditionalGeneration.from_pretrained(f"{out}/t5").eval()
    with torch.no_grad():
        ids = expected["gpt2.input_ids"].long()
        mask = expected["gpt2.attention_mask"].long()
        # HF's generate-style positions for left padding, as our model computes them.
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        got = gpt2(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        real = mask.bool()
        diff = (got - expected["gpt2.logits"])[real].abs().max().item()
        print(f"gpt2: transformers vs ours max |logit diff| = {diff:.3e} (non-pad positions)")
        ok &= diff <= 1e-4
        got = t5(
            input_ids=expected["t5.input_ids"].long(),
            attention_mask=expected["t5.attention_mask"].long(),
            decoder_input_ids=expected["t5.decoder_input_ids"].long(),
        ).logits
        diff = (got - expected["t5.logits"]).abs().max().item()
        print(f"t5:   transformers vs ours max |logit diff| = {diff:.3e}")
        ok &= diff <= 1e-4
    print("OK: transformers opens our checkpoints" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
