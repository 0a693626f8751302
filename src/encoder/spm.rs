//! A reader of SentencePiece model files (`spm.model`, `spiece.model`): the serialised
//! `sentencepiece.ModelProto` protobuf message, of which only the fields a tokenizer needs are
//! decoded (sentencepiece_model.proto):
//!
//! ```text
//! ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//!                  NormalizerSpec normalizer_spec = 3; ... }
//! SentencePiece  { string piece = 1; float score = 2; Type type = 3 [default = NORMAL]; }
//! TrainerSpec    { ModelType model_type = 3 [default = UNIGRAM]; bool byte_fallback = 35;
//!                  int32 unk_id = 40 [default = 0]; string unk_piece = 45 [default = "<unk>"]; ... }
//! NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2;
//!                  bool add_dummy_prefix = 3 [default = true];
//!                  bool remove_extra_whitespaces = 4 [default = true];
//!                  bool escape_whitespaces = 5 [default = true]; ... }
//! ```
//!
//! Every other field is skipped by its wire type. The protobuf wire format is small enough that a
//! reader of these few fields is shorter than a code generator's output and adds no dependency;
//! anything that does not parse as this message (truncated, a wrong wire type for a known field,
//! a deprecated group, no pieces, an unknown model type) is an input error naming the file.

use super::EncoderError;
use std::path::Path;

/// The kind of a piece (`SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece, produced by segmentation.
    Normal,
    /// The unknown piece.
    Unknown,
    /// A control symbol (`<s>`, `[CLS]`...): never produced from text.
    Control,
    /// A user-defined symbol: always emitted whole.
    UserDefined,
    /// A byte piece `<0xAB>` (byte fallback).
    Byte,
    /// A reserved, unused slot.
    Unused,
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The piece text, with `▁` (U+2581) for a space.
    pub piece: String,
    /// Its score (log probability for unigram models, minus the merge rank for BPE).
    pub score: f32,
    /// Its kind.
    pub kind: PieceType,
}

/// The segmentation algorithm (`TrainerSpec.ModelType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    /// Unigram language model (Kudo 2018): Viterbi over piece log probabilities.
    Unigram,
    /// Byte-pair encoding: greedy merges by piece score.
    Bpe,
}

/// The decoded parts of a SentencePiece model.
#[derive(Debug, Clone)]
pub struct SpmModel {
    /// Vocabulary in id order.
    pub pieces: Vec<Piece>,
    /// Unigram or BPE.
    pub model_type: ModelType,
    /// Id of the unknown piece.
    pub unk_id: usize,
    /// Whether unknown characters fall back to byte pieces.
    pub byte_fallback: bool,
    /// The compiled normalisation rules (empty for the identity normaliser).
    pub precompiled_charsmap: Vec<u8>,
    /// Whether a `▁` is put in front of the text.
    pub add_dummy_prefix: bool,
    /// Whether leading, trailing and repeated spaces are removed.
    pub remove_extra_whitespaces: bool,
}

/// A cursor over protobuf bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or("truncated varint at the end of the file")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "a field of {n} bytes runs past the end at byte {}",
                    self.pos
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field: (field number, wire type).
    fn key(&mut self) -> Result<(u64, u8), String> {
        let k = self.varint()?;
        let (field, wire) = (k >> 3, (k & 7) as u8);
        if field == 0 {
            return Err(format!("field number 0 at byte {}", self.pos));
        }
        Ok((field, wire))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| "length does not fit in memory")?)
    }

    fn fixed32(&mut self) -> Result<[u8; 4], String> {
        Ok(self.take(4)?.try_into().expect("4 bytes"))
    }

    /// Skip a field of a wire type that is not read.
    fn skip(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4).map(|_| ()),
            w => Err(format!(
                "wire type {w} at byte {} (not a protobuf message this reader knows)",
                self.pos
            )),
        }
    }
}

fn expect(wire: u8, want: u8, what: &str) -> Result<(), String> {
    if wire == want {
        Ok(())
    } else {
        Err(format!("{what} has wire type {wire}, expected {want}"))
    }
}

