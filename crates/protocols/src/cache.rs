//! Weights shared by the runs of one store: e.g. the pretrained classifier of one seed, which the
//! RFT run, the SFT run and the variants of that seed all start from.
//!
//! ```text
//! <store>/.cache/<namespace>/<key>/
//!     weights.mpk        the module record (burn's named MessagePack, full precision)
//!     <table>.parquet    what the training that made the weights recorded
//!     record.json        written last, with the weights' sha256: its presence marks the entry done
//! ```
//!
//! The layout is the run store's (a directory per entry, Parquet tables, a record written last),
//! and an entry is built in a temporary directory and renamed into place, so a killed process
//! leaves either a whole entry or none. Two runs of one process that need the same entry train it
//! once: the second waits on a per-key lock, then loads.

use crate::rows::{read_parquet, write_parquet};
use anyhow::{Context, Result, anyhow};
use burn::module::AutodiffModule;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// What a training returns to the cache: the model, its named tables, its wall time in seconds.
pub type Trained<M> = (M, Vec<(String, DataFrame)>, f64);

/// One namespace of a store's cache.
#[derive(Debug, Clone)]
pub struct WeightsCache {
    root: PathBuf,
}

/// `record.json` of an entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryRecord {
    pub key: String,
    /// What the key is a hash of.
    pub description: serde_json::Value,
    pub weights_sha256: String,
    pub tables: Vec<String>,
    /// Wall time of the training that made the entry.
    pub seconds: f64,
}

/// A loaded entry: the model, its record and its tables.
pub struct Entry<M> {
    pub model: M,
    pub record: EntryRecord,
    pub tables: HashMap<String, DataFrame>,
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::default()
}

impl WeightsCache {
    /// The namespace `namespace` of the cache under `cache_dir` (the store's `.cache`).
    pub fn new(cache_dir: &Path, namespace: &str) -> Self {
        WeightsCache {
            root: cache_dir.join(namespace),
        }
    }

    /// The key of an entry: a hash of its description (everything the weights depend on).
    pub fn key(description: &serde_json::Value) -> String {
        data::checksum::sha256_hex(description.to_string().as_bytes())[..16].to_string()
    }

    pub fn entry_dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The entry described by `description`: loaded if it exists, else made by `train` (which
    /// returns the model, its tables and its wall time) and stored. Returns the entry and whether
    /// it came from the cache.
    pub fn get_or_train<B, M>(
        &self,
        description: &serde_json::Value,
        fresh: impl FnOnce() -> M,
        device: &B::Device,
        train: impl FnOnce() -> Result<Trained<M>>,
    ) -> Result<(Entry<M>, bool)>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
    {
        let key = Self::key(description);
        let lock = key_lock(&self.entry_dir(&key));
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = self.load::<B, M>(&key, fresh(), device)? {
            return Ok((entry, true));
        }
        let (model, tables, seconds) = train()?;
        let record = self.save::<B, M>(&key, description, &model, &tables, seconds)?;
        let tables = tables.into_iter().collect();
        Ok((
            Entry {
                model,
                record,
                tables,
            },
            false,
        ))
    }

    /// The entry `key`, or `None` if there is none. A damaged entry is an error that names it and
    /// says to delete it.
    pub fn load<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        key: &str,
        fresh: M,
        device: &B::Device,
    ) -> Result<Option<Entry<M>>> {
        let dir = self.entry_dir(key);
        let Ok(text) = std::fs::read_to_string(dir.join("record.json")) else {
            return Ok(None);
        };
        let damaged = |why: String| {
            anyhow!(
                "cached weights {} are damaged ({why}); delete that directory to train them again",
                dir.display()
            )
        };
        let record: EntryRecord =
            serde_json::from_str(&text).map_err(|e| damaged(format!("record.json: {e}")))?;
        let bytes = std::fs::read(dir.join("weights.mpk"))
            .map_err(|e| damaged(format!("weights.mpk: {e}")))?;
        if record.key != key || data::checksum::sha256_hex(&bytes) != record.weights_sha256 {
            return Err(damaged(
                "the weights' sha256 differs from the record".into(),
            ));
        }
        let weights: M::Record = Recorder::<B>::load(&recorder(), bytes, device)
            .map_err(|e| damaged(format!("weights.mpk: {e:?}")))?;
        let mut tables = HashMap::new();
        for name in &record.tables {
            let df = read_parquet(&dir.join(format!("{name}.parquet")))
                .map_err(|e| damaged(format!("{e:#}")))?;
            tables.insert(name.clone(), df);
        }
        Ok(Some(Entry {
            model: fresh.load_record(weights),
            record,
            tables,
        }))
    }

