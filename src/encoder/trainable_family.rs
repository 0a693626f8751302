//! The trainable bodies of the families beyond BERT (MPNet, ELECTRA, ALBERT, DeBERTa-v2/v3,
//! DeBERTa v1, XLNet, ModernBERT): the inference modules themselves ([`super::mpnet`],
//! [`super::electra`], [`super::albert`], [`super::deberta_v2`], [`super::deberta`],
//! [`super::xlnet`], [`super::modernbert`]), loaded through a [`TensorSource`] that turns every checkpoint tensor
//! into a trainable parameter (`crate::nn::params::ParamBuilder`). candle records the ops on a
//! parameter's tensor, so the padded forward pass of [`super::blocks`] is the training forward
//! pass as written, with dropout switched on ([`Dropout`]). One implementation of the maths for
//! both: the eval-mode training forward pass equals the inference hidden states by
//! construction, and `tests/train_arch.rs` checks it on the tiny fixtures anyway.
//!
//! ALBERT's shared layers are one set of parameters used `num_hidden_layers / num_hidden_groups`
//! times; their gradients add up over the applications, as in PyTorch. Weights that the
//! inference code used to re-lay-out at load time (DeBERTa v1's fused `in_proj`, XLNet's
//! [hidden, heads, d] projections) are read as stored and reshaped in the forward pass, so
//! the parameter is the checkpoint tensor and its gradient has the checkpoint's shape.
//!
//! Dropout probabilities: `hidden_dropout_prob` / `attention_probs_dropout_prob` (BERT-like
//! families), XLNet's single `dropout`; ModernBERT's own (`embedding_dropout`,
//! `attention_dropout`, `mlp_dropout`) are read by its module.
//!
//! Which families have a trainable body: [`TRAINABLE`] (plus the BERT-shaped ones in
//! [`super::trainable`]); a family added for inference only is refused by [`trainable_family`]
//! with that list.

use super::albert::{self, Albert, AlbertConfig};
use super::blocks::{Dropout, TensorSource};
use super::deberta::{self, Deberta, DebertaConfig};
use super::deberta_v2::{self, DebertaV2, DebertaV2Config};
use super::electra::{self, Electra, ElectraConfig};
use super::family::{detect, read_config, CommonConfig, Family, Fields, Kind, PaddedEncoder};
use super::model::Batch;
use super::modernbert::{self, ModernBert, ModernBertConfig};
use super::mpnet::{self, Mpnet, MpnetConfig};
use super::trainable::Dropouts;
use super::weights::Weights;
use super::xlnet::{self, Xlnet, XlnetConfig};
use super::EncoderError;
use crate::nn::params::ParamBuilder;
use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::path::Path;

/// Every `model_type` `probecast finetune` can train.
pub const TRAINABLE: &str =
    "bert, roberta, xlm-roberta, distilbert, mpnet, electra, albert, deberta-v2, deberta, xlnet, modernbert";

/// A parameter builder seen as a tensor source: every tensor read becomes a trainable
/// parameter under its (prefix-free) checkpoint name. Biases and LayerNorm parameters are not
/// weight-decayed (Hugging Face's rule).
pub struct BuilderSource<'b, 'a> {
    b: RefCell<&'b mut ParamBuilder<'a>>,
}

impl<'b, 'a> BuilderSource<'b, 'a> {
    /// Wrap `b`.
    pub fn new(b: &'b mut ParamBuilder<'a>) -> Self {
        BuilderSource { b: RefCell::new(b) }
    }
}

/// Whether AdamW decays the parameter `name`: not biases and LayerNorm parameters.
pub fn decays(name: &str) -> bool {
    !(name.ends_with(".bias")
        || name.ends_with(".beta")
        || name.ends_with(".gamma")
        || name.contains("LayerNorm")
        || name.contains("layer_norm"))
}

impl TensorSource for BuilderSource<'_, '_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        let v = self.b.borrow_mut().load(name, shape, decays(name))?;
        Ok(v.as_tensor().clone())
    }

    fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Tensor, EncoderError> {
        let v = self
            .b
            .borrow_mut()
            .load_any(names, shape, decays(&names[0]))?;
        Ok(v.as_tensor().clone())
    }

    fn contains(&self, name: &str) -> bool {
        self.b.borrow().contains(name)
    }
}

/// The family of the checkpoint in `dir` when it has a trainable body on the padded path;
/// `Ok(None)` for the BERT-shaped families (trained by [`super::trainable`]); an input error
/// naming [`TRAINABLE`] for any other architecture.
pub fn trainable_family(dir: &Path) -> Result<Option<Family>, EncoderError> {
    let (path, v) = read_config(dir)?;
    let mt = v
        .get("model_type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_string();
    let refuse = || {
        EncoderError::input(
            &path,
            format!("model_type {mt:?} has no trainable body (finetune supports: {TRAINABLE})"),
        )
    };
    match detect(&path, &v).map_err(|_| refuse())? {
        Kind::Classic => Ok(None),
        Kind::Family(f) => match f {
            Family::Mpnet
            | Family::Electra
            | Family::Albert
            | Family::DebertaV2
            | Family::Deberta
            | Family::Xlnet
            | Family::ModernBert => Ok(Some(f)),
        },
    }
}

/// The name prefix of the body inside the family's `*ForSequenceClassification` /
/// `*ForMaskedLM` (`mpnet.`, `electra.`, `albert.`, `deberta.`, `transformer.`, `model.`).
pub fn hf_prefix(family: Family) -> &'static str {
    match family {
        Family::Mpnet => "mpnet.",
        Family::Electra => "electra.",
        Family::Albert => "albert.",
        Family::DebertaV2 | Family::Deberta => "deberta.",
        Family::Xlnet => "transformer.",
        Family::ModernBert => "model.",
    }
}

