#!/usr/bin/env python3
"""Time the Python reference implementations on the same pairs as the Rust criterion bench.

Usage: python scripts/bench_rewards.py [--data-dir DIR] [--wordnet-dir DIR] [--repeat K]

Scores every pair of crates/rewards/tests/fixtures/pairs.json (repeated K times, default 4,
like the Rust bench) once per configuration, single process, and prints pairs/s as JSON.
The reference objects (py-rouge Rouge, RougeScorer, TER, the WordNet reader) are built once,
outside the timed loop; sacreBLEU's tokenizer lru_caches are kept (warm), as in RL4LMs.
"""
import argparse
import json
import logging
import os
import sys
import time

logging.disable(logging.WARNING)
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import make_reward_fixtures as m  # noqa: E402

BENCHES = [("rouge_l_max", "rouge_l_max_narrativeqa"), ("sacre_bleu_13a", "sacre_bleu_13a"), ("meteor", "meteor"),
           ("rouge_rougeL", "rouge_rougeL"), ("chrf", "chrf"), ("ter", "ter"), ("f1", "f1")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("RFT_DATA_DIR", "data"))
    ap.add_argument("--wordnet-dir", default=os.environ.get("WORDNET_DIR", "/usr/share/wordnet"))
    ap.add_argument("--repeat", type=int, default=4)
    a = ap.parse_args()
    os.environ.setdefault("NLTK_DATA", os.path.join(a.data_dir, "nltk"))
    import nltk
    nltk.data.path.insert(0, os.path.join(a.data_dir, "nltk"))
    wn = m.load_wordnet(a.wordnet_dir)
    cfgs = {c[0]: c for c in m.configs(wn)}
    with open(os.path.join(here, "..", "crates", "rewards", "tests", "fixtures", "pairs.json"), encoding="utf-8") as fh:
        pairs = json.load(fh) * a.repeat
    out = {}
    for bench, cfg in BENCHES:
        fn = cfgs[cfg][4]
        fn(pairs[0]["prediction"], pairs[0]["references"])  # warm-up (lazy loads)
        t = time.perf_counter()
        for p in pairs:
            fn(p["prediction"], p["references"])
        dt = time.perf_counter() - t
        out[bench] = len(pairs) / dt
        print(f"{bench}: {out[bench]:.1f} pairs/s", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
