//! The transformer encoder forward pass that returns every layer's hidden states.
//!
//! BERT, RoBERTa, XLM-RoBERTa and DistilBERT share one post-LayerNorm layer structure
//! (self-attention, add & norm, feed-forward, add & norm); they differ in weight names, position
//! ids and token types, which [`Encoder::load`] maps onto the structs below. The query, key and
//! value projections are fused into one matrix at load time (one GEMM instead of three).
//!
//! The pass runs on plain `f32` buffers with the `gemm` crate rather than candle tensors:
//! - varlen packing: the real tokens of every sentence of a batch are stacked into one
//!   [tokens, hidden] matrix (no padding rows), so each projection is one large GEMM and
//!   attention runs per sentence over its own rows ([`super::attention`]);
//! - the bias is written into the output before the GEMM accumulates onto it, and for the two
//!   sub-layers with a residual the output starts as residual + bias, so "linear + bias +
//!   residual" is one GEMM and LayerNorm one parallel in-place pass;
//! - [`Encoder::forward_packed`] can stop the last layer at the first token of each sentence
//!   (its keys and values still come from every token), for callers that pool only `[CLS]`.

use super::attention::attend_row;
use super::config::{Activation, Arch, EncoderConfig};
use super::weights::Weights;
use super::EncoderError;
use crate::kernels::activation::{self as gelu, MapFn};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

type CResult<T> = candle_core::Result<T>;

fn to_vec(t: Tensor) -> Result<Vec<f32>, EncoderError> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(cerr)
}

/// A dense layer y = x Wᵀ + b, W stored [out, in] row-major as in PyTorch.
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    inp: usize,
}

/// Parallelism for the `gemm` crate: every rayon thread when there are several and `parallel`
/// is set, none otherwise.
fn par(parallel: bool) -> gemm::Parallelism {
    let t = rayon::current_num_threads();
    if parallel && t > 1 {
        gemm::Parallelism::Rayon(t)
    } else {
        gemm::Parallelism::None
    }
}

/// Rows per parallel task of the element-wise passes.
const ROWS_PER_TASK: usize = 64;

/// Apply `f` to chunks of `chunk` elements of `x`: in parallel (rayon) or in order on this
/// thread. The chunks are independent, so both give the same result.
fn for_chunks(x: &mut [f32], chunk: usize, parallel: bool, f: impl Fn(&mut [f32]) + Sync + Send) {
    if parallel {
        x.par_chunks_mut(chunk).for_each(f);
    } else {
        x.chunks_mut(chunk).for_each(f);
    }
}

impl Linear {
    fn load(w: &Weights, name: &str, out: usize, inp: usize) -> Result<Self, EncoderError> {
        Ok(Linear {
            w: to_vec(w.get(&format!("{name}.weight"), &[out, inp])?)?,
            b: to_vec(w.get(&format!("{name}.bias"), &[out])?)?,
            out,
            inp,
        })
    }

    /// `y [rows, out] += x [rows, in] · Wᵀ` (one GEMM accumulating onto `y`).
    fn accumulate(&self, x: &[f32], rows: usize, y: &mut [f32], parallel: bool) {
        assert!(x.len() == rows * self.inp && y.len() == rows * self.out);
        if rows == 0 {
            return;
        }
        // SAFETY: x is rows×in and y rows×out row-major (lengths checked above); w is out×in
        // row-major, read as the in×out matrix Wᵀ with row stride 1 and column stride `in`.
        unsafe {
            gemm::gemm(
                rows,
                self.out,
                self.inp,
                y.as_mut_ptr(),
                1,
                self.out as isize,
                true,
                x.as_ptr(),
                1,
                self.inp as isize,
                self.w.as_ptr(),
                self.inp as isize,
                1,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                par(parallel),
            )
        }
    }

    /// `x · Wᵀ + b`, [rows, out].
    fn forward(&self, x: &[f32], rows: usize, parallel: bool) -> Vec<f32> {
        let mut y = vec![0f32; rows * self.out];
        for_chunks(&mut y, self.out * ROWS_PER_TASK, parallel, |c| {
            for r in c.chunks_mut(self.out) {
                r.copy_from_slice(&self.b);
            }
        });
        self.accumulate(x, rows, &mut y, parallel);
        y
    }

