//! The 42 RL4LMs config files of apple/ml-rlgrad (committed under ml-rlgrad/, see its README.md).

use rl4lms::{Algorithm, Override, load, parse_str};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ml-rlgrad")
}

fn all_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["training", "extract_samples"] {
        let mut stack = vec![fixtures().join(sub)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yml") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

fn nqa_ppo() -> PathBuf {
    fixtures().join("training/narrative_qa/t5_ppo.yml")
}

#[test]
fn all_42_files_parse() {
    let files = all_files();
    assert_eq!(files.len(), 42, "{files:?}");
    let mut counts = std::collections::BTreeMap::new();
    for f in &files {
        let plan = load(f, &[]).unwrap_or_else(|e| panic!("{e}"));
        *counts.entry(plan.algorithm.to_string()).or_insert(0) += 1;
        let name = f.file_name().unwrap().to_str().unwrap();
        let expect = if name.contains("nlpo") {
            Algorithm::Nlpo
        } else if name.contains("ppo") {
            Algorithm::Ppo
        } else if name.contains("supervised") {
            Algorithm::Supervised
        } else {
            Algorithm::ExtractSamples
        };
        assert_eq!(plan.algorithm, expect, "{}", f.display());
        assert_eq!(
            plan.check_runnable().is_err(),
            expect == Algorithm::Nlpo,
            "{}",
            f.display()
        );
        assert!(!plan.hyperparameters.is_empty());
        // Display lists every hyperparameter
        let shown = plan.to_string();
        for (k, v) in &plan.hyperparameters {
            assert!(
                shown.contains(&format!("  {k} = {v}\n")),
                "{k} missing from\n{shown}"
            );
        }
    }
    let want: std::collections::BTreeMap<String, i32> = [
        ("extract_samples", 7),
        ("nlpo", 14),
        ("ppo", 14),
        ("supervised", 7),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, want);
}

#[test]
fn narrativeqa_ppo_has_the_published_hyperparameters() {
    let plan = load(&nqa_ppo(), &[]).unwrap();
    assert_eq!(plan.task, grue::TaskName::NarrativeQa);
    assert_eq!(plan.model_name, "t5-base");
    assert_eq!(plan.algorithm, Algorithm::Ppo);
    assert_eq!(plan.reward, Some(("rouge_l_max".to_string(), true)));
    let args = plan.config.alg.args.as_ref().unwrap();
    assert_eq!(args.learning_rate, Some(2e-6));
    assert_eq!(args.n_steps, Some(256));
    assert_eq!(args.batch_size, Some(64));
    assert_eq!(args.n_epochs, Some(5));
    assert_eq!(args.ent_coef, Some(0.0));
    assert_eq!(args.enforce_token_entropy_reg_estimate, Some(false));
    let kl = plan.config.alg.kl_div.as_ref().unwrap();
    assert_eq!((kl.coeff, kl.target_kl), (0.001, Some(1.0)));
    let g = plan.generation_kwargs().unwrap();
    assert_eq!(
        (g.temperature, g.do_sample, g.top_k),
        (Some(1.0), Some(true), Some(50))
    );
    let env = plan.config.env.as_ref().unwrap();
    assert_eq!(env.n_envs, 10);
    let ea = env.args.as_ref().unwrap();
    assert_eq!(
        (ea.max_prompt_length, ea.max_episode_length),
        (Some(512), Some(50))
    );
    let ev = plan.evaluation().unwrap();
    assert_eq!(
        (ev.eval_batch_size, ev.n_iters, ev.eval_every, ev.save_every),
        (50, Some(100), Some(10), Some(1))
    );
    let eg = ev.generation_kwargs.as_ref().unwrap();
    assert_eq!((eg.num_beams, eg.max_new_tokens), (Some(4), Some(50)));
    // the printed listing
    assert_eq!(plan.get("alg.args.learning_rate"), Some("2e-6"));
    assert_eq!(plan.get("alg.kl_div.coeff"), Some("0.001"));
    assert_eq!(
        plan.get("alg.policy.args.generation_kwargs.top_k"),
        Some("50")
    );
    assert_eq!(
        plan.get("train_evaluation.metrics.rouge.args.use_single_ref"),
        Some("false")
    );
    assert_eq!(plan.metrics_supported, ["meteor", "rouge", "rouge_l_max"]);
    assert_eq!(plan.metrics_skipped, ["bleu", "bert_score", "diversity"]);
    assert_eq!(
        plan.skipped_metrics_warning().unwrap(),
        "warning: skipping evaluation metrics with no implementation here: bleu, bert_score, diversity"
    );
    assert!(
        plan.to_string()
            .contains("skipped metrics = bleu, bert_score, diversity\n")
    );
}

#[test]
fn supervised_and_extract_samples() {
    let plan = load(
        &fixtures().join("training/narrative_qa/t5_supervised.yml"),
        &[],
    )
    .unwrap();
    let t = plan.config.alg.training_args.as_ref().unwrap();
    assert_eq!(
        (
            t.learning_rate,
            t.per_device_train_batch_size,
            t.num_train_epochs
        ),
        (Some(1e-5), Some(64), Some(5.0))
    );
    assert_eq!(t.lr_scheduler_type.as_deref(), Some("constant"));
    assert!(plan.reward.is_none());
    let plan = load(
        &fixtures().join("extract_samples/t5_totto_extract_samples.yml"),
        &[],
    )
    .unwrap();
    assert_eq!(plan.task, grue::TaskName::ToTTo);
    assert_eq!(plan.evaluation().unwrap().num_samples_per_input, Some(10));
    assert_eq!(plan.metrics_supported, ["sacre_bleu"]);
    assert!(plan.metrics_skipped.is_empty());
    assert!(plan.skipped_metrics_warning().is_none());
}

#[test]
fn nlpo_is_listed_unsupported_and_refused() {
    let plan = load(&fixtures().join("training/dialog/gpt2_nlpo.yml"), &[]).unwrap();
    assert_eq!(plan.task, grue::TaskName::DailyDialog);
    assert_eq!(
        plan.check_runnable().unwrap_err(),
        "NLPO (masked PPO) is not implemented; use the ppo config of the same task"
    );
    assert!(
        plan.to_string()
            .contains("unsupported: NLPO (masked PPO) is not implemented")
    );
    assert_eq!(plan.get("alg.policy.args.top_mask"), Some("0.9"));
}

#[test]
fn misspelt_key_is_an_error_with_line_and_column() {
    let text = std::fs::read_to_string(nqa_ppo()).unwrap();
    let bad = text.replacen(
        "    learning_rate: 0.000002",
        "    learnig_rate: 0.000002",
        1,
    );
    assert_ne!(bad, text);
    let line = bad
        .lines()
        .position(|l| l.contains("learnig_rate"))
        .unwrap()
        + 1;
    let e = parse_str(&bad, "cfg.yml", &[]).unwrap_err().to_string();
    assert!(e.starts_with(&format!("cfg.yml:{line}:5: ")), "{e}");
    assert!(e.contains("unknown field `learnig_rate`"), "{e}");
    assert!(!e.contains(" at line "), "{e}");

    // also in a generation kwargs block, and at the top level
    let bad = text.replacen("        top_k: 50", "        topk: 50", 1);
    let e = parse_str(&bad, "cfg.yml", &[]).unwrap_err().to_string();
    assert!(
        e.contains("unknown field `topk`") && e.starts_with("cfg.yml:"),
        "{e}"
    );
    let bad = text.replacen("train_evaluation:", "train_evalutaion:", 1);
    let e = parse_str(&bad, "cfg.yml", &[]).unwrap_err().to_string();
    assert!(
        e.contains("unknown field `train_evalutaion`") && e.starts_with("cfg.yml:"),
        "{e}"
    );
}

#[test]
fn override_changes_the_plan() {
    let o = [
        Override::parse("alg.args.learning_rate=2e-5").unwrap(),
        Override::parse("alg.policy.args.model_name=/models/t5-sft").unwrap(),
        Override::parse("train_evaluation.metrics.1.args.use_single_ref=true").unwrap(),
    ];
    let plan = load(&nqa_ppo(), &o).unwrap();
    assert_eq!(
        plan.config.alg.args.as_ref().unwrap().learning_rate,
        Some(2e-5)
    );
    assert_eq!(plan.model_name, "/models/t5-sft");
    assert_eq!(
        plan.get("train_evaluation.metrics.rouge.args.use_single_ref"),
        Some("true")
    );
    // everything else unchanged
    let base = load(&nqa_ppo(), &[]).unwrap();
    let diff: Vec<_> = base
        .hyperparameters
        .iter()
        .zip(&plan.hyperparameters)
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(diff.len(), 3, "{diff:?}");
}

#[test]
fn override_of_a_missing_key_is_an_error() {
    let o = [Override::parse("alg.args.learnig_rate=2e-5").unwrap()];
    let e = load(&nqa_ppo(), &o).unwrap_err().to_string();
    assert!(
        e.contains(
            "--override alg.args.learnig_rate: key 'learnig_rate' does not exist in 'alg.args'"
        ),
        "{e}"
    );
    let o = [Override::parse("train_evaluation.metrics.9.id=rouge").unwrap()];
    let e = load(&nqa_ppo(), &o).unwrap_err().to_string();
    assert!(e.contains("index 9 does not exist"), "{e}");
    assert!(Override::parse("alg.args.learning_rate").is_err());
    // an override with a value of the wrong type is an error too
    let o = [Override::parse("alg.args.n_steps=many").unwrap()];
    let e = load(&nqa_ppo(), &o).unwrap_err().to_string();
    assert!(
        e.contains("after --override") && e.contains("n_steps"),
        "{e}"
    );
}

#[test]
fn wrong_policy_for_algorithm_is_an_error() {
    let text = std::fs::read_to_string(nqa_ppo()).unwrap();
    let bad = text.replacen(
        "id: seq2seq_lm_actor_critic_policy",
        "id: maskable_seq2seq_lm_actor_critic_policy",
        1,
    );
    assert!(parse_str(&bad, "x.yml", &[]).is_err());
    let bad = text.replacen("id: narrative_qa", "id: squad", 1);
    let e = parse_str(&bad, "x.yml", &[]).unwrap_err().to_string();
    assert!(e.starts_with("x.yml: datapool.id:"), "{e}");
}
