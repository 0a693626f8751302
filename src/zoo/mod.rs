//! Checkpoint variants ("the zoo"): new Hugging Face checkpoint directories made from a source
//! checkpoint by Gaussian noise, magnitude pruning, layer truncation, fake quantisation, or
//! continued masked-language-model training on word-shuffled text (the seed paper's corruption),
//! and the masked-LM trainer itself, which also pretrains tiny BERT models from scratch.
//!
//! - [`checkpoint`]: a source checkpoint's tensors with their names and dtypes, kept verbatim;
//! - [`noise`], [`prune`], [`truncate`], [`quantize`]: the weight operations;
//! - [`masking`]: BERT's 80/10/10 token masking;
//! - [`mlm`]: the masked-LM model, its training loop and saving;
//! - [`mlm_family`]: the masked-LM heads of ALBERT, DeBERTa v1, DeBERTa-v2/v3, MPNet and ModernBERT;
//! - [`corrupt`]: word shuffling and the corruption run;
//! - [`run`]: writing variant directories (with `crate::encoder::write`), `variants.csv` and the
//!   manifest.

pub mod checkpoint;
pub mod corrupt;
pub mod listing;
pub mod masking;
pub mod mlm;
pub mod mlm_family;
pub mod noise;
pub mod prune;
pub mod quantize;
pub mod run;
pub mod truncate;

use crate::encoder::EncoderError;
use std::path::Path;

/// Errors of the zoo (variants and masked-LM training).
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A problem with the user's input (checkpoint, corpus, settings, output directory).
    #[error("{path}: {msg}")]
    Input {
        /// The file or directory at fault (or the option).
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Loading the checkpoint or the tokenizer failed.
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// A training-layer error, through the encoder's conversion (a checkpoint's own error keeps its
/// file name).
impl From<crate::nn::NnError> for ZooError {
    fn from(e: crate::nn::NnError) -> Self {
        ZooError::Encoder(EncoderError::from(e))
    }
}

impl ZooError {
    /// An input error about `path`.
    pub fn input(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        ZooError::Input {
            path: path.as_ref().display().to_string(),
            msg: msg.into(),
        }
    }

    /// An input error about a command-line option.
    pub fn option(opt: &str, msg: impl Into<String>) -> Self {
        ZooError::Input {
            path: opt.to_string(),
            msg: msg.into(),
        }
    }
}
