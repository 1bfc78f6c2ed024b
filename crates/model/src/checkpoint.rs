//! Opening a Hugging Face checkpoint directory: its `config.json` (with the `model_type` checked)
//! and its weights, `model.safetensors` or else `pytorch_model.bin` (read by
//! [`crate::torch_pickle`]). Models' `load(dir)` go through here; a hub id becomes a directory
//! first with [`crate::hub::resolve`].

use std::path::Path;

use crate::weights::{ModelError, SafeTensorsFile, read_json};

/// The weights of the checkpoint in `dir`: `model.safetensors`, else `pytorch_model.bin`
/// (converted in memory), else an error naming the directory and what it should hold.
pub fn open_weights(dir: &Path) -> Result<SafeTensorsFile, ModelError> {
    let safetensors = dir.join("model.safetensors");
    if safetensors.is_file() {
        return SafeTensorsFile::open(safetensors);
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.is_file() {
        let bytes = crate::torch_pickle::read_state_dict(&bin)?;
        return SafeTensorsFile::from_bytes(bin, bytes);
    }
    for index in [
        "model.safetensors.index.json",
        "pytorch_model.bin.index.json",
    ] {
        if dir.join(index).is_file() {
            return Err(ModelError::Checkpoint(format!(
                "checkpoint {}: sharded weights ({index}) are not read; merge them with \
                 `python -c \"from transformers import AutoModel as M; \
                 M.from_pretrained('{0}').save_pretrained('{0}-merged', \
                 max_shard_size='100GB')\"` and pass {0}-merged",
                dir.display()
            )));
        }
    }
    Err(ModelError::Checkpoint(format!(
        "checkpoint {}: neither model.safetensors nor pytorch_model.bin is there; a checkpoint \
         directory holds config.json and one of them (as `save_pretrained` writes)",
        dir.display()
    )))
}

/// `config.json` of the checkpoint in `dir`, after checking that its `model_type` is one of
/// `expected` (a missing `model_type` is accepted, as older configs lack it).
pub fn read_config<T: serde::de::DeserializeOwned>(
    dir: &Path,
    expected: &[&str],
) -> Result<T, ModelError> {
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(ModelError::Checkpoint(format!(
            "checkpoint {}: config.json is missing; pass a Hugging Face model directory (as \
             `save_pretrained` writes) or a hub id",
            dir.display()
        )));
    }
    let value: serde_json::Value = read_json(&path)?;
    if let Some(found) = value.get("model_type").and_then(|v| v.as_str())
        && !expected.contains(&found)
    {
        return Err(ModelError::Checkpoint(format!(
            "checkpoint {}: config.json has model_type `{found}`, but this model reads {}; \
             pass a checkpoint of that architecture",
            dir.display(),
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    serde_json::from_value(value).map_err(|source| ModelError::Json { path, source })
}
