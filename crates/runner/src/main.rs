//! `runner`: the command-line front of the experiments. All logic is in the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use runner::{Profile, SweepOptions, sweep};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "runner",
    version,
    about = "Reproduce the experiments of 'Vanishing Gradients in Reinforcement Finetuning of Language Models'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Compute profile: smoke (seconds), default (minutes on a laptop), paper (the full protocol).
    #[arg(long, value_enum, default_value_t = Profile::Default)]
    profile: Profile,
    /// Directory of the run store.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Directory for figures and tables (results/<experiment>/).
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Directory holding the datasets.
    #[arg(long, env = "RFT_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct DiagnoseArgs {
    /// Checkpoint directory, Hugging Face hub id, or `pretrained:NAME` (experiments/pretrain.yaml).
    #[arg(long)]
    checkpoint: String,
    /// GRUE task: narrativeqa, totto, commongen, iwslt2017, cnn_dailymail, dailydialog, imdb.
    #[arg(long, conflicts_with = "input")]
    task: Option<String>,
    /// Your own inputs instead of a task: JSONL lines {"prompt": ..., "references": [...]}.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Reward id for --input (rouge_l_max, meteor, sacre_bleu, learned_reward, ...).
    #[arg(long, requires = "input")]
    reward: Option<String>,
    /// The reward's arguments as YAML, e.g. '{tokenize: intl}'.
    #[arg(long, requires = "input")]
    args: Option<String>,
    /// learned_reward's classifier (directory, hub id or pretrained:NAME) instead of the task's.
    #[arg(long)]
    classifier: Option<String>,
    /// train or test.
    #[arg(long, default_value = "train")]
    split: String,
    /// Inputs measured (a task's: the first of a seed-7 permutation of the split).
    #[arg(long, default_value_t = 200)]
    inputs: usize,
    /// Samples per input.
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Inputs per batched generation.
    #[arg(long, default_value_t = 8)]
    chunk: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampling of --input files (a task uses its own settings).
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// "Small" reward std and "low" mean reward.
    #[arg(long, default_value_t = 0.05)]
    small_std: f64,
    #[arg(long, default_value_t = 0.1)]
    low_reward: f64,
    #[arg(long, default_value = "cpu")]
    device: model::DeviceKind,
    /// Output directory.
    #[arg(long, default_value = "diagnose")]
    out: PathBuf,
    /// Run store whose cache holds the models pretrained here.
    #[arg(long, default_value = "runs")]
    store: PathBuf,
    #[arg(long, env = "RFT_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Parse an RL4LMs `train_text_generation.py` config (e.g. apple/ml-rlgrad's
    /// rl4lms_scripts/training/*/t5_ppo.yml) into a typed, validated plan. Only --dry-run exists
    /// so far: it validates the file and prints the plan.
    Rl4lms {
        /// The RL4LMs config file (.yml).
        file: PathBuf,
        /// Validate and print the plan (task, model, algorithm, every hyperparameter, skipped
        /// metrics) without running anything.
        #[arg(long)]
        dry_run: bool,
        /// Replace a value before validation, e.g. alg.args.learning_rate=2e-5 or
        /// alg.policy.args.model_name=DIR (repeatable; the key must exist in the file).
        #[arg(long = "override", value_name = "KEY.PATH=VALUE", value_parser = rl4lms::Override::parse)]
        overrides: Vec<rl4lms::Override>,
        /// Training inputs (the first of a seed-7 permutation of the train split).
        #[arg(long, default_value_t = 500)]
        train_inputs: usize,
        /// Held-out inputs evaluated (the first of a seed-7 permutation of the test split).
        #[arg(long, default_value_t = 500)]
        test_inputs: usize,
        /// Samples per training input when tracking the reward std.
        #[arg(long, default_value_t = 10)]
        samples: usize,
        /// Seed of the run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Run every run of a sweep file that is not finished yet, then report.
    Sweep {
        /// A sweep file, or the name of one in experiments/ (e.g. theory.yaml).
        file: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Runs executed at once (at least 1).
        #[arg(long, default_value_t = 1, value_parser = sweep::parse_jobs)]
        jobs: usize,
        /// Run only shard I of N (0-based), e.g. --shard $SLURM_ARRAY_TASK_ID/8.
        #[arg(long, value_parser = sweep::parse_shard)]
        shard: Option<(usize, usize)>,
        /// Do not render figures and tables after the runs.
        #[arg(long)]
        no_report: bool,
    },
    /// Pretrain the models of a sweep file's `pretrain:` block (cached in the run store), then
    /// write their table and loss curves to results/<experiment>/.
    Pretrain {
        /// A sweep file with a `pretrain:` block, e.g. pretrain.yaml.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Which inputs have a small reward std under a checkpoint (the paper's Figure 1 as a tool):
    /// samples K outputs per input, scores them, writes per_input.{parquet,csv}, reward_std.{png,svg}
    /// and summary.md into --out.
    Diagnose(DiagnoseArgs),
    /// Render figures and tables from finished runs.
    Report {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// List the resolved runs of a sweep file and whether each is finished.
    List {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Score predictions with a reward: reads JSONL lines `{"prediction", "references", "prompt"?}`,
    /// prints one `{"index", "score"}` line each.
    Score {
        /// Reward id: rouge_l_max, rouge, sacre_bleu, meteor, chrf, ter, f1, exact_match, labels,
        /// labels_with_custom, learned_reward (args `{model_name: DIR-or-hub-id, label_ix: 1}`).
        #[arg(long)]
        metric: String,
        /// The reward's arguments as YAML, e.g. '{tokenize: intl}'.
        #[arg(long)]
        args: Option<String>,
        /// Input JSONL file ('-' for standard input).
        #[arg(long)]
        input: PathBuf,
    },
    /// Continue a prompt with a language-model checkpoint (GPT-2 or T5, Hugging Face layout).
    Generate {
        /// Checkpoint directory (config.json, model.safetensors, tokenizer files) or Hugging Face
        /// hub id (`gpt2`, `lvwerra/gpt2-imdb@main`), from the HF cache or downloaded
        /// (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE are honoured).
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        prompt: String,
        /// Beam search with this many beams (deterministic) when above 1.
        #[arg(long, default_value_t = 1)]
        num_beams: usize,
        #[arg(long, default_value_t = 48)]
        max_new_tokens: usize,
        #[arg(long, default_value_t = 0)]
        min_new_tokens: usize,
        /// Sampling temperature; 0 decodes greedily.
        #[arg(long, default_value_t = 1.0)]
        temperature: f64,
        #[arg(long)]
        top_k: Option<usize>,
        #[arg(long)]
        top_p: Option<f64>,
        /// Beam search ranks finished beams by sum log p / length^length_penalty.
        #[arg(long, default_value_t = 1.0)]
        length_penalty: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// cpu, wgpu or cuda (the last two need the runner built with that feature).
        #[arg(long, default_value = "cpu")]
        device: model::DeviceKind,
        /// Print tokens, per-token log-probs and the sum as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Per-token log-probs of given completions: reads JSONL lines `{"prompt", "completion"}`,
    /// prints one `{"line", "token_ids", "tokens", "logprobs", "sum"}` line each.
    Logprobs {
        /// Checkpoint directory or Hugging Face hub id, as for `generate`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Input JSONL file ('-' for standard input).
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value = "cpu")]
        device: model::DeviceKind,
        /// Lines scored per forward pass (at least 1).
        #[arg(long, default_value_t = 16, value_parser = sweep::parse_at_least_one)]
        batch_size: usize,
    },
    /// Datasets: download and verify them, or say what is present.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Write (and with --submit, submit) a Slurm job array running a sweep in N shards, plus a
    /// job that merges the shards and reports once every task succeeded.
    Slurm(SlurmArgs),
    /// Write results/REPORT.md: every claim of the paper checked against the committed results,
    /// with a verdict computed from the numbers.
    ReportAll {
        /// Directory of the committed results.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Copy the finished runs of shard outputs into one run store.
    Merge {
        /// The run store to merge into.
        #[arg(long, default_value = "runs")]
        into: PathBuf,
        /// Run stores of the shards (their --out directories).
        #[arg(required = true)]
        sources: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct SlurmArgs {
    /// A sweep file, or the name of one in experiments/.
    file: PathBuf,
    /// Number of array tasks; task i runs `runner sweep FILE --shard i/N`.
    #[arg(long)]
    array: usize,
    /// Slurm partition for both jobs.
    #[arg(long)]
    partition: Option<String>,
    /// Extra sbatch option for both jobs, one per flag (e.g. --sbatch-arg=--time=02:00:00).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
    /// Submit with sbatch (otherwise only write the scripts).
    #[arg(long)]
    submit: bool,
    #[command(flatten)]
    common: Common,
    /// Runs at once inside each task (and its --cpus-per-task).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Where the scripts and job logs go (default <out>/slurm).
    #[arg(long)]
    script_dir: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Experiments (controlled), sweep files (controlled.yaml) or dataset ids (mnist); all when none.
    targets: Vec<String>,
    /// Directory holding the datasets.
    #[arg(long, env = "RFT_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download, verify (sha256) and extract what the targets need into the data directory;
    /// transfers resume where they stopped.
    Fetch {
        #[command(flatten)]
        args: DataArgs,
        /// Request upstream https://HOST/PATH as BASE/HOST/PATH (a mirror of the upstream files).
        #[arg(long, env = "RFT_DATA_BASE_URL")]
        base_url: Option<String>,
        /// A served copy of a data directory: every file is requested as MIRROR/<path> and checked.
        #[arg(long, env = "RFT_DATA_MIRROR")]
        mirror: Option<String>,
        /// Print the report and succeed even if some datasets could not be fetched.
        #[arg(long)]
        keep_going: bool,
    },
    /// Per experiment, which datasets are present, missing or corrupt, and the command that fixes it.
    Status {
        #[command(flatten)]
        args: DataArgs,
    },
    /// Exit 0 if the targets' datasets are all present; else print one line saying what is missing
    /// and how to fix it, and exit 1.
    Check {
        #[command(flatten)]
        args: DataArgs,
    },
}

fn options(
    common: &Common,
    jobs: usize,
    shard: Option<(usize, usize)>,
    report: bool,
) -> SweepOptions {
    SweepOptions {
        profile: common.profile,
        out: common.out.clone(),
        results: common.results.clone(),
        jobs,
        shard,
        data_dir: common.data_dir.clone(),
        report,
    }
}

fn main() {
    // Training allocates and frees big tensors every step: keep freed memory in the process.
    model::tune_allocator();
    // `runner list | head`: a closed pipe ends the process quietly, as for other Unix tools,
    // instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Sweep {
            file,
            common,
            jobs,
            shard,
            no_report,
        } => {
            let s = runner::run_sweep(&file, &options(&common, jobs, shard, !no_report))?;
            let skipped = if s.skipped > 0 {
                format!(
                    ", {} skipped (being executed by other processes, or finished by them)",
                    s.skipped
                )
            } else {
                String::new()
            };
            println!(
                "{} runs in the sweep, {} in this shard: {} were already finished, {} ran now{skipped}.",
                s.total, s.in_shard, s.already_finished, s.ran
            );
            for path in &s.report {
                println!("wrote {}", path.display());
            }
        }
        Command::Pretrain { file, common } => {
            let path = runner::sweepfile::locate(&file)?;
            for written in runner::pretrained::run_file(
                &path,
                common.profile,
                &common.out,
                &common.results,
                &common.data_dir,
            )? {
                println!("wrote {}", written.display());
            }
        }
        Command::Diagnose(a) => {
            let split = match a.split.as_str() {
                "train" => grue::Split::Train,
                "test" => grue::Split::Test,
                other => anyhow::bail!("--split {other:?}: use train or test"),
            };
            let options = runner::diagnose::DiagnoseOptions {
                checkpoint: a.checkpoint,
                task: a.task,
                input: a.input,
                reward: a.reward,
                reward_args: a.args,
                classifier: a.classifier,
                split,
                inputs: a.inputs,
                samples: a.samples,
                chunk: a.chunk,
                seed: a.seed,
                max_new_tokens: a.max_new_tokens,
                top_k: a.top_k,
                temperature: a.temperature,
                small_std: a.small_std,
                low_reward: a.low_reward,
                device: a.device,
                out: a.out,
                models_dir: runner::pretrained::cache_root(&a.store),
                data_dir: a.data_dir,
            };
            for written in runner::diagnose::diagnose(&options)? {
                println!("wrote {}", written.display());
            }
        }
        Command::Report { file, common } => {
            for path in runner::report(&file, &options(&common, 1, None, true))? {
                println!("wrote {}", path.display());
            }
        }
        Command::List { file, common } => list(&file, &common)?,
        Command::Score {
            metric,
            args,
            input,
        } => {
            let stdout = std::io::stdout().lock();
            let loader: Option<&dyn rewards::ClassifierLoader> =
                Some(&runner::learned::ModelClassifierLoader);
            if input.as_os_str() == "-" {
                let stdin = std::io::stdin().lock();
                rewards::score_jsonl_with(&metric, args.as_deref(), loader, stdin, stdout)?;
            } else {
                let file = std::fs::File::open(&input)
                    .with_context(|| format!("cannot open input {}", input.display()))?;
                rewards::score_jsonl_with(
                    &metric,
                    args.as_deref(),
                    loader,
                    std::io::BufReader::new(file),
                    stdout,
                )
                .with_context(|| format!("scoring {}", input.display()))?;
            }
        }
        Command::Generate {
            checkpoint,
            prompt,
            num_beams,
            max_new_tokens,
            min_new_tokens,
            temperature,
            top_k,
            top_p,
            length_penalty,
            seed,
            device,
            json,
        } => {
            let options = runner::lm::GenerateOptions {
                num_beams,
                max_new_tokens,
                min_new_tokens,
                temperature,
                top_k,
                top_p,
                length_penalty,
                seed,
            };
            let out = runner::lm::generate_text(&checkpoint, &prompt, &options, device)?;
            if json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                println!("{}", out.completion);
            }
        }
        Command::Logprobs {
            checkpoint,
            input,
            device,
            batch_size,
        } => {
            let stdout = std::io::stdout().lock();
            if input.as_os_str() == "-" {
                let stdin = std::io::stdin().lock();
                runner::lm::logprobs_jsonl(
                    &checkpoint,
                    stdin,
                    "<stdin>",
                    stdout,
                    device,
                    batch_size,
                )?;
            } else {
                let file = std::fs::File::open(&input)
                    .with_context(|| format!("cannot open input {}", input.display()))?;
                let name = input.display().to_string();
                let reader = std::io::BufReader::new(file);
                runner::lm::logprobs_jsonl(&checkpoint, reader, &name, stdout, device, batch_size)?;
            }
        }
        Command::Rl4lms {
            file,
            dry_run,
            overrides,
            train_inputs,
            test_inputs,
            samples,
            seed,
            common,
        } => {
            let pools = runner::rl4lms_run::Pools {
                train_inputs,
                test_inputs,
                samples,
                seed,
            };
            let opts = options(&common, 1, None, true);
            for path in runner::rl4lms_run::command(&file, dry_run, &overrides, pools, &opts)? {
                println!("wrote {}", path.display());
            }
        }
        Command::Data { command } => data_command(command)?,
        Command::ReportAll { results } => {
            let (path, claims) = protocols::report::write(&results)?;
            for c in &claims {
                println!("{} {}", c.id, c.verdict.text().replace("**", ""));
            }
            println!("wrote {}", path.display());
        }
        Command::Slurm(args) => slurm(args)?,
        Command::Merge { into, sources } => {
            let n = runner::store::merge(&into, &sources)?;
            println!("merged {n} finished runs into {}", into.display());
        }
    }
    Ok(())
}

/// `runner data fetch|status|check`.
fn data_command(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch {
            args,
            base_url,
            mirror,
            keep_going,
        } => {
            let opts = data::acquire::Options {
                data_dir: args.data_dir,
                base_url,
                mirror,
                progress: true,
            };
            runner::datasets::fetch(&args.targets, &opts, keep_going)?;
        }
        DataCommand::Status { args } => {
            print!(
                "{}",
                runner::datasets::status(&args.targets, &args.data_dir)?
            );
        }
        DataCommand::Check { args } => {
            if let Err(line) = runner::datasets::check(&args.targets, &args.data_dir)? {
                println!("{line}");
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

/// `runner list`: the resolved runs of a sweep file and their status.
fn list(file: &std::path::Path, common: &Common) -> Result<()> {
    let plan = sweep::Plan::new(file, common.profile, &common.out)?;
    for r in &plan.runs {
        let status = if plan.store.finished(r).is_some() {
            "finished"
        } else if plan.store.failed(r).is_some() {
            "failed"
        } else {
            "pending"
        };
        let point: Vec<String> = r
            .resolved
            .grid_point
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "{}  {:<8}  {}  seed={}  {}",
            r.id,
            status,
            r.sweep,
            r.seed(),
            point.join(" ")
        );
    }
    Ok(())
}

/// `runner slurm`: write (and submit) the job array and its merge job.
fn slurm(args: SlurmArgs) -> Result<()> {
    let SlurmArgs {
        file,
        array,
        partition,
        sbatch_args,
        submit,
        common,
        jobs,
        script_dir,
    } = args;
    use runner::datasets::absolute;
    let out = absolute(&common.out)?;
    let opts = runner::slurm::SlurmOptions {
        file,
        profile: common.profile,
        array,
        partition,
        sbatch_args,
        jobs,
        script_dir: absolute(&script_dir.unwrap_or_else(|| out.join("slurm")))?,
        results: absolute(&common.results)?,
        data_dir: absolute(&common.data_dir)?,
        out,
        runner: std::env::current_exe().context("cannot locate the runner binary")?,
        workdir: std::env::current_dir()?,
    };
    let done = runner::slurm::write_and_submit(&opts, submit)?;
    println!("wrote {}", done.array_script.display());
    println!("wrote {}", done.merge_script.display());
    match (done.array_job, done.merge_job) {
        (Some(a), Some(m)) => {
            println!("submitted array job {a} and merge job {m} (afterok:{a})")
        }
        _ => println!(
            "submit with: j=$(sbatch --parsable {}) && sbatch --dependency=afterok:$j {}",
            done.array_script.display(),
            done.merge_script.display()
        ),
    }
    Ok(())
}
