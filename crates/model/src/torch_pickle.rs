//! Reading PyTorch's `pytorch_model.bin` (the zip format `torch.save` writes since PyTorch 1.6),
//! as older Hugging Face checkpoints store their weights (`lvwerra/gpt2-imdb` does).
//!
//! The archive holds `<name>/data.pkl`, a pickle of the state dict, and one raw little-endian
//! storage per tensor under `<name>/data/<key>`. The pickle is evaluated by a small stack machine
//! that knows the opcodes `torch.save` emits (protocol 2, and 4 for good measure) and only the
//! callables a state dict uses: `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor`,
//! `_rebuild_parameter`, `collections.OrderedDict`; persistent ids
//! `('storage', torch.<Type>Storage, key, location, numel)` name the storages. Nothing is
//! imported or executed; any other callable becomes an inert value, so a hostile pickle can do no
//! more than fail to load. Tensors may be views with any strides and offsets (tied weights share
//! a storage); each is copied out contiguously.
//!
//! [`read_state_dict`] returns the tensors as a safetensors image in memory, so everything after
//! it (names, shapes and dtypes checked by [`crate::weights::SafeTensorsFile`]) is shared with
//! `model.safetensors`. The legacy (pre-1.6, non-zip) format is not read; the error says how to
//! convert such a file.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::Dtype;

/// Why a `pytorch_model.bin` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is in PyTorch's legacy (pre-1.6, non-zip) format, which this crate does not read; \
         convert it once with `{}`",
        convert_command(path)
    )]
    Legacy { path: PathBuf },
    #[error(
        "{path}: not a PyTorch checkpoint: {message}; convert it with `{}`",
        convert_command(path)
    )]
    Invalid { path: PathBuf, message: String },
}

/// A one-line Python command that writes `model.safetensors` beside the `pytorch_model.bin` at `path`.
pub fn convert_command(path: &Path) -> String {
    let bin = path.display();
    let out = path.with_file_name("model.safetensors");
    format!(
        "python -c \"import torch; from safetensors.torch import save_file; \
         sd = torch.load('{bin}', map_location='cpu', weights_only=True); \
         save_file({{k: v.clone().contiguous() for k, v in sd.items()}}, '{}', \
         metadata={{'format': 'pt'}})\"",
        out.display()
    )
}

/// One tensor of the state dict, copied out contiguously.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Little-endian element bytes, row-major.
    pub data: Vec<u8>,
}

