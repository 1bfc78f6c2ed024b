#!/usr/bin/env python3
"""Build the Hugging Face parity fixtures for the `model` crate.

Makes a tiny random GPT-2 (`GPT2LMHeadModel`) from a fixed seed with `transformers`, saves it in
Hugging Face layout (`config.json` + `model.safetensors`) and, next to it, `cases.safetensors`
holding input ids, attention masks, position ids, the logits Hugging Face computes for them, and
greedy continuations. The Rust tests in `crates/model/tests/` load these and compare.

    pip install torch transformers safetensors
    python scripts/make_model_fixtures.py [--out crates/model/tests/fixtures]

It also writes `gpt2-tokenizer-cases.json`: strings and the ids Hugging Face's GPT-2 tokenizer gives
them, read from `encoder.json` + `vocab.bpe` under `<data dir>/tokenizers/gpt2/` (`--data-dir`, or env
`RFT_DATA_DIR`, default `data/`), and `t5-tokenizer-cases.json`: the same for HF's T5 tokenizer
converted from `<data dir>/tokenizers/t5/spiece.model` (with `sentencepiece` installed, the
original SentencePiece ids too). Only strings and ids are written, never a vocabulary.
`beam-cases.json` holds HF beam search outputs of both tiny models.

Everything runs on the CPU in float32. The output is a few hundred KB.
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

GPT2_SEED = 1234
MAX_NEW_TOKENS = 8


def position_ids_from_mask(attention_mask):
    """Left padding: the first real token gets position 0 (what `generate` does for GPT-2)."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.clamp(min=0)


@torch.no_grad()
def greedy_reference(model, input_ids, attention_mask, max_new_tokens):
    """Greedy decoding without a cache, recomputing the whole sequence each step."""
    ids, mask = input_ids.clone(), attention_mask.clone()
    for _ in range(max_new_tokens):
        logits = model(
            input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask)
        ).logits
        next_tok = logits[:, -1, :].argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_tok], dim=1)
        mask = torch.cat([mask, torch.ones_like(next_tok)], dim=1)
    return ids[:, input_ids.shape[1]:]


@torch.no_grad()
def check_greedy_margin(model, input_ids, attention_mask, max_new_tokens):
    """Smallest gap between the best and second-best logit along the greedy path.

    Parity at 1e-4 only pins the greedy tokens down when this gap is clearly larger."""
    ids, mask = input_ids.clone(), attention_mask.clone()
    margin = float("inf")
    for _ in range(max_new_tokens):
        logits = model(
            input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask)
        ).logits[:, -1, :]
        top2 = logits.topk(2, dim=-1).values
        margin = min(margin, float((top2[:, 0] - top2[:, 1]).min()))
        next_tok = logits.argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_tok], dim=1)
        mask = torch.cat([mask, torch.ones_like(next_tok)], dim=1)
    return margin


