//! Each loader on a small fixture written here in the real format, RL4LMs' prompt rules as exact
//! strings, the reward of every task built through the `rewards` registry, and the errors.

use grue::{GrueError, Split, TaskName, Verify};
use std::io::Write;
use std::path::Path;

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn load(t: TaskName, dir: &Path, split: Split) -> Vec<grue::Sample> {
    t.load(dir, split, Verify::Off).unwrap()
}

#[test]
fn cnn_dailymail_csv_with_quoted_newlines_and_json() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "cnn_dailymail/hf-train-first300.csv",
        "article,highlights\n\"A \"\"quoted\"\" story,\nover lines.\",\"First .\nSecond .\"\nplain,short\n",
    );
    write(
        d.path(),
        "cnn_dailymail/hf-test-first100.json",
        r#"[{"id": "ab", "article": "Body.", "highlights": "Hi ."}]"#,
    );
    let tr = load(TaskName::CnnDailyMail, d.path(), Split::Train);
    assert_eq!(tr.len(), 2);
    assert_eq!(
        tr[0].prompt_or_context,
        "Summarize: A \"quoted\" story,\nover lines."
    );
    assert_eq!(tr[0].references, vec!["First .\nSecond ."]);
    assert_eq!(tr[1].id, "train_1");
    let te = load(TaskName::CnnDailyMail, d.path(), Split::Test);
    assert_eq!(te[0].prompt_or_context, "Summarize: Body.");
    assert_eq!(te[0].references, vec!["Hi ."]);
}

#[test]
fn iwslt_wit3_xml_pairs_by_segment() {
    let d = tempfile::tempdir().unwrap();
    let xml = |lang: &str, a: &str, b: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<mteval>\n<srcset setid=\"iwslt2017-tst2016\" srclang=\"{lang}\">\n\
             <doc docid=\"2227\" genre=\"lectures\">\n<url>http://x</url>\n<talkid>2227</talkid>\n<title>T</title>\n\
             <seg id=\"1\"> {a}</seg>\n<seg id=\"2\"> {b} </seg>\n</doc>\n</srcset>\n</mteval>\n"
        )
    };
    write(
        d.path(),
        "iwslt2017-en-de/en-de/IWSLT17.TED.tst2016.en-de.en.xml",
        &xml("english", "We're here.", "Thanks."),
    );
    write(
        d.path(),
        "iwslt2017-en-de/de-en/IWSLT17.TED.tst2016.de-en.de.xml",
        &xml("german", "Wir sind hier.", "Danke."),
    );
    let s = load(TaskName::Iwslt2017EnDe, d.path(), Split::Train);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0].prompt_or_context,
        "translate English to German: We're here."
    );
    assert_eq!(s[0].references, vec!["Wir sind hier."]);
    assert_eq!(
        s[1].prompt_or_context,
        "translate English to German: Thanks."
    );
    // a German side whose segments do not pair is refused, naming file and line
    write(
        d.path(),
        "iwslt2017-en-de/de-en/IWSLT17.TED.tst2016.de-en.de.xml",
        &xml("german", "Wir sind hier.", "Danke.").replace("seg id=\"2\"", "seg id=\"3\""),
    );
    let e = TaskName::Iwslt2017EnDe
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("IWSLT17.TED.tst2016.de-en.de.xml, line 9"),
        "{e}"
    );
}

#[test]
fn dailydialog_eou_files_give_rl4lms_contexts() {
    let d = tempfile::tempdir().unwrap();
    let line: String = (1..=7)
        .map(|i| format!("u{i} . __eou__ "))
        .collect::<String>()
        .trim_end()
        .to_string()
        + "\n";
    write(
        d.path(),
        "dailydialog/train/dialogues_train.txt",
        &format!("{line}short __eou__\n"),
    );
    let s = load(TaskName::DailyDialog, d.path(), Split::Train);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0].prompt_or_context,
        "u1 . <EOU> u2 . <EOU> u3 . <EOU> u4 . <EOU> u5 .  <EOU>"
    );
    assert_eq!(s[0].references, vec![" u6 . <EOU>"]);
    assert_eq!(s[0].id, "5");
    assert_eq!(
        s[1].prompt_or_context,
        " u2 . <EOU> u3 . <EOU> u4 . <EOU> u5 . <EOU> u6 .  <EOU>"
    );
    assert_eq!(s[1].references, vec![" u7 . <EOU>"]);
    // a line without __eou__ is malformed
    write(
        d.path(),
        "dailydialog/train/dialogues_train.txt",
        &format!("{line}no separator here\n"),
    );
    let e = TaskName::DailyDialog
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dialogues_train.txt, line 2"), "{e}");
}

