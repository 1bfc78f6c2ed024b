#!/usr/bin/env python3
"""Build the fixtures of the `model` crate's DistilBERT, learned-reward and pytorch_model.bin tests.

* `distilbert-tiny/`: a random tiny `DistilBertForSequenceClassification` (fixed seed) saved with
  `save_pretrained` (`config.json`, `model.safetensors`) and a WordPiece tokenizer over a small
  hand-written vocabulary (`tokenizer.json`, `vocab.txt`, `tokenizer_config.json`, ...).
* `distilbert-tiny-bin/`: the same model as `config.json` + `pytorch_model.bin` (`torch.save` of the
  state dict: PyTorch's zip format, as older hub checkpoints store weights).
* `distilbert-tiny-cases.safetensors`: a padded batch of ids, its attention mask, and the logits
  `transformers` computes for it.
* `distilbert-tiny-reward.json`: prompts, generations, and RL4LMs' `learned_reward` for them
  (`LearnedBatchedRewardFunction`: tokenizer with `truncation_side="left"`, `truncation=True,
  padding=True`, softmax over the logits, probability of `label_ix`), for both label indices and
  with and without the prompt.
* `gpt2-bin-tiny/`: a random tiny `GPT2LMHeadModel` as `config.json` + `pytorch_model.bin` whose
  state dict also holds the keys older checkpoints carry (`lm_head.weight` sharing `wte`'s
  storage, `attn.bias` causal-mask buffers, `attn.masked_bias`), and `cases.safetensors` with ids
  and the logits `transformers` computes.

    pip install torch transformers safetensors
    python scripts/make_hub_fixtures.py [--out crates/model/tests/fixtures]

CPU, float32; all files together are well under 200 KB.
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import (
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizerFast,
    GPT2Config,
    GPT2LMHeadModel,
)

SEED = 4321
VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "'", "?"]
    + "the a an this that movie film was is it i and but not very so good great bad awful "
    "boring fun loved hated acting plot story end of to in with at all really best worst "
    "ever one time watch again".split()
    + ["##s", "##ed", "##ing", "##ly", "##er", "##y"]
)
PROMPTS = [
    "This movie was",
    "I loved the acting, but",
    "The plot is",
    "",
    "It was the worst film",
]
GENERATIONS = [
    " very good!",
    " the story was boring and the end awful.",
    " not bad at all, really fun to watch again",
    "Great acting. Loved it",
    # Long: left truncation at model_max_length drops its beginning.
    " ever, so bad, so boring, so awful; the acting was bad and the plot was bad and the "
    "story was bad and the end was the worst of all, i hated it, never watch it again",
]


def distilbert(out):
    torch.manual_seed(SEED)
    config = DistilBertConfig(
        vocab_size=len(VOCAB),
        max_position_embeddings=32,
        n_layers=2,
        n_heads=4,
        dim=16,
        hidden_dim=24,
        dropout=0.0,
        attention_dropout=0.0,
        seq_classif_dropout=0.0,
        activation="gelu",
        initializer_range=0.3,
        pad_token_id=0,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = DistilBertForSequenceClassification(config).eval()
    # Non-zero biases and layer-norm parameters, so that every tensor is checked.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))

    d = os.path.join(out, "distilbert-tiny")
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d)
    vocab_file = os.path.join(d, "vocab.txt")
    with open(vocab_file, "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    # transformers 5 ignores `vocab_file` for the fast tokenizer; `vocab=` takes the table itself.
    tok = DistilBertTokenizerFast(
        vocab={w: i for i, w in enumerate(VOCAB)}, do_lower_case=True, model_max_length=24
    )
    tok.save_pretrained(d)

    b = os.path.join(out, "distilbert-tiny-bin")
    os.makedirs(b, exist_ok=True)
    model.config.to_json_file(os.path.join(b, "config.json"))
    torch.save(model.state_dict(), os.path.join(b, "pytorch_model.bin"))

    # A padded batch: ids in range, the [CLS] ... [SEP] frame, right padding.
    g = torch.Generator().manual_seed(SEED)
    lengths = [9, 5, 12, 3]
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        body = torch.randint(5, len(VOCAB), (n - 2,), generator=g)
        ids[i, :n] = torch.cat([torch.tensor([2]), body, torch.tensor([3])])
        mask[i, :n] = 1
    labels = torch.tensor([0, 1, 1, 0])
    logits = model(input_ids=ids, attention_mask=mask).logits
    # Gradients of the log-likelihood of `labels`, for the training test.
    loglik = torch.log_softmax(logits, dim=1)[torch.arange(len(labels)), labels].sum()
    loglik.backward()
    grads = {
        f"grad.{name}": p.grad.contiguous()
        for name, p in model.named_parameters()
        if name
        in (
            "classifier.weight",
            "distilbert.transformer.layer.0.attention.q_lin.weight",
            "distilbert.embeddings.word_embeddings.weight",
        )
    }
    save_file(
        {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "logits": logits.detach().contiguous(),
            "loglik": loglik.detach().reshape(1),
            **grads,
        },
        os.path.join(out, "distilbert-tiny-cases.safetensors"),
    )
    model.zero_grad()

    # RL4LMs' LearnedBatchedRewardFunction, verbatim in behaviour.
    tok.truncation_side = "left"
    cases = []
    for include_prompt in (True, False):
        texts = [(p if include_prompt else "") + g for p, g in zip(PROMPTS, GENERATIONS)]
        enc = tok(texts, return_tensors="pt", truncation=True, padding=True)
        with torch.no_grad():
            out_logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits
        probs = torch.softmax(out_logits, dim=1)
        for label_ix in (0, 1):
            cases.append(
                {
                    "include_prompt_for_eval": include_prompt,
                    "label_ix": label_ix,
                    "rewards": probs[:, label_ix].tolist(),
                    "input_ids": [
                        [int(t) for t, m in zip(row, mrow) if m] for row, mrow in zip(enc.input_ids, enc.attention_mask)
                    ],
                }
            )
    with open(os.path.join(out, "distilbert-tiny-reward.json"), "w") as f:
        json.dump({"prompts": PROMPTS, "generations": GENERATIONS, "cases": cases}, f, indent=1)
        f.write("\n")


def gpt2_bin(out):
    torch.manual_seed(SEED + 1)
    config = GPT2Config(
        vocab_size=64,
        n_positions=16,
        n_embd=16,
        n_layer=2,
        n_head=2,
        initializer_range=0.3,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=63,
        eos_token_id=63,
    )
    model = GPT2LMHeadModel(config).eval()
    d = os.path.join(out, "gpt2-bin-tiny")
    os.makedirs(d, exist_ok=True)
    model.config.to_json_file(os.path.join(d, "config.json"))
    sd = model.state_dict()
    assert sd["lm_head.weight"].data_ptr() == sd["transformer.wte.weight"].data_ptr()
    n = config.n_positions
    for i in range(config.n_layer):
        sd[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.uint8)).view(1, 1, n, n)
        sd[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    # A non-contiguous view over a shared storage, as tied and transposed weights give.
    sd["extra.transposed_view"] = sd["transformer.wpe.weight"].t()
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    ids = torch.tensor([[1, 5, 9, 33, 2, 60, 7], [63, 10, 11, 12, 13, 14, 15]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file(
        {
            "input_ids": ids,
            "logits": logits.contiguous(),
            "transposed_view": sd["extra.transposed_view"].contiguous(),
        },
        os.path.join(d, "cases.safetensors"),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="crates/model/tests/fixtures")
    args = parser.parse_args()
    torch.set_num_threads(1)
    distilbert(args.out)
    gpt2_bin(args.out)


if __name__ == "__main__":
    main()
