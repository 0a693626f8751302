//! The trainable encoder with a sequence classification / regression head, built from
//! differentiable candle ops (the inference forward in `encoder::model` uses fused ops that have
//! no backward). Heads match Hugging Face's `AutoModelForSequenceClassification`:
//! - BERT: pooler (dense + tanh on the first token, loaded from the checkpoint when present),
//!   dropout, linear classifier;
//! - RoBERTa / XLM-R: dropout, dense + tanh on the first token, dropout, `out_proj`;
//! - DistilBERT: `pre_classifier` + ReLU on the first token, dropout, linear classifier.
//!
//! The newer families' heads are in [`super::family_model`]; [`AnyClassifier`] is either.
//!
//! New weights are drawn from N(0, initializer_range) with zero biases, as Hugging Face does.

use super::family_model::FamilyClassifier;
use crate::encoder::config::{Arch, EncoderConfig};
use crate::encoder::model::weight_prefixes;
use crate::encoder::trainable::{Dropouts, EncoderBody};
use crate::encoder::trainable_family::trainable_family;
use crate::encoder::weights::{weights_file, Weights};
use crate::encoder::EncoderError;
use crate::nn::params::{dropout, initializer_range, Lin, Param, ParamBuilder};
use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

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

/// A trainable classifier of any architecture `probecast finetune` trains: the BERT-shaped
/// families ([`SeqClassifier`]) or the newer ones ([`FamilyClassifier`]).
pub enum AnyClassifier {
    /// BERT, RoBERTa, XLM-R, DistilBERT.
    Classic(Box<SeqClassifier>),
    /// MPNet, ELECTRA, ALBERT, DeBERTa-v2/v3, DeBERTa v1, XLNet, ModernBERT.
    Family(Box<FamilyClassifier>),
}

impl AnyClassifier {
    /// Load the checkpoint in `dir` with a new (seeded) head of `num_labels` outputs, in f32.
    /// An architecture without a trainable body is an input error naming the supported list.
    pub fn load(dir: &Path, num_labels: usize, seed: u64) -> Result<Self, EncoderError> {
        match trainable_family(dir)? {
            None => {
                let cfg = EncoderConfig::from_dir(dir)?;
                let w = Weights::load(&weights_file(dir)?)?;
                Ok(AnyClassifier::Classic(Box::new(SeqClassifier::load(
                    cfg,
                    w,
                    num_labels,
                    DType::F32,
                    seed,
                )?)))
            }
            Some(f) => Ok(AnyClassifier::Family(Box::new(FamilyClassifier::load(
                dir, f, num_labels, seed,
            )?))),
        }
    }

    /// All trainable parameters.
    pub fn params(&self) -> &[Param] {
        match self {
            AnyClassifier::Classic(m) => m.params(),
            AnyClassifier::Family(m) => m.params(),
        }
    }

    /// The id batches are padded with.
    pub fn pad_token_id(&self) -> u32 {
        match self {
            AnyClassifier::Classic(m) => m.config.pad_token_id,
            AnyClassifier::Family(m) => m.body.common.pad_token_id,
        }
    }

    /// Rows of the word embedding table.
    pub fn vocab_size(&self) -> usize {
        match self {
            AnyClassifier::Classic(m) => m.config.vocab_size,
            AnyClassifier::Family(m) => m.body.common.vocab_size,
        }
    }

    /// Longest input (tokens, special tokens included).
    pub fn max_input_tokens(&self) -> usize {
        match self {
            AnyClassifier::Classic(m) => m.config.max_input_tokens(),
            AnyClassifier::Family(m) => m.body.max_input_tokens,
        }
    }

    /// Whether sentence pairs get token type ids 0 (BERT-shaped models without a second token
    /// type); the newer families take the tokenizer's type ids as transformers does.
    pub fn zero_types(&self) -> bool {
        match self {
            AnyClassifier::Classic(m) => m.config.type_vocab_size <= 1,
            AnyClassifier::Family(_) => false,
        }
    }

    /// config.json of the checkpoint, as parsed.
    pub fn config_json(&self) -> &serde_json::Value {
        match self {
            AnyClassifier::Classic(m) => &m.config.raw,
            AnyClassifier::Family(m) => &m.body.raw,
        }
    }

    /// transformers' class name (`BertForSequenceClassification`, ...).
    pub fn architecture(&self) -> &'static str {
        match self {
            AnyClassifier::Classic(m) => match m.config.arch {
                Arch::Bert => "BertForSequenceClassification",
                Arch::Roberta => "RobertaForSequenceClassification",
                Arch::XlmRoberta => "XLMRobertaForSequenceClassification",
                Arch::DistilBert => "DistilBertForSequenceClassification",
            },
            AnyClassifier::Family(m) => m.architecture(),
        }
    }

    /// Every parameter under its name in the `*ForSequenceClassification` state dict.
    pub fn hf_named_params(&self) -> Vec<(String, &Param)> {
        match self {
            AnyClassifier::Classic(m) => {
                let prefix = match m.config.arch {
                    Arch::Bert => "bert.",
                    Arch::Roberta | Arch::XlmRoberta => "roberta.",
                    Arch::DistilBert => "distilbert.",
                };
                let head = ["classifier", "pre_classifier"];
                m.params()
                    .iter()
                    .map(|p| {
                        let name = if head.iter().any(|h| p.name.starts_with(h)) {
                            p.name.clone()
                        } else {
                            format!("{prefix}{}", p.name)
                        };
                        (name, p)
                    })
                    .collect()
            }
            AnyClassifier::Family(m) => m.params().iter().map(|p| (m.hf_name(p), p)).collect(),
        }
    }

    /// Logits [batch, num_labels] of a right-padded batch; with `rng`, dropout (training).
    pub fn forward(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor, EncoderError> {
        match self {
            AnyClassifier::Classic(m) => m
                .forward(ids, type_ids, lengths, seq, rng)
                .map_err(crate::encoder::blocks::cerr),
            AnyClassifier::Family(m) => m.forward(ids, type_ids, lengths, seq, rng),
        }
    }
}
