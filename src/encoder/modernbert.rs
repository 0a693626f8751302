//! ModernBERT (`model_type: modernbert`, e.g. answerdotai/ModernBERT-base), as transformers'
//! `ModernBertModel`.
//!
//! Embeddings: `embeddings.tok_embeddings`, then LayerNorm (`embeddings.norm`; no bias unless
//! `norm_bias`); no absolute positions, no token types. Pre-norm layers: x + Wo(attn(attn_norm
//! (x))) — layer 0 has no `attn_norm` (identity), then x + mlp(mlp_norm(x)) with the GeGLU
//! feed-forward mlp(y) = Wo(act(a) ⊙ g), [a, g] = Wi(y) split in halves. Attention: one fused
//! `Wqkv` (rows: all heads' queries, then keys, then values), rotary positions on q and k
//! (rotate-half form, position t, frequencies θ^(−2k/d)), scale 1/√d, `Wo`. Layers alternate
//! between global attention (`full_attention`, θ = `rope_parameters.full_attention.rope_theta`,
//! 160 000 in the base model) and local attention (`sliding_attention`, θ 10 000) where a token
//! sees only keys at distance ≤ `local_attention` / 2; the kinds come from `layer_types`, or
//! from `global_attn_every_n_layers` (layer i is global when i is a multiple) in older configs.
//! No biases unless `attention_bias` / `mlp_bias`. The last hidden state is the last layer's
//! output after `final_norm` (transformers ties it to `last_hidden_state`); the others are
//! before it.
//!
//! Refused: a `rope_type` other than `default` (scaled rotary positions) and `rope_scaling`.
//!
//! Runs on the padded candle path ([`super::blocks`]): rotary positions and sliding windows have
//! no room in the fused BERT kernel. The same code is its trainable body
//! (`super::trainable_family`), with dropout where transformers has it.

use super::blocks::{self, split_heads, Act, CResult, Dense, Dropout, Norm, TensorSource};
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor, D};
use serde_json::Value;

/// ModernBERT hyperparameters.
#[derive(Debug, Clone)]
pub struct ModernBertConfig {
    /// The shared fields (`hidden_activation`, `norm_eps`).
    pub common: CommonConfig,
    /// Per layer: local (sliding window) attention.
    pub sliding: Vec<bool>,
    /// Half the local window: keys at distance ≤ this are seen.
    pub half_window: usize,
    /// Rotary base of the global layers.
    pub global_theta: f64,
    /// Rotary base of the local layers.
    pub local_theta: f64,
    /// LayerNorms with a bias.
    pub norm_bias: bool,
    /// Attention projections with biases.
    pub attention_bias: bool,
    /// Feed-forward projections with biases.
    pub mlp_bias: bool,
    /// Dropout after the embedding LayerNorm (`embedding_dropout`).
    pub embedding_dropout: f32,
    /// Dropout of the attention probabilities and after `Wo` (`attention_dropout`).
    pub attention_dropout: f32,
    /// Dropout inside the feed-forward block, before `mlp.Wo` (`mlp_dropout`).
    pub mlp_dropout: f32,
}

