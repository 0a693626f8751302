//! XLNet (`model_type: xlnet`, e.g. xlnet-base-cased), as transformers' `XLNetModel` used as
//! a feature extractor: the content stream only (no query stream, no permutation mask, no
//! target mapping), no memory (`mem_len` is unused: there is no previous segment), bidirectional
//! attention (`attn_type: bi`).
//!
//! Embeddings: the word table only (`word_embedding`); hidden state 0 is its rows. No absolute
//! positions and no LayerNorm.
//!
//! Relative attention (Transformer-XL): for query i and key j at distance i − j,
//! score[i, j] = ((q_i + r_w)·k_j + (q_i + r_r)·R[i − j] + (q_i + r_s)·S[seg(i) ≠ seg(j)]) / √d,
//! where q, k, v and R = sinusoid(i − j)·`r` are projections by the [hidden, heads, d] tensors
//! `q`, `k`, `v`, `r` (no biases), the sinusoid is `[sin(p·f), cos(p·f)]` with
//! f_k = 10000^(−2k/hidden) over the distances p = s, s − 1, …, 1 − s (clamped to ±`clamp_len`
//! when it is positive), and S = `seg_embed` [2, heads, d] says only whether two tokens share a
//! segment. The context goes out through `o` (no bias), then LayerNorm(out + x), then the
//! feed-forward block LayerNorm(layer_2(act(layer_1(y))) + y).
//!
//! Segments: XLNet was pre-trained with segment ids, and its tokenizer gives `<cls>` (the last
//! token of every input: `… <sep> <cls>`) segment 2 of its own. The extraction passes token type
//! 0 for single sentences, so this model gives the last real token of each row segment 2 itself
//! (pairs already carry it); only equality of segments enters the scores. (transformers 5's
//! XLNet tokenizer computes these ids but returns them only with `return_token_type_ids=True`;
//! 4.x returned them by default; without them XLNetModel drops the segment term altogether. The
//! reference follows the model as pre-trained, with them.)
//!
//! Padding: XLNet's tokenizer pads on the left; here rows are padded on the right. The real rows
//! come out the same (the scores depend on distances and segments only, and padding keys are
//! masked), which bench/python/make_arch_fixtures.py checks in transformers before it writes the
//! reference. "cls" pooling is the last real token ([`super::family::AnyEncoder::cls_is_last`]).
//!
//! Refused: `attn_type` other than `bi`, `bi_data` (a pre-training option that doubles the
//! batch).
//!
//! Runs on the padded candle path ([`super::blocks`]), which is also its trainable body
//! (`super::trainable_family`): dropout (config `dropout`) where transformers has it.

use super::blocks::{
    self, key_mask, split_heads, Act, CResult, Dense, Dropout, Norm, TensorSource,
};
use super::config::MAX_POSITIONS;
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::weights::Weights;
use super::EncoderError;
use candle_core::{Device, Tensor, D};

/// XLNet hyperparameters.
#[derive(Debug, Clone)]
pub struct XlnetConfig {
    /// The shared fields, read from XLNet's names (`d_model`, `n_layer`, `n_head`, `d_inner`,
    /// `ff_activation`); no position table.
    pub common: CommonConfig,
    /// Relative distances clamped to ±clamp_len when positive.
    pub clamp_len: i64,
}

