//! Architecture dispatch: config.json -> which family's code builds the model, and the one
//! model type ([`AnyEncoder`]) the extraction code runs.
//!
//! BERT, RoBERTa, XLM-RoBERTa and DistilBERT ([`super::config::Arch`]) take the packed fast
//! path of [`super::model`]. The families added since ([`Family`]: MPNet, ELECTRA, ALBERT,
//! DeBERTa-v2/v3, DeBERTa v1, XLNet, ModernBERT) each have one file (`mpnet.rs`, `electra.rs`,
//! `albert.rs`, `deberta_v2.rs`, `deberta.rs`, `xlnet.rs`, `modernbert.rs`) built from the padded candle blocks of
//! [`super::blocks`] (why: see that module), all behind the [`PaddedEncoder`] trait.
//!
//! What "cls" pooling means per family ([`AnyEncoder::cls_is_last`]): the first token (`[CLS]`,
//! `<s>`) everywhere except XLNet, whose summary token `<cls>` is the last one; `first` pooling
//! is always the first real token, the seed paper's protocol.

use super::blocks::{self, cerr};
use super::config::EncoderConfig;
use super::model::{Batch, Encoder, PackedStates};
use super::weights::Weights;
use super::EncoderError;
use candle_core::Tensor;
use serde_json::Value;
use std::path::Path;

/// Every `model_type` probecast can run, for error messages.
pub const SUPPORTED: &str =
    "bert, roberta, xlm-roberta, distilbert, mpnet, electra, albert, deberta-v2, deberta, xlnet, modernbert";

/// The families beyond the BERT-shaped ones, each with its own module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// MPNet: BERT-like post-norm layers with a bucketed relative attention bias.
    Mpnet,
    /// ELECTRA discriminator: the BERT body with an optional embedding projection.
    Electra,
    /// ALBERT: factorised embeddings and shared layer groups.
    Albert,
    /// DeBERTa-v2 and v3: disentangled attention with log-bucketed relative positions.
    DebertaV2,
    /// DeBERTa v1: disentangled attention with clamped relative positions, fused projections.
    Deberta,
    /// XLNet: Transformer-XL relative attention (content stream), summary token last.
    Xlnet,
    /// ModernBERT: pre-norm, rotary positions, GeGLU, alternating local/global attention.
    ModernBert,
}

impl Family {
    /// Its `model_type`.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Mpnet => "mpnet",
            Family::Electra => "electra",
            Family::Albert => "albert",
            Family::DebertaV2 => "deberta-v2",
            Family::Deberta => "deberta",
            Family::Xlnet => "xlnet",
            Family::ModernBert => "modernbert",
        }
    }
}

/// Which code runs a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The BERT-shaped packed path ([`EncoderConfig`]).
    Classic,
    /// A family of [`Family`].
    Family(Family),
}

/// Read config.json's `model_type` (or `architectures[0]`) and say which code runs it; an
/// unknown architecture is an input error naming the supported list.
pub fn detect(path: &Path, v: &Value) -> Result<Kind, EncoderError> {
    let mt = v.get("model_type").and_then(Value::as_str).unwrap_or("");
    let arch0 = v
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    let fam = |s: &str| match s {
        "mpnet" => Some(Family::Mpnet),
        "electra" => Some(Family::Electra),
        "albert" => Some(Family::Albert),
        "deberta-v2" => Some(Family::DebertaV2),
        "deberta" => Some(Family::Deberta),
        "xlnet" => Some(Family::Xlnet),
        "modernbert" => Some(Family::ModernBert),
        _ => None,
    };
    if let Some(f) = fam(mt) {
        return Ok(Kind::Family(f));
    }
    match mt {
        "bert" | "roberta" | "xlm-roberta" | "distilbert" => return Ok(Kind::Classic),
        "" => {}
        other => {
            return Err(EncoderError::input(
                path,
                format!("unknown model_type {other:?} (supported: {SUPPORTED})"),
            ))
        }
    }
    for (prefix, f) in [
        ("mpnet", Family::Mpnet),
        ("electra", Family::Electra),
        ("albert", Family::Albert),
        ("debertav2", Family::DebertaV2),
        ("deberta", Family::Deberta),
        ("xlnet", Family::Xlnet),
        ("modernbert", Family::ModernBert),
    ] {
        if arch0.starts_with(prefix) {
            return Ok(Kind::Family(f));
        }
    }
    if ["xlmroberta", "roberta", "distilbert", "bert"]
        .iter()
        .any(|p| arch0.starts_with(p))
    {
        return Ok(Kind::Classic);
    }
    Err(EncoderError::input(
        path,
        format!("no model_type and no known architectures entry (supported: {SUPPORTED})"),
    ))
}