impl ModernBertConfig {
    /// Read from config.json's fields.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        let eps = f.f64("norm_eps", 1e-5);
        let mut common = f.common(50283, eps)?;
        let act_name = f.str("hidden_activation", "gelu");
        common.act = Act::parse(&act_name)
            .ok_or_else(|| f.bad(format!("unsupported hidden_activation {act_name:?}")))?;
        common.type_vocab_size = 0;
        common.max_position_embeddings = f.usize("max_position_embeddings", Some(8192))?;
        let n = common.num_layers;
        let sliding = match f.v.get("layer_types") {
            Some(Value::Array(a)) => {
                if a.len() != n {
                    return Err(f.bad(format!(
                        "layer_types has {} entries for {n} layers",
                        a.len()
                    )));
                }
                a.iter()
                    .map(|t| match t.as_str() {
                        Some("sliding_attention") => Ok(true),
                        Some("full_attention") => Ok(false),
                        _ => Err(f.bad(format!(
                            "unknown layer type {t} (supported: full_attention, sliding_attention)"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ => {
                let every = f.usize("global_attn_every_n_layers", Some(3))?.max(1);
                (0..n).map(|i| i % every != 0).collect()
            }
        };
        if f.v.get("rope_scaling").is_some_and(|v| !v.is_null()) {
            return Err(f.bad("rope_scaling is not supported (only plain rotary positions)"));
        }
        let theta = |kind: &str, old: &str, default: f64| -> Result<f64, EncoderError> {
            let p = f.v.get("rope_parameters").and_then(|r| r.get(kind));
            if let Some(t) = p.and_then(|p| p.get("rope_type")).and_then(Value::as_str) {
                if t != "default" {
                    return Err(f.bad(format!(
                        "rope_type {t:?} of {kind} is not supported (only default)"
                    )));
                }
            }
            Ok(p.and_then(|p| p.get("rope_theta"))
                .and_then(Value::as_f64)
                .unwrap_or_else(|| f.f64(old, default)))
        };
        Ok(ModernBertConfig {
            sliding,
            half_window: f.usize("local_attention", Some(128))? / 2,
            global_theta: theta("full_attention", "global_rope_theta", 160_000.0)?,
            local_theta: theta("sliding_attention", "local_rope_theta", 10_000.0)?,
            norm_bias: f.bool("norm_bias", false),
            attention_bias: f.bool("attention_bias", false),
            mlp_bias: f.bool("mlp_bias", false),
            embedding_dropout: f.f64("embedding_dropout", 0.0) as f32,
            attention_dropout: f.f64("attention_dropout", 0.0) as f32,
            mlp_dropout: f.f64("mlp_dropout", 0.0) as f32,
            common,
        })
    }
}

/// One pre-norm layer.
struct Layer {
    attn_norm: Option<Norm>,
    /// `Wqkv` [3·hidden, hidden]: output columns all heads' queries, then keys, then values.
    wqkv: Dense,
    wo: Dense,
    mlp_norm: Norm,
    /// `Wi` [2·intermediate, hidden]: output columns the input half, then the gate half.
    wi: Dense,
    mlp_out: Dense,
    sliding: bool,
}

impl Layer {
    fn load<S: TensorSource + ?Sized>(
        w: &S,
        i: usize,
        cfg: &ModernBertConfig,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let (h, f, eps) = (c.hidden_size, c.intermediate_size, c.layer_norm_eps);
        let p = format!("layers.{i}");
        let (ab, mb) = (cfg.attention_bias, cfg.mlp_bias);
        Ok(Layer {
            attn_norm: if i == 0 {
                None
            } else {
                Some(Norm::load(
                    w,
                    &format!("{p}.attn_norm"),
                    h,
                    eps,
                    cfg.norm_bias,
                )?)
            },
            wqkv: Dense::load(w, &format!("{p}.attn.Wqkv"), 3 * h, h, ab)?,
            wo: Dense::load(w, &format!("{p}.attn.Wo"), h, h, ab)?,
            mlp_norm: Norm::load(w, &format!("{p}.mlp_norm"), h, eps, cfg.norm_bias)?,
            wi: Dense::load(w, &format!("{p}.mlp.Wi"), 2 * f, h, mb)?,
            mlp_out: Dense::load(w, &format!("{p}.mlp.Wo"), h, f, mb)?,
            sliding: cfg.sliding[i],
        })
    }
}

/// The rotary tables (cos, sin), each [1, 1, s, d], for base `theta`.
fn rotary(s: usize, d: usize, theta: f64) -> CResult<(Tensor, Tensor)> {
    let inv: Vec<f32> = (0..d / 2)
        .map(|k| 1.0 / (theta as f32).powf((2 * k) as f32 / d as f32))
        .collect();
    let (mut cos, mut sin) = (Vec::with_capacity(s * d), Vec::with_capacity(s * d));
    for t in 0..s {
        for _ in 0..2 {
            for f in &inv {
                let a = t as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
    }
    Ok((
        Tensor::from_vec(cos, (1, 1, s, d), &Device::Cpu)?,
        Tensor::from_vec(sin, (1, 1, s, d), &Device::Cpu)?,
    ))
}

/// `x·cos + rotate_half(x)·sin`, rotate_half([x1, x2]) = [−x2, x1].
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> CResult<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    let rot = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rot.broadcast_mul(sin)?
}

/// The additive mask [b, 1, s, s] of a right-padded batch: padding keys, and with
/// `half_window`, keys farther than it from the query, get `f32::MIN`.
fn mask(lengths: &[usize], s: usize, half_window: Option<usize>) -> CResult<Tensor> {
    let mut m = vec![0f32; lengths.len() * s * s];
    for (r, &l) in lengths.iter().enumerate() {
        for i in 0..s {
            for j in 0..s {
                if j >= l || half_window.is_some_and(|w| i.abs_diff(j) > w) {
                    m[(r * s + i) * s + j] = f32::MIN;
                }
            }
        }
    }
    Tensor::from_vec(m, (lengths.len(), 1, s, s), &Device::Cpu)
}

/// Where ModernBERT checkpoints keep the body: bare (`ModernBertModel`), or under the `*For*`
/// wrappers' prefix.
pub const PREFIXES: &[&str] = &["", "model."];

/// A loaded ModernBERT encoder.
pub struct ModernBert {
    cfg: ModernBertConfig,
    word: Tensor,
    ln_emb: Norm,
    layers: Vec<Layer>,
    final_norm: Norm,
    dir: String,
}

impl ModernBert {
    /// Build from weights (bare `ModernBertModel` names, or under `model.`), checking shapes.
    pub fn load(cfg: ModernBertConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("embeddings.tok_embeddings.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: ModernBertConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        let layers = (0..c.num_layers)
            .map(|i| Layer::load(w, i, &cfg))
            .collect::<Result<_, _>>()?;
        Ok(ModernBert {
            word: w.get("embeddings.tok_embeddings.weight", &[c.vocab_size, h])?,
            ln_emb: Norm::load(w, "embeddings.norm", h, eps, cfg.norm_bias)?,
            final_norm: Norm::load(w, "final_norm", h, eps, cfg.norm_bias)?,
            layers,
            cfg,
            dir,
        })
    }
}

impl PaddedEncoder for ModernBert {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    /// Dropout where transformers has it, with ModernBERT's own probabilities: after the
    /// embedding LayerNorm, on the attention probabilities and after `Wo` (attention), and
    /// before `mlp.Wo` (feed-forward).
    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let c = &self.cfg.common;
        let cfg = &self.cfg;
        let (b, s) = check_batch(batch, c.max_position_embeddings)?;
        let ids = blocks::ids_tensor(&batch.ids, b, s, c.vocab_size, &self.dir)?;
        let (h, heads) = (c.hidden_size, c.num_heads);
        let d = h / heads;
        let scale = 1.0 / (d as f64).sqrt();
        ok((|| -> CResult<Vec<Tensor>> {
            let global = rotary(s, d, self.cfg.global_theta)?;
            let local = rotary(s, d, self.cfg.local_theta)?;
            let full_mask = mask(&batch.lengths, s, None)?;
            let local_mask = mask(&batch.lengths, s, Some(self.cfg.half_window))?;
            let emb = self.ln_emb.forward(&blocks::embed(&self.word, &ids)?)?;
            let mut x = dp.apply(&emb, cfg.embedding_dropout)?;
            let mut out = vec![x.clone()];
            let last = self.layers.len() - 1;
            for (i, l) in self.layers.iter().enumerate() {
                let ((cos, sin), m) = if l.sliding {
                    (&local, &local_mask)
                } else {
                    (&global, &full_mask)
                };
                let a = match &l.attn_norm {
                    Some(n) => n.forward(&x)?,
                    None => x.clone(),
                };
                let qkv = l.wqkv.forward(&a)?;
                let part = |i: usize| split_heads(&qkv.narrow(D::Minus1, i * h, h)?, heads);
                let q = rope(&part(0)?, cos, sin)?;
                let k = rope(&part(1)?, cos, sin)?;
                let v = part(2)?;
                let sc = blocks::scores(&q, &k, scale)?.broadcast_add(m)?;
                let ctx = blocks::attend_p(&sc, &v, dp, cfg.attention_dropout)?;
                x = (x + dp.apply(&l.wo.forward(&ctx)?, cfg.attention_dropout)?)?;
                let y = l.mlp_norm.forward(&x)?;
                let y = l.wi.forward(&y)?;
                let f = c.intermediate_size;
                let g = (c.act.apply(&y.narrow(D::Minus1, 0, f)?)? * y.narrow(D::Minus1, f, f)?)?;
                let g = dp.apply(&g, cfg.mlp_dropout)?;
                x = (&x + l.mlp_out.forward(&g)?)?;
                out.push(if i == last {
                    self.final_norm.forward(&x)?
                } else {
                    x.clone()
                });
            }
            Ok(out)
        })())
    }
}
