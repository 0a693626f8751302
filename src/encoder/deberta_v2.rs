//! DeBERTa-v2 and v3 (`model_type: deberta-v2`), as transformers' `DebertaV2Model`.
//!
//! Embeddings: word (width `embedding_size`), absolute positions only when
//! `position_biased_input`, token types when `type_vocab_size > 0`, `embed_proj` (no bias) up to
//! the hidden size when the widths differ, LayerNorm, then padding rows set to zero.
//!
//! Disentangled attention: scores = q·kᵀ/√(d·f) + c2p + p2c, with f = 1 + |pos_att_type|,
//! c2p[i, j] = q_i · K_r[δ(i, j)] / √(d·f) and p2c[i, j] = k_j · Q_r[δ(i, j)] / √(d·f), where
//! the relative embeddings (`encoder.rel_embeddings`, LayerNorm-ed when `norm_rel_ebd` says
//! `layer_norm`) are projected by the layer's own key/query projections when `share_att_key`
//! (v3) or by `pos_key_proj` / `pos_query_proj`, and δ(i, j) = clamp(bucket(i − j) + span, 0,
//! 2·span − 1) with transformers' log buckets (`position_buckets` > 0: exact within ±span/2,
//! logarithmic beyond, up to `max_relative_positions`). `pos_att_type` must be a subset of
//! {c2p, p2c}: anything else is refused. An optional convolution (`conv_kernel_size` > 0) mixes
//! neighbouring embedding rows into the first layer's output.
//!
//! Runs on the padded candle path ([`super::blocks`]).

use super::blocks::{
    self, key_mask, split_heads, Act, CResult, Dense, Dropout, Norm, TensorSource,
};
use super::electra::BertLayer;
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor, D};

/// Where DeBERTa-v2 checkpoints keep the body: bare, or under the `*For*` wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "deberta.", "model."];

/// DeBERTa-v2/v3 hyperparameters.
#[derive(Debug, Clone)]
pub struct DebertaV2Config {
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
    /// Log buckets (≤ 0: none).
    pub position_buckets: i64,
    /// Largest relative distance.
    pub max_relative_positions: i64,
    /// Relative embeddings projected by the content projections.
    pub share_att_key: bool,
    /// LayerNorm over the relative embeddings.
    pub norm_rel_ebd: bool,
    /// Kernel of the convolution after the first layer (0: none).
    pub conv_kernel_size: usize,
    /// Activation of the convolution.
    pub conv_act: Act,
}

