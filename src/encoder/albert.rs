//! ALBERT (`model_type: albert`), as transformers' `AlbertModel`.
//!
//! Factorised embeddings: word + position + token type tables of width `embedding_size`,
//! LayerNorm, then `encoder.embedding_hidden_mapping_in` up to `hidden_size`; the projected
//! vectors are hidden state 0. Layer sharing: `num_hidden_groups` groups of `inner_group_num`
//! layers each (`encoder.albert_layer_groups.<g>.albert_layers.<j>`); application `i` of
//! `num_hidden_layers` runs group `i / (num_hidden_layers / num_hidden_groups)` (all its inner
//! layers) and yields hidden state `i + 1`. So `num_hidden_groups` must divide
//! `num_hidden_layers`, and a truncated ALBERT is the same weights applied fewer times.
//!
//! Runs on the padded candle path ([`super::blocks`]); the layer is BERT's post-norm block with
//! ALBERT's names (`attention.{query,key,value,dense,LayerNorm}`, `ffn`, `ffn_output`,
//! `full_layer_layer_norm`).

use super::blocks::{Act, CResult, Dense, Dropout, TensorSource};
use super::electra::{AbsEmbeddings, BertLayer};
use super::family::{ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::Tensor;

/// Where ALBERT checkpoints keep the body: bare, or under the `*For*` wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "albert.", "model."];

/// ALBERT hyperparameters.
#[derive(Debug, Clone)]
pub struct AlbertConfig {
    /// The shared fields (`hidden_act` defaults to `gelu_new`).
    pub common: CommonConfig,
    /// Width of the factorised embeddings.
    pub embedding_size: usize,
    /// Number of distinct layer groups.
    pub num_hidden_groups: usize,
    /// Layers inside each group.
    pub inner_group_num: usize,
}

impl AlbertConfig {
    /// Read from config.json's fields; refuses `num_hidden_groups` not dividing the layers.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        let mut common = f.common(0, 1e-12)?;
        if f.v.get("hidden_act").is_none() {
            common.act = Act::GeluTanh;
        }
        let groups = f.usize("num_hidden_groups", Some(1))?;
        if groups == 0 || common.num_layers % groups != 0 {
            return Err(f.bad(format!(
                "num_hidden_groups {groups} does not divide num_hidden_layers {} (ALBERT shares each group over an equal run of layers)",
                common.num_layers
            )));
        }
        let inner = f.usize("inner_group_num", Some(1))?;
        if inner == 0 {
            return Err(f.bad("inner_group_num must be at least 1"));
        }
        let pet = f.str("position_embedding_type", "absolute");
        if pet != "absolute" {
            return Err(f.bad(format!(
                "position_embedding_type {pet:?} is not supported (only absolute)"
            )));
        }
        Ok(AlbertConfig {
            embedding_size: f.usize("embedding_size", Some(128))?,
            num_hidden_groups: groups,
            inner_group_num: inner,
            common,
        })
    }
}

/// ALBERT's names of the BERT block's weights.
pub const ALBERT_LAYER: [&str; 8] = [
    "attention.query",
    "attention.key",
    "attention.value",
    "attention.dense",
    "attention.LayerNorm",
    "ffn",
    "ffn_output",
    "full_layer_layer_norm",
];

/// A loaded ALBERT encoder.
pub struct Albert {
    cfg: AlbertConfig,
    emb: AbsEmbeddings,
    mapping_in: Dense,
    groups: Vec<Vec<BertLayer>>,
    dir: String,
}

impl Albert {
    /// Build from weights (bare or under `albert.`), checking shapes.
    pub fn load(cfg: AlbertConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.word_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: AlbertConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let groups = (0..cfg.num_hidden_groups)
            .map(|g| {
                (0..cfg.inner_group_num)
                    .map(|j| {
                        BertLayer::load_named(
                            w,
                            &format!("encoder.albert_layer_groups.{g}.albert_layers.{j}"),
                            &ALBERT_LAYER,
                            c,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;
        Ok(Albert {
            emb: AbsEmbeddings::load(w, c, cfg.embedding_size)?,
            mapping_in: Dense::load(
                w,
                "encoder.embedding_hidden_mapping_in",
                c.hidden_size,
                cfg.embedding_size,
                true,
            )?,
            groups,
            cfg,
            dir,
        })
    }
}

impl PaddedEncoder for Albert {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let e = self.emb.forward_t(batch, &self.dir, dp)?;
        let c = &self.cfg.common;
        let per_group = c.num_layers / self.cfg.num_hidden_groups;
        ok((|| -> CResult<Vec<Tensor>> {
            let mut x = self.mapping_in.forward(&e)?;
            let mut out = vec![x.clone()];
            for i in 0..c.num_layers {
                for l in &self.groups[i / per_group] {
                    x = l.forward_t(&x, &batch.lengths, None, c.num_heads, c.act, dp)?;
                }
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}
