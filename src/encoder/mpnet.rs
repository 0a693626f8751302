//! MPNet (`model_type: mpnet`, e.g. all-mpnet-base-v2), as transformers' `MPNetModel`.
//!
//! Embeddings: word + absolute position (RoBERTa-style ids: `pad + 1 + t` for real tokens), no
//! token types, LayerNorm. Layers: BERT's post-norm block (self-attention with `attn.q/k/v/o`,
//! add & norm, feed-forward, add & norm) with one relative attention bias shared by all layers:
//! a table `encoder.relative_attention_bias` [32 buckets, heads] indexed by the T5-style
//! bidirectional log bucket of `key − query` (exact below 8 positions per direction, logarithmic
//! up to 128), added to the scaled scores before the padding mask.
//!
//! Runs on the padded candle path ([`super::blocks`]) with the BERT path's fused attention op
//! (`crate::nn::attention`), which takes the position bias as an additive score bias (and
//! returns its gradient) and skips the padded keys.

use super::blocks::{self, Act, CResult, Dense, Dropout, Norm, TensorSource};
use super::electra::BertLayer;
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor};

/// Where MPNet checkpoints keep the body: bare, or under the `*For*` wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "mpnet.", "model."];

/// MPNet hyperparameters.
#[derive(Debug, Clone)]
pub struct MpnetConfig {
    /// The shared fields.
    pub common: CommonConfig,
    /// Rows of the relative attention bias table.
    pub relative_attention_num_buckets: usize,
}

impl MpnetConfig {
    /// Read from config.json's fields.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        Ok(MpnetConfig {
            common: f.common(1, 1e-12)?,
            relative_attention_num_buckets: f.usize("relative_attention_num_buckets", Some(32))?,
        })
    }

    /// Longest input: positions start at `pad + 1`.
    pub fn max_input_tokens(&self) -> usize {
        self.common
            .max_position_embeddings
            .saturating_sub(self.common.pad_token_id as usize + 1)
    }
}

/// transformers' `MPNetEncoder.relative_position_bucket` (num_buckets 32, max_distance 128) of
/// `relative = key − query`, computed in f32 as PyTorch does.
pub fn relative_bucket(relative: i64, num_buckets: i64, max_distance: i64) -> usize {
    let nb = num_buckets / 2;
    let n = -relative;
    let mut ret = if n < 0 { nb } else { 0 };
    let n = n.abs();
    let max_exact = nb / 2;
    if n < max_exact {
        ret += n;
    } else {
        // torch: log of an f32 tensor divided by a Python float (math.log), in f32
        let denom = (max_distance as f64 / max_exact as f64).ln() as f32;
        let v = (n as f32 / max_exact as f32).ln() / denom * (nb - max_exact) as f32;
        let large = (max_exact + v as i64).min(nb - 1);
        ret += large;
    }
    ret as usize
}

/// MPNet's names of the BERT block's weights.
pub const MPNET_LAYER: [&str; 8] = [
    "attention.attn.q",
    "attention.attn.k",
    "attention.attn.v",
    "attention.attn.o",
    "attention.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
];

/// A loaded MPNet encoder.
pub struct Mpnet {
    cfg: MpnetConfig,
    word: Tensor,
    pos: Tensor,
    ln_emb: Norm,
    rel_bias: Tensor,
    layers: Vec<BertLayer>,
    dir: String,
}

impl Mpnet {
    /// Build from weights (bare `MPNetModel` names, or under `mpnet.`), checking shapes.
    pub fn load(cfg: MpnetConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.word_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: MpnetConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        let layers = (0..c.num_layers)
            .map(|i| BertLayer::load_named(w, &format!("encoder.layer.{i}"), &MPNET_LAYER, c))
            .collect::<Result<_, _>>()?;
        Ok(Mpnet {
            word: w.get("embeddings.word_embeddings.weight", &[c.vocab_size, h])?,
            pos: w.get(
                "embeddings.position_embeddings.weight",
                &[c.max_position_embeddings, h],
            )?,
            ln_emb: Norm::load(w, "embeddings.LayerNorm", h, eps, true)?,
            rel_bias: w.get(
                "encoder.relative_attention_bias.weight",
                &[cfg.relative_attention_num_buckets, c.num_heads],
            )?,
            layers,
            cfg,
            dir,
        })
    }

    /// The bias [heads, s, s] for a padded length `s`.
    fn position_bias(&self, s: usize) -> CResult<Tensor> {
        let mut idx = Vec::with_capacity(s * s);
        for q in 0..s as i64 {
            for k in 0..s as i64 {
                idx.push(relative_bucket(k - q, 32, 128) as u32);
            }
        }
        let idx = Tensor::from_vec(idx, s * s, &Device::Cpu)?;
        let heads = self.cfg.common.num_heads;
        self.rel_bias
            .index_select(&idx, 0)?
            .reshape((s, s, heads))?
            .permute((2, 0, 1))?
            .contiguous()
    }
}

impl PaddedEncoder for Mpnet {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let (b, s) = check_batch(batch, self.cfg.max_input_tokens())?;
        let c = &self.cfg.common;
        let ids = blocks::ids_tensor(&batch.ids, b, s, c.vocab_size, &self.dir)?;
        let pad = c.pad_token_id;
        let mut pos = vec![pad; b * s];
        for (r, &l) in batch.lengths.iter().enumerate() {
            for t in 0..l {
                pos[r * s + t] = pad + 1 + t as u32;
            }
        }
        let heads = c.num_heads;
        let act = c.act;
        ok((|| -> CResult<Vec<Tensor>> {
            let pos = Tensor::from_vec(pos, (b, s), &Device::Cpu)?;
            let x = (blocks::embed(&self.word, &ids)? + blocks::embed(&self.pos, &pos)?)?;
            let mut x = dp.hidden(&self.ln_emb.forward(&x)?)?;
            let bias = self.position_bias(s)?;
            let mut out = vec![x.clone()];
            for l in &self.layers {
                x = l.forward_t(&x, &batch.lengths, Some(&bias), heads, act, dp)?;
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}

/// `ff_out(act(ff_in(x)))`.
pub fn ffn(ff_in: &Dense, ff_out: &Dense, act: Act, x: &Tensor) -> CResult<Tensor> {
    ff_out.forward(&act.apply(&ff_in.forward(x)?)?)
}

#[cfg(test)]
mod tests {
    use super::relative_bucket;

    #[test]
    fn relative_buckets_match_the_t5_formula_at_known_points() {
        // n = -relative; exact below 8, sign offset 16, log between 8 and 128, capped at 15.
        assert_eq!(relative_bucket(0, 32, 128), 0);
        assert_eq!(relative_bucket(-3, 32, 128), 3);
        assert_eq!(relative_bucket(3, 32, 128), 19);
        // n = 8: 8 + floor(ln(1)/ln(16)·8) = 8
        assert_eq!(relative_bucket(-8, 32, 128), 8);
        // n = 32: 8 + floor(ln 4 / ln 16 · 8) = 8 + 4 = 12
        assert_eq!(relative_bucket(-32, 32, 128), 12);
        assert_eq!(relative_bucket(-1000, 32, 128), 15);
        assert_eq!(relative_bucket(1000, 32, 128), 31);
    }
}