    /// `x · Wᵀ + b + residual`, [rows, out], computed in `residual`'s buffer.
    fn forward_residual(
        &self,
        x: &[f32],
        rows: usize,
        mut residual: Vec<f32>,
        parallel: bool,
    ) -> Vec<f32> {
        for_chunks(&mut residual, self.out * ROWS_PER_TASK, parallel, |c| {
            for r in c.chunks_mut(self.out) {
                r.iter_mut().zip(&self.b).for_each(|(v, b)| *v += b);
            }
        });
        self.accumulate(x, rows, &mut residual, parallel);
        residual
    }
}

struct LayerNorm {
    w: Vec<f32>,
    b: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(w: &Weights, name: &str, h: usize, eps: f64) -> Result<Self, EncoderError> {
        Ok(LayerNorm {
            w: to_vec(w.get_any(&[format!("{name}.weight"), format!("{name}.gamma")], &[h])?)?,
            b: to_vec(w.get_any(&[format!("{name}.bias"), format!("{name}.beta")], &[h])?)?,
            eps: eps as f32,
        })
    }

    /// Normalise every row of `x` ([rows, h]) in place, in parallel over row blocks when
    /// `parallel` is set.
    fn apply(&self, x: &mut [f32], parallel: bool) {
        let h = self.w.len();
        for_chunks(x, h * ROWS_PER_TASK, parallel, |c| {
            for r in c.chunks_mut(h) {
                layer_norm_row(r, &self.w, &self.b, self.eps);
            }
        });
    }
}

/// LayerNorm of one row: (x - mean) / sqrt(var + eps) · w + b (biased variance, as PyTorch).
#[inline]
fn layer_norm_row(x: &mut [f32], w: &[f32], b: &[f32], eps: f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, &g), &bb) in x.iter_mut().zip(w).zip(b) {
        *v = (*v - mean) * inv * g + bb;
    }
}

struct Layer {
    qkv: Linear,
    out: Linear,
    ln_attn: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ln_ff: LayerNorm,
}

/// Weight names of one layer, per architecture.
pub(crate) struct LayerNames {
    pub(crate) q: String,
    pub(crate) k: String,
    pub(crate) v: String,
    pub(crate) o: String,
    pub(crate) ln_attn: String,
    pub(crate) ff_in: String,
    pub(crate) ff_out: String,
    pub(crate) ln_ff: String,
}

pub(crate) fn layer_names(arch: Arch, i: usize) -> LayerNames {
    match arch {
        Arch::DistilBert => {
            let p = format!("transformer.layer.{i}");
            LayerNames {
                q: format!("{p}.attention.q_lin"),
                k: format!("{p}.attention.k_lin"),
                v: format!("{p}.attention.v_lin"),
                o: format!("{p}.attention.out_lin"),
                ln_attn: format!("{p}.sa_layer_norm"),
                ff_in: format!("{p}.ffn.lin1"),
                ff_out: format!("{p}.ffn.lin2"),
                ln_ff: format!("{p}.output_layer_norm"),
            }
        }
        _ => {
            let p = format!("encoder.layer.{i}");
            LayerNames {
                q: format!("{p}.attention.self.query"),
                k: format!("{p}.attention.self.key"),
                v: format!("{p}.attention.self.value"),
                o: format!("{p}.attention.output.dense"),
                ln_attn: format!("{p}.attention.output.LayerNorm"),
                ff_in: format!("{p}.intermediate.dense"),
                ff_out: format!("{p}.output.dense"),
                ln_ff: format!("{p}.output.LayerNorm"),
            }
        }
    }
}

/// Prefixes under which a checkpoint may store the encoder's weights (bare `AutoModel`, or a
/// task model such as `BertForMaskedLM` with `bert.`).
pub(crate) fn weight_prefixes(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::Bert => &["", "bert.", "model."],
        Arch::Roberta => &["", "roberta.", "model."],
        Arch::XlmRoberta => &["", "roberta.", "xlm_roberta.", "model."],
        Arch::DistilBert => &["", "distilbert.", "model."],
    }
}

/// A loaded encoder, ready to run.
pub struct Encoder {
    /// Its configuration.
    pub config: EncoderConfig,
    word: Vec<f32>,
    pos: Vec<f32>,
    token_type: Option<Vec<f32>>,
    ln_emb: LayerNorm,
    layers: Vec<Layer>,
}

