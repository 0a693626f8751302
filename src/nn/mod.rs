//! What training shares: trainable parameters and their builder ([`params`]), the fused
//! differentiable ops with hand-written backward ([`ops`]: LayerNorm, GELU, softmax pieces;
//! [`linear`]: the dense layer; [`attention`]: multi-head self-attention on packed Q/K/V), and
//! the optimiser and schedule ([`optim`]). Fine-tuning (the `finetune` stage) and masked-LM
//! training (`zoo::mlm`) both build on it, through the trainable encoder body in
//! `encoder::trainable`.
//!
//! This layer sits below the encoder: it knows candle tensors and the kernels, not checkpoints.
//! Weights come in through the [`ParamSource`] trait, which the encoder's checkpoint reader
//! implements.

pub mod attention;
pub mod linear;
pub mod ops;
pub mod optim;
pub mod params;

use candle_core::Tensor;

/// Errors of the training layer.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// The parameter source (a checkpoint) refused a tensor: its own error, with the file.
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
    /// A tensor operation failed.
    #[error("internal error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Where [`params::ParamBuilder`] reads pretrained tensors from (a checkpoint's weights).
pub trait ParamSource {
    /// The tensor `name`, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, NnError>;
    /// The first of `names` that is present, checked to have `shape`.
    fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, NnError>;
    /// Whether the source holds `name`.
    fn contains(&self, name: &str) -> bool;
}
