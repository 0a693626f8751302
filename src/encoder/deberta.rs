//! DeBERTa v1 (`model_type: deberta`, e.g. microsoft/deberta-base), as transformers'
//! `DebertaModel`.
//!
//! Embeddings: word (width `embedding_size`, default the hidden size), absolute positions
//! 0.. only when `position_biased_input` (deberta-base has it off), token types when
//! `type_vocab_size > 0`, `embed_proj` (no bias) when the widths differ, LayerNorm, then
//! padding rows set to zero.
//!
//! Layers: BERT's post-norm block whose query, key and value come from one fused matrix
//! `attention.self.in_proj` [3·hidden, hidden] laid out per head (rows `3·d·n .. 3·d·n + d` are
//! head n's query, the next d its key, the next d its value), with separate `q_bias` and
//! `v_bias` and no key bias. The forward pass projects with the whole matrix and splits the
//! result per head, as transformers does (one GEMM, and a trained `in_proj` is read as it is);
//! the rest of the layer is BERT's ([`super::electra::PostNorm`]). Disentangled attention as in
//! v2 (see [`super::deberta_v2`]):
//! scores = q·kᵀ/√(d·f) + c2p + p2c, f = 1 + |pos_att_type|, c2p[i, j] = q_i · P_k[δ(i, j)] /
//! √(d·f) with `pos_proj` (no bias), p2c[i, j] = k_j · P_q[δ(i, j)] / √(d·f) with `pos_q_proj`
//! (with bias), over the raw `encoder.rel_embeddings` (no LayerNorm, no shared projections).
//! v1's relative positions differ from v2's: no log buckets, and transformers slices the table
//! to the rows `mrp − span .. mrp + span` (span = min(s, mrp), mrp = `max_relative_positions`,
//! the position table when < 1) and clamps `i − j + span` into it, which is the same row as
//! δ(i, j) = clamp(i − j + mrp, 0, 2·mrp − 1) of the whole table: that is what runs here, with
//! the position projections computed only over the rows a batch of s tokens can reach (2·s of
//! deberta-base's 1,024: this took embedding from 0.33x to PyTorch's speed to par, BENCHMARKS.md).
//! `pos_att_type` must be a subset of {c2p, p2c}; `talking_head` is refused.
//!
//! Runs on the padded candle path ([`super::blocks`]), which is also its trainable body
//! (`super::trainable_family`): dropout where transformers has it, identity at inference.

use super::blocks::{self, key_mask, split_heads, CResult, Dense, Dropout, Norm, TensorSource};
use super::deberta_v2::{DebertaV2, DebertaV2Config};
use super::electra::PostNorm;
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor};

/// DeBERTa v1 hyperparameters.
#[derive(Debug, Clone)]
pub struct DebertaConfig {
    /// The shared fields.
    pub common: CommonConfig,
    /// Width of the word embeddings.
    pub embedding_size: usize,
    /// Absolute positions added to the input.
    pub position_biased_input: bool,
    /// Relative (disentangled) attention on.
    pub relative_attention: bool,
    /// Content-to-position term.
    pub c2p: bool,
    /// Position-to-content term.
    pub p2c: bool,
    /// Largest relative distance (half the relative embedding rows).
    pub max_relative_positions: usize,
}

impl DebertaConfig {
    /// Read from config.json's fields. transformers' v1 and v2 configs read the fields v1 has
    /// (`pos_att_type`, `relative_attention`, `position_biased_input`, `max_relative_positions`
    /// below 1 meaning the position table, `embedding_size`) the same way, so v2's reader
    /// parses them (and refuses an unknown `pos_att_type`); `talking_head` is refused.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        if f.bool("talking_head", false) {
            return Err(f.bad("talking_head is not supported (no released DeBERTa v1 uses it)"));
        }
        let v2 = DebertaV2Config::parse(f)?;
        Ok(DebertaConfig {
            embedding_size: v2.embedding_size,
            position_biased_input: v2.position_biased_input,
            relative_attention: v2.relative_attention,
            c2p: v2.c2p,
            p2c: v2.p2c,
            max_relative_positions: v2.max_relative_positions as usize,
            common: v2.common,
        })
    }

    /// Longest input: the absolute position table when used, else unbounded.
    pub fn max_input_tokens(&self) -> usize {
        if self.position_biased_input {
            self.common.max_position_embeddings
        } else {
            usize::MAX / 2
        }
    }
}

/// Where DeBERTa v1 checkpoints keep the body: bare, or under the `*For*` wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "deberta.", "model."];

/// The names, under `encoder.layer.<i>.`, of the post-norm block after the attention scores
/// (attention output, its LayerNorm, feed-forward in, out, final LayerNorm).
pub const DEBERTA_V1_POST: [&str; 5] = [
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
];