/// Read `<dir>/config.json` as JSON.
pub fn read_config(dir: &Path) -> Result<(std::path::PathBuf, Value), EncoderError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| EncoderError::input(&path, format!("cannot read config.json: {e}")))?;
    let v = serde_json::from_str(&text)
        .map_err(|e| EncoderError::input(&path, format!("not valid JSON: {e}")))?;
    Ok((path, v))
}

/// Hyperparameters every new family reads the same way from config.json.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_layers: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Rows of the absolute position table.
    pub max_position_embeddings: usize,
    /// Rows of the token type table (0 when none).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Feed-forward activation.
    pub act: blocks::Act,
    /// Padding token id.
    pub pad_token_id: u32,
}

/// Field readers over one config.json, with errors naming the file.
pub struct Fields<'a> {
    /// The config file (for messages).
    pub path: &'a Path,
    /// Its JSON.
    pub v: &'a Value,
}

impl Fields<'_> {
    /// An input error about this config file.
    pub fn bad(&self, msg: impl Into<String>) -> EncoderError {
        EncoderError::input(self.path, msg)
    }

    /// A non-negative integer field, with a default when absent (`None`: required).
    pub fn usize(&self, key: &str, default: Option<usize>) -> Result<usize, EncoderError> {
        match self.v.get(key) {
            Some(Value::Null) | None => default.ok_or_else(|| self.bad(format!("missing {key}"))),
            Some(x) => x
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.bad(format!("{key} must be a non-negative integer"))),
        }
    }

    /// A float field with a default.
    pub fn f64(&self, key: &str, default: f64) -> f64 {
        self.v.get(key).and_then(Value::as_f64).unwrap_or(default)
    }

    /// A boolean field with a default.
    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.v.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    /// A string field with a default.
    pub fn str(&self, key: &str, default: &'static str) -> String {
        self.v
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    }

    /// The fields [`CommonConfig`] holds, checked for consistency.
    pub fn common(
        &self,
        default_pad: usize,
        default_eps: f64,
    ) -> Result<CommonConfig, EncoderError> {
        let hidden_size = self.usize("hidden_size", None)?;
        let num_heads = self.usize("num_attention_heads", None)?;
        let num_layers = self.usize("num_hidden_layers", None)?;
        let vocab_size = self.usize("vocab_size", None)?;
        let intermediate_size = self.usize("intermediate_size", None)?;
        if hidden_size == 0 || num_heads == 0 || hidden_size % num_heads != 0 {
            return Err(self.bad(format!(
                "hidden size {hidden_size} is not a positive multiple of the head count {num_heads}"
            )));
        }
        if num_layers == 0 || vocab_size == 0 || intermediate_size == 0 {
            return Err(self.bad("layer count, vocabulary and intermediate size must be positive"));
        }
        let act_name = self.str("hidden_act", "gelu");
        let act = blocks::Act::parse(&act_name)
            .ok_or_else(|| self.bad(format!("unsupported activation {act_name:?}")))?;
        Ok(CommonConfig {
            vocab_size,
            hidden_size,
            num_layers,
            num_heads,
            intermediate_size,
            max_position_embeddings: self.usize("max_position_embeddings", Some(512))?,
            type_vocab_size: self.usize("type_vocab_size", Some(2))?,
            layer_norm_eps: self.f64("layer_norm_eps", default_eps),
            act,
            pad_token_id: self.usize("pad_token_id", Some(default_pad))? as u32,
        })
    }
}

