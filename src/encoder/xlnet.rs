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
//! Runs on the padded candle path ([`super::blocks`]).

use super::blocks::{self, key_mask, split_heads, Act, CResult, Dense, Norm};
use super::config::MAX_POSITIONS;
use super::family::{check_batch, ok, CommonConfig, Fields, PaddedEncoder};
use super::model::Batch;
use super::mpnet::ffn;
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
    q: Dense,
    k: Dense,
    v: Dense,
    r: Dense,
    o: Dense,
    /// r_w_bias, r_r_bias, r_s_bias as [1, heads, 1, d].
    r_w: Tensor,
    r_r: Tensor,
    r_s: Tensor,
    /// seg_embed as [heads, d, 2].
    seg: Tensor,
    ln_attn: Norm,
    ff_in: Dense,
    ff_out: Dense,
    ln_ff: Norm,
}

impl XlnetLayer {
    /// Load layer `p` (`layer.<i>`). XLNet stores its projections per head, `q`, `k`, `v`, `r`
    /// and `o` as [hidden, heads, d] (`einsum("ibh,hnd->ibnd")`, and `o` back with
    /// `einsum("ibnd,hnd->ibh")`); they are re-laid-out as [out, in] matrices under
    /// `<p>.rel_attn.<name>_proj` and loaded as ordinary dense layers.
    fn load(w: &mut Weights, p: &str, c: &CommonConfig) -> Result<Self, EncoderError> {
        let (h, nh, eps) = (c.hidden_size, c.num_heads, c.layer_norm_eps);
        let d = h / nh;
        let a = format!("{p}.rel_attn");
        for n in ["q", "k", "v", "r", "o"] {
            let t = w.get(&format!("{a}.{n}"), &[h, nh, d])?;
            // [hidden, heads·d] is already [out, in] for `o`; the others map hidden -> heads·d
            let t = ok(t.reshape((h, nh * d)).and_then(|t| match n {
                "o" => Ok(t),
                _ => t.t()?.contiguous(),
            }))?;
            w.insert(&format!("{a}.{n}_proj.weight"), t);
        }
        let proj = |n: &str| Dense::load(w, &format!("{a}.{n}_proj"), h, h, false);
        let bias = |n: &str| -> Result<Tensor, EncoderError> {
            ok(w.get(&format!("{a}.{n}"), &[nh, d])?.reshape((1, nh, 1, d)))
        };
        Ok(XlnetLayer {
            q: proj("q")?,
            k: proj("k")?,
            v: proj("v")?,
            r: proj("r")?,
            o: proj("o")?,
            r_w: bias("r_w_bias")?,
            r_r: bias("r_r_bias")?,
            r_s: bias("r_s_bias")?,
            seg: ok(w
                .get(&format!("{a}.seg_embed"), &[2, nh, d])?
                .permute((1, 2, 0))
                .and_then(|t| t.contiguous()))?,
            ln_attn: Norm::load(w, &format!("{a}.layer_norm"), h, eps, true)?,
            ff_in: Dense::load(w, &format!("{p}.ff.layer_1"), c.intermediate_size, h, true)?,
            ff_out: Dense::load(w, &format!("{p}.ff.layer_2"), h, c.intermediate_size, true)?,
            ln_ff: Norm::load(w, &format!("{p}.ff.layer_norm"), h, eps, true)?,
        })
    }

    /// The layer over `x` [b, s, h] with the sinusoids `pos` [1, 2s, h], the shift index
    /// `shift` [s, s] (column of distance i − j), the segment difference `diff` [b, 1, s, s]
    /// (1.0 where two tokens are in different segments) and the key mask.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: &Tensor,
        pos: &Tensor,
        shift: &Tensor,
        diff: &Tensor,
        mask: &Tensor,
        heads: usize,
        act: Act,
    ) -> CResult<Tensor> {
        let (b, s, h) = x.dims3()?;
        let scale = 1.0 / ((h / heads) as f64).sqrt();
        let q = split_heads(&self.q.forward(x)?, heads)?;
        let k = split_heads(&self.k.forward(x)?, heads)?;
        let v = split_heads(&self.v.forward(x)?, heads)?;
        let kr = split_heads(&self.r.forward(pos)?, heads)?; // [1, H, 2s, d]
        let ac = q.broadcast_add(&self.r_w)?.matmul(&k.t()?.contiguous()?)?;
        let bd_full = q
            .broadcast_add(&self.r_r)?
            .broadcast_matmul(&kr.t()?.contiguous()?)?; // [b, H, s, 2s]
        let idx = shift
            .unsqueeze(0)?
            .unsqueeze(0)?
            .broadcast_as((b, heads, s, s))?
            .contiguous()?;
        let bd = bd_full.contiguous()?.gather(&idx, D::Minus1)?;
        let e = q.broadcast_add(&self.r_s)?.broadcast_matmul(&self.seg)?; // [b, H, s, 2]
        let e0 = e.narrow(D::Minus1, 0, 1)?;
        let e1 = e.narrow(D::Minus1, 1, 1)?;
        let ef = diff.broadcast_mul(&(e1 - &e0)?)?.broadcast_add(&e0)?;
        let sc = (((ac + bd)? + ef)? * scale)?.broadcast_add(mask)?;
        let ctx = blocks::attend(&sc, &v)?;
        let y = self.ln_attn.forward(&(self.o.forward(&ctx)? + x)?)?;
        let ff = ffn(&self.ff_in, &self.ff_out, act, &y)?;
        self.ln_ff.forward(&(ff + y)?)
    }
}

/// A loaded XLNet encoder (content stream).
pub struct Xlnet {
    cfg: XlnetConfig,
    word: Tensor,
    layers: Vec<XlnetLayer>,
    dir: String,
}

impl Xlnet {
    /// Build from weights (bare `XLNetModel` names, or under `transformer.`), checking shapes.
    pub fn load(cfg: XlnetConfig, mut w: Weights, dir: String) -> Result<Self, EncoderError> {
        let c = &cfg.common;
        w.select_prefix("word_embedding.weight", &["", "transformer.", "model."])?;
        let layers = (0..c.num_layers)
            .map(|i| XlnetLayer::load(&mut w, &format!("layer.{i}"), c))
            .collect::<Result<_, _>>()?;
        Ok(Xlnet {
            word: w.get("word_embedding.weight", &[c.vocab_size, c.hidden_size])?,
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
            let pos = self.sinusoids(s)?;
            let mask = key_mask(&batch.lengths, s)?;
            let mut x = blocks::embed(&self.word, &ids)?;
            let mut out = vec![x.clone()];
            for l in &self.layers {
                x = l.forward(&x, &pos, &shift, &diff, &mask, c.num_heads, c.act)?;
                out.push(x.clone());
            }
            Ok(out)
        })())
    }
}
