//! Sequence classification / regression heads of the families beyond BERT, on their trainable
//! bodies (`crate::encoder::trainable_family`), as transformers defines them:
//! - MPNet (`MPNetClassificationHead`): first token, dropout, `classifier.dense`, tanh, dropout,
//!   `classifier.out_proj` (dropout `hidden_dropout_prob`);
//! - ELECTRA (`ElectraClassificationHead`): the same with exact GELU instead of tanh (dropout
//!   `classifier_dropout`, else `hidden_dropout_prob`);
//! - ALBERT: the model's pooler (`albert.pooler`, dense + tanh on the first token, read from
//!   the checkpoint when present), dropout `classifier_dropout_prob`, `classifier`;
//! - DeBERTa-v2/v3: `ContextPooler` (dropout `pooler_dropout` on the first token,
//!   `pooler.dense`, `pooler_hidden_act`), dropout (`cls_dropout`, else `hidden_dropout_prob`),
//!   `classifier`.
//!
//! New weights are drawn from N(0, initializer_range) with zero biases, as Hugging Face does.

use crate::encoder::blocks::Act;
use crate::encoder::family::Family;
use crate::encoder::model::Batch;
use crate::encoder::trainable_family::{hf_prefix, FamilyBody};
use crate::encoder::weights::{weights_file, Weights};
use crate::encoder::EncoderError;
use crate::nn::params::{dropout, initializer_range, Lin, Param, ParamBuilder};
use candle_core::{DType, Tensor};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

enum Head {
    /// dropout, dense, activation, dropout, out_proj (MPNet: tanh; ELECTRA: GELU).
    Classification { dense: Lin, out: Lin, act: Act },
    /// ALBERT: pooler + tanh, dropout, classifier.
    Pooler { pooler: Lin, out: Lin },
    /// DeBERTa: dropout, pooler.dense, act, dropout, classifier.
    Context { dense: Lin, act: Act, out: Lin },
}

/// A family checkpoint with a sequence classification / regression head, trainable.
pub struct FamilyClassifier {
    /// The encoder body.
    pub body: FamilyBody,
    /// Number of outputs (classes, or 1 for regression).
    pub num_labels: usize,
    head: Head,
    /// Dropout before the head's first layer (pooler / dense).
    pre_dropout: f32,
    /// Dropout before the last layer.
    cls_dropout: f32,
    params: Vec<Param>,
}

fn f32_of(v: &serde_json::Value, k: &str) -> Option<f32> {
    v.get(k).and_then(|x| x.as_f64()).map(|x| x as f32)
}