/// Reads the state dict of the `pytorch_model.bin` at `path`: name -> tensor, in file order.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, TorchTensor)>, PickleError> {
    let io = |source| PickleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |message: String| PickleError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io)?;
    if n < 4 || &magic != b"PK\x03\x04" {
        if n >= 2 && magic[0] == 0x80 {
            return Err(PickleError::Legacy {
                path: path.to_path_buf(),
            });
        }
        return Err(invalid("it is not a zip archive".into()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| invalid(format!("bad zip archive: {e}")))?;
    let pkl_name = zip
        .file_names()
        .find(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .map(str::to_string)
        .ok_or_else(|| invalid("the archive has no data.pkl".into()))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    let mut read_entry = |name: &str| -> Result<Option<Vec<u8>>, PickleError> {
        let mut entry = match zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(invalid(format!("{name}: {e}"))),
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| invalid(format!("{name}: {e}")))?;
        Ok(Some(bytes))
    };
    if let Some(order) = read_entry(&format!("{prefix}byteorder"))?
        && order.trim_ascii() != b"little"
    {
        return Err(invalid("its storages are big-endian".into()));
    }
    let pickle = read_entry(&pkl_name)?.expect("listed above");
    let root = Unpickler::new(&pickle)
        .run()
        .map_err(|m| invalid(format!("data.pkl: {m}")))?;
    let entries = match root {
        Value::Dict(entries) => entries,
        other => {
            return Err(invalid(format!(
                "data.pkl holds {}, not a state dict",
                other.kind()
            )));
        }
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = Vec::new();
    for (key, value) in entries {
        let (Value::Str(name), Value::Tensor(t)) = (key, value) else {
            continue; // not a tensor entry (e.g. a version number)
        };
        if !storages.contains_key(&t.storage.key) {
            let entry = format!("{prefix}data/{}", t.storage.key);
            let bytes = read_entry(&entry)?
                .ok_or_else(|| invalid(format!("tensor `{name}`: storage {entry} is missing")))?;
            storages.insert(t.storage.key.clone(), bytes);
        }
        let data = t
            .gather(&storages[&t.storage.key])
            .map_err(|m| invalid(format!("tensor `{name}`: {m}")))?;
        out.push((
            name,
            TorchTensor {
                dtype: t.storage.dtype,
                shape: t.shape,
                data,
            },
        ));
    }
    Ok(out)
}

/// Reads `pytorch_model.bin` into an in-memory safetensors image (same names, shapes and dtypes).
pub fn read_state_dict(path: &Path) -> Result<Vec<u8>, PickleError> {
    let tensors = read_tensors(path)?;
    let views = tensors
        .iter()
        .map(|(name, t)| {
            safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data)
                .map(|v| (name.clone(), v))
                .map_err(|e| PickleError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("tensor `{name}`: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| PickleError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq)]
struct StorageRef {
    dtype: Dtype,
    key: String,
}

#[derive(Debug, Clone, PartialEq)]
struct TensorRef {
    storage: StorageRef,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

impl TensorRef {
    /// The tensor's elements, contiguous, from its storage's bytes.
    fn gather(&self, storage: &[u8]) -> Result<Vec<u8>, String> {
        let size = self.storage.dtype.bitsize() / 8;
        let count: usize = self.shape.iter().product();
        if count == 0 {
            return Ok(Vec::new());
        }
        let last = self.offset
            + self
                .shape
                .iter()
                .zip(&self.stride)
                .map(|(&n, &s)| (n - 1) * s)
                .sum::<usize>();
        if (last + 1) * size > storage.len() {
            return Err(format!(
                "shape {:?} with strides {:?} at offset {} reaches element {last}, past the \
                 storage's {} elements",
                self.shape,
                self.stride,
                self.offset,
                storage.len() / size
            ));
        }
        let contiguous = {
            let mut expect = 1;
            let mut ok = true;
            for (&n, &s) in self.shape.iter().zip(&self.stride).rev() {
                if n != 1 && s != expect {
                    ok = false;
                }
                expect *= n;
            }
            ok
        };
        if contiguous {
            let start = self.offset * size;
            return Ok(storage[start..start + count * size].to_vec());
        }
        let mut out = Vec::with_capacity(count * size);
        let mut index = vec![0usize; self.shape.len()];
        for _ in 0..count {
            let at = self.offset
                + index
                    .iter()
                    .zip(&self.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            out.extend_from_slice(&storage[at * size..(at + 1) * size]);
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < self.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(out)
    }
}

/// What the pickle machine computes with.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`, not imported.
    Global(String, String),
    Storage(StorageRef),
    Tensor(TensorRef),
    /// An unknown callable applied to arguments: kept, never run.
    Object(Box<Value>, Vec<Value>),
    Mark,
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(..) => "a global",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
            Value::Object(..) => "an object",
            Value::Mark => "a mark",
        }
    }

    fn usize(&self) -> Result<usize, String> {
        match self {
            Value::Int(i) if *i >= 0 => Ok(*i as usize),
            other => Err(format!(
                "expected a non-negative int, found {}",
                other.kind()
            )),
        }
    }

    fn usizes(&self) -> Result<Vec<usize>, String> {
        match self {
            Value::Tuple(v) | Value::List(v) => v.iter().map(Value::usize).collect(),
            other => Err(format!("expected a tuple of ints, found {}", other.kind())),
        }
    }
}

fn storage_dtype(name: &str) -> Result<Dtype, String> {
    Ok(match name {
        "FloatStorage" => Dtype::F32,
        "DoubleStorage" => Dtype::F64,
        "HalfStorage" => Dtype::F16,
        "BFloat16Storage" => Dtype::BF16,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::BOOL,
        other => return Err(format!("storage type torch.{other} is not supported")),
    })
}

struct Unpickler<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Unpickler<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Unpickler {
            bytes,
            pos: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("unterminated line")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn string(&mut self, n: usize) -> Result<String, String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "stack underflow".to_string())
    }

    /// Everything above the topmost mark, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let at = self
            .stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or("no mark on the stack")?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&mut self) -> Result<&mut Value, String> {
        self.stack
            .last_mut()
            .ok_or_else(|| "stack underflow".to_string())
    }

    fn run(mut self) -> Result<Value, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()? as i64;
                    self.stack.push(Value::Int(v))
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.stack
                        .push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64))
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.stack.push(Value::Int(v))
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        return Err("integer wider than 64 bits".into());
                    }
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= (byte as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n); // sign-extend
                    }
                    self.stack.push(Value::Int(v))
                }
                b'G' => {
                    let b = self.take(8)?;
                    self.stack
                        .push(Value::Float(f64::from_be_bytes(b.try_into().unwrap())))
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                0x8d => {
                    let b = self.take(8)?;
                    let n = u64::from_le_bytes(b.try_into().unwrap()) as usize;
                    let s = self.string(n)?;
                    self.stack.push(Value::Str(s))
                }
                b'T' | b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b))
                }
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b))
                }
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err("stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(pairs(items)?))
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top()? {
                        Value::List(l) => l.push(v),
                        other => return Err(format!("APPEND to {}", other.kind())),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Value::List(l) => l.extend(items),
                        other => return Err(format!("APPENDS to {}", other.kind())),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.push((k, v)),
                        other => return Err(format!("SETITEM on {}", other.kind())),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let items = pairs(items)?;
                    match self.top()? {
                        Value::Dict(d) => d.extend(items),
                        other => return Err(format!("SETITEMS on {}", other.kind())),
                    }
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memoize(i)?
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memoize(i)?
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    self.memoize(i)?
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.recall(i)?
                }
                b'j' => {
                    let i = self.u32()?;
                    self.recall(i)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err("STACK_GLOBAL without two strings".into()),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = persistent_load(pid)?;
                    self.stack.push(v)
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let Value::Tuple(args) = args else {
                        return Err("REDUCE without an argument tuple".into());
                    };
                    let v = reduce(callable, args)?;
                    self.stack.push(v)
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let args = match args {
                        Value::Tuple(a) => a,
                        other => vec![other],
                    };
                    self.stack.push(Value::Object(Box::new(cls), args))
                }
                b'b' => {
                    // BUILD: the state (e.g. an OrderedDict's `_metadata`) is not needed.
                    self.pop()?;
                }
                other => {
                    return Err(format!(
                        "pickle opcode 0x{other:02x} at byte {} is not supported",
                        self.pos - 1
                    ));
                }
            }
        }
    }

    fn memoize(&mut self, i: u32) -> Result<(), String> {
        let v = self.top()?.clone();
        self.memo.insert(i, v);
        Ok(())
    }

    fn recall(&mut self, i: u32) -> Result<(), String> {
        let v = self
            .memo
            .get(&i)
            .cloned()
            .ok_or_else(|| format!("memo entry {i} is missing"))?;
        self.stack.push(v);
        Ok(())
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// `('storage', torch.FloatStorage, key, location, numel)` -> a storage reference.
fn persistent_load(pid: Value) -> Result<Value, String> {
    let Value::Tuple(items) = pid else {
        return Err("persistent id is not a tuple".into());
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global(module, name), key, ..] if tag == "storage" => {
            if module != "torch" {
                return Err(format!("storage type {module}.{name} is not supported"));
            }
            let key = match key {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                other => return Err(format!("storage key is {}", other.kind())),
            };
            Ok(Value::Storage(StorageRef {
                dtype: storage_dtype(name)?,
                key,
            }))
        }
        _ => Err("persistent id is not a storage".into()),
    }
}