/// The prefixes a family's body may sit under in a checkpoint, and the tensor whose presence
/// tells which one it is (the word embedding table).
pub fn body_prefixes(family: Family) -> (&'static [&'static str], &'static str) {
    const WORD: &str = "embeddings.word_embeddings.weight";
    match family {
        Family::Mpnet => (mpnet::PREFIXES, WORD),
        Family::Electra => (electra::PREFIXES, WORD),
        Family::Albert => (albert::PREFIXES, WORD),
        Family::DebertaV2 => (deberta_v2::PREFIXES, WORD),
        Family::Deberta => (deberta::PREFIXES, WORD),
        Family::Xlnet => (xlnet::PREFIXES, "word_embedding.weight"),
        Family::ModernBert => (modernbert::PREFIXES, "embeddings.tok_embeddings.weight"),
    }
}

/// The trainable body of a family checkpoint (embeddings and layers, no head).
pub struct FamilyBody {
    /// Which family.
    pub family: Family,
    /// The fields every family has.
    pub common: CommonConfig,
    /// config.json as parsed.
    pub raw: serde_json::Value,
    /// Dropout probabilities (`hidden_dropout_prob`, `attention_probs_dropout_prob`; the
    /// classifier's is the head's business).
    pub dropouts: Dropouts,
    /// Longest input (tokens).
    pub max_input_tokens: usize,
    model: Box<dyn PaddedEncoder>,
}

impl FamilyBody {
    /// Select the prefix of `w` for `family` (bare, or under the wrapper's prefix).
    pub fn select_prefix(w: &mut Weights, family: Family) -> Result<(), EncoderError> {
        let (prefixes, probe) = body_prefixes(family);
        w.select_prefix(probe, prefixes)
    }

    /// Build the body of the checkpoint in `dir` (config.json read again there) with `b`,
    /// whose source weights have their prefix selected ([`Self::select_prefix`]).
    pub fn build(dir: &Path, family: Family, b: &mut ParamBuilder) -> Result<Self, EncoderError> {
        let (path, v) = read_config(dir)?;
        let fl = Fields { path: &path, v: &v };
        let hint = dir.display().to_string();
        let src = BuilderSource::new(b);
        let (common, max_input_tokens, model): (_, _, Box<dyn PaddedEncoder>) = match family {
            Family::Mpnet => {
                let c = MpnetConfig::parse(&fl)?;
                let n = c.max_input_tokens();
                (c.common.clone(), n, Box::new(Mpnet::build(c, &src, hint)?))
            }
            Family::Electra => {
                let c = ElectraConfig::parse(&fl)?;
                let n = c.common.max_position_embeddings;
                (
                    c.common.clone(),
                    n,
                    Box::new(Electra::build(c, &src, hint)?),
                )
            }
            Family::Albert => {
                let c = AlbertConfig::parse(&fl)?;
                let n = c.common.max_position_embeddings;
                (c.common.clone(), n, Box::new(Albert::build(c, &src, hint)?))
            }
            Family::DebertaV2 => {
                let c = DebertaV2Config::parse(&fl)?;
                let n = c.max_input_tokens();
                (
                    c.common.clone(),
                    n,
                    Box::new(DebertaV2::build(c, &src, hint)?),
                )
            }
            Family::Deberta => {
                let c = DebertaConfig::parse(&fl)?;
                let n = c.max_input_tokens();
                (
                    c.common.clone(),
                    n,
                    Box::new(Deberta::build(c, &src, hint)?),
                )
            }
            Family::Xlnet => {
                let c = XlnetConfig::parse(&fl)?;
                let n = c.common.max_position_embeddings;
                (c.common.clone(), n, Box::new(Xlnet::build(c, &src, hint)?))
            }
            Family::ModernBert => {
                let c = ModernBertConfig::parse(&fl)?;
                let n = c.common.max_position_embeddings;
                (
                    c.common.clone(),
                    n,
                    Box::new(ModernBert::build(c, &src, hint)?),
                )
            }
        };
        let f = |k: &str, d: f64| v.get(k).and_then(|x| x.as_f64()).unwrap_or(d) as f32;
        let dropouts = match family {
            Family::Xlnet => {
                let p = f("dropout", 0.1);
                Dropouts {
                    hidden: p,
                    attention: p,
                    classifier: p,
                }
            }
            Family::ModernBert => Dropouts {
                hidden: f("embedding_dropout", 0.0),
                attention: f("attention_dropout", 0.0),
                classifier: f("classifier_dropout", 0.0),
            },
            _ => {
                let hidden = f("hidden_dropout_prob", 0.1);
                Dropouts {
                    hidden,
                    attention: f("attention_probs_dropout_prob", 0.1),
                    classifier: hidden,
                }
            }
        };
        Ok(FamilyBody {
            family,
            common,
            dropouts,
            raw: v,
            max_input_tokens,
            model,
        })
    }

    /// The last hidden state [batch, seq, hidden] of a right-padded batch; with `rng`, hidden and
    /// attention dropout as transformers applies them (training), without, deterministic.
    pub fn forward(
        &self,
        batch: &Batch,
        rng: Option<&mut ChaCha8Rng>,
    ) -> Result<Tensor, EncoderError> {
        let mut dp = Dropout::new(rng, self.dropouts.hidden, self.dropouts.attention);
        let mut states = self.model.forward_t(batch, &mut dp)?;
        states
            .pop()
            .ok_or_else(|| EncoderError::Internal("no hidden states".into()))
    }

    /// Every hidden state (embedding output + each layer application), evaluation mode.
    pub fn hidden_states(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.model.forward_padded(batch)
    }
}
