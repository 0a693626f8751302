//! Sequence classification / regression heads of the families beyond BERT, on their trainable
//! bodies (`crate::encoder::trainable_family`), as transformers defines them:
//! - MPNet (`MPNetClassificationHead`): first token, dropout, `classifier.dense`, tanh, dropout,
//!   `classifier.out_proj` (dropout `hidden_dropout_prob`);
//! - ELECTRA (`ElectraClassificationHead`): the same with exact GELU instead of tanh (dropout
//!   `classifier_dropout`, else `hidden_dropout_prob`);
//! - ALBERT: the model's pooler (`albert.pooler`, dense + tanh on the first token, read from
//!   the checkpoint when present), dropout `classifier_dropout_prob`, `classifier`;
//! - DeBERTa-v2/v3 and DeBERTa v1: `ContextPooler` (dropout `pooler_dropout` on the first
//!   token, `pooler.dense`, `pooler_hidden_act`), dropout (`cls_dropout`, else
//!   `hidden_dropout_prob`), `classifier`;
//! - XLNet (`XLNetSequenceSummary` then `logits_proj`): the LAST real token (`summary_type`
//!   "last"; transformers' tokenizer pads on the left so that its `hidden_states[:, -1]` is the
//!   `<cls>` token, and the batches here are right-padded, so the last real token is that
//!   token), `summary_first_dropout`, `sequence_summary.summary` (when `summary_use_proj`),
//!   `summary_activation` (tanh, or none), `summary_last_dropout`, `logits_proj`; "first" is
//!   also accepted, other summary types and `summary_proj_to_labels` are refused;
//! - ModernBERT (`ModernBertPredictionHead`): `classifier_pooling` "cls" (first token) or
//!   "mean" (mean over the real tokens), `head.dense` (bias when `classifier_bias`),
//!   `classifier_activation`, `head.norm` (bias when `norm_bias`), dropout
//!   `classifier_dropout`, `classifier`.
//!
//! New weights are drawn from N(0, initializer_range) with zero biases, as Hugging Face does.

use crate::encoder::blocks::Act;
use crate::encoder::family::Family;
use crate::encoder::model::Batch;
use crate::encoder::trainable_family::{hf_prefix, FamilyBody};
use crate::encoder::weights::{weights_file, Weights};
use crate::encoder::EncoderError;
use crate::nn::linear::linear;
use crate::nn::ops::layer_norm;
use crate::nn::params::{dropout, initializer_range, Lin, Param, ParamBuilder};
use candle_core::{DType, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

enum Head {
    /// dropout, dense, activation, dropout, out_proj (MPNet: tanh; ELECTRA: GELU).
    Classification { dense: Lin, out: Lin, act: Act },
    /// ALBERT: pooler + tanh, dropout, classifier.
    Pooler { pooler: Lin, out: Lin },
    /// DeBERTa: dropout, pooler.dense, act, dropout, classifier.
    Context { dense: Lin, act: Act, out: Lin },
    /// XLNet: dropout, summary (optional), activation (optional), dropout, logits_proj.
    Summary {
        summary: Option<Lin>,
        act: Option<Act>,
        out: Lin,
    },
    /// ModernBERT: head.dense (optional bias), act, head.norm (optional bias), dropout,
    /// classifier.
    Prediction {
        dense_w: Var,
        dense_b: Option<Var>,
        act: Act,
        norm_w: Var,
        norm_b: Option<Var>,
        eps: f64,
        out: Lin,
    },
}

/// Which hidden state vectors the head reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// The first token.
    First,
    /// The last real token (XLNet's `<cls>`).
    Last,
    /// The mean over the real tokens (ModernBERT's `classifier_pooling: mean`).
    Mean,
}

/// A family checkpoint with a sequence classification / regression head, trainable.
pub struct FamilyClassifier {
    /// The encoder body.
    pub body: FamilyBody,
    /// Number of outputs (classes, or 1 for regression).
    pub num_labels: usize,
    head: Head,
    pool: Pool,
    /// Dropout before the head's first layer (pooler / dense).
    pre_dropout: f32,
    /// Dropout before the last layer.
    cls_dropout: f32,
    params: Vec<Param>,
}

fn f32_of(v: &serde_json::Value, k: &str) -> Option<f32> {
    v.get(k).and_then(|x| x.as_f64()).map(|x| x as f32)
}