fn utf8(b: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

fn parse_piece(b: &[u8]) -> Result<Piece, String> {
    let mut r = Reader::new(b);
    let mut p = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    while !r.done() {
        match r.key()? {
            (1, w) => {
                expect(w, 2, "SentencePiece.piece")?;
                p.piece = utf8(r.bytes()?, "a piece")?;
            }
            (2, w) => {
                expect(w, 5, "SentencePiece.score")?;
                p.score = f32::from_le_bytes(r.fixed32()?);
            }
            (3, w) => {
                expect(w, 0, "SentencePiece.type")?;
                p.kind = match r.varint()? {
                    1 => PieceType::Normal,
                    2 => PieceType::Unknown,
                    3 => PieceType::Control,
                    4 => PieceType::UserDefined,
                    5 => PieceType::Unused,
                    6 => PieceType::Byte,
                    t => return Err(format!("unknown piece type {t}")),
                };
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(p)
}

impl SpmModel {
    /// Decode a SentencePiece model from its bytes (`path` only names the file in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, EncoderError> {
        Self::parse_inner(bytes)
            .map_err(|m| EncoderError::input(path, format!("not a SentencePiece model file: {m}")))
    }

    /// Read and decode a SentencePiece model file.
    pub fn from_file(path: &Path) -> Result<Self, EncoderError> {
        let bytes = std::fs::read(path)
            .map_err(|e| EncoderError::input(path, format!("cannot read: {e}")))?;
        Self::parse(&bytes, path)
    }

    fn parse_inner(bytes: &[u8]) -> Result<Self, String> {
        let mut m = SpmModel {
            pieces: Vec::new(),
            model_type: ModelType::Unigram,
            unk_id: 0,
            byte_fallback: false,
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
        };
        let mut r = Reader::new(bytes);
        while !r.done() {
            match r.key()? {
                (1, w) => {
                    expect(w, 2, "ModelProto.pieces")?;
                    m.pieces.push(parse_piece(r.bytes()?)?);
                }
                (2, w) => {
                    expect(w, 2, "ModelProto.trainer_spec")?;
                    m.read_trainer(r.bytes()?)?;
                }
                (3, w) => {
                    expect(w, 2, "ModelProto.normalizer_spec")?;
                    m.read_normalizer(r.bytes()?)?;
                }
                (_, w) => r.skip(w)?,
            }
        }
        if m.pieces.is_empty() {
            return Err("no vocabulary pieces".into());
        }
        if m.unk_id >= m.pieces.len() {
            return Err(format!(
                "unk_id {} is past the vocabulary of {} pieces",
                m.unk_id,
                m.pieces.len()
            ));
        }
        Ok(m)
    }

    fn read_trainer(&mut self, b: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(b);
        while !r.done() {
            match r.key()? {
                (3, 0) => {
                    self.model_type = match r.varint()? {
                        1 => ModelType::Unigram,
                        2 => ModelType::Bpe,
                        3 => {
                            return Err(
                                "model_type WORD is not supported (only UNIGRAM and BPE)".into()
                            )
                        }
                        4 => {
                            return Err(
                                "model_type CHAR is not supported (only UNIGRAM and BPE)".into()
                            )
                        }
                        t => return Err(format!("unknown model_type {t}")),
                    }
                }
                (35, 0) => self.byte_fallback = r.varint()? != 0,
                (40, 0) => {
                    // int32: a negative id is sign-extended to 10 bytes
                    let v = r.varint()? as i64;
                    self.unk_id = usize::try_from(v).map_err(|_| format!("negative unk_id {v}"))?;
                }
                (f @ (3 | 35 | 40), w) => {
                    return Err(format!("TrainerSpec field {f} has wire type {w}"))
                }
                (_, w) => r.skip(w)?,
            }
        }
        Ok(())
    }

    fn read_normalizer(&mut self, b: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(b);
        while !r.done() {
            match r.key()? {
                (2, 2) => self.precompiled_charsmap = r.bytes()?.to_vec(),
                (3, 0) => self.add_dummy_prefix = r.varint()? != 0,
                (4, 0) => self.remove_extra_whitespaces = r.varint()? != 0,
                (f @ (2..=4), w) => {
                    return Err(format!("NormalizerSpec field {f} has wire type {w}"))
                }
                (_, w) => r.skip(w)?,
            }
        }
        Ok(())
    }

    /// The id of a piece, if it is in the vocabulary.
    pub fn piece_id(&self, piece: &str) -> Option<u32> {
        self.pieces
            .iter()
            .position(|p| p.piece == piece)
            .map(|i| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(num: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(num << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn piece(p: &str, score: f32, kind: u64) -> Vec<u8> {
        let mut v = Vec::new();
        field(1, p.as_bytes(), &mut v);
        v.push(2 << 3 | 5);
        v.extend_from_slice(&score.to_le_bytes());
        varint(3 << 3, &mut v);
        varint(kind, &mut v);
        v
    }

    #[test]
    fn decodes_pieces_trainer_and_normalizer_fields_written_by_hand() {
        let mut m = Vec::new();
        field(1, &piece("<unk>", 0.0, 2), &mut m);
        field(1, &piece("[CLS]", 0.0, 3), &mut m);
        field(1, &piece("\u{2581}the", -1.5, 1), &mut m);
        let mut t = Vec::new();
        varint(3 << 3, &mut t);
        varint(2, &mut t); // BPE
        varint(4 << 3, &mut t); // vocab_size, skipped
        varint(3, &mut t);
        varint(40 << 3, &mut t);
        varint(0, &mut t);
        field(2, &t, &mut m);
        let mut n = Vec::new();
        field(1, b"identity", &mut n);
        varint(3 << 3, &mut n);
        varint(0, &mut n); // add_dummy_prefix false
        field(3, &n, &mut m);
        let s = SpmModel::parse(&m, Path::new("x.model")).unwrap();
        assert_eq!(s.pieces.len(), 3);
        assert_eq!(s.pieces[2].piece, "\u{2581}the");
        assert_eq!(s.pieces[2].score, -1.5);
        assert_eq!(s.pieces[1].kind, PieceType::Control);
        assert_eq!(s.model_type, ModelType::Bpe);
        assert!(!s.add_dummy_prefix);
        assert!(s.remove_extra_whitespaces);
        assert!(s.precompiled_charsmap.is_empty());
        assert_eq!(s.piece_id("[CLS]"), Some(1));
    }

    #[test]
    fn rejects_text_truncation_and_an_empty_vocabulary_naming_the_file() {
        for bad in [
            &b"{\"model_type\": \"bert\"}"[..],
            &b""[..],
            &[0x0a, 0x20, 0x0a][..],
        ] {
            let e = SpmModel::parse(bad, Path::new("dir/spm.model")).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with("dir/spm.model: not a SentencePiece model file"),
                "{msg}"
            );
        }
    }
}