/// `(cs_str, src_alpha, tgt, index)` of one line.
type CgRow<'a> = (&'a str, &'a str, &'a str, u32);

fn commongen_files(dir: &Path, split: &str, rows: &[CgRow<'_>]) {
    let col = |f: &dyn Fn(&CgRow<'_>) -> String| rows.iter().map(f).collect::<Vec<_>>().join("\n");
    write(
        dir,
        &format!("commongen/commongen.{split}.cs_str.txt"),
        &col(&|r| r.0.to_string()),
    );
    write(
        dir,
        &format!("commongen/commongen.{split}.src_alpha.txt"),
        &col(&|r| r.1.to_string()),
    );
    write(
        dir,
        &format!("commongen/commongen.{split}.tgt.txt"),
        &col(&|r| r.2.to_string()),
    );
    write(
        dir,
        &format!("commongen/commongen.{split}.index.txt"),
        &col(&|r| r.3.to_string()),
    );
}

#[test]
fn commongen_text_files_and_prompt() {
    let d = tempfile::tempdir().unwrap();
    let rows = [
        (
            "field_N#look_V#stand_V",
            "field stand look",
            "The player stood in the field.",
            0,
        ),
        (
            "field_N#look_V#stand_V",
            "field stand look",
            "I stood and looked.",
            0,
        ),
        (
            "cat_N#couch_N#pet_V",
            "pet couch cat",
            "A pet cat sleeps on a couch.",
            1,
        ),
    ];
    commongen_files(d.path(), "train", &rows);
    commongen_files(d.path(), "test", &rows);
    let tr = load(TaskName::CommonGen, d.path(), Split::Train);
    assert_eq!(tr.len(), 3);
    assert_eq!(
        tr[0].prompt_or_context,
        "generate a sentence with: field look stand."
    );
    assert_eq!(tr[0].references, vec!["The player stood in the field."]);
    assert_eq!(
        tr[0].meta_data["concepts"],
        serde_json::json!(["field", "look", "stand"])
    );
    let te = load(TaskName::CommonGen, d.path(), Split::Test);
    assert_eq!(te.len(), 2);
    assert_eq!(
        te[0].references,
        vec!["The player stood in the field.", "I stood and looked."]
    );
    assert_eq!(
        te[1].prompt_or_context,
        "generate a sentence with: cat couch pet."
    );
    // src_alpha disagreeing with cs_str names the file and line
    let mut bad = rows;
    bad[2].1 = "dog couch cat";
    commongen_files(d.path(), "train", &bad);
    let e = TaskName::CommonGen
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(e.contains("commongen.train.src_alpha.txt, line 3"), "{e}");
}

#[test]
fn imdb_csv_halves_prompts_and_splits_test_rows() {
    let d = tempfile::tempdir().unwrap();
    let csv = "id,rating,label,review\n\
        0,10,1,\"one two three four five\"\n\
        1,2,0,\"Bad.<br /><br />\"\"Really\"\" bad, with\nnewline\"\n\
        2,9,1,a  b c\n\
        3,1,0,odd row three\n";
    write(d.path(), "imdb/imdb_train_subset.csv", csv);
    write(d.path(), "imdb/imdb_test_subset.csv", csv);
    let tr = load(TaskName::Imdb, d.path(), Split::Train);
    assert_eq!(tr.len(), 2, "only positive train reviews");
    assert_eq!(tr[0].prompt_or_context, "one two");
    assert_eq!(tr[0].references, vec!["one two three four five"]);
    assert_eq!(
        tr[1].prompt_or_context, "a ",
        "Python's split(' ') keeps the empty word"
    );
    let te = load(TaskName::Imdb, d.path(), Split::Test);
    assert_eq!(te.len(), 2, "even data rows 0 and 2");
    assert_eq!(te[1].references, vec!["a  b c"]);
    let pre = grue::imdb::pretraining_reviews_with(d.path(), Verify::Off).unwrap();
    assert_eq!(
        pre,
        vec![
            "Bad.<br /><br />\"Really\" bad, with\nnewline",
            "odd row three"
        ]
    );
    // malformed rows name file and line
    write(
        d.path(),
        "imdb/imdb_train_subset.csv",
        "id,rating,label,review\n0,10,1,ok\n1,3,x,bad label\n",
    );
    let e = TaskName::Imdb
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("imdb_train_subset.csv, line 3") && e.contains("label"),
        "{e}"
    );
    write(
        d.path(),
        "imdb/imdb_train_subset.csv",
        "id,rating,label,review\n0,10,1\n",
    );
    let e = TaskName::Imdb
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("3 fields"), "{e}");
}

