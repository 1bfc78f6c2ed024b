#!/usr/bin/env python3
"""Golden TER scores of long and degenerate generations, computed with sacreBLEU's TER.

Requirements: pip install sacrebleu==2.6.0

Usage:
    python scripts/make_ter_long_fixtures.py [--out crates/rewards/tests/fixtures/ter_long.json]

The pairs are drawn from a seeded generator (no data files): long texts over small vocabularies
(many shift candidates, so the 1,000-candidate limit is reached), block moves (shifts that pay),
very unequal lengths (sacreBLEU widens its beam), one repeated token, a two-token pattern against
its mirror, whitespace only, emoji only, and text without any shared word. Lengths stop at a few
thousand words: sacreBLEU itself fills a full |hyp| x |ref| matrix per edit distance in Python
(the small-vocabulary pairs take it 10-20 s each).
The Rust test `ter_long` scores every pair with every configuration and compares.
"""
import argparse
import json
import os
import random
import time

SEED = 20240517
CONFIGS = {
    "ter": {},
    "ter_normalized": {"normalized": True},
    "ter_asian_nopunct": {"normalized": True, "no_punct": True, "asian_support": True},
}


def pairs():
    rng = random.Random(SEED)
    words = [w for w in "the a of to and in is it that was for on are as with his they at be this from I have or by one had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been its who now people my made over did down only way find use may water long little very after words called just where most know".split()]

    def text(n, vocab):
        return " ".join(rng.choice(vocab) for _ in range(n))

    def moved(ws, blocks):
        ws = list(ws)
        for _ in range(blocks):
            n = rng.randint(2, 9)
            a = rng.randrange(0, len(ws) - n)
            block = ws[a:a + n]
            del ws[a:a + n]
            b = rng.randrange(0, len(ws))
            ws[b:b] = block
        return ws

    out = []
    plain, norm = ["ter"], ["ter", "ter_normalized", "ter_asian_nopunct"]
    small = words[:6]
    out.append(("small vocabulary, 400 words each", text(400, small), [text(400, small)], plain))
    out.append(("40-word vocabulary, 500 words each", text(500, words[:40]), [text(500, words[:40])], plain))
    base = text(700, words).split()
    out.append(("700 words against the same words with 25 block moves", " ".join(base),
                [" ".join(moved(base, 25))], plain))
    base = text(400, words).split()
    out.append(("block moves and substitutions, two references", " ".join(moved(base, 10)),
                [" ".join(w if rng.random() > 0.1 else "zzz" for w in base), " ".join(moved(base, 4))], plain))
    out.append(("15 words against 2000", text(15, words), [text(2000, words)], plain))
    out.append(("2000 words against 10", text(2000, words), [text(10, words)], plain))
    out.append(("one token repeated 3000 times against a sentence", " ".join(["the"] * 3000),
                ["the cat sat on the mat and the dog sat on the log"], norm))
    out.append(("one token repeated 2000 times against itself, 1990 times", " ".join(["go"] * 2000),
                [" ".join(["go"] * 1990)], plain))
    out.append(("a b pattern against b a pattern, 400 words", " ".join(["a", "b"] * 200),
                [" ".join(["b", "a"] * 200)], plain))
    out.append(("whitespace only", " \t \n " * 500, ["some reference words here"], norm))
    out.append(("whitespace only against whitespace only", "   \n\t ", ["\n \t"], norm))
    emoji = ["\U0001F600", "\U0001F389", "\U0001F680", "\U0001F44D\U0001F3FD", "\u2764\ufe0f"]
    out.append(("emoji only, 1500 tokens", " ".join(rng.choice(emoji) for _ in range(1500)),
                [" ".join(rng.choice(emoji) for _ in range(30))], norm))
    out.append(("1000 emoji glued into one word", "\U0001F600" * 1000, ["\U0001F600 \U0001F600 \U0001F600"], norm))
    out.append(("no shared word, 3000 against 3000", text(3000, ["x%d" % i for i in range(50)]),
                [text(3000, ["y%d" % i for i in range(50)])], plain))
    out.append(("punctuation-heavy, 300 words", text(300, ["a,", "b.", "(c)", "way's,", "d-e", "1.5"]),
                [text(300, ["a", "b", "c", "way", "d", "e"])], norm))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "crates", "rewards", "tests", "fixtures", "ter_long.json"))
    a = ap.parse_args()
    import sacrebleu
    from sacrebleu.metrics import TER
    cases = []
    for name, hyp, refs, cfgs in pairs():
        scores = {}
        for cfg in cfgs:
            t = time.time()
            scores[cfg] = TER(**CONFIGS[cfg]).sentence_score(hyp, refs).score
            print(f"{name} [{cfg}]: {scores[cfg]:.6f} ({time.time() - t:.1f} s)", flush=True)
        cases.append({"name": name, "prediction": hyp, "references": refs, "scores": scores})
    doc = {"sacrebleu": sacrebleu.__version__, "seed": SEED,
           "configs": [{"name": c, "args": kw} for c, kw in CONFIGS.items()], "cases": cases}
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"wrote {len(cases)} pairs x {len(CONFIGS)} configs to {a.out}")


if __name__ == "__main__":
    main()