/// One padded batch of token ids (right padding), as the forward pass takes it.
pub struct Batch {
    /// Token ids, row-major [batch, seq].
    pub ids: Vec<u32>,
    /// Token type ids, row-major [batch, seq] (zeros for single sentences).
    pub type_ids: Vec<u32>,
    /// Number of real tokens per row.
    pub lengths: Vec<usize>,
    /// Padded length.
    pub seq: usize,
}

impl Batch {
    /// `(rows, seq)` after checking that the ids, type ids and lengths agree with the padded
    /// shape (every row has 1..=seq real tokens).
    pub fn check_shape(&self) -> Result<(usize, usize), EncoderError> {
        let (b, s) = (self.lengths.len(), self.seq);
        if self.ids.len() != b * s
            || self.type_ids.len() != b * s
            || self.lengths.iter().any(|&l| l > s || l == 0)
        {
            return Err(EncoderError::Internal(format!(
                "malformed batch: {} ids, {} type ids, lengths {:?}, seq {s}",
                self.ids.len(),
                self.type_ids.len(),
                self.lengths
            )));
        }
        Ok((b, s))
    }
}

/// Hidden states of a batch with its real tokens packed: sentence `r` owns rows
/// `offsets[r]..offsets[r + 1]` of every `[tokens, hidden]` matrix in `states`.
pub struct PackedStates {
    /// `num_layers + 1` matrices, row-major [tokens, hidden]. When the pass was asked to stop
    /// the last layer at the first token, only each sentence's first row of the last matrix is
    /// computed (the other rows are zero).
    pub states: Vec<Vec<f32>>,
    /// Row offsets, `batch + 1` of them.
    pub offsets: Vec<usize>,
    /// Hidden size.
    pub hidden: usize,
}

fn cerr(e: candle_core::Error) -> EncoderError {
    EncoderError::Internal(e.to_string())
}

impl Encoder {
    /// Build the encoder from its config and weights, checking every weight's shape.
    pub fn load(config: EncoderConfig, mut w: Weights) -> Result<Self, EncoderError> {
        let h = config.hidden_size;
        w.select_prefix(
            "embeddings.word_embeddings.weight",
            weight_prefixes(config.arch),
        )?;
        let word = to_vec(w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?)?;
        let pos = to_vec(w.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?)?;
        let token_type = if config.type_vocab_size > 0 {
            Some(to_vec(w.get(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )?)?)
        } else {
            None
        };
        let eps = config.layer_norm_eps;
        let ln_emb = LayerNorm::load(&w, "embeddings.LayerNorm", h, eps)?;
        let f = config.intermediate_size;
        let mut layers = Vec::with_capacity(config.num_layers);
        for i in 0..config.num_layers {
            let n = layer_names(config.arch, i);
            let q = Linear::load(&w, &n.q, h, h)?;
            let k = Linear::load(&w, &n.k, h, h)?;
            let v = Linear::load(&w, &n.v, h, h)?;
            let qkv = Linear {
                w: [q.w, k.w, v.w].concat(),
                b: [q.b, k.b, v.b].concat(),
                out: 3 * h,
                inp: h,
            };
            layers.push(Layer {
                qkv,
                out: Linear::load(&w, &n.o, h, h)?,
                ln_attn: LayerNorm::load(&w, &n.ln_attn, h, eps)?,
                ff_in: Linear::load(&w, &n.ff_in, f, h)?,
                ff_out: Linear::load(&w, &n.ff_out, h, f)?,
                ln_ff: LayerNorm::load(&w, &n.ln_ff, h, eps)?,
            });
        }
        Ok(Encoder {
            config,
            word,
            pos,
            token_type,
            ln_emb,
            layers,
        })
    }

    /// Number of hidden states a forward pass returns (embeddings + every layer).
    pub fn num_hidden_states(&self) -> usize {
        self.layers.len() + 1
    }