/// A family model run on padded batches: `num_layers + 1` hidden states, each [b, s, hidden],
/// exactly what transformers returns with `output_hidden_states=True` at the real positions.
pub trait PaddedEncoder: Send + Sync {
    /// The fields every family's config has.
    fn common(&self) -> &CommonConfig;
    /// Width of the hidden states.
    fn hidden_size(&self) -> usize {
        self.common().hidden_size
    }
    /// Number of hidden states (embedding output + one per layer application).
    fn num_hidden_states(&self) -> usize {
        self.common().num_layers + 1
    }
    /// Rows of the word embedding table.
    fn vocab_size(&self) -> usize {
        self.common().vocab_size
    }
    /// Every hidden state of a right-padded batch.
    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError>;
    /// Every hidden state with dropout where transformers has it (training). The families with
    /// a trainable body (`super::trainable_family`) implement it and their `forward_padded` is
    /// this with dropout off; the default, for a family without one, ignores `dp`.
    fn forward_t(
        &self,
        batch: &Batch,
        dp: &mut blocks::Dropout,
    ) -> Result<Vec<Tensor>, EncoderError> {
        let _ = dp;
        self.forward_padded(batch)
    }
}

/// A loaded encoder of any supported architecture.
pub enum AnyEncoder {
    /// BERT-shaped, packed fast path.
    Classic(Box<Encoder>),
    /// One of the newer families.
    Padded {
        /// Which family.
        family: Family,
        /// Padding token id (what batches are padded with).
        pad_token_id: u32,
        /// The model.
        model: Box<dyn PaddedEncoder>,
    },
}

/// The longest input (tokens, special tokens included) a checkpoint's positions allow.
pub fn max_input_tokens(dir: &Path) -> Result<usize, EncoderError> {
    let (path, v) = read_config(dir)?;
    match detect(&path, &v)? {
        Kind::Classic => Ok(EncoderConfig::from_dir(dir)?.max_input_tokens()),
        Kind::Family(f) => {
            let fl = Fields { path: &path, v: &v };
            match f {
                Family::Mpnet => {
                    super::mpnet::MpnetConfig::parse(&fl).map(|c| c.max_input_tokens())
                }
                Family::Electra => super::electra::ElectraConfig::parse(&fl)
                    .map(|c| c.common.max_position_embeddings),
                Family::Albert => super::albert::AlbertConfig::parse(&fl)
                    .map(|c| c.common.max_position_embeddings),
                Family::DebertaV2 => {
                    super::deberta_v2::DebertaV2Config::parse(&fl).map(|c| c.max_input_tokens())
                }
                Family::Deberta => {
                    super::deberta::DebertaConfig::parse(&fl).map(|c| c.max_input_tokens())
                }
                Family::Xlnet => {
                    super::xlnet::XlnetConfig::parse(&fl).map(|c| c.common.max_position_embeddings)
                }
                Family::ModernBert => super::modernbert::ModernBertConfig::parse(&fl)
                    .map(|c| c.common.max_position_embeddings),
            }
        }
    }
}