impl FamilyClassifier {
    /// Build from the checkpoint in `dir` (`family` as detected); the head is new (seeded),
    /// except ALBERT's pooler, which the checkpoint usually has.
    pub fn load(
        dir: &Path,
        family: Family,
        num_labels: usize,
        seed: u64,
    ) -> Result<Self, EncoderError> {
        let mut w = Weights::load(&weights_file(dir)?)?;
        FamilyBody::select_prefix(&mut w, family)?;
        let (_, raw) = crate::encoder::family::read_config(dir)?;
        let mut b = ParamBuilder::from_weights(&w, DType::F32, seed, initializer_range(&raw));
        let body = FamilyBody::build(dir, family, &mut b)?;
        let h = body.common.hidden_size;
        let hidden = body.dropouts.hidden;
        let (head, pre_dropout, cls_dropout) = match family {
            Family::Mpnet => (
                Head::Classification {
                    dense: b.new_lin("classifier.dense", h, h)?,
                    out: b.new_lin("classifier.out_proj", num_labels, h)?,
                    act: Act::Tanh,
                },
                hidden,
                hidden,
            ),
            Family::Electra => {
                let p = f32_of(&raw, "classifier_dropout").unwrap_or(hidden);
                (
                    Head::Classification {
                        dense: b.new_lin("classifier.dense", h, h)?,
                        out: b.new_lin("classifier.out_proj", num_labels, h)?,
                        act: Act::Gelu,
                    },
                    p,
                    p,
                )
            }
            Family::Albert => {
                let p = f32_of(&raw, "classifier_dropout_prob").unwrap_or(0.1);
                (
                    Head::Pooler {
                        pooler: b.lin_or_new("pooler", h, h)?,
                        out: b.new_lin("classifier", num_labels, h)?,
                    },
                    0.0,
                    p,
                )
            }
            Family::DebertaV2 => {
                let ph = raw
                    .get("pooler_hidden_size")
                    .and_then(|x| x.as_u64())
                    .map(|x| x as usize)
                    .unwrap_or(h);
                if ph != h {
                    return Err(EncoderError::input(
                        dir.join("config.json"),
                        format!("pooler_hidden_size {ph} differs from hidden_size {h} (transformers' ContextPooler needs them equal)"),
                    ));
                }
                let act_name = raw
                    .get("pooler_hidden_act")
                    .and_then(|x| x.as_str())
                    .unwrap_or("gelu");
                let act = Act::parse(act_name).ok_or_else(|| {
                    EncoderError::input(
                        dir.join("config.json"),
                        format!("unsupported pooler_hidden_act {act_name:?}"),
                    )
                })?;
                (
                    Head::Context {
                        dense: b.new_lin("pooler.dense", h, h)?,
                        act,
                        out: b.new_lin("classifier", num_labels, h)?,
                    },
                    f32_of(&raw, "pooler_dropout").unwrap_or(0.0),
                    f32_of(&raw, "cls_dropout").unwrap_or(hidden),
                )
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(EncoderError::Internal(
                    "family without a classification head".into(),
                ))
            }
        };
        Ok(FamilyClassifier {
            body,
            num_labels,
            head,
            pre_dropout,
            cls_dropout,
            params: b.into_params(),
        })
    }

    /// All trainable parameters (body names without the wrapper prefix, head names as in
    /// `*ForSequenceClassification`).
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The name of parameter `p` in the family's `*ForSequenceClassification` state dict.
    pub fn hf_name(&self, p: &Param) -> String {
        let top = match self.body.family {
            Family::DebertaV2 => ["classifier.", "pooler."].as_slice(),
            _ => ["classifier."].as_slice(),
        };
        if top.iter().any(|t| p.name.starts_with(t)) {
            p.name.clone()
        } else {
            format!("{}{}", hf_prefix(self.body.family), p.name)
        }
    }

    /// transformers' class name of this model.
    pub fn architecture(&self) -> &'static str {
        match self.body.family {
            Family::Mpnet => "MPNetForSequenceClassification",
            Family::Electra => "ElectraForSequenceClassification",
            Family::Albert => "AlbertForSequenceClassification",
            Family::DebertaV2 => "DebertaV2ForSequenceClassification",
            #[allow(unreachable_patterns)]
            _ => "AutoModelForSequenceClassification",
        }
    }

    /// Logits [batch, num_labels] of a right-padded batch (`ids`, `type_ids` row-major
    /// [batch, seq]); with `rng`, dropout is applied (training).
    pub fn forward(
        &self,
        ids: &[u32],
        type_ids: &[u32],
        lengths: &[usize],
        seq: usize,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor, EncoderError> {
        let batch = Batch {
            ids: ids.to_vec(),
            type_ids: type_ids.to_vec(),
            lengths: lengths.to_vec(),
            seq,
        };
        let last = self.body.forward(&batch, rng.as_deref_mut())?;
        let r = (|| -> candle_core::Result<Tensor> {
            let first = last.narrow(1, 0, 1)?.squeeze(1)?;
            let x = dropout(&first, self.pre_dropout, rng.as_deref_mut())?;
            let z = match &self.head {
                Head::Classification { dense, act, .. } | Head::Context { dense, act, .. } => {
                    act.apply(&dense.fwd(&x)?)?
                }
                Head::Pooler { pooler, .. } => pooler.fwd(&x)?.tanh()?,
            };
            let z = dropout(&z, self.cls_dropout, rng.as_deref_mut())?;
            match &self.head {
                Head::Classification { out, .. }
                | Head::Context { out, .. }
                | Head::Pooler { out, .. } => out.fwd(&z),
            }
        })();
        r.map_err(crate::encoder::blocks::cerr)
    }
}