fn str_of<'v>(v: &'v serde_json::Value, k: &str, default: &'v str) -> &'v str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or(default)
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
        let bad = |msg: String| EncoderError::input(dir.join("config.json"), msg);
        let act_of = |key: &str, name: &str| {
            Act::parse(name).ok_or_else(|| bad(format!("unsupported {key} {name:?}")))
        };
        let mut pool = Pool::First;
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
            Family::DebertaV2 | Family::Deberta => {
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
            Family::Xlnet => {
                pool = match str_of(&raw, "summary_type", "last") {
                    "last" => Pool::Last,
                    "first" => Pool::First,
                    other => {
                        return Err(bad(format!(
                            "summary_type {other:?} is not supported (last, first)"
                        )))
                    }
                };
                if raw.get("summary_proj_to_labels").and_then(|x| x.as_bool()) == Some(true) {
                    return Err(bad("summary_proj_to_labels true is not supported (XLNetForSequenceClassification's logits_proj reads a d_model-wide summary)".into()));
                }
                let use_proj = raw
                    .get("summary_use_proj")
                    .and_then(|x| x.as_bool())
                    .unwrap_or(true);
                let act = match raw.get("summary_activation").and_then(|x| x.as_str()) {
                    None => None,
                    Some(a) => Some(act_of("summary_activation", a)?),
                };
                (
                    Head::Summary {
                        summary: if use_proj {
                            Some(b.new_lin("sequence_summary.summary", h, h)?)
                        } else {
                            None
                        },
                        act,
                        out: b.new_lin("logits_proj", num_labels, h)?,
                    },
                    f32_of(&raw, "summary_first_dropout").unwrap_or(0.0),
                    f32_of(&raw, "summary_last_dropout").unwrap_or(0.1),
                )
            }
            Family::ModernBert => {
                pool = match str_of(&raw, "classifier_pooling", "cls") {
                    "cls" => Pool::First,
                    "mean" => Pool::Mean,
                    other => {
                        return Err(bad(format!(
                            "classifier_pooling {other:?} is not supported (cls, mean)"
                        )))
                    }
                };
                let flag = |k: &str| raw.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
                let act = act_of(
                    "classifier_activation",
                    str_of(&raw, "classifier_activation", "gelu"),
                )?;
                let dense_w = b.new_matrix("head.dense.weight", h, h)?;
                let dense_b = if flag("classifier_bias") {
                    Some(b.new_const("head.dense.bias", h, 0.0)?)
                } else {
                    None
                };
                let norm_w = b.new_const("head.norm.weight", h, 1.0)?;
                let norm_b = if flag("norm_bias") {
                    Some(b.new_const("head.norm.bias", h, 0.0)?)
                } else {
                    None
                };
                (
                    Head::Prediction {
                        dense_w,
                        dense_b,
                        act,
                        norm_w,
                        norm_b,
                        eps: body.common.layer_norm_eps,
                        out: b.new_lin("classifier", num_labels, h)?,
                    },
                    0.0,
                    f32_of(&raw, "classifier_dropout").unwrap_or(0.0),
                )
            }
        };
        Ok(FamilyClassifier {
            body,
            num_labels,
            head,
            pool,
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
            Family::DebertaV2 | Family::Deberta => ["classifier.", "pooler."].as_slice(),
            Family::Xlnet => ["sequence_summary.", "logits_proj."].as_slice(),
            Family::ModernBert => ["head.", "classifier."].as_slice(),
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
            Family::Deberta => "DebertaForSequenceClassification",
            Family::Xlnet => "XLNetForSequenceClassification",
            Family::ModernBert => "ModernBertForSequenceClassification",
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
            let pooled = pool(&last, lengths, self.pool)?;
            let x = dropout(&pooled, self.pre_dropout, rng.as_deref_mut())?;
            let z = match &self.head {
                Head::Classification { dense, act, .. } | Head::Context { dense, act, .. } => {
                    act.apply(&dense.fwd(&x)?)?
                }
                Head::Pooler { pooler, .. } => pooler.fwd(&x)?.tanh()?,
                Head::Summary { summary, act, .. } => {
                    let y = match summary {
                        Some(l) => l.fwd(&x)?,
                        None => x,
                    };
                    match act {
                        Some(a) => a.apply(&y)?,
                        None => y,
                    }
                }
                Head::Prediction {
                    dense_w,
                    dense_b,
                    act,
                    norm_w,
                    norm_b,
                    eps,
                    ..
                } => {
                    let zeros = |v: &Var| v.as_tensor().zeros_like();
                    let db = match dense_b {
                        Some(v) => v.as_tensor().clone(),
                        None => zeros(norm_w)?,
                    };
                    let y = act.apply(&linear(&x, dense_w.as_tensor(), &db)?)?;
                    let nb = match norm_b {
                        Some(v) => v.as_tensor().clone(),
                        None => zeros(norm_w)?,
                    };
                    layer_norm(&y, norm_w.as_tensor(), &nb, *eps)?
                }
            };
            let z = dropout(&z, self.cls_dropout, rng.as_deref_mut())?;
            match &self.head {
                Head::Classification { out, .. }
                | Head::Context { out, .. }
                | Head::Pooler { out, .. }
                | Head::Summary { out, .. }
                | Head::Prediction { out, .. } => out.fwd(&z),
            }
        })();
        r.map_err(crate::encoder::blocks::cerr)
    }
}

/// The vectors [batch, hidden] the head reads from the last hidden state [batch, seq, hidden]
/// of a right-padded batch.
fn pool(last: &Tensor, lengths: &[usize], how: Pool) -> candle_core::Result<Tensor> {
    let (b, s, _) = last.dims3()?;
    match how {
        Pool::First => last.narrow(1, 0, 1)?.squeeze(1),
        Pool::Last => {
            let rows: Vec<u32> = lengths
                .iter()
                .enumerate()
                .map(|(r, &l)| (r * s + l.max(1) - 1) as u32)
                .collect();
            let idx = Tensor::from_vec(rows, b, last.device())?;
            last.reshape((b * s, ()))?.index_select(&idx, 0)
        }
        Pool::Mean => {
            let mut m = vec![0f32; b * s];
            for (r, &l) in lengths.iter().enumerate() {
                m[r * s..r * s + l]
                    .iter_mut()
                    .for_each(|v| *v = 1.0 / l.max(1) as f32);
            }
            let w = Tensor::from_vec(m, (b, s, 1), last.device())?.to_dtype(last.dtype())?;
            last.broadcast_mul(&w)?.sum(1)
        }
    }
}
