#!/usr/bin/env python3
"""Golden fixtures for the `rewards` crate, computed with the reference implementations.

Requirements: pip install sacrebleu rouge-score py-rouge nltk "setuptools<81"
(py-rouge imports pkg_resources); apt-get install wordnet-base (WordNet 3.0).

Usage:
    python scripts/make_reward_fixtures.py [--data-dir DIR] [--wordnet-dir DIR] [--out DIR]
    python scripts/make_reward_fixtures.py --compare-random 2000 [--seed 1] [--only CONFIG,...]
                                           [--save-mismatches FILE]

The second form writes nothing: it draws N random noisy pairs from the same data (tokenizer-hostile
snippets injected: possessives, numbers, XML escapes, line breaks, CJK, full-width punctuation, ...),
scores them with every configuration below in Python and with the Rust crate (it builds and runs
`cargo run --release -p rewards --example score_jsonl`), and prints the largest difference per config.

--data-dir defaults to $RFT_DATA_DIR or `data/` (the shared data folder: CommonGen, IWSLT17,
DailyDialog, IMDB, metric-vectors, and nltk/ with the punkt_tab English parameters).
--wordnet-dir defaults to $WORDNET_DIR or /usr/share/wordnet (Debian's wordnet-base).

Writes into crates/rewards/tests/fixtures/:
    pairs.json     the scored (prediction, references) pairs
    scores.json    one entry per reward configuration: registry id, args, tolerance, scores
    porter.json    NLTK Porter stems (NLTK_EXTENSIONS and ORIGINAL_ALGORITHM) word by word
    tokenize.json  nltk.sent_tokenize / nltk.word_tokenize outputs
    wordnet.json   WordNet lemma names of wn.synsets(word) for sampled words
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
from collections import Counter

SEED = 20240101


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("RFT_DATA_DIR", "data"))
    ap.add_argument("--wordnet-dir", default=os.environ.get("WORDNET_DIR", "/usr/share/wordnet"))
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "crates", "rewards", "tests", "fixtures"))
    ap.add_argument("--compare-random", type=int, metavar="N", default=0,
                    help="instead of writing fixtures: score N random noisy pairs with the Python references and "
                         "with the Rust crate (example `score_jsonl`), print the largest difference per config")
    ap.add_argument("--seed", type=int, default=1, help="seed of --compare-random")
    ap.add_argument("--only", default="", help="comma-separated config names for --compare-random (default all)")
    ap.add_argument("--save-mismatches", default="", metavar="FILE",
                    help="--compare-random: write the pairs outside tolerance to FILE (JSON)")
    return ap.parse_args()


LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body
noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive
noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation
noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication
verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception
verb.possession verb.social verb.stative verb.weather adj.ppl""".split()