/// One DeBERTa v1 layer: the fused query/key/value projection with its two biases, the
/// relative position projections, and BERT's post-norm block.
struct Layer {
    /// `attention.self.in_proj` [3·hidden, hidden], no bias, rows laid out per head.
    in_proj: Dense,
    /// `q_bias`, `v_bias` [hidden].
    q_bias: Tensor,
    v_bias: Tensor,
    /// `pos_proj` (c2p, no bias).
    pos_key: Option<Dense>,
    /// `pos_q_proj` (p2c, with bias).
    pos_query: Option<Dense>,
    post: PostNorm,
}

/// A loaded DeBERTa v1 encoder.
pub struct Deberta {
    cfg: DebertaConfig,
    word: Tensor,
    pos: Option<Tensor>,
    token_type: Option<Tensor>,
    embed_proj: Option<Dense>,
    ln_emb: Norm,
    rel: Option<Tensor>,
    layers: Vec<Layer>,
    dir: String,
}

impl Deberta {
    /// Build from weights (bare or under `deberta.`), checking shapes.
    pub fn load(cfg: DebertaConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.word_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable). Nothing
    /// is derived from a weight here: the fused projection is split per head in the forward
    /// pass, as transformers does, so a trained `in_proj` is read as it is now.
    pub fn build<S: TensorSource + ?Sized>(
        cfg: DebertaConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let (h, e, eps) = (c.hidden_size, cfg.embedding_size, c.layer_norm_eps);
        let mut layers = Vec::new();
        for i in 0..c.num_layers {
            let p = format!("encoder.layer.{i}");
            let a = format!("{p}.attention.self");
            let rel = cfg.relative_attention;
            layers.push(Layer {
                in_proj: Dense::load(w, &format!("{a}.in_proj"), 3 * h, h, false)?,
                q_bias: w.get(&format!("{a}.q_bias"), &[h])?,
                v_bias: w.get(&format!("{a}.v_bias"), &[h])?,
                pos_key: if rel && cfg.c2p {
                    Some(Dense::load(w, &format!("{a}.pos_proj"), h, h, false)?)
                } else {
                    None
                },
                pos_query: if rel && cfg.p2c {
                    Some(Dense::load(w, &format!("{a}.pos_q_proj"), h, h, true)?)
                } else {
                    None
                },
                post: PostNorm::load_named(w, &p, &DEBERTA_V1_POST, c)?,
            });
        }
        Ok(Deberta {
            word: w.get("embeddings.word_embeddings.weight", &[c.vocab_size, e])?,
            pos: if cfg.position_biased_input {
                Some(w.get(
                    "embeddings.position_embeddings.weight",
                    &[c.max_position_embeddings, e],
                )?)
            } else {
                None
            },
            token_type: if c.type_vocab_size > 0 {
                Some(w.get(
                    "embeddings.token_type_embeddings.weight",
                    &[c.type_vocab_size, e],
                )?)
            } else {
                None
            },
            embed_proj: if e != h {
                Some(Dense::load(w, "embeddings.embed_proj", h, e, false)?)
            } else {
                None
            },
            ln_emb: Norm::load(w, "embeddings.LayerNorm", h, eps, true)?,
            rel: if cfg.relative_attention {
                Some(w.get(
                    "encoder.rel_embeddings.weight",
                    &[2 * cfg.max_relative_positions, h],
                )?)
            } else {
                None
            },
            layers,
            cfg,
            dir,
        })
    }

    /// δ(i, j) = clamp(i − j + mrp, 0, 2·mrp − 1) for a length `s`, as a [s, s] u32 tensor, and
    /// its transpose.
    /// The rows `lo .. hi` of the relative table a sequence of `s` tokens can reach (all
    /// 2·mrp rows when s > mrp, else `mrp − s .. mrp + s`: a 10-token batch projects 20 rows,
    /// not 1,024), and δ(i, j) − lo and its transpose.
    fn rel_index(&self, s: usize) -> CResult<(usize, usize, Tensor, Tensor)> {
        let m = self.cfg.max_relative_positions as i64;
        let lo = (m - s as i64).max(0);
        let hi = (m + s as i64).min(2 * m);
        let mut idx = vec![0u32; s * s];
        let mut idx_t = vec![0u32; s * s];
        for i in 0..s {
            for j in 0..s {
                let v = ((i as i64 - j as i64 + m).clamp(0, 2 * m - 1) - lo) as u32;
                idx[i * s + j] = v;
                idx_t[j * s + i] = v;
            }
        }
        Ok((
            lo as usize,
            hi as usize,
            Tensor::from_vec(idx, (s, s), &Device::Cpu)?,
            Tensor::from_vec(idx_t, (s, s), &Device::Cpu)?,
        ))
    }

