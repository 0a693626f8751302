//! Tokenizers: a checkpoint's `tokenizer.json`; else a SentencePiece model (`spm.model`,
//! `spiece.model`) turned into the architecture's pipeline ([`super::spm_tokenizer`]); else a
//! BERT WordPiece tokenizer built from `vocab.txt` (lower-casing from `tokenizer_config.json`,
//! default on). Padding built into tokenizer.json (all-MiniLM ships `Fixed(128)`) is switched
//! off: probecast pads each batch itself to its longest row.

use super::spm_tokenizer::{spm_tokenizer, SpmFlavor, SPM_FILES};
use super::EncoderError;
use std::path::Path;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{Model, Tokenizer, TruncationParams};

/// Token ids and token type ids of one encoded sentence pair.
pub type PairIds = (Vec<u32>, Vec<u32>);

/// A tokenizer that truncates to a fixed number of tokens, special tokens included.
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same pipeline without truncation, for pairs: tokenizers 0.23.2 cuts each sequence
    /// to `max_length` tokens before its longest-first pair truncation, which then splits a
    /// tie the wrong way (the first sequence keeps one token more than transformers gives
    /// it); pairs are encoded whole here and truncated by `inner`'s post-processing.
    untruncated: Tokenizer,
    source: std::path::PathBuf,
    pads_left: bool,
    max_length: usize,
}

fn lowercase_from_config(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
        .unwrap_or(true)
}

/// Load a tokenizer.json. The tokenizers crate panics (an `expect` inside its decoder
/// deserialiser) on some malformed files, found by `tests/fuzz.rs`: the panic is caught, kept
/// off stderr, and reported as a clean error naming the file.
fn tokenizer_json(tj: &Path) -> Result<Tokenizer, EncoderError> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| Tokenizer::from_file(tj));
    std::panic::set_hook(quiet);
    match r {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(EncoderError::input(tj, format!("cannot load tokenizer: {e}"))),
        Err(_) => Err(EncoderError::input(
            tj,
            "cannot load tokenizer: malformed tokenizer.json (the tokenizers library rejected a section of it)",
        )),
    }
}

impl TextTokenizer {
    /// Load the tokenizer of a checkpoint directory and set truncation to `max_length` tokens.
    pub fn from_dir(dir: &Path, max_length: usize) -> Result<Self, EncoderError> {
        let tj = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        let spm = SPM_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file());
        let mut pads_left = false;
        let (mut inner, source) = if tj.is_file() {
            (tokenizer_json(&tj)?, tj)
        } else if let Some(spm) = spm {
            let (t, flavor) = spm_tokenizer(dir, &spm)?;
            pads_left = flavor == SpmFlavor::Xlnet;
            (t, spm)
        } else if vocab.is_file() {
            (
                Self::wordpiece_from_vocab(&vocab, lowercase_from_config(dir))?,
                vocab,
            )
        } else {
            return Err(EncoderError::input(
                dir,
                "missing tokenizer: none of tokenizer.json, spm.model, spiece.model, vocab.txt in the checkpoint directory",
            ));
        };
        if let Some(p) = inner.get_padding() {
            pads_left |= matches!(p.direction, tokenizers::PaddingDirection::Left);
        }
        inner.with_padding(None);
        let untruncated = inner.clone();
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| EncoderError::input(dir, format!("cannot set truncation: {e}")))?;
        Ok(TextTokenizer {
            inner,
            untruncated,
            source,
            pads_left,
            max_length,
        })
    }

    /// Whether the checkpoint's tokenizer pads on the left (XLNet): a batch of this
    /// tokenizer's rows should be padded before the tokens, not after.
    pub fn pads_left(&self) -> bool {
        self.pads_left
    }

    /// The file the tokenizer was built from (for messages).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// A BERT tokenizer from a WordPiece vocabulary: BERT normalizer, BERT pre-tokenizer,
    /// `[CLS] a [SEP] (b [SEP])` post-processing.
    pub fn wordpiece_from_vocab(vocab: &Path, lowercase: bool) -> Result<Tokenizer, EncoderError> {
        let bad = |m: String| EncoderError::input(vocab, m);
        let wp = WordPiece::from_file(&vocab.to_string_lossy())
            .unk_token("[UNK]".into())
            .build()
            .map_err(|e| bad(format!("cannot read WordPiece vocabulary: {e}")))?;
        let id = |t: &str| {
            wp.token_to_id(t)
                .ok_or_else(|| bad(format!("vocabulary lacks {t}")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        id("[UNK]")?;
        let mut tok = Tokenizer::new(wp);
        tok.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
            .map_err(|e| bad(format!("cannot set the normalizer: {e}")))?;
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        tok.with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), sep),
            ("[CLS]".into(), cls),
        )));
        Ok(tok)
    }

    /// Token ids of each sentence (special tokens added, truncated), in input order.
    pub fn encode_all(&self, sentences: &[String]) -> Result<Vec<Vec<u32>>, EncoderError> {
        let inputs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let enc = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| EncoderError::Internal(format!("tokenization failed: {e}")))?;
        Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Token ids and type ids of sentence pairs (the architecture's pair template), truncated
    /// longest-first as transformers does.
    pub fn encode_pairs(&self, pairs: &[(String, String)]) -> Result<Vec<PairIds>, EncoderError> {
        let fail =
            |e: tokenizers::Error| EncoderError::Internal(format!("tokenization failed: {e}"));
        let halves = |second: bool| {
            let texts: Vec<&str> = pairs
                .iter()
                .map(|(a, b)| if second { b.as_str() } else { a.as_str() })
                .collect();
            self.untruncated.encode_batch(texts, false).map_err(fail)
        };
        let (first, second) = (halves(false)?, halves(true)?);
        first
            .into_iter()
            .zip(second)
            .map(|(a, b)| {
                let e = self.inner.post_process(a, Some(b), true).map_err(fail)?;
                if e.get_ids().len() > self.max_length {
                    // tokenizers leaves a pair whole when the template alone fills max_length
                    let added = self
                        .inner
                        .get_post_processor()
                        .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, true));
                    return Err(EncoderError::input(
                        &self.source,
                        format!(
                            "max length {} leaves no room for sentence pairs: the pair template adds {added} special tokens (use at least {})",
                            self.max_length,
                            added + 2
                        ),
                    ));
                }
                Ok((e.get_ids().to_vec(), e.get_type_ids().to_vec()))
            })
            .collect()
    }
}
