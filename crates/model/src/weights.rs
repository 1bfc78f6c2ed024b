//! Reading and writing `model.safetensors` in Hugging Face layout, and the crate's error type.
//!
//! Loading goes through [`SafeTensorsFile::tensor`], which checks the stored shape against the shape
//! the model expects and names the tensor and both shapes when they differ. Saving collects
//! `(name, shape, f32 values)` triples in a [`TensorWriter`] and writes them in one file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

/// Everything that can go wrong loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: invalid safetensors file: {source}")]
    SafeTensors {
        path: PathBuf,
        source: safetensors::SafeTensorError,
    },
    #[error("{path}: tensor `{name}` (expected shape {expected:?}) is missing")]
    MissingTensor {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor `{name}` has dtype {dtype}, which is not supported")]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("invalid config: {0}")]
    Config(String),
    /// A checkpoint directory that cannot be opened; the message names it and the fix.
    #[error("{0}")]
    Checkpoint(String),
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    #[error(transparent)]
    Pickle(#[from] crate::torch_pickle::PickleError),
}

/// A safetensors file read into memory.
pub struct SafeTensorsFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl SafeTensorsFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let file = SafeTensorsFile { path, bytes };
        file.parse()?; // validate the header once
        Ok(file)
    }

    /// A safetensors image already in memory (e.g. converted from `pytorch_model.bin`); `path`
    /// names it in errors.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, ModelError> {
        let file = SafeTensorsFile {
            path: path.into(),
            bytes,
        };
        file.parse()?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn parse(&self) -> Result<SafeTensors<'_>, ModelError> {
        SafeTensors::deserialize(&self.bytes).map_err(|source| ModelError::SafeTensors {
            path: self.path.clone(),
            source,
        })
    }

    /// Names of all stored tensors.
    pub fn names(&self) -> Vec<String> {
        let st = self.parse().expect("validated in open");
        st.names().into_iter().map(str::to_string).collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.parse()
            .expect("validated in open")
            .tensor(name)
            .is_ok()
    }

    fn missing(&self, name: &str, expected: &[usize]) -> ModelError {
        ModelError::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
            expected: expected.to_vec(),
        }
    }

    /// The values of tensor `name` as f32 (F32, F16 and BF16 are read), after checking its shape.
    pub fn f32_values(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, ModelError> {
        let st = self.parse()?;
        let view = st.tensor(name).map_err(|_| self.missing(name, expected))?;
        self.check_shape(name, expected, view.shape())?;
        let bytes = view.data();
        Ok(match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => return Err(self.bad_dtype(name, other)),
        })
    }

    /// The values of integer tensor `name` (I64 or I32) and its shape.
    pub fn i64_values(&self, name: &str) -> Result<(Vec<usize>, Vec<i64>), ModelError> {
        let st = self.parse()?;
        let view = st.tensor(name).map_err(|_| self.missing(name, &[]))?;
        let bytes = view.data();
        let values = match view.dtype() {
            Dtype::I64 => bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::I32 => bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64)
                .collect(),
            other => return Err(self.bad_dtype(name, other)),
        };
        Ok((view.shape().to_vec(), values))
    }

    /// The shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let st = self.parse().ok()?;
        st.tensor(name).ok().map(|v| v.shape().to_vec())
    }

    fn check_shape(
        &self,
        name: &str,
        expected: &[usize],
        found: &[usize],
    ) -> Result<(), ModelError> {
        if expected != found {
            return Err(ModelError::ShapeMismatch {
                path: self.path.clone(),
                name: name.to_string(),
                expected: expected.to_vec(),
                found: found.to_vec(),
            });
        }
        Ok(())
    }

    fn bad_dtype(&self, name: &str, dtype: Dtype) -> ModelError {
        ModelError::UnsupportedDtype {
            path: self.path.clone(),
            name: name.to_string(),
            dtype: format!("{dtype:?}"),
        }
    }

    /// Tensor `name` with the expected shape, on `device`.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>, ModelError> {
        let values = self.f32_values(name, &expected)?;
        Ok(Tensor::from_data(TensorData::new(values, expected), device))
    }

    /// Like [`Self::tensor`], wrapped as a trainable parameter.
    pub fn param<B: Backend, const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
        device: &B::Device,
    ) -> Result<Param<Tensor<B, D>>, ModelError> {
        Ok(Param::from_tensor(self.tensor(name, expected, device)?))
    }

    /// Integer tensor `name` on `device` (used by test fixtures).
    pub fn int_tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D, Int>, ModelError> {
        let (shape, values) = self.i64_values(name)?;
        let shape: [usize; D] =
            shape
                .try_into()
                .map_err(|s: Vec<usize>| ModelError::ShapeMismatch {
                    path: self.path.clone(),
                    name: name.to_string(),
                    expected: vec![0; D],
                    found: s,
                })?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }
}

