//! The trainable encoder with a sequence classification / regression head, built from
//! differentiable candle ops (the inference forward in `encoder::model` uses fused ops that have
//! no backward). Heads match Hugging Face's `AutoModelForSequenceClassification`:
//! - BERT: pooler (dense + tanh on the first token, loaded from the checkpoint when present),
//!   dropout, linear classifier;
//! - RoBERTa / XLM-R: dropout, dense + tanh on the first token, dropout, `out_proj`;
//! - DistilBERT: `pre_classifier` + ReLU on the first token, dropout, linear classifier.
//!
//! New weights are drawn from N(0, initializer_range) with zero biases, as Hugging Face does.

use crate::encoder::config::{Arch, EncoderConfig};
use crate::encoder::model::weight_prefixes;
use crate::encoder::trainable::{Dropouts, EncoderBody};
use crate::encoder::weights::Weights;
use crate::encoder::EncoderError;
use crate::nn::params::{dropout, initializer_range, Lin, Param, ParamBuilder};
use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;

type CResult<T> = candle_core::Result<T>;

enum Head {
    Bert { pooler: Lin, out: Lin },
    Roberta { dense: Lin, out: Lin },
    Distil { pre: Lin, out: Lin },
}

/// The trainable model.
pub struct SeqClassifier {
    /// Encoder configuration.
    pub config: EncoderConfig,
    /// Number of outputs (classes, or 1 for regression).
    pub num_labels: usize,
    /// Dropout settings.
    pub dropouts: Dropouts,
    body: EncoderBody,
    head: Head,
    params: Vec<Param>,
}

impl SeqClassifier {
    /// Build from a checkpoint directory's config and weights; the head is new (seeded).
    pub fn load(
        config: EncoderConfig,
        mut w: Weights,
        num_labels: usize,
        dtype: DType,
        seed: u64,
    ) -> Result<Self, EncoderError> {
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let h = config.hidden_size;
        let mut b = ParamBuilder::from_weights(&w, dtype, seed, initializer_range(&config.raw));
        let body = EncoderBody::build(&mut b, config.clone())?;
        let head = match config.arch {
            Arch::Bert => Head::Bert {
                pooler: b.lin_or_new("pooler.dense", h, h)?,
                out: b.new_lin("classifier", num_labels, h)?,
            },
            Arch::Roberta | Arch::XlmRoberta => Head::Roberta {
                dense: b.new_lin("classifier.dense", h, h)?,
                out: b.new_lin("classifier.out_proj", num_labels, h)?,
            },
            Arch::DistilBert => Head::Distil {
                pre: b.new_lin("pre_classifier", h, h)?,
                out: b.new_lin("classifier", num_labels, h)?,
            },
        };
        let params = b.into_params();
        Ok(SeqClassifier {
            dropouts: body.dropouts,
            config,
            num_labels,
            body,
            head,
            params,
        })
    }

    /// All trainable parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The encoder body (embeddings and transformer layers).
    pub fn body(&self) -> &EncoderBody {
        &self.body
    }

    /// Logits [batch, num_labels] of a right-padded batch. `ids`, `type_ids` are row-major
    /// [batch, seq]; `lengths` the real tokens per row. With `rng`, dropout is applied
    /// (training); without, the pass is deterministic (evaluation).
    pub fn forward(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> CResult<Tensor> {
        let first =
            self.body
                .forward_first_token(ids, type_ids, lengths, seq, rng.as_deref_mut())?;
        let p = self.dropouts.classifier;
        match &self.head {
            Head::Bert { pooler, out } => {
                let pooled = pooler.fwd(&first)?.tanh()?;
                out.fwd(&dropout(&pooled, p, rng.as_deref_mut())?)
            }
            Head::Roberta { dense, out } => {
                let z = dropout(&first, p, rng.as_deref_mut())?;
                let z = dense.fwd(&z)?.tanh()?;
                out.fwd(&dropout(&z, p, rng.as_deref_mut())?)
            }
            Head::Distil { pre, out } => {
                let z = pre.fwd(&first)?.relu()?;
                out.fwd(&dropout(&z, p, rng)?)
            }
        }
    }
}
