//! Trains (or finds in the cache) the default profile's IMDB sentiment classifier and prints its
//! record: `cargo run -p pretrain --example imdb_classifier -- CACHE_ROOT [SPEC.yaml]`, with the
//! data under `RFT_DATA_DIR`. Without a spec file it trains [`ClassifierSpec::default_imdb`].

use pretrain::{ClassifierSpec, RunOptions, train_classifier};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let cache = PathBuf::from(args.next().unwrap_or_else(|| "classifier-cache".into()));
    let spec = match args.next() {
        Some(path) => serde_yaml::from_str(&std::fs::read_to_string(path)?)?,
        None => ClassifierSpec::default_imdb(),
    };
    let data_dir = PathBuf::from(
        std::env::var("RFT_DATA_DIR").map_err(|_| anyhow::anyhow!("set RFT_DATA_DIR"))?,
    );
    let done = train_classifier::<model::CpuBackend>(
        "distilbert-imdb",
        &spec,
        &data_dir,
        &cache,
        &Default::default(),
        RunOptions {
            progress: true,
            stop_after_step: None,
        },
    )?
    .expect("not stopped");
    println!("{}", done.dir.display());
    println!("{}", serde_json::to_string_pretty(&done.record)?);
    // As `learned_reward` will read it.
    let classifier =
        model::DistilBertClassifier::<burn::backend::Flex>::load(&done.dir, &Default::default())?;
    let texts = [
        "This movie was wonderful. The acting was great and I loved every minute of it.",
        "This movie was terrible. The acting was awful and I hated every minute of it.",
    ]
    .map(String::from);
    for (text, p) in texts.iter().zip(classifier.probabilities(&texts, 2)?) {
        println!("P(positive) = {:.3}: {text}", p[1]);
    }
    Ok(())
}