def make_gpt2(out_dir):
    torch.manual_seed(GPT2_SEED)
    config = GPT2Config(
        vocab_size=256,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_inner=None,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        # Larger than GPT-2's 0.02 so the logits are far from uniform and greedy choices are clear.
        initializer_range=0.3,
        bos_token_id=255,
        eos_token_id=255,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config).eval()
    # Random LayerNorm affine parameters and biases too (HF initialises them to 1 and 0), so the
    # test would catch a swapped or ignored tensor.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))

    model_dir = os.path.join(out_dir, "gpt2-tiny")
    model.save_pretrained(model_dir, safe_serialization=True)

    g = torch.Generator().manual_seed(GPT2_SEED + 1)
    # Unpadded batch: 2 sequences of 7 tokens (254 so the EOS id 255 never appears in inputs).
    ids = torch.randint(0, 254, (2, 7), generator=g)
    mask = torch.ones_like(ids)
    # Left-padded batch: lengths 7, 4 and 1; pad id 0 (any id: masked out).
    ids_pad = torch.randint(0, 254, (3, 7), generator=g)
    mask_pad = torch.ones_like(ids_pad)
    mask_pad[1, :3] = 0
    mask_pad[2, :6] = 0
    ids_pad[mask_pad == 0] = 0

    cases = {}
    with torch.no_grad():
        for tag, (i, m) in {"plain": (ids, mask), "padded": (ids_pad, mask_pad)}.items():
            pos = position_ids_from_mask(m)
            logits = model(input_ids=i, attention_mask=m, position_ids=pos).logits
            greedy = greedy_reference(model, i, m, MAX_NEW_TOKENS)
            hf_greedy = model.generate(
                input_ids=i,
                attention_mask=m,
                max_new_tokens=MAX_NEW_TOKENS,
                min_new_tokens=MAX_NEW_TOKENS,
                do_sample=False,
                pad_token_id=0,
            )[:, i.shape[1]:]
            assert torch.equal(greedy, hf_greedy), (tag, greedy, hf_greedy)
            assert not (greedy == config.eos_token_id).any(), "greedy path hits EOS; change seed"
            margin = check_greedy_margin(model, i, m, MAX_NEW_TOKENS)
            assert margin > 1e-2, f"greedy margin {margin} too small for a 1e-4 parity test"
            print(f"gpt2 {tag}: logits {tuple(logits.shape)}, greedy margin {margin:.4f}")
            cases[f"{tag}.input_ids"] = i.to(torch.int64).contiguous()
            cases[f"{tag}.attention_mask"] = m.to(torch.int64).contiguous()
            cases[f"{tag}.position_ids"] = pos.to(torch.int64).contiguous()
            cases[f"{tag}.logits"] = logits.to(torch.float32).contiguous()
            cases[f"{tag}.greedy"] = greedy.to(torch.int64).contiguous()
    # Gradient of the teacher-forced log-likelihood of the padded batch: sum over positions t whose
    # token and next token are both real of log p(x[t+1] | x[..=t]).
    model.zero_grad()
    m = mask_pad
    logits = model(input_ids=ids_pad, attention_mask=m, position_ids=position_ids_from_mask(m)).logits
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    target_logp = logp.gather(2, ids_pad[:, 1:, None]).squeeze(2)
    weight = (m[:, :-1] * m[:, 1:]).to(torch.float32)
    loss = (target_logp * weight).sum()
    loss.backward()
    cases["padded.loglik"] = loss.detach().reshape(1).contiguous()
    for name, p in [("wte", model.transformer.wte.weight),
                    ("h0_c_attn", model.transformer.h[0].attn.c_attn.weight),
                    ("h1_ln_2", model.transformer.h[1].ln_2.weight)]:
        assert torch.isfinite(p.grad).all()
        cases[f"padded.grad.{name}"] = p.grad.detach().to(torch.float32).contiguous()
    save_file(cases, os.path.join(out_dir, "gpt2-tiny-cases.safetensors"))
    with open(os.path.join(out_dir, "gpt2-tiny-cases.json"), "w") as f:
        json.dump({"seed": GPT2_SEED, "max_new_tokens": MAX_NEW_TOKENS,
                   "torch": torch.__version__,
                   "transformers": __import__("transformers").__version__}, f, indent=2)
    return model, ids_pad, mask_pad


TOKENIZER_STRINGS = [
    "Hello world",
    " Hello world",
    "The movie was surprisingly good, and I'd watch it again!",
    "  two leading spaces and trailing   ",
    "line one\nline two\n\n\ttabbed",
    "Numbers: 3.14159, 2024, 1,000,000 and 42nd.",
    "Contractions: don't, can't, it's, we're, they'll, I've, she'd.",
    "Unicode: caf\u00e9, na\u00efve, \u00fcber, \u65e5\u672c\u8a9e, \u0645\u0631\u062d\u0628\u0627, \u03a9\u2248\u00e7",
    "Emoji \U0001F600\U0001F44D\U0001F3FD and symbols \u00a9\u00ae\u2122 \u2192 \u2200x",
    "<|endoftext|>",
    "code: fn main() { println!(\"{}\", x + 1); }",
    "",
    "a",
    "ALL CAPS SHOUTING!!! ???",
    "http://example.com/path?query=1&b=2#frag",
]


