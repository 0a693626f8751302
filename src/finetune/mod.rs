//! Fine-tuning stage: GLUE metrics, the trainable encoder with a sequence classification /
//! regression head, the training loop and model saving. The training machinery (parameters,
//! fused ops, optimiser, schedule) lives in `crate::nn`; the trainable encoder body in
//! `crate::encoder::trainable`.

pub mod family_model;
pub mod metrics;
pub mod model;
pub mod results;
pub mod run;
pub mod save;
pub mod train;

use crate::encoder::EncoderError;

/// Errors of the fine-tuning stage.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// Loading the checkpoint or tokenizing failed.
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    /// A tensor operation failed.
    #[error("training failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A setting out of range (names its flag).
    #[error(transparent)]
    Invalid(#[from] crate::util::SettingsError),
    /// Reading a task's files.
    #[error(transparent)]
    Glue(#[from] crate::data::glue::GlueError),
    /// Other problems with the settings or the run (the message names the file or flag).
    #[error("{0}")]
    Settings(String),
}