impl XlnetConfig {
    /// Read from config.json's fields; refuses what the content stream of a bidirectional
    /// XLNetModel does not do.
    pub fn parse(f: &Fields) -> Result<Self, EncoderError> {
        let hidden_size = f.usize("d_model", None)?;
        let num_heads = f.usize("n_head", None)?;
        let num_layers = f.usize("n_layer", None)?;
        let vocab_size = f.usize("vocab_size", None)?;
        let intermediate_size = f.usize("d_inner", None)?;
        if hidden_size == 0 || num_heads == 0 || hidden_size % num_heads != 0 {
            return Err(f.bad(format!(
                "d_model {hidden_size} is not a positive multiple of n_head {num_heads}"
            )));
        }
        if hidden_size % 2 != 0 {
            return Err(f.bad(format!("d_model {hidden_size} must be even (sinusoids)")));
        }
        let d_head = f.usize("d_head", Some(hidden_size / num_heads))?;
        if d_head * num_heads != hidden_size {
            return Err(f.bad(format!(
                "d_head {d_head} × n_head {num_heads} is not d_model {hidden_size}"
            )));
        }
        if num_layers == 0 || vocab_size == 0 || intermediate_size == 0 {
            return Err(f.bad("n_layer, vocab_size and d_inner must be positive"));
        }
        let attn_type = f.str("attn_type", "bi");
        if attn_type != "bi" {
            return Err(f.bad(format!(
                "attn_type {attn_type:?} is not supported (only \"bi\", the bidirectional attention of feature extraction)"
            )));
        }
        if f.bool("bi_data", false) {
            return Err(f.bad("bi_data true is not supported (a pre-training option)"));
        }
        let act_name = f.str("ff_activation", "gelu");
        let act = Act::parse(&act_name)
            .ok_or_else(|| f.bad(format!("unsupported ff_activation {act_name:?}")))?;
        Ok(XlnetConfig {
            common: CommonConfig {
                vocab_size,
                hidden_size,
                num_layers,
                num_heads,
                intermediate_size,
                max_position_embeddings: MAX_POSITIONS,
                type_vocab_size: 0,
                layer_norm_eps: f.f64("layer_norm_eps", 1e-12),
                act,
                pad_token_id: f.usize("pad_token_id", Some(5))? as u32,
            },
            clamp_len: f.v.get("clamp_len").and_then(|x| x.as_i64()).unwrap_or(-1),
        })
    }
}

/// One XLNet layer: relative attention and feed-forward.
struct XlnetLayer {
    /// `rel_attn.{q,k,v,r,o}` as stored, [hidden, heads, d].
    q: Tensor,
    k: Tensor,
    v: Tensor,
    r: Tensor,
    o: Tensor,
    /// r_w_bias, r_r_bias, r_s_bias as stored, [heads, d].
    r_w: Tensor,
    r_r: Tensor,
    r_s: Tensor,
    /// seg_embed as stored, [2, heads, d].
    seg: Tensor,
    /// A zero bias for the projections (XLNet's have none).
    zero: Tensor,
    ln_attn: Norm,
    ff_in: Dense,
    ff_out: Dense,
    ln_ff: Norm,
}

impl XlnetLayer {
    /// Load layer `p` (`layer.<i>`). XLNet stores its projections per head, `q`, `k`, `v`, `r`
    /// and `o` as [hidden, heads, d] (`einsum("ibh,hnd->ibnd")`, and `o` back with
    /// `einsum("ibnd,hnd->ibh")`); they are kept as stored and read as [hidden, heads·d]
    /// matrices in the forward pass (nothing derived from a weight is cached: a trained one is
    /// read as it is now).
    fn build<S: TensorSource + ?Sized>(
        w: &S,
        p: &str,
        c: &CommonConfig,
    ) -> Result<Self, EncoderError> {
        let (h, nh, eps) = (c.hidden_size, c.num_heads, c.layer_norm_eps);
        let d = h / nh;
        let a = format!("{p}.rel_attn");
        let t3 = |n: &str| w.get(&format!("{a}.{n}"), &[h, nh, d]);
        let t2 = |n: &str| w.get(&format!("{a}.{n}"), &[nh, d]);
        Ok(XlnetLayer {
            q: t3("q")?,
            k: t3("k")?,
            v: t3("v")?,
            r: t3("r")?,
            o: t3("o")?,
            r_w: t2("r_w_bias")?,
            r_r: t2("r_r_bias")?,
            r_s: t2("r_s_bias")?,
            seg: w.get(&format!("{a}.seg_embed"), &[2, nh, d])?,
            zero: ok(Tensor::zeros(h, candle_core::DType::F32, &Device::Cpu))?,
            ln_attn: Norm::load(w, &format!("{a}.layer_norm"), h, eps, true)?,
            ff_in: Dense::load(w, &format!("{p}.ff.layer_1"), c.intermediate_size, h, true)?,
            ff_out: Dense::load(w, &format!("{p}.ff.layer_2"), h, c.intermediate_size, true)?,
            ln_ff: Norm::load(w, &format!("{p}.ff.layer_norm"), h, eps, true)?,
        })
    }