class OpenAIEncoder:
    """OpenAI's original GPT-2 `encoder.py` (byte-level BPE), a second reference next to HF's."""

    PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

    def __init__(self, encoder_json, vocab_bpe):
        import regex

        with open(encoder_json, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(vocab_bpe, encoding="utf-8") as f:
            merges = [tuple(line.split()) for line in f.read().split("\n")[1:] if line]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
              + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_encoder = dict(zip(bs, map(chr, cs)))
        self.pat = regex.compile(self.PATTERN)

    def bpe(self, token):
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode(self, text):
        ids = []
        for token in self.pat.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self.bpe(token))
        return ids


def make_gpt2_tokenizer_cases(out_dir, data_dir):
    from transformers import GPT2Tokenizer

    gpt2_dir = os.path.join(data_dir, "tokenizers", "gpt2")
    vocab, merges = os.path.join(gpt2_dir, "encoder.json"), os.path.join(gpt2_dir, "vocab.bpe")
    hf = GPT2Tokenizer(vocab=vocab, merges=merges)
    openai = OpenAIEncoder(vocab, merges)
    cases = []
    for text in TOKENIZER_STRINGS:
        # split_special_tokens: "<|endoftext|>" in raw text is plain text, as in our tokenizer
        # (special tokens are never matched in text; trainers append EOS by id).
        ids = hf(text, split_special_tokens=True)["input_ids"]
        assert ids == openai.encode(text), (text, ids, openai.encode(text))
        assert hf.decode(ids) == text, text
        cases.append({"text": text, "ids": ids})
    with open(os.path.join(out_dir, "gpt2-tokenizer-cases.json"), "w") as f:
        f.write(f'{{"eos_token_id": {hf.eos_token_id}, "vocab_size": {len(hf)}, "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print(f"gpt2 tokenizer: {len(cases)} strings")


T5_TOKENIZER_STRINGS = TOKENIZER_STRINGS + [
    "summarize: studies have shown that owning a dog is good for you",
    "translate English to German: That is good.",
    "The <extra_id_0> walks in <extra_id_1> park",
    "</s> and <pad> and <unk> written in the text",
    "Fullwidth \uff21\uff22\uff23 \uff11\uff12\uff13, ligature \ufb01ne, superscript x\u00b2, \u2460",
    "tab\tand  double  spaces,\u00a0no-break\u3000ideographic space",
    "Mixed case WORDS and numbers 12345678901234567890",
    "\u00c5ngstr\u00f6m, \u00e9t\u00e9, na\u00efve, Stra\u00dfe, \u0130stanbul",
    "   leading and trailing spaces   ",
    "\U0001F600 emoji only",
]


def make_t5_tokenizer_cases(out_dir, data_dir):
    """HF's T5 tokenizer (built from `spiece.model`, as `from_pretrained` converts it) and the
    original SentencePiece processor on the same strings. The Rust tokenizer must equal HF."""
    import shutil
    import tempfile

    from transformers import T5Tokenizer

    spiece = os.path.join(data_dir, "tokenizers", "t5", "spiece.model")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(spiece, os.path.join(tmp, "spiece.model"))
        hf = T5Tokenizer.from_pretrained(tmp)
    try:
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor(model_file=spiece)
    except ImportError:
        sp = None
    cases, disagree = [], 0
    for text in T5_TOKENIZER_STRINGS:
        ids = hf(text)["input_ids"]
        case = {"text": text, "ids": ids,
                "decoded": hf.decode(ids, skip_special_tokens=True)}
        if sp is not None:
            case["sentencepiece_ids"] = sp.encode(text) + [hf.eos_token_id]
            disagree += case["sentencepiece_ids"] != ids
        cases.append(case)
    with open(os.path.join(out_dir, "t5-tokenizer-cases.json"), "w") as f:
        f.write(f'{{"eos_token_id": {hf.eos_token_id}, "pad_token_id": {hf.pad_token_id}, '
                f'"unk_token_id": {hf.unk_token_id}, "vocab_size": {len(hf)}, "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print(f"t5 tokenizer: {len(cases)} strings, {disagree} where SentencePiece differs from HF")


T5_SEED = 99


def make_t5(out_dir):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(T5_SEED)
    config = T5Config(
        vocab_size=128, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        dropout_rate=0.0, layer_norm_epsilon=1e-6, initializer_factor=2.0,
        feed_forward_proj="relu", tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    model_dir = os.path.join(out_dir, "t5-tiny")
    model.save_pretrained(model_dir, safe_serialization=True)

    g = torch.Generator().manual_seed(T5_SEED + 1)
    # Encoder inputs: right padding (T5's convention), lengths 9 and 5 (ids >= 2: no pad/EOS).
    enc = torch.randint(2, 128, (2, 9), generator=g)
    enc_mask = torch.ones_like(enc)
    enc_mask[1, 5:] = 0
    enc[enc_mask == 0] = 0
    dec = torch.cat([torch.zeros(2, 1, dtype=torch.long), torch.randint(2, 128, (2, 5), generator=g)], 1)
    cases = {}
    with torch.no_grad():
        logits = model(input_ids=enc, attention_mask=enc_mask, decoder_input_ids=dec).logits
        out = model.generate(input_ids=enc, attention_mask=enc_mask, max_new_tokens=MAX_NEW_TOKENS,
                             min_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                             output_scores=True, return_dict_in_generate=True)
        greedy = out.sequences[:, 1:]
        assert not (greedy == config.eos_token_id).any(), "greedy path hits EOS; change seed"
        margin = min(float((s.topk(2, -1).values[:, 0] - s.topk(2, -1).values[:, 1]).min())
                     for s in out.scores)
        assert margin > 1e-2, f"greedy margin {margin} too small for a 1e-4 parity test"
    print(f"t5: logits {tuple(logits.shape)}, greedy margin {margin:.4f}")
    cases["input_ids"] = enc.contiguous()
    cases["attention_mask"] = enc_mask.contiguous()
    cases["decoder_input_ids"] = dec.contiguous()
    cases["logits"] = logits.to(torch.float32).contiguous()
    cases["greedy"] = greedy.to(torch.int64).contiguous()

    # Teacher-forced scoring of given targets (lengths 5 and 3, right-padded): HF shifts `labels`
    # right behind the decoder start token; -100 marks padding. Per-token log-probs, entropies, the
    # summed log-likelihood and its gradient.
    targets = torch.randint(2, 128, (2, 5), generator=g)
    target_mask = torch.ones_like(targets)
    target_mask[1, 3:] = 0
    labels = targets.masked_fill(target_mask == 0, -100)
    model.zero_grad()
    logits = model(input_ids=enc, attention_mask=enc_mask, labels=labels).logits
    logp = torch.log_softmax(logits, dim=-1)
    token_logp = logp.gather(2, labels.clamp(min=0)[:, :, None]).squeeze(2) * target_mask
    entropies = -(logp.exp() * logp).sum(-1) * target_mask
    loglik = token_logp.sum()
    loglik.backward()
    cases["score.targets"] = targets.masked_fill(target_mask == 0, 0).contiguous()
    cases["score.target_mask"] = target_mask.contiguous()
    cases["score.logprobs"] = token_logp.detach().contiguous()
    cases["score.entropies"] = entropies.detach().contiguous()
    cases["score.loglik"] = loglik.detach().reshape(1).contiguous()
    for name, p in [("shared", model.shared.weight),
                    ("enc_rel_bias",
                     model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight),
                    ("dec1_cross_k", model.decoder.block[1].layer[1].EncDecAttention.k.weight)]:
        assert torch.isfinite(p.grad).all()
        cases[f"score.grad.{name}"] = p.grad.detach().to(torch.float32).contiguous()
    save_file(cases, os.path.join(out_dir, "t5-tiny-cases.safetensors"))
    return model, enc, enc_mask


# Beam search: (num_beams, length_penalty, early_stopping, min_new_tokens) settings run on both models.
BEAM_SETTINGS = [
    (4, 1.0, False, 0),
    (4, 1.0, True, 0),
    (5, 2.0, "never", 0),
    (5, 0.5, False, 3),
    (3, 0.0, "never", 0),
    (2, -1.0, True, 0),
]
BEAM_MAX_NEW_TOKENS = 10


def frequent_token(sequences, skip):
    """The token most often generated (ties: lowest id): as EOS it makes beams finish mid-search."""
    counts = torch.bincount(sequences.flatten())
    for t in skip:
        counts[t] = 0
    return int(counts.argmax())


@torch.no_grad()
def beam_cases(model, input_ids, attention_mask, prompt_len, rows):
    """HF `generate` with beam search on each setting; tokens trimmed after the first EOS."""
    free = model.generate(input_ids=input_ids, attention_mask=attention_mask, num_beams=4,
                          do_sample=False, max_new_tokens=BEAM_MAX_NEW_TOKENS, pad_token_id=0,
                          eos_token_id=None)[:, prompt_len:]
    # Two EOS choices per setting: one the beams emit often, and one they never emit (max length).
    eos_often = frequent_token(free[:, 1:4], skip=[0])
    cases = []
    for num_beams, length_penalty, early_stopping, min_new in BEAM_SETTINGS:
        for eos in (eos_often, None):
            out = model.generate(
                input_ids=input_ids, attention_mask=attention_mask, num_beams=num_beams,
                do_sample=False, max_new_tokens=BEAM_MAX_NEW_TOKENS, min_new_tokens=min_new,
                length_penalty=length_penalty, early_stopping=early_stopping,
                eos_token_id=eos, pad_token_id=0, output_scores=True,
                return_dict_in_generate=True)
            tokens = []
            for row in out.sequences[:, prompt_len:].tolist():
                if eos is not None and eos in row:
                    row = row[: row.index(eos) + 1]
                tokens.append(row)
            cases.append({
                "num_beams": num_beams, "length_penalty": length_penalty,
                "early_stopping": early_stopping, "min_new_tokens": min_new,
                "max_new_tokens": BEAM_MAX_NEW_TOKENS, "eos_token_id": eos,
                "prompts": rows, "tokens": tokens,
                "scores": [round(float(x), 7) for x in out.sequences_scores],
            })
    n_eos = sum(1 for c in cases for t in c["tokens"] if c["eos_token_id"] in t)
    print(f"beam: {len(cases)} cases, {n_eos} hypotheses end in EOS, eos_often={eos_often}")
    return cases


def make_beam_cases(out_dir, gpt2, gpt2_ids, gpt2_mask, t5, t5_ids, t5_mask):
    gpt2_rows = [[t for t, m in zip(r, mr) if m] for r, mr in zip(gpt2_ids.tolist(), gpt2_mask.tolist())]
    t5_rows = [[t for t, m in zip(r, mr) if m] for r, mr in zip(t5_ids.tolist(), t5_mask.tolist())]
    cases = {
        "gpt2": beam_cases(gpt2, gpt2_ids, gpt2_mask, gpt2_ids.shape[1], gpt2_rows),
        "t5": beam_cases(t5, t5_ids, t5_mask, 1, t5_rows),
    }
    with open(os.path.join(out_dir, "beam-cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "crates", "model", "tests", "fixtures"))
    ap.add_argument("--data-dir", default=os.environ.get("RFT_DATA_DIR", "data"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    gpt2, gpt2_ids, gpt2_mask = make_gpt2(args.out)
    make_gpt2_tokenizer_cases(args.out, args.data_dir)
    make_t5_tokenizer_cases(args.out, args.data_dir)
    t5, t5_ids, t5_mask = make_t5(args.out)
    make_beam_cases(args.out, gpt2, gpt2_ids, gpt2_mask, t5, t5_ids, t5_mask)


if __name__ == "__main__":
    main()