def load_wordnet(wn_dir):
    """NLTK reader over Debian's WordNet 3.0 (recipe from the data MANIFEST, nltk/ section)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    tmp = tempfile.mkdtemp(prefix="wn30_")
    for f in os.listdir(wn_dir):
        if f.startswith(("data.", "index.")) or f.endswith(".exc") or f == "cntlist.rev":
            shutil.copy(os.path.join(wn_dir, f), tmp)
    cat = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    with open(os.path.join(tmp, "lexnames"), "w") as fh:
        for i, name in enumerate(LEXNAMES):
            fh.write(f"{i:02d}\t{name}\t{cat[name.split('.')[0]]}\n")
    nltk.data.path.insert(0, tmp)

    class WN(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None

    return WN(tmp, None)


# ---------------------------------------------------------------- inputs

def read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [l.rstrip("\n") for l in fh]


def segs(path):
    out = []
    for l in read_lines(path):
        m = re.search(r"<seg id=\"\d+\">(.*)</seg>", l)
        if m:
            out.append(m.group(1).strip())
    return out


def perturb(rng, text, wn=None):
    words = text.split()
    if not words:
        return text
    kind = rng.choice(["drop", "swap", "syn", "inflect", "truncate", "case", "same", "mix"])
    if kind in ("drop", "mix"):
        words = [w for w in words if rng.random() > 0.25] or words[:1]
    if kind in ("swap", "mix") and len(words) > 2:
        for _ in range(max(1, len(words) // 5)):
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
    if kind in ("syn", "mix") and wn is not None:
        for i, w in enumerate(words):
            if rng.random() < 0.4 and w.isalpha():
                names = sorted({l.name() for s in wn.synsets(w) for l in s.lemmas() if "_" not in l.name()} - {w})
                if names:
                    words[i] = rng.choice(names)
    if kind == "inflect":
        for i, w in enumerate(words):
            if w.isalpha() and rng.random() < 0.5:
                words[i] = w + rng.choice(["s", "ed", "ing", "ly", "ness", "er"])
    if kind == "truncate":
        words = words[: max(1, len(words) // 2)]
    if kind == "case":
        words = [w.upper() if rng.random() < 0.3 else w.lower() for w in words]
    return " ".join(words)


EDGE = [
    ("", ["The cat sat on the mat."]),
    ("The cat sat on the mat.", [""]),
    ("", [""]),
    ("   ", ["  \t "]),
    ("...!!!", ["?!"]),
    ("!!! ??? ,,, ;;;", ["... --- ***"]),
    ("Grüße aus München, die Straße ist schön!", ["Grüße aus München!", "Schöne Grüße aus der Straße."]),
    ("Über den Wolken muss die Freiheit wohl grenzenlos sein.", ["Über den Wolken ist die Freiheit grenzenlos."]),
    ("我爱北京天安门。", ["我爱北京。"]),
    ("東京は日本の首都です。", ["日本の首都は東京です。"]),
    ("I love pizza 🍕🍕! 😀", ["I love pizza 🍕", "pizza is 😀 love"]),
    ("the the the the the the", ["the cat", "the the"]),
    ("cat cat cat dog dog", ["dog cat dog cat"]),
    ("I can't believe it isn't butter, I'm gonna cannot wanna go.", ["I cannot believe it is not butter; I am going to go."]),
    ("Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3rd. It rained.", ["Mr. Smith arrived in Washington on Jan. 3rd at 5 p.m."]),
    ('"Hello," she said. \'Yes\', he replied (quietly) -- and left...', ['She said "hello" and he replied yes.']),
    ("Wait... what?! Really?", ["Wait, what? Really!"]),
    ("It costs $3.14, or 1,000,000 - 5 = 999,995 in total.", ["The total is 999,995 dollars, i.e. 1,000,000-5."]),
    ("Visit https://example.com/a-b?c=d or mail me@example.org.", ["Mail me at me@example.org."]),
    ("line one\nline two\n\nline three", ["line one\nline 2\nline three"]),
    ("Tom &amp; Jerry &lt;3 <skipped> ok", ["Tom & Jerry <3 ok"]),
    ("The kid is happy and glad.", ["The child is glad and happy."]),
    ("He bought a car and drove quickly.", ["He purchased an automobile and drove fast."]),
    ("Running runners ran; the runs were run.", ["The runner runs running runs."]),
    ("KELVIN \u212a and İstanbul and ΟΔΟΣ σοφός", ["kelvin k and istanbul and οδος σοφος"]),
    ("A", ["a"]),
    ("a an the", ["the"]),
    ("The answer is Paris.", ["Paris", "paris, france", "The city of Paris"]),
    ("St. Louis is in the U.S.A. Dr. Who's there?", ["St. Louis, U.S.A."]),
    ("He said: 'don't' and 'twas fine; d'ye know?", ["he said do not"]),
    ("tab\tseparated\twords and  double  spaces ", ["tab separated words and double spaces"]),
    ("x" * 60, ["x" * 59]),
    ("\u2018Curly quotes\u2019 and \u201cdouble\u201d \u00abangled\u00bb \u2014 dashes \u2013 too", ["'Curly quotes' and \"double\" angled -- dashes - too"]),
]


def build_pairs(data, wn, rng):
    pairs = []
    # CommonGen dev: one target vs the other targets of the same concept set
    tgt = read_lines(os.path.join(data, "commongen", "commongen.dev.tgt.txt"))
    idx = read_lines(os.path.join(data, "commongen", "commongen.dev.index.txt"))
    groups = {}
    for t, i in zip(tgt, idx):
        groups.setdefault(i, []).append(t)
    keys = sorted(groups, key=int)
    for k in rng.sample(keys, 60):
        g = groups[k]
        if len(g) < 2:
            continue
        j = rng.randrange(len(g))
        pred = g[j] if rng.random() < 0.5 else perturb(rng, g[j], wn)
        pairs.append((pred, [x for i2, x in enumerate(g) if i2 != j]))
    for _ in range(10):  # unrelated pairs
        a, b = rng.sample(keys, 2)
        pairs.append((groups[a][0], groups[b]))
    # IWSLT17 (English sources, German sources) as system-output-like pairs
    en = segs(os.path.join(data, "iwslt2017-en-de", "en-de", "IWSLT17.TED.tst2016.en-de.en.xml"))
    de = segs(os.path.join(data, "iwslt2017-en-de", "de-en", "IWSLT17.TED.tst2016.de-en.de.xml"))
    for s in rng.sample(en, 40):
        pairs.append((perturb(rng, s, wn), [s]))
    for s in rng.sample(de, 40):
        pairs.append((perturb(rng, s, None), [s]))
    # DailyDialog validation: next-turn pairs and perturbed turns
    dd = read_lines(os.path.join(data, "dailydialog", "validation", "dialogues_validation.txt"))
    for d in rng.sample(dd, 30):
        turns = [t.strip() for t in d.split("__eou__") if t.strip()]
        if len(turns) < 2:
            continue
        i = rng.randrange(len(turns) - 1)
        if rng.random() < 0.5:
            pairs.append((turns[i], [turns[i + 1]]))
        else:
            pairs.append((perturb(rng, turns[i], wn), [turns[i]]))
    # IMDB: sentences and a few whole (long) reviews
    with open(os.path.join(data, "imdb", "imdb_test_subset.csv"), encoding="utf-8") as fh:
        reviews = [r["review"] for r in csv.DictReader(fh)]
    for r in rng.sample(reviews, 25):
        sents = [s for s in re.split(r"(?<=[.!?])\s+", r.replace("<br />", " ")) if s]
        s = rng.choice(sents)
        pairs.append((perturb(rng, s, wn), [s, rng.choice(sents)]))
    for r in rng.sample(reviews, 4):  # long texts
        pairs.append((perturb(rng, r, wn), [r]))
    long_a = " ".join(rng.sample(reviews, 3))
    pairs.append((long_a, [perturb(rng, long_a, None)]))
    # metric-vectors
    mv = os.path.join(data, "metric-vectors")
    hyp = read_lines(os.path.join(mv, "totto-sample-bleu", "hyp.txt"))
    refs = [read_lines(os.path.join(mv, "totto-sample-bleu", f"ref{k}.txt")) for k in range(3)]
    for i, h in enumerate(hyp):
        if h:
            pairs.append((h, [r[i] for r in refs if i < len(r) and r[i]]))
    hyp = read_lines(os.path.join(mv, "nlg-eval-example", "hyp.txt"))
    r1 = read_lines(os.path.join(mv, "nlg-eval-example", "ref1.txt"))
    r2 = read_lines(os.path.join(mv, "nlg-eval-example", "ref2.txt"))
    for h, a, b in zip(hyp, r1, r2):
        pairs.append((h, [a, b]))
    with open(os.path.join(mv, "pltrdy-rouge-tests", "data.json"), encoding="utf-8") as fh:
        for item in json.load(fh):
            pairs.append((item["hyp"], [item["ref"]]))
    cand = read_lines(os.path.join(mv, "bleurt-test-data", "candidates"))
    ref = read_lines(os.path.join(mv, "bleurt-test-data", "references"))
    for c, r in zip(cand, ref):
        pairs.append((c, [r]))
    pairs.extend(EDGE)
    pairs.extend(CJK)
    pairs.extend(TER_CASES)
    pairs.extend(ter_double_tokenization_pairs(data, wn))
    return [{"prediction": p, "references": list(r)} for p, r in pairs]


# CJK, kana, Hangul, full-width forms and CJK punctuation (TER `asian_support`, chrF, BLEU intl)
CJK = [
    ("我爱北京天安门，天安门上太阳升。", ["我爱北京。", "天安门上太阳升！"]),
    ("東京は日本の首都です。カタカナとひらがな、漢字。", ["日本の首都は東京です。", "カタカナ、ひらがな、漢字"]),
    ("ｈｅｌｌｏ　ｗｏｒｌｄ！（全角）", ["hello world! (全角)", "Ｈｅｌｌｏ　ｗｏｒｌｄ．"]),
    ("한국어 문장입니다. 서울은 크다.", ["서울은 큰 도시입니다."]),
    ("カタカナ", ["カタカナ・テスト"]),
    ("ひらがな", ["ひらがな"]),
    ("㍻三十年㈱東京【テスト】〔注〕", ["平成三十年 株式会社 東京 テスト", "㍻30年 ㈱東京"]),
    ("豈更車⺀⺁㐀丂ㇰㇱ", ["豈 更 車", "丂㐀"]),
    ("The price is ５００円, ok? ｢はい｣｡", ["The price is 500 yen.", "価格は５００円です。"]),
    ("他说：“你好！”然后走了……", ["他说你好然后走了。"]),
]

# TER `normalized`: sacreBLEU tokenizes references twice, and the Western normalisation is
# not idempotent ("way's," -> "way's ," -> "way 's ,"; possessives before punctuation).
TER_CASES = [
    ("It was made in the 60's.", ["It was made in the 60's."]),
    ("If I had my way, nobody would read this.", ["If I had my way's, nobody would even have to read this summary."]),
    ("John's car, Mary's bike.", ["John's, Mary's."]),
    ("the 90's... but that's it", ["the 90's....but that's not even the long and the short of it."]),
    ("Tom's.", ["Tom's!", "Tom's?"]),
]


def ter_double_tokenization_pairs(data, wn, n=12):
    """Random noisy pairs (as in --compare-random, seed 1) whose references change when
    sacreBLEU's normalised Tercom tokenizer is applied a second time."""
    from sacrebleu.tokenizers.tokenizer_ter import TercomTokenizer

    tok = TercomTokenizer(normalized=True)
    out = []
    for p in random_pairs(data, wn, random.Random(1), 2000):
        if any(tok(tok(r.rstrip())) != tok(r.rstrip()) for r in p["references"]):
            out.append((p["prediction"], p["references"]))
            if len(out) == n:
                break
    return out


