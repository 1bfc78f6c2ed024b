#!/usr/bin/env python3
"""Side-by-side throughput of the Rust rewards and the Python references, interleaved in one run.

Usage: python scripts/bench_rewards.py [--data-dir DIR] [--wordnet-dir DIR] [--rounds R]
                                       [--seconds S] [--python-only] [--json FILE]

Both sides score every pair of crates/rewards/tests/fixtures/pairs.json (the golden-fixture pairs)
for each configuration below, in passes until at least S seconds (default 1.0) have elapsed:
  * Rust: `target/release/examples/throughput` (built here with `cargo build --release`), which
    reports pairs/s single-threaded (wall clock and thread CPU time) and with `score_batch` on all
    rayon threads (wall clock);
  * Python: the reference call used for the fixtures (`make_reward_fixtures.configs`), single
    thread, wall clock and `time.thread_time()`. Reference objects (py-rouge Rouge, RougeScorer,
    TER, the WordNet reader) are built once outside the timing, as in RL4LMs.
The two sides alternate R times (default 5; Rust first in odd rounds, Python first in even ones)
and the table reports medians. On a machine shared with other jobs the CPU-time rates are the
stable ones (a descheduled process accrues no CPU time); wall-clock rates are printed next to them.
Prints a Markdown table (and writes all measurements to --json FILE if given).
"""
import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time

logging.disable(logging.WARNING)
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
sys.path.insert(0, here)
import make_reward_fixtures as m  # noqa: E402

# (table name, configuration in scores.json); the first three are the speed targets
BENCHES = [("rouge_l_max", "rouge_l_max_narrativeqa"), ("sacre_bleu_13a", "sacre_bleu_13a"),
           ("meteor", "meteor"), ("rouge_rougeL", "rouge_rougeL"), ("chrf", "chrf"), ("ter", "ter"),
           ("f1", "f1")]


def time_python(fn, pairs, seconds):
    """(wall pairs/s, CPU pairs/s) of `fn` over all pairs, in passes for at least `seconds`."""
    done = 0
    w0, c0 = time.perf_counter(), time.thread_time()
    while True:
        for p in pairs:
            fn(p["prediction"], p["references"])
        done += len(pairs)
        w, c = time.perf_counter() - w0, time.thread_time() - c0
        if w >= seconds:
            return done / w, done / max(c, 1e-9)


def time_rust(exe, config, seconds):
    out = subprocess.run([exe, "--seconds", str(seconds), config], capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        sys.exit(f"error: {exe} {config} failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(x):
    return "-" if x is None else f"{x:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("RFT_DATA_DIR", "data"))
    ap.add_argument("--wordnet-dir", default=os.environ.get("WORDNET_DIR", "/usr/share/wordnet"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--python-only", action="store_true", help="time the Python references only")
    ap.add_argument("--json", default="", metavar="FILE", help="also write every measurement to FILE")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.data_dir, "nltk")):
        sys.exit(f"error: {a.data_dir}/nltk not found (NLTK punkt_tab data); pass --data-dir or set RFT_DATA_DIR "
                 "to the shared data folder (see its MANIFEST.md)")
    if not os.path.isfile(os.path.join(a.wordnet_dir, "index.noun")):
        sys.exit(f"error: WordNet 3.0 not found in {a.wordnet_dir}; apt-get install wordnet-base or set WORDNET_DIR")
    os.environ.setdefault("NLTK_DATA", os.path.join(a.data_dir, "nltk"))
    import nltk

    nltk.data.path.insert(0, os.path.join(a.data_dir, "nltk"))
    wn = m.load_wordnet(a.wordnet_dir)
    cfgs = {c[0]: c for c in m.configs(wn)}
    with open(os.path.join(root, "crates", "rewards", "tests", "fixtures", "pairs.json"), encoding="utf-8") as fh:
        pairs = json.load(fh)
    exe = os.path.join(root, "target", "release", "examples", "throughput")
    if not a.python_only:
        subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "rewards", "--example", "throughput"],
                       cwd=root, check=True)
    for _, cfg in BENCHES:  # warm-up: lazy loads (Punkt, WordNet synsets, py-rouge tables)
        cfgs[cfg][4](pairs[0]["prediction"], pairs[0]["references"])

    runs = {b: {"rust": [], "python": []} for b, _ in BENCHES}
    for r in range(a.rounds):
        for bench, cfg in BENCHES:
            order = ["rust", "python"] if r % 2 == 0 else ["python", "rust"]
            for side in order:
                if side == "rust" and not a.python_only:
                    runs[bench]["rust"].append(time_rust(exe, cfg, a.seconds))
                elif side == "python":
                    w, c = time_python(cfgs[cfg][4], pairs, a.seconds)
                    runs[bench]["python"].append({"wall": w, "cpu": c})
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    print(f"{len(pairs)} pairs per pass; medians of {a.rounds} interleaved rounds; "
          f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}")
    print()
    print("| reward (fixture config) | Rust 1 thread, CPU time | Python, CPU time | **ratio per core** "
          "| Rust 1 thread, wall | Python, wall | ratio, wall | Rust all cores, wall | ratio all cores / Python 1 core |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = {}
    for bench, cfg in BENCHES:
        py_c = med([x["cpu"] for x in runs[bench]["python"]])
        py_w = med([x["wall"] for x in runs[bench]["python"]])
        rs = runs[bench]["rust"]
        rs_c = med([x["single_thread_cpu"] for x in rs])
        rs_w = med([x["single_thread"] for x in rs])
        rs_all = med([x["all_cores"] for x in rs])
        ratio = lambda x, y: None if x is None or y is None else x / y  # noqa: E731
        rows[bench] = dict(config=cfg, rust_cpu=rs_c, python_cpu=py_c, rust_wall=rs_w, python_wall=py_w,
                           rust_all=rs_all, ratio_cpu=ratio(rs_c, py_c), ratio_wall=ratio(rs_w, py_w),
                           ratio_all=ratio(rs_all, py_w))
        rr = rows[bench]
        rx = lambda x: "-" if x is None else f"{x:.1f}x"  # noqa: E731
        print(f"| `{bench}` | {fmt(rs_c)} | {fmt(py_c)} | **{rx(rr['ratio_cpu'])}** | {fmt(rs_w)} | {fmt(py_w)} "
              f"| {rx(rr['ratio_wall'])} | {fmt(rs_all)} | {rx(rr['ratio_all'])} |")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"pairs": len(pairs), "rounds": a.rounds, "seconds": a.seconds, "runs": runs,
                       "medians": rows}, fh, indent=1)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