    /// The embedding output (hidden state 0) and the [b, s, 1] mask of real rows.
    fn embed(&self, batch: &Batch, ids: &Tensor) -> CResult<(Tensor, Tensor)> {
        let (b, s) = (batch.lengths.len(), batch.seq);
        let mut x = blocks::embed(&self.word, ids)?;
        if let Some(p) = &self.pos {
            let pos = Tensor::arange(0u32, s as u32, &Device::Cpu)?;
            x = x.broadcast_add(&p.index_select(&pos, 0)?.unsqueeze(0)?)?;
        }
        if let Some(tt) = &self.token_type {
            let n = tt.dims2()?.0 as u32;
            let ty: Vec<u32> = batch.type_ids.iter().map(|&t| t.min(n - 1)).collect();
            x = (x + blocks::embed(tt, &Tensor::from_vec(ty, (b, s), &Device::Cpu)?)?)?;
        }
        if let Some(p) = &self.embed_proj {
            x = p.forward(&x)?;
        }
        let mut rm = vec![0f32; b * s];
        for (r, &l) in batch.lengths.iter().enumerate() {
            rm[r * s..r * s + l].iter_mut().for_each(|v| *v = 1.0);
        }
        let rmask = Tensor::from_vec(rm, (b, s, 1), &Device::Cpu)?;
        Ok((self.ln_emb.forward(&x)?.broadcast_mul(&rmask)?, rmask))
    }
}

impl PaddedEncoder for Deberta {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    /// Dropout where transformers has it: the embedding output, the relative embeddings
    /// (`pos_dropout`, hidden probability), the attention probabilities, the attention output
    /// and the feed-forward output.
    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let (b, s) = check_batch(batch, self.cfg.max_input_tokens())?;
        let c = &self.cfg.common;
        let ids = blocks::ids_tensor(&batch.ids, b, s, c.vocab_size, &self.dir)?;
        let heads = c.num_heads;
        let d = c.hidden_size / heads;
        let factor = 1 + self.cfg.c2p as usize + self.cfg.p2c as usize;
        let scale = ((d as f32) * factor as f32).sqrt() as f64;
        ok((|| -> CResult<Vec<Tensor>> {
            let (emb, _) = self.embed(batch, &ids)?;
            let emb = dp.hidden(&emb)?;
            let mask = key_mask(&batch.lengths, s)?;
            let idx = match &self.rel {
                Some(_) => Some(self.rel_index(s)?),
                None => None,
            };
            let mut x = emb.clone();
            let mut out = vec![emb];
            for l in &self.layers {
                // transformers: in_proj(x) viewed [b, s, heads, 3d], chunked into q, k, v
                let qkv = l
                    .in_proj
                    .forward(&x)?
                    .reshape((b, s, heads, 3 * d))?
                    .transpose(1, 2)?; // [b, H, s, 3d]
                let part = |i: usize| qkv.narrow(3, i * d, d)?.contiguous();
                let bias = |t: &Tensor| t.reshape((1, heads, 1, d));
                let q = (part(0)?.broadcast_add(&bias(&l.q_bias)?)? / scale)?;
                let k = part(1)?;
                let v = part(2)?.broadcast_add(&bias(&l.v_bias)?)?;
                let mut sc = q.matmul(&k.t()?.contiguous()?)?;
                if let (Some(rel), Some((lo, hi, idx, idx_t))) = (&self.rel, &idx) {
                    let rel = dp.hidden(&rel.narrow(0, *lo, hi - lo)?.unsqueeze(0)?)?;
                    if let Some(pk) = &l.pos_key {
                        let pk = split_heads(&pk.forward(&rel)?, heads)?; // [1, H, hi - lo, d]
                        let att = q.broadcast_matmul(&pk.t()?.contiguous()?)?;
                        sc = (sc + DebertaV2::gather(&att, idx)?)?;
                    }
                    if let Some(pq) = &l.pos_query {
                        let pq = (split_heads(&pq.forward(&rel)?, heads)? / scale)?;
                        let att = k.broadcast_matmul(&pq.t()?.contiguous()?)?;
                        sc = (sc + DebertaV2::gather(&att, idx_t)?.transpose(2, 3)?)?;
                    }
                }
                let sc = sc.broadcast_add(&mask)?;
                let ctx = blocks::attend_t(&sc, &v, dp)?;
                let y = l.post.attn_out_t(&ctx, &x, dp)?;
                x = l.post.ffn_out_t(&y, c.act, dp)?;
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}