    fn save<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        key: &str,
        description: &serde_json::Value,
        model: &M,
        tables: &[(String, DataFrame)],
        seconds: f64,
    ) -> Result<EntryRecord> {
        let bytes = Recorder::<B>::record(&recorder(), model.clone().into_record(), ())
            .map_err(|e| anyhow!("cannot serialise the weights: {e:?}"))?;
        let record = EntryRecord {
            key: key.to_string(),
            description: description.clone(),
            weights_sha256: data::checksum::sha256_hex(&bytes),
            tables: tables.iter().map(|(n, _)| n.clone()).collect(),
            seconds,
        };
        let dir = self.entry_dir(key);
        atomicwrite::replace_dir(&dir, |tmp| -> Result<()> {
            std::fs::write(tmp.join("weights.mpk"), &bytes)?;
            for (name, df) in tables {
                write_parquet(&tmp.join(format!("{name}.parquet")), &mut df.clone())?;
            }
            std::fs::write(
                tmp.join("record.json"),
                serde_json::to_string_pretty(&record)?,
            )?;
            Ok(())
        })
        .with_context(|| format!("cannot write cached weights {}", dir.display()))?;
        Ok(record)
    }
}

/// A lock per entry, so that two runs of one process needing the same entry make it once.
fn key_lock(dir: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(dir.to_path_buf())
        .or_default()
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Rows;
    use model::{CpuBackend, Mlp, MlpConfig};

    type B = CpuBackend;

    crate::rows! {
        /// What the "training" recorded.
        pub struct LossRow { pub epoch: usize, pub loss: f64 }
    }

    fn weights(m: &Mlp<B>) -> Vec<f32> {
        m.layers[0].weight.val().into_data().iter::<f32>().collect()
    }

    #[test]
    fn an_entry_is_trained_once_then_loaded_with_its_tables_and_a_damaged_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WeightsCache::new(dir.path(), "test");
        let device = Default::default();
        let description = serde_json::json!({"seed": 3, "epochs": 2});
        let fresh = || MlpConfig::mnist().init::<B>(0, &device);
        let rows = vec![LossRow {
            epoch: 1,
            loss: 0.1 + 0.2,
        }];
        let mut trained = 0;
        let mut train = || {
            trained += 1;
            let model = MlpConfig::mnist().init::<B>(7, &device);
            Ok((
                model,
                vec![("loss".to_string(), LossRow::to_frame(&rows)?)],
                1.5,
            ))
        };
        let (first, cached) = cache
            .get_or_train::<B, _>(&description, fresh, &device, &mut train)
            .unwrap();
        assert!(!cached);
        let (second, cached) = cache
            .get_or_train::<B, _>(&description, fresh, &device, &mut train)
            .unwrap();
        assert!(cached);
        assert_eq!(trained, 1);
        assert_eq!(weights(&first.model), weights(&second.model));
        assert_ne!(weights(&second.model), weights(&fresh()));
        assert_eq!(LossRow::from_frame(&second.tables["loss"]).unwrap(), rows);
        assert_eq!(second.record.seconds, 1.5);

        let key = WeightsCache::key(&description);
        std::fs::write(cache.entry_dir(&key).join("weights.mpk"), b"not weights").unwrap();
        let err = cache
            .load::<B, Mlp<B>>(&key, fresh(), &device)
            .err()
            .expect("damaged weights are an error")
            .to_string();
        assert!(err.contains("damaged") && err.contains("delete"), "{err}");
    }
}