    /// `x [.., hidden] -> [.., heads·d]` through a stored [hidden, heads, d] projection: the
    /// stored tensor is already the [in, out] matrix of `x · W`, so it is multiplied as it is
    /// (no transposed copy per pass; the product is differentiable in both).
    fn project(&self, x: &Tensor, t: &Tensor) -> CResult<Tensor> {
        let h = t.dim(0)?;
        let dims = x.dims().to_vec();
        let flat = x.contiguous()?.reshape((x.elem_count() / h, h))?;
        flat.matmul(&t.reshape((h, h))?)?.reshape(dims)
    }

    /// The layer over `x` [b, s, h] with the sinusoids `pos` [1, 2s, h], the shift index
    /// `shift` [s, s] (column of distance i − j), the segment difference `diff` [b, 1, s, s]
    /// (1.0 where two tokens are in different segments) and the key mask; dropout where
    /// transformers has it (attention probabilities, attention output, after the feed-forward
    /// activation and after its output).
    #[allow(clippy::too_many_arguments)]
    fn forward_t(
        &self,
        x: &Tensor,
        pos: &Tensor,
        shift: &Tensor,
        diff: &Tensor,
        mask: &Tensor,
        heads: usize,
        act: Act,
        dp: &mut Dropout,
    ) -> CResult<Tensor> {
        let (b, s, h) = x.dims3()?;
        let d = h / heads;
        let scale = 1.0 / (d as f64).sqrt();
        let q = split_heads(&self.project(x, &self.q)?, heads)?;
        let k = split_heads(&self.project(x, &self.k)?, heads)?;
        let v = split_heads(&self.project(x, &self.v)?, heads)?;
        let kr = split_heads(&self.project(pos, &self.r)?, heads)?; // [1, H, 2s, d]
        let bias = |t: &Tensor| t.reshape((1, heads, 1, d));
        let ac = q
            .broadcast_add(&bias(&self.r_w)?)?
            .matmul(&k.t()?.contiguous()?)?;
        let bd_full = q
            .broadcast_add(&bias(&self.r_r)?)?
            .broadcast_matmul(&kr.t()?.contiguous()?)?; // [b, H, s, 2s]
        let idx = shift
            .unsqueeze(0)?
            .unsqueeze(0)?
            .broadcast_as((b, heads, s, s))?
            .contiguous()?;
        let bd = bd_full.contiguous()?.gather(&idx, D::Minus1)?;
        let seg = self.seg.permute((1, 2, 0))?.contiguous()?; // [H, d, 2]
        let e = q.broadcast_add(&bias(&self.r_s)?)?.broadcast_matmul(&seg)?; // [b, H, s, 2]
        let e0 = e.narrow(D::Minus1, 0, 1)?;
        let e1 = e.narrow(D::Minus1, 1, 1)?;
        let ef = diff.broadcast_mul(&(e1 - &e0)?)?.broadcast_add(&e0)?;
        let sc = (((ac + bd)? + ef)? * scale)?.broadcast_add(mask)?;
        let ctx = blocks::attend_t(&sc, &v, dp)?;
        // o: [hidden, heads·d] is already [out, in]
        let o = self.o.reshape((h, h))?;
        let attn = crate::nn::linear::linear(&ctx, &o, &self.zero.to_dtype(ctx.dtype())?)?;
        let y = self.ln_attn.forward(&(dp.hidden(&attn)? + x)?)?;
        let inner = dp.hidden(&act.apply(&self.ff_in.forward(&y)?)?)?;
        let ff = dp.hidden(&self.ff_out.forward(&inner)?)?;
        self.ln_ff.forward(&(ff + y)?)
    }
}

/// A loaded XLNet encoder (content stream).
pub struct Xlnet {
    cfg: XlnetConfig,
    word: Tensor,
    /// `mask_emb` [1, 1, hidden]: the query stream's input, unused by the content stream but
    /// read (when present) so that a trained model is saved with every tensor XLNetModel has.
    _mask_emb: Option<Tensor>,
    layers: Vec<XlnetLayer>,
    dir: String,
}

/// Where XLNet checkpoints keep the body: bare (`XLNetModel`), or under the `*For*` wrappers'
/// prefix.
pub const PREFIXES: &[&str] = &["", "transformer.", "model."];

