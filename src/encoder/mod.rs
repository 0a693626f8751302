//! Encoder stage: checkpoint directory -> every layer's hidden states, pooled per sentence.
//!
//! - [`config`]: config.json -> architecture (BERT, RoBERTa, XLM-RoBERTa, DistilBERT);
//! - [`family`]: architecture dispatch, and the newer families on the padded path
//!   ([`blocks`]): [`mpnet`], [`electra`], [`albert`], [`deberta_v2`];
//! - [`weights`]: safetensors / pickle-free `pytorch_model.bin` reading with shape checks;
//! - [`tokenizer`]: tokenizer.json, a SentencePiece model ([`spm`], [`spm_tokenizer`]) or vocab.txt;
//! - [`model`]: the forward pass returning all `num_layers + 1` hidden states;
//! - [`trainable`]: the same encoder as differentiable candle ops (`crate::nn`), for training;
//! - [`trainable_family`]: the newer families' modules loaded as trainable parameters;
//! - [`extract`]: sorting, batching and pooling (the cached entry point is a layer up, in `features`);
//! - [`resolve`]: `--model` as a directory or a model id inside the local Hugging Face cache.

pub mod albert;
pub mod attention;
pub mod blocks;
pub mod config;
pub mod deberta;
pub mod deberta_v2;
pub mod electra;
pub mod extract;
pub mod family;
pub mod model;
pub mod modernbert;
pub mod mpnet;
pub mod resolve;
pub mod spm;
pub mod spm_tokenizer;
pub mod tokenizer;
pub mod trainable;
pub mod trainable_family;
pub mod weights;
pub mod write;
pub mod xlnet;

pub use extract::{embed_sentences, LoadedModel};

use std::path::Path;

/// Errors of the encoder stage.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A problem with the user's input (model directory, data, settings): names the file.
    #[error("{path}: {msg}")]
    Input {
        /// The file or directory at fault.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Anything else (a tensor operation failing).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A training-layer error: a checkpoint's own error comes back as it was (naming the file).
impl From<crate::nn::NnError> for EncoderError {
    fn from(e: crate::nn::NnError) -> Self {
        match e {
            crate::nn::NnError::Source(e) => match e.downcast::<EncoderError>() {
                Ok(e) => *e,
                Err(e) => EncoderError::Internal(e.to_string()),
            },
            crate::nn::NnError::Candle(e) => EncoderError::Internal(e.to_string()),
        }
    }
}

impl EncoderError {
    /// An input error about `path`.
    pub fn input(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        EncoderError::Input {
            path: path.as_ref().display().to_string(),
            msg: msg.into(),
        }
    }
}

/// How a sentence vector is pooled from one layer's token states.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The architecture's summary token: the first token (`[CLS]` / `<s>`) for every family
    /// except XLNet, whose `<cls>` is the last token.
    Cls,
    /// The mean over the sentence's real (unpadded) tokens.
    Mean,
    /// The first real token whatever the architecture: the seed paper's protocol (its code took
    /// position 0 for every model).
    First,
}

impl Pooling {
    /// Its name (`cls`, `mean`).
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
            Pooling::First => "first",
        }
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            "first" => Ok(Pooling::First),
            o => Err(format!(
                "unknown pooling {o:?} (expected cls, mean or first)"
            )),
        }
    }
}

/// Pooled features of n sentences at every layer: `layers[k]` is row-major [n, dim]; k = 0 is
/// the embedding output, k = 1..=L the transformer layers.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledFeatures {
    /// Number of sentences (rows).
    pub n: usize,
    /// Hidden size (columns).
    pub dim: usize,
    /// One matrix per hidden state.
    pub layers: Vec<Vec<f32>>,
}

impl PooledFeatures {
    /// Row `i` of layer `k`.
    pub fn row(&self, k: usize, i: usize) -> &[f32] {
        &self.layers[k][i * self.dim..(i + 1) * self.dim]
    }
}