# ---------------------------------------------------------------- references

def squad_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_f1(prediction, ground_truth):
    prediction_tokens = squad_normalize(prediction).split()
    ground_truth_tokens = squad_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad_em(prediction, ground_truth):
    return squad_normalize(prediction) == squad_normalize(ground_truth)


def configs(wn):
    import rouge as pyrouge
    import sacrebleu
    from nltk import word_tokenize
    from nltk.translate import meteor_score
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import TER

    def rouge_l_max(args):
        metric = pyrouge.Rouge(metrics=["rouge-l"], **args)

        def f(pred, refs):  # RL4LMs RougeLMax._rouge_max_over_ground_truth
            return max(metric.get_scores(pred, [r])["rouge-l"]["f"] for r in refs)

        return f

    def rouge(rouge_type, single):
        sc = rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)

        def f(pred, refs):
            refs = refs[:1] if single else refs
            return sc.score_multi(refs, pred)[rouge_type].fmeasure

        return f

    def bleu(**kw):
        return lambda p, r: sacrebleu.sentence_bleu(p, r, **kw).score / 100.0

    def meteor(p, r):  # HF `meteor` metric (NLTK >= 3.6.5 branch)
        return meteor_score.meteor_score([word_tokenize(x) for x in r], word_tokenize(p), wordnet=wn)

    def ter(**kw):
        m = TER(**kw)
        return lambda p, r: m.sentence_score(p, r).score

    narrativeqa = dict(max_n=4, limit_length=True, length_limit=100, length_limit_type="words",
                       apply_avg=True, apply_best=True, alpha=0.5, weight_factor=1.2, stemming=True)
    return [
        ("rouge_l_max_narrativeqa", "rouge_l_max", narrativeqa, 1e-6, rouge_l_max(narrativeqa)),
        ("rouge_l_max_defaults", "rouge_l_max", {}, 1e-6, rouge_l_max({})),
        ("rouge_l_max_bytes_75", "rouge_l_max", {"length_limit": 75, "length_limit_type": "bytes"}, 1e-6,
         rouge_l_max({"length_limit": 75, "length_limit_type": "bytes"})),
        ("rouge_rouge1", "rouge", {"rouge_type": "rouge1"}, 1e-6, rouge("rouge1", True)),
        ("rouge_rouge2_multi", "rouge", {"rouge_type": "rouge2", "use_single_ref": False}, 1e-6, rouge("rouge2", False)),
        ("rouge_rougeL", "rouge", {"rouge_type": "rougeL", "use_single_ref": False}, 1e-6, rouge("rougeL", False)),
        ("rouge_rougeLsum", "rouge", {"rouge_type": "rougeLsum", "use_single_ref": False}, 1e-6, rouge("rougeLsum", False)),
        # BLEU tolerance 1e-4 on the 0-100 scale = 1e-6 on the reward (score / 100) scale
        ("sacre_bleu_13a", "sacre_bleu", {}, 1e-6, bleu()),
        ("sacre_bleu_intl", "sacre_bleu", {"tokenize": "intl"}, 1e-6, bleu(tokenize="intl")),
        ("sacre_bleu_13a_lowercase_floor", "sacre_bleu", {"lowercase": True, "smooth_method": "floor"}, 1e-6,
         bleu(lowercase=True, smooth_method="floor")),
        ("sacre_bleu_add_k_no_eff", "sacre_bleu", {"smooth_method": "add-k", "use_effective_order": False}, 1e-6,
         bleu(smooth_method="add-k", use_effective_order=False)),
        ("meteor", "meteor", {}, 1e-6, meteor),
        ("chrf", "chrf", {}, 1e-6, lambda p, r: sacrebleu.sentence_chrf(p, r).score),
        ("chrf_pp", "chrf", {"word_order": 2}, 1e-6, lambda p, r: sacrebleu.sentence_chrf(p, r, word_order=2).score),
        ("ter", "ter", {}, 1e-6, ter()),
        ("ter_normalized", "ter", {"normalized": True}, 1e-6, ter(normalized=True)),
        ("ter_asian", "ter", {"normalized": True, "asian_support": True}, 1e-6,
         ter(normalized=True, asian_support=True)),
        ("ter_asian_nopunct", "ter", {"normalized": True, "no_punct": True, "asian_support": True}, 1e-6,
         ter(normalized=True, no_punct=True, asian_support=True)),
        ("ter_nopunct_asian_unnormalized", "ter", {"no_punct": True, "asian_support": True}, 1e-6,
         ter(no_punct=True, asian_support=True)),
        ("ter_normalized_nopunct_cased", "ter", {"normalized": True, "no_punct": True, "case_sensitive": True}, 1e-6,
         ter(normalized=True, no_punct=True, case_sensitive=True)),
        ("f1", "f1", {}, 1e-6, lambda p, r: max(squad_f1(p, x) for x in r)),
        ("exact_match", "exact_match", {}, 1e-6, lambda p, r: float(max(squad_em(p, x) for x in r))),
    ]