/// Applies a callable, for the few a state dict uses; anything else stays an inert object.
fn reduce(callable: Value, args: Vec<Value>) -> Result<Value, String> {
    let Value::Global(module, name) = &callable else {
        return Ok(Value::Object(Box::new(callable), args));
    };
    match (module.as_str(), name.as_str()) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
            let [storage, offset, shape, stride, ..] = args.as_slice() else {
                return Err(format!("{name} with {} arguments", args.len()));
            };
            let Value::Storage(storage) = storage else {
                return Err(format!("{name} of {}", storage.kind()));
            };
            let (shape, stride) = (shape.usizes()?, stride.usizes()?);
            if shape.len() != stride.len() {
                return Err(format!(
                    "shape {shape:?} and strides {stride:?} differ in rank"
                ));
            }
            Ok(Value::Tensor(TensorRef {
                storage: storage.clone(),
                offset: offset.usize()?,
                shape,
                stride,
            }))
        }
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => args
            .into_iter()
            .next()
            .ok_or_else(|| format!("{name} without arguments")),
        ("collections", "OrderedDict") => Ok(Value::Dict(Vec::new())),
        _ => Ok(Value::Object(Box::new(callable), args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_views_are_copied_out_in_row_major_order() {
        // A 2x3 f32 storage 0..6 viewed transposed (3x2, strides (1, 3)).
        let storage: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let t = TensorRef {
            storage: StorageRef {
                dtype: Dtype::F32,
                key: "0".into(),
            },
            offset: 0,
            shape: vec![3, 2],
            stride: vec![1, 3],
        };
        let out: Vec<f32> = t
            .gather(&storage)
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(out, vec![0., 3., 1., 4., 2., 5.]);
        let past = TensorRef {
            offset: 1,
            shape: vec![2, 3],
            stride: vec![3, 1],
            ..t
        };
        assert!(
            past.gather(&storage)
                .unwrap_err()
                .contains("past the storage")
        );
    }

    #[test]
    fn unknown_callables_are_never_run_and_bad_pickles_fail_cleanly() {
        // GLOBAL os.system, the string 'x', TUPLE1, REDUCE, STOP: an inert object.
        let evil = b"\x80\x02cos\nsystem\nX\x01\x00\x00\x00x\x85R.";
        let v = Unpickler::new(evil).run().unwrap();
        assert!(matches!(v, Value::Object(..)));
        assert!(
            Unpickler::new(b"\x80\x02}q\x00")
                .run()
                .unwrap_err()
                .contains("truncated")
        );
        assert!(Unpickler::new(b"\xff").run().unwrap_err().contains("0xff"));
    }

    #[test]
    fn a_file_that_is_no_zip_names_the_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pytorch_model.bin");
        std::fs::write(&path, b"\x80\x02\x8a\x0a").unwrap();
        let msg = read_tensors(&path).unwrap_err().to_string();
        assert!(msg.contains("legacy") && msg.contains("save_file"), "{msg}");
        std::fs::write(&path, b"hello").unwrap();
        let msg = read_tensors(&path).unwrap_err().to_string();
        assert!(msg.contains("not a zip archive"), "{msg}");
    }
}
