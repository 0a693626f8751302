//! Fused multi-head self-attention for inference, as one candle custom op.
//!
//! Input: the fused projection `qkv` [batch·seq, 3·hidden] (query, key, value side by side, head
//! j in columns j·d..(j+1)·d of each), and each row's number of real tokens. Output: the
//! attention context [batch·seq, hidden], already in the layout the output projection takes.
//! Each (row, head) is computed in one pass over only that row's real keys (padding keys are
//! skipped exactly rather than masked with a large negative), in parallel over rows. This
//! replaces three transposing copies, a batched GEMM per head, a mask add, a softmax and
//! another transposing copy, whose per-call overhead dominated at the short lengths of probing
//! sentences (scores are `seq × seq` with seq ≈ 20).

use crate::kernels::activation::exp_nonpos;
use crate::util::avx2_or;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The fused attention op (no backward: inference only).
pub struct FusedAttention {
    /// Real tokens per batch row.
    pub lengths: Vec<usize>,
    /// Padded sequence length.
    pub seq: usize,
    /// Number of heads.
    pub heads: usize,
    /// Hidden size.
    pub hidden: usize,
}

impl CustomOp1 for FusedAttention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = match storage {
            CpuStorage::F32(v) => v,
            _ => candle_core::bail!("fused-attention: only f32 is supported"),
        };
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("fused-attention: non-contiguous".into()))?;
        let qkv = &src[start..end];
        let (s, h, nh) = (self.seq, self.hidden, self.heads);
        let b = self.lengths.len();
        if qkv.len() != b * s * 3 * h {
            candle_core::bail!(
                "fused-attention: input size {} != {}",
                qkv.len(),
                b * s * 3 * h
            );
        }
        let d = h / nh;
        let scale = 1.0 / (d as f32).sqrt();
        let mut out = vec![0f32; b * s * h];
        out.par_chunks_mut(s * h)
            .zip(self.lengths.par_iter())
            .enumerate()
            .for_each(|(r, (o, &len))| {
                let rows = &qkv[r * s * 3 * h..(r + 1) * s * 3 * h];
                attend_row(rows, o, len, s, h, nh, scale);
            });
        Ok((CpuStorage::F32(out), Shape::from((b * s, h))))
    }
}

/// Dot product with 8 independent accumulators, so that it vectorizes without reassociation.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = acc.iter().sum::<f32>();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Attention for one batch row: `rows` is its [seq, 3·hidden] slice of qkv, `o` its [seq,
/// hidden] slice of the output; keys and values beyond `len` (padding) are never read.
#[inline(always)]
fn attend_row_generic(
    rows: &[f32],
    o: &mut [f32],
    len: usize,
    s: usize,
    h: usize,
    nh: usize,
    scale: f32,
) {
    let d = h / nh;
    let mut scores = vec![0f32; len];
    for j in 0..nh {
        for t in 0..s {
            let q = &rows[t * 3 * h + j * d..t * 3 * h + (j + 1) * d];
            let mut max = f32::NEG_INFINITY;
            for (u, sc) in scores.iter_mut().enumerate() {
                let k = &rows[u * 3 * h + h + j * d..u * 3 * h + h + (j + 1) * d];
                *sc = dot(q, k) * scale;
                max = max.max(*sc);
            }
            let mut sum = 0f32;
            for sc in scores.iter_mut() {
                *sc = exp_nonpos(*sc - max);
                sum += *sc;
            }
            let inv = 1.0 / sum;
            let ctx = &mut o[t * h + j * d..t * h + (j + 1) * d];
            for (u, &p) in scores.iter().enumerate() {
                let v = &rows[u * 3 * h + 2 * h + j * d..u * 3 * h + 2 * h + (j + 1) * d];
                let w = p * inv;
                for (c, vv) in ctx.iter_mut().zip(v) {
                    *c += w * vv;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_row_avx2(
    rows: &[f32],
    o: &mut [f32],
    len: usize,
    s: usize,
    h: usize,
    nh: usize,
    scale: f32,
) {
    attend_row_generic(rows, o, len, s, h, nh, scale)
}

/// Attention of the first `s` query rows of one sequence over its first `len` keys: `rows` is its
/// [≥ len, 3·hidden] slice of qkv, `o` a zeroed [s, hidden] output.
pub(crate) fn attend_row(
    rows: &[f32],
    o: &mut [f32],
    len: usize,
    s: usize,
    h: usize,
    nh: usize,
    scale: f32,
) {
    avx2_or!(attend_row_avx2, attend_row_generic; rows, o, len, s, h, nh, scale)
}

/// Run fused attention on `qkv` [batch·seq, 3·hidden].
pub fn fused_attention(
    qkv: &Tensor,
    lengths: &[usize],
    seq: usize,
    heads: usize,
    hidden: usize,
) -> Result<Tensor> {
    qkv.contiguous()?.apply_op1_no_bwd(&FusedAttention {
        lengths: lengths.to_vec(),
        seq,
        heads,
        hidden,
    })
}