# ---------------------------------------------------------------- random comparison

# Snippets injected into random pairs: tokenizer corner cases of 13a/intl/TER (possessives,
# numbers with . , -, XML escapes, line breaks, hyphenation), Treebank/Punkt cases
# (contractions, abbreviations, quotes), non-ASCII letters, CJK, kana, full-width and CJK
# punctuation (TER asian_support), emoji and odd whitespace.
NOISE = ["'s", "'S", "s'", "&amp;", "&quot;", "&lt;", "&gt;", "&amp;quot;", "\n", "\n-", " - ", "--", "-", "...",
         "3.14", "1,000", "12-5", "5-", "-3", "2.", ".5", ",5", ".,", ",.", "(", ")", "[", "]", "{", "}", "\"", "'",
         "`", "``", "''", "!", "?", ";", ":", "/", "\\", "$", "%", "#", "@", "*", "+", "=", "<", ">", "^", "_", "|",
         "~", "&", "Mr.", "U.S.A.", "e.g.", "p.m.", "No.", "can't", "cannot", "gonna", "'tis", "d'ye", "won't",
         "«", "»", "“", "”", "‘", "’", "—", "–", "…", "Grüße", "İstanbul", "ΣΟΦΟΣ", "ﬁne", "naïve", "🍕", "😀",
         "\t", "\u00a0", "\u3000", "我爱北京", "東京は日本の首都です", "ひらがなです", "カタカナ", "ㇰㇱㇲ", "㈱", "㍻",
         "豈更", "︰", "⺀⺁", "㐀", "、", "。", "「", "」", "〔", "〕", "・", "！", "（", "）", "，", "．", "？", "：",
         "；", "＂", "｡", "｢", "ｰ", "Ａ１", "٣", "²", "½"]