const TOTTO_EXAMPLE: &str = r#"{"table": [[{"value": "Year", "is_header": true, "column_span": 1, "row_span": 1}, {"value": "Title", "is_header": true, "column_span": 2, "row_span": 1}], [{"value": "Film", "is_header": true, "column_span": 1, "row_span": 1}, {"value": "2015", "is_header": false, "column_span": 1, "row_span": 1}, {"value": "The 12", "is_header": false, "column_span": 1, "row_span": 1}]], "table_page_title": "Colin Hanlon", "table_section_title": "", "highlighted_cells": [[1, 2]], "example_id": 1, "sentence_annotations": [{"original_sentence": "o", "sentence_after_deletion": "d", "sentence_after_ambiguity": "a", "final_sentence": "In 2015, Hanlon was in The 12."}], "overlap_subset": true}"#;

#[test]
fn totto_jsonl_linearised_subtable() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "totto/train_sample.jsonl",
        &format!("{TOTTO_EXAMPLE}\n"),
    );
    write(
        d.path(),
        "totto/train_sample.2020-04-27.jsonl",
        &format!("{TOTTO_EXAMPLE}\n{TOTTO_EXAMPLE}\n"),
    );
    let s = load(TaskName::ToTTo, d.path(), Split::Train);
    assert_eq!(s.len(), 3);
    // cell (1, 2) spans adjusted column 2..3; header "Title" spans 1..3 -> column header; "Film"
    // (raw position 0 < 2, a header) -> row header; no section title
    let sub =
        "<cell> The 12 <col_header> Title </col_header> <row_header> Film </row_header> </cell> ";
    assert_eq!(
        s[0].prompt_or_context,
        format!(
            "<table> {sub}</table><page_title> Colin Hanlon </page_title> <table> {sub}</table>"
        )
    );
    assert_eq!(s[0].references, vec!["In 2015, Hanlon was in The 12."]);
    write(
        d.path(),
        "totto/train_sample.jsonl",
        &format!("{TOTTO_EXAMPLE}\n{{\"table\": 3}}\n"),
    );
    let e = TaskName::ToTTo
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(e.contains("train_sample.jsonl, line 2"), "{e}");
}

fn zip_json(path: &Path, name: &str, json: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    z.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(json.as_bytes()).unwrap();
    z.finish().unwrap();
}

#[test]
fn narrativeqa_tokenized_zip_and_raw_answers() {
    let d = tempfile::tempdir().unwrap();
    let item = |doc: &str, q: &str, a: &[&str]| {
        serde_json::json!({"_id": doc, "question.tokens": q, "context.tokens": "Mark Hunter ( Slater ) is a student . He doesn t talk .",
            "ground_truths": a, "answers": ["x", [[0, 1]]]})
    };
    let items = serde_json::json!([
        item("d1", "Who is Mark Hunter ?", &["A STUDENT", "a student"]),
        item(
            "d1",
            "Who is Mark Hunter ?",
            &["The student", "He is a student"]
        ),
        item("d1", "Does he talk ?", &["No", "no ."]),
    ]);
    zip_json(
        &d.path().join("narrativeqa/tokenized/dev.json.zip"),
        "dev.json",
        &items.to_string(),
    );
    write(
        d.path(),
        "narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl",
        "{\"id\": \"a\", \"references\": [\"A STUDENT\", \"a student \"]}\n{\"id\": \"b\", \"references\": [\"No\", \"no.\"]}\n",
    );
    let s = load(TaskName::NarrativeQa, d.path(), Split::Train);
    assert_eq!(s.len(), 2, "the repeated question merges into the first");
    assert_eq!(
        s[0].prompt_or_context,
        "who is mark hunter? \\n mark hunter (slater) is a student. he doesn't talk. "
    );
    // RL4LMs lowercases and strips each answer and keeps equal ones (a list, not a set)
    assert_eq!(
        s[0].references,
        vec!["a student", "a student", "the student", "he is a student"]
    );
    assert_eq!(s[1].references, vec!["no", "no."]);
    // raw answers that cannot be aligned are refused
    write(
        d.path(),
        "narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl",
        "{\"id\": \"a\", \"references\": [\"other\"]}\n",
    );
    let e = TaskName::NarrativeQa
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("narrativeqa_dev_answers.jsonl, line 1") && e.contains("do not align"),
        "{e}"
    );
    write(
        d.path(),
        "narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl",
        "{\"id\": \"a\"\n",
    );
    let e = TaskName::NarrativeQa
        .load(d.path(), Split::Train, Verify::Off)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn detokenizer_and_raw_prompt() {
    use grue::narrativeqa::{detokenize, raw_prompt, rebuild_prompt};
    assert_eq!(
        detokenize("Phoebe s sister , Susan ( a teacher ) , isn t here ."),
        "Phoebe's sister, Susan (a teacher), isn't here."
    );
    assert_eq!(
        raw_prompt("Who?", "Line one.\nLine two."),
        "who? \\n line one.line two. "
    );
    assert_eq!(
        rebuild_prompt("Who ?", "Line one . Line two ."),
        "who? \\n line one. line two. "
    );
}