    /// Run the encoder on one batch; returns `num_layers + 1` hidden states, each [batch, seq,
    /// hidden]. Values at padded positions are zero (not meaningful).
    pub fn forward(&self, batch: &Batch) -> Result<Vec<Tensor>, EncoderError> {
        let p = self.forward_packed(batch, false)?;
        let (b, s, h) = (batch.lengths.len(), batch.seq, p.hidden);
        p.states
            .iter()
            .map(|st| {
                let mut out = vec![0f32; b * s * h];
                for r in 0..b {
                    let (lo, hi) = (p.offsets[r], p.offsets[r + 1]);
                    out[r * s * h..(r * s + hi - lo) * h].copy_from_slice(&st[lo * h..hi * h]);
                }
                Tensor::from_vec(out, (b, s, h), &Device::Cpu).map_err(cerr)
            })
            .collect()
    }

    /// Run the encoder on the real tokens of one batch, packed (see [`PackedStates`]). With
    /// `last_cls_only`, the last layer computes keys and values for every token but queries,
    /// attention output, feed-forward and LayerNorms only for each sentence's first token, so
    /// the last matrix holds only the first rows: enough for `[CLS]` pooling, not for mean
    /// pooling.
    pub fn forward_packed(
        &self,
        batch: &Batch,
        last_cls_only: bool,
    ) -> Result<PackedStates, EncoderError> {
        self.forward_packed_with(batch, last_cls_only, true)
    }

    /// [`Encoder::forward_packed`], with the matrix products and element-wise passes spread
    /// over the rayon threads (`parallel`) or all run on the calling thread. The sequential
    /// form is for callers that run several batches at once, one per thread: no
    /// synchronisation inside a batch, and the same numbers either way (the products split
    /// their output, never a sum, over threads).
    pub fn forward_packed_with(
        &self,
        batch: &Batch,
        last_cls_only: bool,
        parallel: bool,
    ) -> Result<PackedStates, EncoderError> {
        let (b, s) = batch.check_shape()?;
        let h = self.config.hidden_size;
        let heads = self.config.num_heads;
        let mut offsets = Vec::with_capacity(b + 1);
        offsets.push(0);
        for &l in &batch.lengths {
            offsets.push(offsets.last().unwrap() + l);
        }
        let n = offsets[b];
        let pos_ids = position_ids(&self.config, &batch.lengths, s);
        // embeddings (+ LayerNorm), one token per row
        let mut x = vec![0f32; n * h];
        for r in 0..b {
            for t in 0..batch.lengths[r] {
                let row = &mut x[(offsets[r] + t) * h..(offsets[r] + t + 1) * h];
                let id = batch.ids[r * s + t] as usize;
                let pid = pos_ids[r * s + t] as usize;
                if id >= self.config.vocab_size || pid >= self.config.max_position_embeddings {
                    return Err(EncoderError::Internal(format!(
                        "token id {id} or position {pid} out of range"
                    )));
                }
                row.copy_from_slice(&self.word[id * h..(id + 1) * h]);
                row.iter_mut()
                    .zip(&self.pos[pid * h..(pid + 1) * h])
                    .for_each(|(v, p)| *v += p);
                if let Some(tt) = &self.token_type {
                    let ty = (batch.type_ids[r * s + t] as usize).min(tt.len() / h - 1);
                    row.iter_mut()
                        .zip(&tt[ty * h..(ty + 1) * h])
                        .for_each(|(v, p)| *v += p);
                }
            }
        }
        self.ln_emb.apply(&mut x, parallel);
        let scale = 1.0 / ((h / heads) as f32).sqrt();
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        for (li, layer) in self.layers.iter().enumerate() {
            let cls_only = last_cls_only && li + 1 == self.layers.len();
            let qkv = layer.qkv.forward(&x, n, parallel);
            // the query rows this layer keeps: every token, or each sentence's first
            let rows = if cls_only { b } else { n };
            let mut ctx = vec![0f32; rows * h];
            if cls_only {
                let one = |(r, o): (usize, &mut [f32])| {
                    let (lo, hi) = (offsets[r], offsets[r + 1]);
                    attend_row(&qkv[lo * 3 * h..hi * 3 * h], o, hi - lo, 1, h, heads, scale);
                };
                if parallel {
                    ctx.par_chunks_mut(h).enumerate().for_each(one);
                } else {
                    ctx.chunks_mut(h).enumerate().for_each(one);
                }
            } else {
                let mut parts: Vec<&mut [f32]> = Vec::with_capacity(b);
                let mut rest = ctx.as_mut_slice();
                for r in 0..b {
                    let (a, tail) = rest.split_at_mut(batch.lengths[r] * h);
                    parts.push(a);
                    rest = tail;
                }
                let one = |(r, o): (usize, &mut [f32])| {
                    let (lo, hi) = (offsets[r], offsets[r + 1]);
                    attend_row(
                        &qkv[lo * 3 * h..hi * 3 * h],
                        o,
                        hi - lo,
                        hi - lo,
                        h,
                        heads,
                        scale,
                    );
                };
                if parallel {
                    parts.into_par_iter().enumerate().for_each(one);
                } else {
                    parts.into_iter().enumerate().for_each(one);
                }
            }
            drop(qkv);
            let residual = if cls_only {
                let mut r0 = vec![0f32; b * h];
                for r in 0..b {
                    r0[r * h..(r + 1) * h]
                        .copy_from_slice(&x[offsets[r] * h..(offsets[r] + 1) * h]);
                }
                r0
            } else {
                x.clone()
            };
            let mut y = layer.out.forward_residual(&ctx, rows, residual, parallel);
            layer.ln_attn.apply(&mut y, parallel);
            let mut ff = layer.ff_in.forward(&y, rows, parallel);
            let f = layer.ff_in.out;
            // one task for the whole matrix when sequential
            let chunk = if parallel {
                f * ROWS_PER_TASK
            } else {
                ff.len().max(1)
            };
            match self.config.activation {
                Activation::Gelu => gelu::map_in_place(MapFn::GeluErf, &mut ff, chunk),
                Activation::GeluTanh => gelu::map_in_place(MapFn::GeluTanh, &mut ff, chunk),
                Activation::Relu => for_chunks(&mut ff, chunk, parallel, |c| {
                    c.iter_mut().for_each(|v| *v = v.max(0.0))
                }),
            }
            let mut z = layer.ff_out.forward_residual(&ff, rows, y, parallel);
            layer.ln_ff.apply(&mut z, parallel);
            states.push(std::mem::take(&mut x));
            x = if cls_only {
                let mut full = vec![0f32; n * h];
                for r in 0..b {
                    full[offsets[r] * h..(offsets[r] + 1) * h]
                        .copy_from_slice(&z[r * h..(r + 1) * h]);
                }
                full
            } else {
                z
            };
        }
        states.push(x);
        Ok(PackedStates {
            states,
            offsets,
            hidden: h,
        })
    }
}