impl AnyEncoder {
    /// Load the checkpoint in `dir` with the weights `w` (config.json decides the family).
    pub fn load(dir: &Path, w: Weights) -> Result<Self, EncoderError> {
        let (path, v) = read_config(dir)?;
        let family = match detect(&path, &v)? {
            Kind::Classic => {
                return Ok(AnyEncoder::Classic(Box::new(Encoder::load(
                    EncoderConfig::from_dir(dir)?,
                    w,
                )?)))
            }
            Kind::Family(f) => f,
        };
        let fl = Fields { path: &path, v: &v };
        let hint = dir.display().to_string();
        let (pad, model): (u32, Box<dyn PaddedEncoder>) = match family {
            Family::Mpnet => {
                let c = super::mpnet::MpnetConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::mpnet::Mpnet::load(c, w, hint)?),
                )
            }
            Family::Electra => {
                let c = super::electra::ElectraConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::electra::Electra::load(c, w, hint)?),
                )
            }
            Family::DebertaV2 => {
                let c = super::deberta_v2::DebertaV2Config::parse(&fl)?;
                let pad = c.common.pad_token_id;
                (
                    pad,
                    Box::new(super::deberta_v2::DebertaV2::load(c, w, hint)?),
                )
            }
            Family::Albert => {
                let c = super::albert::AlbertConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::albert::Albert::load(c, w, hint)?),
                )
            }
            Family::Deberta => {
                let c = super::deberta::DebertaConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::deberta::Deberta::load(c, w, hint)?),
                )
            }
            Family::Xlnet => {
                let c = super::xlnet::XlnetConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::xlnet::Xlnet::load(c, w, hint)?),
                )
            }
            Family::ModernBert => {
                let c = super::modernbert::ModernBertConfig::parse(&fl)?;
                (
                    c.common.pad_token_id,
                    Box::new(super::modernbert::ModernBert::load(c, w, hint)?),
                )
            }
        };
        Ok(AnyEncoder::Padded {
            family,
            pad_token_id: pad,
            model,
        })
    }

    /// Width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        match self {
            AnyEncoder::Classic(e) => e.config.hidden_size,
            AnyEncoder::Padded { model, .. } => model.hidden_size(),
        }
    }

    /// Number of hidden states a forward pass returns.
    pub fn num_hidden_states(&self) -> usize {
        match self {
            AnyEncoder::Classic(e) => e.num_hidden_states(),
            AnyEncoder::Padded { model, .. } => model.num_hidden_states(),
        }
    }

    /// Rows of the word embedding table: every token id must be below it.
    pub fn vocab_size(&self) -> usize {
        match self {
            AnyEncoder::Classic(e) => e.config.vocab_size,
            AnyEncoder::Padded { model, .. } => model.vocab_size(),
        }
    }

    /// Whether the token type ids of a sentence pair reach the model (BERT-shaped models with
    /// more than one token type; the newer families take them as transformers does, clamped to
    /// their table or ignored when they have none). When false, pairs get type ids 0, as
    /// fine-tuning gives them.
    pub fn uses_token_types(&self) -> bool {
        match self {
            AnyEncoder::Classic(e) => e.config.type_vocab_size > 1,
            AnyEncoder::Padded { .. } => true,
        }
    }

    /// The id batches are padded with.
    pub fn pad_token_id(&self) -> u32 {
        match self {
            AnyEncoder::Classic(e) => e.config.pad_token_id,
            AnyEncoder::Padded { pad_token_id, .. } => *pad_token_id,
        }
    }

    /// Whether `cls` pooling takes the last real token (XLNet) rather than the first.
    pub fn cls_is_last(&self) -> bool {
        matches!(
            self,
            AnyEncoder::Padded {
                family: Family::Xlnet,
                ..
            }
        )
    }

    /// The `model_type` of the loaded model.
    pub fn model_type(&self) -> &'static str {
        match self {
            AnyEncoder::Classic(e) => e.config.arch.model_type(),
            AnyEncoder::Padded { family, .. } => family.model_type(),
        }
    }

    /// Every hidden state of a right-padded batch, packed (see [`PackedStates`]). `last_cls_only`
    /// is a hint the BERT path uses to stop the last layer at the first token; the padded
    /// families compute every row.
    pub fn forward_packed_with(
        &self,
        batch: &Batch,
        last_cls_only: bool,
        parallel: bool,
    ) -> Result<PackedStates, EncoderError> {
        match self {
            AnyEncoder::Classic(e) => e.forward_packed_with(batch, last_cls_only, parallel),
            AnyEncoder::Padded { model, .. } => {
                let states = model.forward_padded(batch)?;
                blocks::pack(&states, &batch.lengths)
            }
        }
    }

    /// Every hidden state of a right-padded batch as [b, s, hidden] tensors (padding rows not
    /// meaningful).
    pub fn forward(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        match self {
            AnyEncoder::Classic(e) => e.forward(batch),
            AnyEncoder::Padded { model, .. } => model.forward_padded(batch),
        }
    }
}

/// Check a batch's shape, and its length against the position table of `max_tokens`, before a
/// padded forward pass.
pub fn check_batch(batch: &Batch, max_tokens: usize) -> Result<(usize, usize), EncoderError> {
    let s = batch.seq;
    if s > max_tokens {
        return Err(EncoderError::Internal(format!(
            "sequence of {s} tokens past the position table of {max_tokens}"
        )));
    }
    batch.check_shape()
}

/// `t` as an internal-error result (for the `?` in family code).
pub fn ok<T>(r: candle_core::Result<T>) -> Result<T, EncoderError> {
    r.map_err(cerr)
}