#[test]
fn unknown_task_lists_the_known_ones() {
    let e = TaskName::parse("squad").unwrap_err().to_string();
    for t in TaskName::ALL {
        assert!(e.contains(t.as_str()), "{e}");
    }
    assert!(e.contains("'squad'"), "{e}");
    for t in TaskName::ALL {
        assert_eq!(TaskName::parse(t.as_str()).unwrap(), t);
        assert_eq!(TaskName::parse(t.dataset_id()).unwrap(), t);
    }
    assert_eq!(
        TaskName::parse("CNN/DailyMail").unwrap(),
        TaskName::CnnDailyMail
    );
}

#[test]
fn a_missing_file_names_file_data_dir_and_fix() {
    let d = tempfile::tempdir().unwrap();
    for t in TaskName::ALL {
        let e = t.train(d.path()).unwrap_err();
        assert!(matches!(e, GrueError::Missing { .. }), "{t}: {e}");
        let m = e.to_string();
        assert!(m.contains(&d.path().display().to_string()), "{m}");
        assert!(
            m.contains(&format!("runner data fetch {}", t.dataset_id())),
            "{m}"
        );
        assert!(m.contains("RFT_DATA_DIR"), "{m}");
    }
}

#[test]
fn a_wrong_file_fails_its_checksum() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "imdb/imdb_test_subset.csv",
        "id,rating,label,review\n0,1,0,x\n",
    );
    let e = TaskName::Imdb.test(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("32e2d446284cd407f2aecc08e3959cd9fef860fcd61b2e264e936d0308355ad4"),
        "{e}"
    );
}

#[test]
fn every_reward_builds_in_the_rewards_registry() {
    for t in TaskName::ALL {
        let r = &t.spec().reward;
        assert_eq!(t.spec().name, t);
        if r.id == "learned_reward" {
            // needs a classifier: the registry must get past argument checking to the loader
            let e = rewards::build(r.id, &r.args_yaml())
                .err()
                .expect("no loader given")
                .to_string();
            assert!(e.contains("needs a classifier model"), "{t}: {e}");
            continue;
        }
        let reward = rewards::build(r.id, &r.args_yaml()).unwrap_or_else(|e| panic!("{t}: {e}"));
        let s = rewards::Sample::new("a cat sat on the mat", vec!["a cat sat on the mat".into()]);
        assert!(reward.score(&s) > 0.5, "{t}");
    }
}

#[test]
fn settings_transcribed_from_the_configs() {
    let nqa = TaskName::NarrativeQa.spec();
    assert_eq!(
        (nqa.model, nqa.seq2seq, nqa.reward.id),
        ("t5-base", true, "rouge_l_max")
    );
    assert_eq!(nqa.eval_generation.num_beams, Some(4));
    assert_eq!(nqa.rollout_generation.effective_max_new_tokens(true, 0), 19);
    let dd = TaskName::DailyDialog.spec();
    assert_eq!((dd.model, dd.seq2seq), ("gpt2", false));
    let imdb = TaskName::Imdb.spec();
    assert_eq!(
        (
            imdb.model,
            imdb.extract_generation.max_new_tokens,
            imdb.max_prompt_length
        ),
        ("lvwerra/gpt2-imdb", Some(48), 64)
    );
    assert_eq!(
        TaskName::Iwslt2017EnDe.spec().reward.args_yaml()["tokenize"],
        "intl"
    );
    assert_eq!(TaskName::CnnDailyMail.spec().prompt_prefix, "Summarize: ");
    for t in TaskName::ALL {
        assert!(!t.caption_note().is_empty());
        assert_eq!(t.spec().extract_num_train_samples, 5000);
    }
    assert!(
        TaskName::Iwslt2017EnDe.caption_note().contains("tst2016")
            && TaskName::Iwslt2017EnDe.caption_note().contains("tst2017")
    );
}