/// Position ids of a right-padded batch, row-major [rows, seq]: 0.. for BERT/DistilBERT;
/// pad+1.. for real tokens and pad for padding in RoBERTa/XLM-R (what Hugging Face's
/// `create_position_ids_from_input_ids` gives for right-padded input).
pub(crate) fn position_ids(config: &EncoderConfig, lengths: &[usize], seq: usize) -> Vec<u32> {
    let mut out = vec![0u32; lengths.len() * seq];
    let pad = config.pad_token_id;
    for (r, &len) in lengths.iter().enumerate() {
        for t in 0..seq {
            out[r * seq + t] = match config.arch {
                Arch::Roberta | Arch::XlmRoberta if t < len => pad + 1 + t as u32,
                Arch::Roberta | Arch::XlmRoberta => pad,
                _ => t as u32,
            };
        }
    }
    out
}

/// Pool one hidden state [b, s, h]: the first token, and the mean over each row's real tokens.
/// Returns ([b, h] cls, [b, h] mean) as tensors.
pub fn pool(state: &Tensor, lengths: &[usize]) -> Result<(Tensor, Tensor), EncoderError> {
    (|| -> CResult<(Tensor, Tensor)> {
        let (b, s, _h) = state.dims3()?;
        let cls = state.narrow(1, 0, 1)?.squeeze(1)?;
        let mut m = vec![0f32; b * s];
        for (r, &len) in lengths.iter().enumerate() {
            for v in &mut m[r * s..r * s + len] {
                *v = 1.0 / len as f32;
            }
        }
        let m = Tensor::from_vec(m, (b, 1, s), &Device::Cpu)?;
        let mean = m.matmul(&state.contiguous()?)?.squeeze(1)?;
        Ok((cls, mean))
    })()
    .map_err(cerr)
}
