//! Against the real data (`RFT_DATA_DIR`): counts per split as MANIFEST.md states them, with
//! checksums verified. Prints a SKIPPED line when the variable is unset or a file is missing.

use grue::{GrueError, Split, TaskName};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("RFT_DATA_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            println!("SKIPPED: RFT_DATA_DIR is unset");
            None
        }
    }
}

/// `None` (after printing SKIPPED) when a file is missing; panics on any other error.
fn load(task: TaskName, split: Split) -> Option<Vec<grue::Sample>> {
    let dir = data_dir()?;
    match task.load(&dir, split, grue::Verify::Manifest) {
        Ok(s) => Some(s),
        Err(e @ GrueError::Missing { .. }) => {
            println!("SKIPPED {task} {}: {e}", split.as_str());
            None
        }
        Err(e) => panic!("{task} {}: {e}", split.as_str()),
    }
}

fn count(task: TaskName, split: Split, expected: usize) {
    if let Some(s) = load(task, split) {
        println!("{task} {}: {} samples", split.as_str(), s.len());
        assert_eq!(s.len(), expected, "{task} {}", split.as_str());
        assert!(
            s.iter()
                .all(|x| !x.prompt_or_context.is_empty() && !x.references.is_empty())
        );
    }
}

#[test]
fn commongen_counts() {
    // MANIFEST.md: train 39,069 pairs; test 6,042 pairs over 1,497 concept sets
    count(TaskName::CommonGen, Split::Train, 39_069);
    count(TaskName::CommonGen, Split::Test, 1_497);
    if let Some(t) = load(TaskName::CommonGen, Split::Test) {
        assert_eq!(t.iter().map(|s| s.references.len()).sum::<usize>(), 6_042);
    }
}

#[test]
fn iwslt_counts() {
    // MANIFEST.md: tst2016 1,133 segments, tst2017 1,138
    count(TaskName::Iwslt2017EnDe, Split::Train, 1_133);
    count(TaskName::Iwslt2017EnDe, Split::Test, 1_138);
}

#[test]
fn imdb_counts() {
    // 2,500 positive train reviews; the even half of 5,000 test rows less 6 whose text is also an odd row's
    count(TaskName::Imdb, Split::Train, 2_500);
    count(TaskName::Imdb, Split::Test, 2_494);
    if let Some(dir) = data_dir() {
        match grue::imdb::pretraining_reviews(&dir) {
            Ok(p) => {
                assert_eq!(p.len(), 2_500);
                let test = TaskName::Imdb.test(&dir).unwrap();
                let held: std::collections::HashSet<&str> =
                    test.iter().map(|s| s.references[0].as_str()).collect();
                assert!(
                    p.iter().all(|r| !held.contains(r.as_str())),
                    "pretraining text leaks into the test pool"
                );
            }
            Err(e) => println!("SKIPPED imdb pretraining: {e}"),
        }
        // The sentiment classifier's labelled rows: all train rows; the test pool, same order.
        match grue::imdb::labelled(&dir, Split::Train, grue::Verify::Manifest) {
            Ok(train) => {
                assert_eq!(train.len(), 5_000);
                assert_eq!(train.iter().filter(|(_, l)| *l == 1).count(), 2_500);
                let test = grue::imdb::labelled(&dir, Split::Test, grue::Verify::Manifest).unwrap();
                let pool = TaskName::Imdb.test(&dir).unwrap();
                assert_eq!(test.len(), pool.len());
                assert!(
                    test.iter()
                        .zip(&pool)
                        .all(|((t, l), s)| *t == s.references[0]
                            && s.meta_data["label"] == serde_json::json!(*l))
                );
            }
            Err(e) => println!("SKIPPED imdb labelled: {e}"),
        }
    }
}

#[test]
fn narrativeqa_counts() {
    // MANIFEST.md: 3,461 / 10,557 questions; 3,425 / 10,479 after merging repeated questions
    count(TaskName::NarrativeQa, Split::Train, 3_425);
    count(TaskName::NarrativeQa, Split::Test, 10_479);
}