/// Up to this many rows, [`matmul_t`] multiplies from the weight's side.
const FEW_ROWS: usize = 64;

/// `x @ w^T` for `x` `[n, in]` and a weight `w` `[out, in]` stored row-major (`nn.Linear`'s layout,
/// and tied embeddings used as an LM head). With few rows (decoding one token per sequence), gemm
/// repacks the strided `w^T` on every call, which costs more than the product itself (half of
/// T5-small's sampling time); `(w @ x^T)^T` reads `w` in its own layout instead. With more rows,
/// [`crate::fused::linear_t`] (on the CPU, one node whose weight gradient is row-major).
pub fn matmul_t<B: Backend>(x: Tensor<B, 2>, w: Tensor<B, 2>) -> Tensor<B, 2> {
    if x.dims()[0] <= FEW_ROWS {
        w.matmul(x.transpose()).transpose()
    } else {
        crate::fused::linear_t(x, w)
    }
}

/// Collects named tensors and writes them as one safetensors file (f32, little endian).
#[derive(Default)]
pub struct TensorWriter {
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
}

impl TensorWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `tensor` under `name`, converting it to f32 on the host.
    pub fn add<B: Backend, const D: usize>(
        &mut self,
        name: impl Into<String>,
        tensor: Tensor<B, D>,
    ) {
        let shape = tensor.dims().to_vec();
        let data = tensor.into_data();
        let bytes = data
            .iter::<f32>()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>();
        self.tensors.push((name.into(), shape, bytes));
    }

    /// Writes all tensors to `path`, with `metadata` (Hugging Face writes `{"format": "pt"}`).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let views = self
            .tensors
            .iter()
            .map(|(name, shape, bytes)| {
                let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .expect("shape and byte count agree by construction");
                (name.as_str(), view)
            })
            .collect::<Vec<_>>();
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        write_via_temp(path, |tmp| {
            safetensors::serialize_to_file(views, Some(metadata), tmp).map_err(|source| {
                ModelError::SafeTensors {
                    path: path.to_path_buf(),
                    source,
                }
            })
        })
    }
}

/// Reads and parses a JSON file (a model's `config.json`).
pub fn read_json<T: serde::de::DeserializeOwned>(path: impl AsRef<Path>) -> Result<T, ModelError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json<T: serde::Serialize>(
    path: impl AsRef<Path>,
    value: &T,
) -> Result<(), ModelError> {
    let path = path.as_ref();
    let text = serde_json::to_string_pretty(value).expect("config serialises");
    write_via_temp(path, |tmp| {
        std::fs::write(tmp, text + "\n").map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Creates `dir` and writes its Hugging Face `config.json`: `config` with `model_type` and
/// `architectures` stamped in, so `transformers` knows which class to open.
pub fn write_hf_config<T: serde::Serialize>(
    dir: &Path,
    config: &T,
    model_type: &str,
    architecture: &str,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut value = serde_json::to_value(config).expect("config serialises");
    if let Some(map) = value.as_object_mut() {
        map.insert("model_type".into(), serde_json::json!(model_type));
        map.insert("architectures".into(), serde_json::json!([architecture]));
    }
    write_json(dir.join("config.json"), &value)
}

/// Writes `path` through a temporary file beside it and a rename, so a process killed mid-save
/// never leaves a half-written checkpoint under the real name.
fn write_via_temp(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let mut failed = None;
    atomicwrite::write_with(path, |tmp| {
        write(tmp).map_err(|e| {
            let io = std::io::Error::other(e.to_string());
            failed = Some(e);
            io
        })
    })
    .map_err(|source| {
        failed.take().unwrap_or(ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}