impl DebertaV2Config {
    /// Read from config.json's fields; refuses an unknown `pos_att_type`.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        let common = f.common(0, 1e-7)?;
        let types: Vec<String> = match f.v.get("pos_att_type") {
            None | Some(serde_json::Value::Null) => vec![],
            Some(serde_json::Value::String(s)) => s
                .to_lowercase()
                .split('|')
                .map(|x| x.trim().to_string())
                .collect(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().unwrap_or("?").trim().to_lowercase())
                .collect(),
            Some(_) => return Err(f.bad("pos_att_type must be a list or a |-separated string")),
        };
        for t in &types {
            if t != "c2p" && t != "p2c" && !t.is_empty() {
                return Err(f.bad(format!("unknown pos_att_type {t:?} (supported: c2p, p2c)")));
            }
        }
        let groups = f.usize("conv_groups", Some(1))?;
        let conv_kernel_size = f.usize("conv_kernel_size", Some(0))?;
        if conv_kernel_size % 2 == 0 && conv_kernel_size > 0 {
            // PyTorch's Conv1d with padding (k − 1) / 2 shortens the sequence for an even k
            return Err(f.bad(format!(
                "conv_kernel_size {conv_kernel_size} is even (transformers needs an odd kernel)"
            )));
        }
        if conv_kernel_size > 0 && groups != 1 {
            return Err(f.bad(format!("conv_groups {groups} is not supported (only 1)")));
        }
        let conv_act_name = f.str("conv_act", "tanh");
        let conv_act = Act::parse(&conv_act_name)
            .ok_or_else(|| f.bad(format!("unsupported conv_act {conv_act_name:?}")))?;
        let mrp =
            f.v.get("max_relative_positions")
                .and_then(|x| x.as_i64())
                .unwrap_or(-1);
        Ok(DebertaV2Config {
            embedding_size: f.usize("embedding_size", Some(common.hidden_size))?,
            position_biased_input: f.bool("position_biased_input", true),
            relative_attention: f.bool("relative_attention", false),
            c2p: types.iter().any(|t| t == "c2p"),
            p2c: types.iter().any(|t| t == "p2c"),
            position_buckets: f
                .v
                .get("position_buckets")
                .and_then(|x| x.as_i64())
                .unwrap_or(-1),
            max_relative_positions: if mrp < 1 {
                common.max_position_embeddings as i64
            } else {
                mrp
            },
            share_att_key: f.bool("share_att_key", false),
            norm_rel_ebd: f
                .str("norm_rel_ebd", "none")
                .to_lowercase()
                .split('|')
                .any(|x| x.trim() == "layer_norm"),
            conv_kernel_size,
            conv_act,
            common,
        })
    }

    /// Half the number of relative embedding rows.
    pub fn span(&self) -> i64 {
        if self.position_buckets > 0 {
            self.position_buckets
        } else {
            self.max_relative_positions
        }
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

/// transformers' `make_log_bucket_position` of one relative position (f32 as PyTorch).
pub fn log_bucket(rel: i64, bucket_size: i64, max_position: i64) -> i64 {
    let mid = bucket_size / 2;
    let abs = if rel < mid && rel > -mid {
        mid - 1
    } else {
        rel.abs()
    };
    if abs <= mid {
        return rel;
    }
    let denom = (((max_position - 1) as f64 / mid as f64) as f32).ln();
    let log_pos = ((abs as f32 / mid as f32).ln() / denom * (mid - 1) as f32).ceil() + mid as f32;
    log_pos as i64 * rel.signum()
}

struct Conv {
    /// [out, in, k]
    w: Tensor,
    b: Tensor,
    ln: Norm,
    k: usize,
}

/// A loaded DeBERTa-v2/v3 encoder.
pub struct DebertaV2 {
    cfg: DebertaV2Config,
    word: Tensor,
    pos: Option<Tensor>,
    token_type: Option<Tensor>,
    embed_proj: Option<Dense>,
    ln_emb: Norm,
    rel: Option<Tensor>,
    rel_norm: Option<Norm>,
    pos_key: Vec<Option<Dense>>,
    pos_query: Vec<Option<Dense>>,
    layers: Vec<BertLayer>,
    conv: Option<Conv>,
    dir: String,
}

/// The layer's weight names (the order of `BertLayer::load_named`).
pub const DEBERTA_LAYER: [&str; 8] = [
    "attention.self.query_proj",
    "attention.self.key_proj",
    "attention.self.value_proj",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
];

impl DebertaV2 {
    /// Build from weights (bare or under `deberta.`), checking shapes.
    pub fn load(cfg: DebertaV2Config, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.word_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: DebertaV2Config,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let (h, e, eps) = (c.hidden_size, cfg.embedding_size, c.layer_norm_eps);
        let rel = if cfg.relative_attention {
            Some(w.get(
                "encoder.rel_embeddings.weight",
                &[2 * cfg.span() as usize, h],
            )?)
        } else {
            None
        };
        let rel_norm = if cfg.relative_attention && cfg.norm_rel_ebd {
            Some(Norm::load(w, "encoder.LayerNorm", h, eps, true)?)
        } else {
            None
        };
        let mut layers = Vec::new();
        let (mut pos_key, mut pos_query) = (Vec::new(), Vec::new());
        for i in 0..c.num_layers {
            let p = format!("encoder.layer.{i}");
            let l = BertLayer::load_named(w, &p, &DEBERTA_LAYER, c)?;
            let sep = cfg.relative_attention && !cfg.share_att_key;
            pos_key.push(if sep && cfg.c2p {
                Some(Dense::load(
                    w,
                    &format!("{p}.attention.self.pos_key_proj"),
                    h,
                    h,
                    true,
                )?)
            } else {
                None
            });
            pos_query.push(if sep && cfg.p2c {
                Some(Dense::load(
                    w,
                    &format!("{p}.attention.self.pos_query_proj"),
                    h,
                    h,
                    true,
                )?)
            } else {
                None
            });
            layers.push(l);
        }
        let conv = if cfg.conv_kernel_size > 0 {
            let k = cfg.conv_kernel_size;
            Some(Conv {
                w: w.get("encoder.conv.conv.weight", &[h, h, k])?,
                b: w.get("encoder.conv.conv.bias", &[h])?,
                ln: Norm::load(w, "encoder.conv.LayerNorm", h, eps, true)?,
                k,
            })
        } else {
            None
        };
        Ok(DebertaV2 {
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
            rel,
            rel_norm,
            pos_key,
            pos_query,
            layers,
            conv,
            cfg,
            dir,
        })
    }

    /// δ(i, j) for a length `s`, as a [s, s] u32 tensor, and its transpose.
    fn rel_index(&self, s: usize) -> CResult<(Tensor, Tensor)> {
        let span = self.cfg.span();
        let mut idx = vec![0u32; s * s];
        let mut idx_t = vec![0u32; s * s];
        for i in 0..s {
            for j in 0..s {
                let r = i as i64 - j as i64;
                let b = if self.cfg.position_buckets > 0 {
                    log_bucket(
                        r,
                        self.cfg.position_buckets,
                        self.cfg.max_relative_positions,
                    )
                } else {
                    r
                };
                let v = (b + span).clamp(0, 2 * span - 1) as u32;
                idx[i * s + j] = v;
                idx_t[j * s + i] = v;
            }
        }
        Ok((
            Tensor::from_vec(idx, (s, s), &Device::Cpu)?,
            Tensor::from_vec(idx_t, (s, s), &Device::Cpu)?,
        ))
    }

    /// A [b, heads, s, s] gather of `att` [b, heads, s, 2·span] along the last dimension (also
    /// DeBERTa v1's).
    pub fn gather(att: &Tensor, idx: &Tensor) -> CResult<Tensor> {
        let (b, nh, s, _) = att.dims4()?;
        let idx = idx
            .unsqueeze(0)?
            .unsqueeze(0)?
            .broadcast_as((b, nh, s, s))?
            .contiguous()?;
        att.contiguous()?.gather(&idx, D::Minus1)
    }

    fn conv(
        &self,
        conv: &Conv,
        emb: &Tensor,
        out: &Tensor,
        rmask: &Tensor,
        dp: &mut Dropout,
    ) -> CResult<Tensor> {
        // Conv1d over the sequence with zero padding p = (k − 1) / 2 on both sides, as k
        // shifted linear maps: y[t] = b + Σ_j W[:, :, j] · x[t + j − p]. (candle's conv1d
        // computes the same forward, but its kernel gradient disagreed with PyTorch's on the
        // tiny DeBERTa fixture; the linear op's backward is the one every layer uses.)
        let s = emb.dim(1)?;
        let pad = (conv.k - 1) / 2;
        let xp = emb.pad_with_zeros(1, pad, conv.k - 1 - pad)?; // [b, s + k − 1, h]
        let tap = |j: usize, b: &Tensor| -> CResult<Tensor> {
            let wj = conv.w.narrow(2, j, 1)?.squeeze(2)?.contiguous()?; // [out, in]
            crate::nn::linear::linear(&xp.narrow(1, j, s)?, &wj, b)
        };
        let mut y = tap(0, &conv.b)?;
        let zero = conv.b.zeros_like()?;
        for j in 1..conv.k {
            y = (y + tap(j, &zero)?)?;
        }
        let y = y.broadcast_mul(rmask)?; // padding rows zero
        let y = self.cfg.conv_act.apply(&dp.hidden(&y)?)?;
        conv.ln.forward(&(out + y)?)?.broadcast_mul(rmask)
    }
}

impl PaddedEncoder for DebertaV2 {
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
        let heads = c.num_heads;
        let d = c.hidden_size / heads;
        let factor = 1 + self.cfg.c2p as usize + self.cfg.p2c as usize;
        let scale = ((d as f32) * factor as f32).sqrt() as f64;
        ok((|| -> CResult<Vec<Tensor>> {
            let mut x = blocks::embed(&self.word, &ids)?;
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
            let emb = dp.hidden(&self.ln_emb.forward(&x)?.broadcast_mul(&rmask)?)?;
            let rel = match (&self.rel, &self.rel_norm) {
                (Some(r), Some(n)) => Some(n.forward(r)?),
                (r, _) => r.clone(),
            };
            let mask = key_mask(&batch.lengths, s)?;
            let idx = match &self.rel {
                Some(_) => Some(self.rel_index(s)?),
                None => None,
            };
            let mut x = emb.clone();
            let mut out = vec![emb.clone()];
            for (li, l) in self.layers.iter().enumerate() {
                let q = split_heads(&l.q().forward(&x)?, heads)?;
                let k = split_heads(&l.k().forward(&x)?, heads)?;
                let v = split_heads(&l.v().forward(&x)?, heads)?;
                let mut sc = q.matmul(&(k.t()? / scale)?.contiguous()?)?;
                if let (Some(rel), Some((idx, idx_t))) = (&rel, &idx) {
                    let rel = dp.hidden(&rel.unsqueeze(0)?)?;
                    if self.cfg.c2p {
                        let pk = match &self.pos_key[li] {
                            Some(p) => p.forward(&rel)?,
                            None => l.k().forward(&rel)?,
                        };
                        let pk = split_heads(&pk, heads)?; // [1, H, 2span, d]
                        let att = q.broadcast_matmul(&pk.t()?.contiguous()?)?;
                        sc = (sc + (Self::gather(&att, idx)? / scale)?)?;
                    }
                    if self.cfg.p2c {
                        let pq = match &self.pos_query[li] {
                            Some(p) => p.forward(&rel)?,
                            None => l.q().forward(&rel)?,
                        };
                        let pq = split_heads(&pq, heads)?;
                        let att = k.broadcast_matmul(&pq.t()?.contiguous()?)?;
                        let g = Self::gather(&att, idx_t)?.transpose(2, 3)?;
                        sc = (sc + (g / scale)?)?;
                    }
                }
                let sc = sc.broadcast_add(&mask)?;
                let ctx = blocks::attend_t(&sc, &v, dp)?;
                let y = l.attn_out_t(&ctx, &x, dp)?;
                let mut o = l.ffn_out_t(&y, c.act, dp)?;
                if li == 0 {
                    if let Some(conv) = &self.conv {
                        o = self.conv(conv, &emb, &o, &rmask, dp)?;
                    }
                }
                x = o;
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::log_bucket;

    #[test]
    fn log_buckets_are_exact_near_zero_and_logarithmic_beyond() {
        // bucket 256, max 512 (deberta-v3-base): exact within ±128
        assert_eq!(log_bucket(0, 256, 512), 0);
        assert_eq!(log_bucket(-5, 256, 512), -5);
        assert_eq!(log_bucket(128, 256, 512), 128);
        // 129: ceil(ln(129/128)/ln(511/128)·127) + 128 = ceil(0.717) + 128 = 129
        assert_eq!(log_bucket(129, 256, 512), 129);
        assert_eq!(log_bucket(-511, 256, 512), -255);
        // bucket 8, max 32: exact within ±4; 10 -> ceil(ln 2.5 / ln 7.75 · 3) + 4 = 6
        assert_eq!(log_bucket(10, 8, 32), 6);
        assert_eq!(log_bucket(-10, 8, 32), -6);
    }
}