def add_noise(rng, text, k):
    for _ in range(k):
        snip = rng.choice(NOISE)
        pos = rng.randrange(len(text) + 1)
        if rng.random() < 0.5:  # detached, as its own word
            snip = " " + snip + " "
        text = text[:pos] + snip + text[pos:]
    return text


def random_pairs(data, wn, rng, n):
    """`n` random (prediction, references) pairs: real sentences (CommonGen, IWSLT17 en/de,
    DailyDialog, IMDB), perturbed like the fixtures, with tokenizer-hostile noise injected."""
    pool = read_lines(os.path.join(data, "commongen", "commongen.dev.tgt.txt"))
    pool += segs(os.path.join(data, "iwslt2017-en-de", "en-de", "IWSLT17.TED.tst2017.en-de.en.xml"))
    pool += segs(os.path.join(data, "iwslt2017-en-de", "de-en", "IWSLT17.TED.tst2017.de-en.de.xml"))
    for d in read_lines(os.path.join(data, "dailydialog", "validation", "dialogues_validation.txt")):
        pool += [t.strip() for t in d.split("__eou__") if t.strip()]
    with open(os.path.join(data, "imdb", "imdb_test_subset.csv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            pool += [s for s in re.split(r"(?<=[.!?])\s+", r["review"].replace("<br />", " ")) if 0 < len(s) < 400]
    pairs = []
    for _ in range(n):
        ref = rng.choice(pool)
        refs = [ref] + [rng.choice(pool) for _ in range(rng.choice([0, 0, 1, 2]))]
        pred = perturb(rng, ref, wn if rng.random() < 0.5 else None)
        if rng.random() < 0.8:
            pred = add_noise(rng, pred, rng.randint(1, 5))
        refs = [add_noise(rng, r, rng.randint(1, 3)) if rng.random() < 0.4 else r for r in refs]
        if rng.random() < 0.05:  # CJK-only pairs
            cjk = [x for x in NOISE if any(ord(c) > 0x2e7f for c in x)]
            pred = "".join(rng.choice(cjk) for _ in range(rng.randint(1, 6)))
            refs = ["".join(rng.choice(cjk) for _ in range(rng.randint(1, 6)))]
        pairs.append({"prediction": pred, "references": refs})
    return pairs


def compare_random(a, wn):
    """Score random pairs with the Python references and with the Rust crate; print max |diff| per config."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..")
    rng = random.Random(a.seed)
    pairs = random_pairs(a.data_dir, wn, rng, a.compare_random)
    cfgs = [c for c in configs(wn) if not a.only or c[0] in a.only.split(",")]
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "rewards", "--example", "score_jsonl"],
                   cwd=root, check=True)
    exe = os.path.join(root, "target", "release", "examples", "score_jsonl")
    jsonl = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    mismatches = []
    print(f"{len(pairs)} random pairs (seed {a.seed})", file=sys.stderr)
    print("| config | pairs compared | max abs diff | pairs over tolerance |")
    print("|---|---:|---:|---:|")
    for name, metric, args, tol, fn in cfgs:
        out = subprocess.run([exe, metric, json.dumps(args)], input=jsonl, capture_output=True, text=True,
                             cwd=root)
        if out.returncode != 0:
            sys.exit(f"error: Rust score_jsonl failed for {name}: {out.stderr.strip()}")
        got = [json.loads(l)["score"] for l in out.stdout.splitlines()]
        assert len(got) == len(pairs), f"{name}: {len(got)} scores for {len(pairs)} pairs"
        worst, bad, compared = 0.0, 0, 0
        for p, g in zip(pairs, got):
            try:
                e = float(fn(p["prediction"], p["references"]))
            except Exception:  # the reference raises; Rust returned a value without panicking
                continue
            compared += 1
            d = abs(g - e)
            worst = max(worst, d)
            if d > tol:
                bad += 1
                mismatches.append({"config": name, "rust": g, "python": e, **p})
        print(f"| `{name}` | {compared} | {worst:.3g} | {bad} |", flush=True)
    for m in mismatches[:20]:
        print(f"  {m['config']}: rust {m['rust']} python {m['python']}: {m['prediction']!r} vs {m['references']!r}",
              file=sys.stderr)
    if a.save_mismatches:
        with open(a.save_mismatches, "w", encoding="utf-8") as fh:
            json.dump(mismatches, fh, ensure_ascii=False, indent=1)
    return 1 if mismatches else 0


def main():
    a = parse_args()
    os.environ.setdefault("NLTK_DATA", os.path.join(a.data_dir, "nltk"))
    import nltk

    nltk.data.path.insert(0, os.path.join(a.data_dir, "nltk"))
    wn = load_wordnet(a.wordnet_dir)
    if a.compare_random:
        sys.exit(compare_random(a, wn))
    from nltk.stem.porter import PorterStemmer

    rng = random.Random(SEED)
    pairs = build_pairs(a.data_dir, wn, rng)
    os.makedirs(a.out, exist_ok=True)

    def dump(name, obj):  # atomically: temporary file, then rename
        path = os.path.join(a.out, name)
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(obj, fh, ensure_ascii=False, indent=0)
            fh.write("\n")
        os.replace(path + ".tmp", path)

    dump("pairs.json", pairs)
    out = []
    for name, metric, args, tol, fn in configs(wn):
        scores = []
        for p in pairs:
            try:
                scores.append(float(fn(p["prediction"], p["references"])))
            except Exception as e:  # the reference raises: Rust must not panic, value not compared
                print(f"{name}: reference raised {type(e).__name__} on {p['prediction'][:40]!r}", file=sys.stderr)
                scores.append(None)
        out.append({"name": name, "metric": metric, "args": args, "tolerance": tol, "scores": scores})
        print(f"{name}: {len(scores)} scores", file=sys.stderr)
    dump("scores.json", out)

    # word-level checks: stemmer, tokenizers, WordNet synonyms
    texts = [p["prediction"] for p in pairs] + [r for p in pairs for r in p["references"]]
    vocab = sorted({w for t in texts for w in nltk.word_tokenize(t)})
    extra = ["caresses", "ponies", "ties", "cats", "feed", "agreed", "plastered", "motoring", "sing", "conflated",
             "troubled", "sized", "hopping", "tanned", "falling", "hissing", "fizzed", "failing", "filing", "happy",
             "sky", "relational", "conditional", "rational", "valenci", "hesitanci", "digitizer", "conformabli",
             "radicalli", "differentli", "vileli", "analogousli", "vietnamization", "predication", "operator",
             "feudalism", "decisiveness", "hopefulness", "callousness", "formaliti", "sensitiviti", "sensibiliti",
             "triplicate", "formative", "formalize", "electriciti", "electrical", "hopeful", "goodness", "revival",
             "allowance", "inference", "airliner", "gyroscopic", "adjustable", "defensible", "irritant",
             "replacement", "adjustment", "dependent", "adoption", "homologou", "communism", "activate",
             "angulariti", "homologous", "effective", "bowdlerize", "probate", "rate", "cease", "controll", "roll",
             "generously", "dying", "lying", "innings", "news", "proceed", "exceed", "succeed", "yyy", "y", "ys",
             "eyeing", "sayyid", "s", "is", "as", "ied", "ies", "fulli", "logi", "archaeology", "_cannot_", "x2s"]
    words = sorted(set(vocab) | set(extra) | {w.lower() for w in vocab})
    dump("porter.json", {
        "words": words,
        "nltk_extensions": [PorterStemmer().stem(w) for w in words],
        "original_algorithm": [PorterStemmer("ORIGINAL_ALGORITHM").stem(w) for w in words],
    })
    tok_texts = sorted(set(texts))
    dump("tokenize.json", {
        "texts": tok_texts,
        "sent_tokenize": [nltk.sent_tokenize(t) for t in tok_texts],
        "word_tokenize": [nltk.word_tokenize(t) for t in tok_texts],
    })
    wn_words = sorted({w.lower() for w in vocab if w.isalpha()})
    stemmer = PorterStemmer()
    wn_words = sorted(set(wn_words) | {stemmer.stem(w) for w in wn_words})
    dump("wordnet.json", {
        "words": wn_words,
        "synonyms": [sorted({l.name() for s in wn.synsets(w) for l in s.lemmas()}) for w in wn_words],
    })
    print(f"{len(pairs)} pairs, {len(words)} stemmer words, {len(tok_texts)} texts, {len(wn_words)} WordNet words",
          file=sys.stderr)


if __name__ == "__main__":
    main()