#[test]
fn cnn_dailymail_counts() {
    count(TaskName::CnnDailyMail, Split::Train, 300);
    count(TaskName::CnnDailyMail, Split::Test, 100);
    if let Some(t) = load(TaskName::CnnDailyMail, Split::Train) {
        assert!(
            t[0].prompt_or_context
                .starts_with("Summarize: LONDON, England (Reuters) -- Harry Potter star")
        );
    }
}

#[test]
fn totto_counts_and_smoke() {
    count(TaskName::ToTTo, Split::Train, 8);
    count(TaskName::ToTTo, Split::Test, 10);
    if let Some(t) = load(TaskName::ToTTo, Split::Test) {
        for s in &t {
            assert!(
                s.prompt_or_context.starts_with("<table> <cell> "),
                "{}",
                s.prompt_or_context
            );
            assert!(
                s.prompt_or_context.contains("</table><page_title> "),
                "{}",
                s.prompt_or_context
            );
        }
        println!("totto test_0: {}", t[0].prompt_or_context);
    }
}

#[test]
fn dailydialog_counts() {
    // the number of utterances preceded by at least 5 in their dialogue (measured here; the
    // split files hold 11,118 / 1,000 dialogues)
    let Some(dir) = data_dir() else { return };
    for (split, dialogues) in [(Split::Train, 11_118usize), (Split::Test, 1_000)] {
        let Some(s) = load(TaskName::DailyDialog, split) else {
            return;
        };
        let text = std::fs::read_to_string(dir.join(grue::dailydialog::file(split))).unwrap();
        let d = grue::dailydialog::dialogues(&text, std::path::Path::new("x")).unwrap();
        assert_eq!(d.len(), dialogues);
        let expected: usize = d.iter().map(|u| u.len().saturating_sub(5)).sum();
        println!("daily_dialog {}: {} samples", split.as_str(), s.len());
        assert_eq!(s.len(), expected);
    }
}

#[test]
fn narrativeqa_rebuilt_prompt_vs_raw() {
    let Some(dir) = data_dir() else { return };
    match grue::narrativeqa::measure_rebuild(&dir, grue::Verify::Manifest) {
        Ok(r) => {
            println!("narrativeqa rebuild vs raw: {r:?}");
            assert_eq!(r.n, 50);
            assert!(r.prompt_similarity_min > 0.95, "{r:?}");
            assert!(r.questions_exact >= 40, "{r:?}");
        }
        Err(e @ GrueError::Missing { .. }) => println!("SKIPPED narrativeqa rebuild: {e}"),
        Err(e) => panic!("{e}"),
    }
}

/// `runner data fetch` fetches exactly the files of a dataset's registry `needs`: every task must
/// load both splits from those alone (a file a loader reads but the registry leaves out would be
/// missing on a fresh machine; `just test-clean-clone` found three such gaps).
#[test]
fn every_task_loads_from_only_the_files_the_registry_fetches() {
    let Some(dir) = data_dir() else { return };
    let only = tempfile::tempdir().unwrap();
    for task in TaskName::ALL {
        let ds = data::registry::dataset(task.dataset_id())
            .unwrap_or_else(|| panic!("{task}: dataset {} is not registered", task.dataset_id()));
        let mut complete = true;
        for need in ds.needs {
            let mut found = false;
            for f in need.any_of {
                let (src, dst) = (dir.join(f.path), only.path().join(f.path));
                if src.is_file() {
                    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
                    std::fs::copy(&src, &dst).unwrap();
                    found = true;
                }
            }
            complete &= found;
        }
        if !complete {
            println!("SKIPPED {task}: the data directory lacks some of its registered files");
            continue;
        }
        for split in [Split::Train, Split::Test] {
            match task.load(only.path(), split, grue::Verify::Manifest) {
                Ok(s) => assert!(!s.is_empty(), "{task} {}", split.as_str()),
                Err(e) => panic!(
                    "{task} {} does not load from the registry's files alone: {e}",
                    split.as_str()
                ),
            }
        }
    }
}
