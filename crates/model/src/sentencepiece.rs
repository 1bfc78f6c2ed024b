//! Reading a SentencePiece model file (`spiece.model`), a serialised `ModelProto` protobuf.
//!
//! Only what a Unigram tokenizer needs is read: the pieces with their scores and types, the
//! trainer's `model_type`, `unk_id` and `byte_fallback`, and the normaliser's
//! `precompiled_charsmap`. The protobuf wire format is decoded by hand (field numbers from
//! SentencePiece's `sentencepiece_model.proto`); unknown fields are skipped.

use std::path::{Path, PathBuf};

/// `SentencePiece.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    fn from_proto(value: u64) -> Option<Self> {
        Some(match value {
            1 => PieceType::Normal,
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    pub kind: PieceType,
}

/// The parts of a `ModelProto` a tokenizer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SentencePieceModel {
    pub pieces: Vec<Piece>,
    /// `TrainerSpec.model_type`: 1 Unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    pub unk_id: usize,
    pub byte_fallback: bool,
    /// `NormalizerSpec.precompiled_charsmap` (empty when the model has none).
    pub precompiled_charsmap: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: not a valid SentencePiece model: {message}")]
pub struct SentencePieceError {
    pub path: PathBuf,
    pub message: String,
}

impl SentencePieceModel {
    /// Reads and parses `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SentencePieceError> {
        let path = path.as_ref();
        let err = |message: String| SentencePieceError {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Self::parse(&bytes).map_err(err)
    }

    /// Parses the bytes of a serialised `ModelProto`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut model = SentencePieceModel {
            pieces: Vec::new(),
            // TrainerSpec defaults.
            model_type: 1,
            unk_id: 0,
            byte_fallback: false,
            precompiled_charsmap: Vec::new(),
        };
        for field in Fields::new(bytes) {
            match field? {
                (1, Value::Bytes(b)) => model.pieces.push(parse_piece(b)?),
                (2, Value::Bytes(b)) => {
                    for field in Fields::new(b) {
                        match field? {
                            (3, Value::Varint(v)) => model.model_type = v,
                            (35, Value::Varint(v)) => model.byte_fallback = v != 0,
                            (40, Value::Varint(v)) => model.unk_id = v as usize,
                            _ => {}
                        }
                    }
                }
                (3, Value::Bytes(b)) => {
                    for field in Fields::new(b) {
                        if let (2, Value::Bytes(map)) = field? {
                            model.precompiled_charsmap = map.to_vec();
                        }
                    }
                }
                _ => {}
            }
        }
        if model.pieces.is_empty() {
            return Err("it has no pieces".into());
        }
        if model.unk_id >= model.pieces.len() {
            return Err(format!(
                "unk_id {} is outside the {} pieces",
                model.unk_id,
                model.pieces.len()
            ));
        }
        Ok(model)
    }
}

fn parse_piece(bytes: &[u8]) -> Result<Piece, String> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => {
                piece.piece = String::from_utf8(b.to_vec())
                    .map_err(|_| "a piece is not valid UTF-8".to_string())?
            }
            (2, Value::Fixed32(bits)) => piece.score = f32::from_bits(bits),
            (3, Value::Varint(v)) => {
                piece.kind =
                    PieceType::from_proto(v).ok_or_else(|| format!("unknown piece type {v}"))?
            }
            _ => {}
        }
    }
    Ok(piece)
}

/// A protobuf field value, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates the `(field number, value)` pairs of one protobuf message.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields {
            bytes,
            pos: 0,
            failed: false,
        }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.pos)
                .ok_or("truncated varint".to_string())?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("field runs past the end of the message".to_string())?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), String> {
        let key = self.varint()?;
        let (number, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint()? as usize;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            other => return Err(format!("unsupported wire type {other} (field {number})")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-encoded `ModelProto`: two pieces, trainer spec with unk_id 1, a charsmap.
    fn tiny() -> Vec<u8> {
        let piece = |s: &str, score: f32, kind: u8| {
            let mut p = vec![0x0a, s.len() as u8];
            p.extend(s.as_bytes());
            p.push(0x15); // field 2, fixed32
            p.extend(score.to_le_bytes());
            p.extend([0x18, kind]); // field 3, varint
            let mut m = vec![0x0a, p.len() as u8];
            m.extend(p);
            m
        };
        let mut bytes = piece("<unk>", 0.0, 2);
        bytes.extend(piece("\u{2581}a", -1.5, 1));
        // trainer_spec (field 2): model_type 1, unk_id (field 40 -> key 0x140 = c0 02) 1.
        bytes.extend([0x12, 5, 0x18, 1, 0xc0, 0x02, 1]);
        // normalizer_spec (field 3): precompiled_charsmap (field 2) = [9, 9].
        bytes.extend([0x1a, 4, 0x12, 2, 9, 9]);
        bytes
    }

    #[test]
    fn parses_pieces_trainer_and_normalizer_specs() {
        let m = SentencePieceModel::parse(&tiny()).unwrap();
        assert_eq!(m.pieces.len(), 2);
        assert_eq!(m.pieces[1].piece, "\u{2581}a");
        assert_eq!(m.pieces[1].score, -1.5);
        assert_eq!(m.pieces[0].kind, PieceType::Unknown);
        assert_eq!((m.model_type, m.unk_id), (1, 1));
        assert_eq!(m.precompiled_charsmap, [9, 9]);
    }

    #[test]
    fn truncated_or_empty_input_is_an_error() {
        let bytes = tiny();
        assert!(SentencePieceModel::parse(&bytes[..bytes.len() - 3]).is_err());
        assert!(SentencePieceModel::parse(&[]).is_err());
        assert!(SentencePieceModel::parse(b"not a protobuf at all").is_err());
    }
}