impl Xlnet {
    /// Build from weights (bare `XLNetModel` names, or under `transformer.`), checking shapes.
    pub fn load(cfg: XlnetConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        w.select_prefix("word_embedding.weight", PREFIXES)?;
        Self::build(cfg, &w, dir)
    }

    /// Build from a tensor source whose prefix is selected (checkpoint or trainable).
    pub fn build<S: TensorSource + ?Sized>(
        cfg: XlnetConfig,
        w: &S,
        dir: String,
    ) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        let layers = (0..c.num_layers)
            .map(|i| XlnetLayer::build(w, &format!("layer.{i}"), c))
            .collect::<Result<_, _>>()?;
        Ok(Xlnet {
            word: w.get("word_embedding.weight", &[c.vocab_size, c.hidden_size])?,
            _mask_emb: if w.contains("mask_emb") {
                Some(w.get("mask_emb", &[1, 1, c.hidden_size])?)
            } else {
                None
            },
            layers,
            cfg,
            dir,
        })
    }

    /// The sinusoids [1, 2s, hidden] of the distances s, s − 1, …, 1 − s.
    fn sinusoids(&self, s: usize) -> CResult<Tensor> {
        let h = self.cfg.common.hidden_size;
        let inv: Vec<f32> = (0..h / 2)
            .map(|k| 1.0 / 10000f32.powf((2 * k) as f32 / h as f32))
            .collect();
        let mut m = Vec::with_capacity(2 * s * h);
        for t in 0..2 * s {
            let mut p = s as i64 - t as i64;
            if self.cfg.clamp_len > 0 {
                p = p.clamp(-self.cfg.clamp_len, self.cfg.clamp_len);
            }
            let p = p as f32;
            m.extend(inv.iter().map(|f| (p * f).sin()));
            m.extend(inv.iter().map(|f| (p * f).cos()));
        }
        Tensor::from_vec(m, (1, 2 * s, h), &Device::Cpu)
    }
}

impl PaddedEncoder for Xlnet {
    fn common(&self) -> &CommonConfig {
        &self.cfg.common
    }

    fn forward_padded(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        self.forward_t(batch, &mut Dropout::off())
    }

    /// Dropout where transformers has it: the word embeddings, the sinusoids, inside every
    /// layer, and on the last layer's output (XLNetModel's `output = dropout(output_h)`).
    fn forward_t(&self, batch: &Batch, dp: &mut Dropout) -> Result<Vec<Tensor>, EncoderError> {
        let (b, s) = check_batch(batch, self.cfg.common.max_position_embeddings)?;
        let c = &self.cfg.common;
        let ids = blocks::ids_tensor(&batch.ids, b, s, c.vocab_size, &self.dir)?;
        // segments: the last real token (<cls>) has its own
        let mut seg = batch.type_ids.clone();
        for (r, &l) in batch.lengths.iter().enumerate() {
            if l > 0 {
                seg[r * s + l - 1] = 2;
            }
        }
        let mut diff = vec![0f32; b * s * s];
        for r in 0..b {
            for i in 0..s {
                for j in 0..s {
                    diff[(r * s + i) * s + j] = (seg[r * s + i] != seg[r * s + j]) as u8 as f32;
                }
            }
        }
        // column of distance i − j in the sinusoid rows: s − (i − j)
        let shift: Vec<u32> = (0..s)
            .flat_map(|i| (0..s).map(move |j| (s - i + j) as u32))
            .collect();
        ok((|| -> CResult<Vec<Tensor>> {
            let diff = Tensor::from_vec(diff, (b, 1, s, s), &Device::Cpu)?;
            let shift = Tensor::from_vec(shift, (s, s), &Device::Cpu)?;
            let pos = dp.hidden(&self.sinusoids(s)?)?;
            let mask = key_mask(&batch.lengths, s)?;
            let mut x = dp.hidden(&blocks::embed(&self.word, &ids)?)?;
            let mut out = vec![x.clone()];
            for l in &self.layers {
                x = l.forward_t(&x, &pos, &shift, &diff, &mask, c.num_heads, c.act, dp)?;
                out.push(x.clone());
            }
            if let Some(last) = out.last_mut() {
                *last = dp.hidden(last)?;
            }
            Ok(out)
        })())
    }
}
