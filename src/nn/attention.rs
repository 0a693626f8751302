//! Multi-head self-attention as one differentiable op on the packed Q/K/V projections.
//!
//! Input `qkv [batch · seq, 3 · hidden]` (the outputs of one GEMM with the query, key and value
//! weights stacked), output the context `[batch · seq, hidden]` with heads side by side, as the
//! attention output projection expects. Per (sequence, head), with `len` the sequence's real
//! tokens, `Q` `seq × d`, `K`, `V` its first `len` rows:
//!
//! - forward: `P = softmax(scale · Q Kᵀ + B)` (`seq × len`: padded keys are never computed,
//!   which equals a -∞ mask; `B` an optional additive score bias per head, shared by the batch:
//!   MPNet's relative-position bias), `P̃ = P ⊙ M` with the attention-dropout multipliers `M` (0
//!   or 1/(1-p); none when not training), `ctx = P̃ V`;
//! - backward (given `G = ∂L/∂ctx`): `dV = P̃ᵀ G`, `dP = (G Vᵀ) ⊙ M`,
//!   `dZ = P ⊙ (dP - rowsum(P ⊙ dP))`, `dS = scale · dZ`, `dQ = dS K`, `dK = dSᵀ Q`, and
//!   `dB = Σ_batch dZ` (summed over the sequences in order, so the result does not depend on
//!   the thread count); `P` is kept by the op from the forward pass.
//!
//! The heads are addressed in place through the GEMMs' strides, so the transposing copies that a
//! composed version needs (split heads for Q, K and V, merge them for the context, and the same
//! again backward) disappear, and each (sequence, head) is one task of the thread pool.

use super::ops::{contiguous, softmax_block, softmax_bwd_block, tensor_from, with_slice, OpFloat};
use crate::kernels::dense::Real;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// A strided read-only matrix view for `gemm`: element (r, c) at `p + r·rs + c·cs`.
#[derive(Clone, Copy)]
struct View<T> {
    p: *const T,
    rs: usize,
    cs: usize,
}

/// `dst (m×n, row stride dst_rs, unit column stride) = a (m×k) · b (k×n)`, single-threaded
/// (the callers run one (sequence, head) per task).
///
/// # Safety
/// Every address the views and `dst` describe must be valid, and `dst` not aliased by another
/// thread.
unsafe fn mm<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: usize,
    a: View<T>,
    b: View<T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        false,
        a.p,
        a.cs as isize,
        a.rs as isize,
        b.p,
        b.cs as isize,
        b.rs as isize,
        T::ZERO,
        T::ONE,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}

/// A pointer the tasks share; each task writes a disjoint set of elements through it.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: used only for writes to disjoint elements (one (sequence, head) block per task).
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}
impl<T> Shared<T> {
    fn at(self, offset: usize) -> *mut T {
        // SAFETY: callers stay within the buffer the pointer came from.
        unsafe { self.0.add(offset) }
    }
}

/// Sizes, checked against the input shapes.
#[derive(Clone, Copy)]
struct Geom {
    batch: usize,
    seq: usize,
    /// Query rows per sequence that get an output (the first ones).
    queries: usize,
    heads: usize,
    hidden: usize,
    d: usize,
}

/// The op: lengths per sequence, the query rows computed, heads, the score scale, and which
/// optional inputs follow `qkv` (a dropout mask, then a score bias).
struct AttentionOp {
    lengths: Arc<Vec<usize>>,
    seq: usize,
    queries: usize,
    heads: usize,
    scale: f64,
    has_mask: bool,
    has_bias: bool,
    /// The probabilities `P` of the forward pass (before dropout), `queries × seq` per
    /// (sequence, head) with rows `len` wide, kept for the backward pass.
    saved: Mutex<Option<CpuStorage>>,
}

impl AttentionOp {
    fn geom(&self, qkv: &Shape, mask: Option<&Shape>, bias: Option<&Shape>) -> Result<Geom> {
        let batch = self.lengths.len();
        let &[rows, cols] = qkv.dims() else {
            candle_core::bail!("attention: qkv must be [batch * seq, 3 * hidden], got {qkv:?}");
        };
        let hidden = cols / 3;
        if rows != batch * self.seq || cols % 3 != 0 || self.heads == 0 || hidden % self.heads != 0
        {
            candle_core::bail!(
                "attention: qkv {qkv:?} does not fit batch {batch}, seq {}, {} heads",
                self.seq,
                self.heads
            );
        }
        if self.lengths.iter().any(|&l| l == 0 || l > self.seq) {
            candle_core::bail!("attention: lengths must be in 1..={}", self.seq);
        }
        if self.queries == 0 || self.queries > self.seq {
            candle_core::bail!("attention: queries must be in 1..={}", self.seq);
        }
        if let Some(m) = mask {
            if m.dims() != [batch, self.heads, self.queries, self.seq] {
                candle_core::bail!("attention: dropout mask must be [batch, heads, queries, seq]");
            }
        }
        if let Some(b) = bias {
            if b.dims() != [self.heads, self.seq, self.seq] {
                candle_core::bail!("attention: score bias must be [heads, seq, seq], got {b:?}");
            }
        }
        Ok(Geom {
            batch,
            seq: self.seq,
            queries: self.queries,
            heads: self.heads,
            hidden,
            d: hidden / self.heads,
        })
    }

    /// Q, K, V views of (sequence `bi`, head `hd`) in `qkv`.
    fn views<T>(g: Geom, qkv: &[T], bi: usize, hd: usize) -> [View<T>; 3] {
        let w3 = 3 * g.hidden;
        let base = bi * g.seq * w3 + hd * g.d;
        // SAFETY: base + 2·hidden + (seq-1)·w3 + d - 1 < batch·seq·w3 = qkv.len() (checked shape).
        let p = |o: usize| unsafe { qkv.as_ptr().add(base + o) };
        [0, g.hidden, 2 * g.hidden].map(|o| View {
            p: p(o),
            rs: w3,
            cs: 1,
        })
    }

    /// `P = softmax(scale · Q Kᵀ + B)` for one (sequence, head) into `p` (`queries × len`);
    /// `bias` is the head's `seq × seq` block of `B`, if any.
    fn probs_into<T: OpFloat + Real>(
        &self,
        g: Geom,
        q: View<T>,
        k: View<T>,
        bias: Option<&[T]>,
        p: &mut [T],
    ) {
        let len = p.len() / g.queries;
        let mut s = vec![T::zero(); p.len()];
        let kt = View {
            p: k.p,
            rs: 1,
            cs: k.rs,
        };
        // SAFETY: q is queries×d, k len×d inside qkv; s is queries×len.
        unsafe { mm(g.queries, len, g.d, s.as_mut_ptr(), len, q, kt) };
        let scale = T::from(self.scale).unwrap_or_else(T::one);
        match bias {
            Some(b) => {
                for (sr, br) in s.chunks_exact_mut(len).zip(b.chunks_exact(g.seq)) {
                    sr.iter_mut()
                        .zip(br)
                        .for_each(|(x, &y)| *x = *x * scale + y);
                }
                softmax_block(&s, p, len, len, T::one());
            }
            None => softmax_block(&s, p, len, len, scale),
        }
    }

    /// The head `hd`'s `seq × seq` block of the bias.
    fn bias_of<T>(g: Geom, bias: Option<&[T]>, hd: usize) -> Option<&[T]> {
        bias.map(|b| &b[hd * g.seq * g.seq..(hd + 1) * g.seq * g.seq])
    }

    /// The context and the probabilities (to keep for backward).
    fn forward<T: OpFloat + Real>(
        &self,
        g: Geom,
        qkv: &[T],
        mask: Option<&[T]>,
        bias: Option<&[T]>,
    ) -> (Vec<T>, Vec<T>) {
        let mut out = vec![T::zero(); g.batch * g.queries * g.hidden];
        let mut saved = vec![T::zero(); g.batch * g.heads * g.queries * g.seq];
        let dst = Shared(out.as_mut_ptr());
        let block = g.queries * g.seq;
        saved
            .par_chunks_mut(block)
            .enumerate()
            .for_each(|(item, keep)| {
                let (bi, hd) = (item / g.heads, item % g.heads);
                let len = self.lengths[bi];
                let [q, k, v] = Self::views(g, qkv, bi, hd);
                let p = &mut keep[..g.queries * len];
                self.probs_into(g, q, k, Self::bias_of(g, bias, hd), p);
                let p = masked(p, mask, item, g, len);
                let pv = View {
                    p: p.as_ptr(),
                    rs: len,
                    cs: 1,
                };
                // SAFETY: the context block of (bi, hd) is queries×d at row stride hidden; no other
                // task writes it.
                unsafe {
                    mm(
                        g.queries,
                        g.d,
                        len,
                        dst.at(bi * g.queries * g.hidden + hd * g.d),
                        g.hidden,
                        pv,
                        v,
                    )
                };
            });
        (out, saved)
    }

    fn backward<T: OpFloat + Real>(
        &self,
        g: Geom,
        qkv: &[T],
        mask: Option<&[T]>,
        with_bias: bool,
        grad: &[T],
        saved: &[T],
    ) -> (Vec<T>, Option<Vec<T>>) {
        let w3 = 3 * g.hidden;
        let mut dqkv = vec![T::zero(); qkv.len()];
        let dst = Shared(dqkv.as_mut_ptr());
        // dZ of every (sequence, head), kept for the bias gradient's ordered sum
        let mut dz = vec![T::zero(); if with_bias { saved.len() } else { 0 }];
        let dz_at = Shared(dz.as_mut_ptr());
        let scale = T::from(self.scale).unwrap_or_else(T::one);
        (0..g.batch * g.heads).into_par_iter().for_each(|item| {
            let (bi, hd) = (item / g.heads, item % g.heads);
            let (s, len) = (g.queries, self.lengths[bi]);
            let [q, k, v] = Self::views(g, qkv, bi, hd);
            let block = item * g.queries * g.seq;
            let p = &saved[block..block + s * len];
            let pd = masked(p, mask, item, g, len);
            let gv = View {
                // SAFETY: the gradient block of (bi, hd) lies inside grad (shape checked).
                p: unsafe { grad.as_ptr().add(bi * s * g.hidden + hd * g.d) },
                rs: g.hidden,
                cs: 1,
            };
            let base = bi * g.seq * w3 + hd * g.d;
            let mut dp = vec![T::zero(); s * len];
            let mut ds = vec![T::zero(); s * len];
            // SAFETY: all views lie inside qkv, grad and the scratch buffers; the dQ, dK, dV
            // blocks of (bi, hd) in dqkv are written by this task only.
            unsafe {
                let pdt = View {
                    p: pd.as_ptr(),
                    rs: 1,
                    cs: len,
                };
                mm(len, g.d, s, dst.at(base + 2 * g.hidden), w3, pdt, gv);
                let vt = View {
                    p: v.p,
                    rs: 1,
                    cs: v.rs,
                };
                mm(s, len, g.d, dp.as_mut_ptr(), len, gv, vt);
            }
            if let Some(m) = mask {
                apply_mask(&mut dp, m, item, g, len);
            }
            if with_bias {
                softmax_bwd_block(p, &dp, &mut ds, len, len, T::one());
                // SAFETY: the dZ block of `item` is written by this task only.
                let keep = unsafe { std::slice::from_raw_parts_mut(dz_at.at(block), s * len) };
                keep.copy_from_slice(&ds);
                ds.iter_mut().for_each(|x| *x *= scale);
            } else {
                softmax_bwd_block(p, &dp, &mut ds, len, len, scale);
            }
            // SAFETY: as above.
            unsafe {
                mm(
                    s,
                    g.d,
                    len,
                    dst.at(base),
                    w3,
                    View {
                        p: ds.as_ptr(),
                        rs: len,
                        cs: 1,
                    },
                    k,
                );
                let dst_t = View {
                    p: ds.as_ptr(),
                    rs: 1,
                    cs: len,
                };
                mm(len, g.d, s, dst.at(base + g.hidden), w3, dst_t, q);
            }
        });
        let dbias = with_bias.then(|| self.bias_grad(g, &dz));
        (dqkv, dbias)
    }

    /// `dB [heads, seq, seq]`: per head, the sequences' `dZ` blocks (`queries × len` each)
    /// added in batch order; rows beyond `queries` and columns beyond the longest sequence are
    /// zero.
    fn bias_grad<T: OpFloat>(&self, g: Geom, dz: &[T]) -> Vec<T> {
        let ss = g.seq * g.seq;
        let mut out = vec![T::zero(); g.heads * ss];
        out.par_chunks_mut(ss).enumerate().for_each(|(hd, o)| {
            for bi in 0..g.batch {
                let len = self.lengths[bi];
                let item = bi * g.heads + hd;
                let src = &dz[item * g.queries * g.seq..][..g.queries * len];
                for (orow, srow) in o.chunks_exact_mut(g.seq).zip(src.chunks_exact(len)) {
                    orow.iter_mut().zip(srow).for_each(|(a, &b)| *a += b);
                }
            }
        });
        out
    }
}

/// `P̃ = P ⊙ M` for the `queries × len` block `p` of task `item` (mask rows are `seq` wide);
/// `p` itself when there is no mask.
fn masked<'a, T: OpFloat>(
    p: &'a [T],
    mask: Option<&[T]>,
    item: usize,
    g: Geom,
    len: usize,
) -> Cow<'a, [T]> {
    match mask {
        Some(m) => {
            let mut pd = p.to_vec();
            apply_mask(&mut pd, m, item, g, len);
            Cow::Owned(pd)
        }
        None => Cow::Borrowed(p),
    }
}

/// `p[r, j] *= mask[item, r, j]` for the `queries × len` block of task `item` (mask rows are
/// `seq` wide).
fn apply_mask<T: OpFloat>(p: &mut [T], mask: &[T], item: usize, g: Geom, len: usize) {
    let block = g.queries * g.seq;
    let m = &mask[item * block..(item + 1) * block];
    for (pr, mr) in p.chunks_exact_mut(len).zip(m.chunks_exact(g.seq)) {
        pr.iter_mut().zip(mr).for_each(|(a, &b)| *a *= b);
    }
}

/// A storage and its layout (an optional input of the op).
type In<'a> = Option<(&'a CpuStorage, &'a Layout)>;

fn run_fwd(
    op: &AttentionOp,
    s: &CpuStorage,
    l: &Layout,
    mask: In,
    bias: In,
) -> Result<(CpuStorage, Shape)> {
    let g = op.geom(
        l.shape(),
        mask.map(|m| m.1.shape()),
        bias.map(|b| b.1.shape()),
    )?;
    fn go<T: OpFloat + Real>(
        op: &AttentionOp,
        g: Geom,
        s: &CpuStorage,
        l: &Layout,
        mask: In,
        bias: In,
    ) -> Result<(CpuStorage, Shape)> {
        let qkv = contiguous::<T>("attention", s, l)?;
        fn read<'a, T: OpFloat>(x: In<'a>) -> Result<Option<&'a [T]>> {
            x.map(|(xs, xl)| contiguous::<T>("attention", xs, xl))
                .transpose()
        }
        let (out, saved) = op.forward(g, qkv, read(mask)?, read(bias)?);
        *op.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(T::storage(saved));
        Ok((T::storage(out), (g.batch * g.queries, g.hidden).into()))
    }
    match s {
        CpuStorage::F64(_) => go::<f64>(op, g, s, l, mask, bias),
        _ => go::<f32>(op, g, s, l, mask, bias),
    }
}

/// The gradients with respect to `qkv` and (when the op has one) the bias.
fn run_bwd(
    op: &AttentionOp,
    qkv: &Tensor,
    mask: Option<&Tensor>,
    grad: &Tensor,
) -> Result<(Tensor, Option<Tensor>)> {
    let g = op.geom(qkv.shape(), mask.map(|m| m.shape()), None)?;
    let grad = grad.contiguous()?;
    fn go<T: OpFloat + Real>(
        op: &AttentionOp,
        g: Geom,
        qkv: &Tensor,
        mask: Option<&Tensor>,
        grad: &Tensor,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let kept = op.saved.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sv) = kept.as_ref().and_then(T::slice) else {
            candle_core::bail!("attention: backward without the forward pass's probabilities");
        };
        let wb = op.has_bias;
        let (dq, db) = with_slice::<T, _>(qkv, |q| {
            with_slice::<T, _>(grad, |gr| match mask {
                Some(m) => with_slice::<T, _>(m, |ms| Ok(op.backward(g, q, Some(ms), wb, gr, sv))),
                None => Ok(op.backward(g, q, None, wb, gr, sv)),
            })
        })?;
        let db = db
            .map(|v| tensor_from(v, &(g.heads, g.seq, g.seq).into()))
            .transpose()?;
        Ok((tensor_from(dq, qkv.shape())?, db))
    }
    match qkv.dtype() {
        candle_core::DType::F64 => go::<f64>(op, g, qkv, mask, &grad),
        _ => go::<f32>(op, g, qkv, mask, &grad),
    }
}

impl CustomOp1 for AttentionOp {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        run_fwd(self, s, l, None, None)
    }

    fn bwd(&self, qkv: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(run_bwd(self, qkv, None, grad)?.0))
    }
}

/// Two inputs: `qkv` and either the dropout mask or the score bias (`has_mask` says which).
impl CustomOp2 for AttentionOp {
    fn name(&self) -> &'static str {
        "fused-attention-2"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if self.has_mask {
            run_fwd(self, s, l, Some((xs, xl)), None)
        } else {
            run_fwd(self, s, l, None, Some((xs, xl)))
        }
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        x: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        if self.has_mask {
            Ok((Some(run_bwd(self, qkv, Some(x), grad)?.0), None))
        } else {
            let (dq, db) = run_bwd(self, qkv, None, grad)?;
            Ok((Some(dq), db))
        }
    }
}

/// Three inputs: `qkv`, the dropout mask and the score bias.
impl CustomOp3 for AttentionOp {
    fn name(&self) -> &'static str {
        "fused-attention-3"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        run_fwd(self, s, l, Some((ms, ml)), Some((bs, bl)))
    }

    fn bwd(
        &self,
        qkv: &Tensor,
        mask: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dq, db) = run_bwd(self, qkv, Some(mask), grad)?;
        Ok((Some(dq), None, db))
    }
}

/// Self-attention context `[batch · queries, hidden]` from packed projections
/// `qkv [batch · seq, 3 · hidden]` (queries, keys, values side by side; sequence `i` in rows
/// `i·seq ..`, its first `lengths[i]` tokens real), for the first `queries` tokens of each
/// sequence (`seq` for all; 1 when only the first token's output is used, as by the
/// classification heads in the last layer). `mask`: attention-dropout multipliers
/// `[batch, heads, queries, seq]` applied to the probabilities (training), or `None`.
/// Differentiable in `qkv`.
pub fn self_attention(
    qkv: &Tensor,
    lengths: &[usize],
    (seq, queries): (usize, usize),
    heads: usize,
    scale: f64,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    biased_self_attention(qkv, lengths, (seq, queries), heads, scale, mask, None)
}

/// [`self_attention`] with an additive score bias `bias [heads, seq, seq]` shared by every
/// sequence of the batch (`softmax(scale · Q Kᵀ + B)`; rows `..queries` and each sequence's
/// columns `..len` are read): MPNet's relative-position bias. Differentiable in `qkv` and
/// `bias`.
pub fn biased_self_attention(
    qkv: &Tensor,
    lengths: &[usize],
    (seq, queries): (usize, usize),
    heads: usize,
    scale: f64,
    mask: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    let op = AttentionOp {
        lengths: Arc::new(lengths.to_vec()),
        seq,
        queries,
        heads,
        scale,
        has_mask: mask.is_some(),
        has_bias: bias.is_some(),
        saved: Mutex::new(None),
    };
    let qkv = qkv.contiguous()?;
    match (mask, bias) {
        (Some(m), Some(b)) => qkv.apply_op3(&m.contiguous()?, &b.contiguous()?, op),
        (Some(x), None) | (None, Some(x)) => qkv.apply_op2(&x.contiguous()?, op),
        (None, None) => qkv.apply_op1(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ops::tests::{max_abs, randn};
    use candle_core::{Device, Var};

    /// The composed reference: split heads with transposing copies, scores, a -1e9 bias on
    /// padded keys and candle's composed softmax, dropout multipliers, context, merge heads.
    /// Backward is candle's autograd through those ops.
    fn composed(
        qkv: &Tensor,
        lengths: &[usize],
        seq: usize,
        nh: usize,
        scale: f64,
        mask: Option<&Tensor>,
    ) -> Tensor {
        composed_biased(qkv, lengths, seq, nh, scale, mask, None)
    }

    /// [`composed`] with an additive score bias [heads, seq, seq] broadcast over the batch
    /// (as transformers' MPNet adds its position bias to the scaled scores).
    fn composed_biased(
        qkv: &Tensor,
        lengths: &[usize],
        seq: usize,
        nh: usize,
        scale: f64,
        mask: Option<&Tensor>,
        bias: Option<&Tensor>,
    ) -> Tensor {
        let b = lengths.len();
        let h = qkv.dim(1).unwrap() / 3;
        let d = h / nh;
        let heads = |i: usize| {
            qkv.narrow(1, i * h, h)
                .unwrap()
                .reshape((b, seq, nh, d))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (q, k, v) = (heads(0), heads(1), heads(2));
        let mut s = (q.matmul(&k.t().unwrap()).unwrap() * scale).unwrap();
        if let Some(bias) = bias {
            s = s.broadcast_add(&bias.unsqueeze(0).unwrap()).unwrap();
        }
        // padded keys get -1e9 before candle's composed softmax (exp underflows to exactly 0)
        let mut pad = vec![0f64; b * seq];
        for (r, &len) in lengths.iter().enumerate() {
            pad[r * seq + len..(r + 1) * seq].fill(-1e9);
        }
        let pad = Tensor::from_vec(pad, (b, 1, 1, seq), &Device::Cpu).unwrap();
        let s = s.broadcast_add(&pad).unwrap();
        let mut p = candle_nn::ops::softmax(&s, candle_core::D::Minus1).unwrap();
        if let Some(m) = mask {
            p = (p * m).unwrap();
        }
        p.matmul(&v)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((b * seq, h))
            .unwrap()
    }

    /// Attention-dropout-like multipliers of `shape`, seeded: 0 for about three eighths of the
    /// entries, else 1 / 0.8.
    fn dropout_multipliers(shape: &[usize], seed: u64) -> Tensor {
        randn(shape, seed)
            .ge(-0.5)
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap()
            .affine(1.0 / 0.8, 0.0)
            .unwrap()
    }

    /// Forward and the gradient with respect to `qkv` equal the composed version in f64, with
    /// padded sequences (lengths below `seq`), several heads, and with and without a dropout
    /// mask; the gradient also matches central finite differences at a few coordinates.
    #[test]
    fn matches_the_composed_attention_and_finite_differences() {
        let (seq, nh, h) = (5, 3, 6);
        let lengths = [5usize, 2, 4];
        let b = lengths.len();
        let scale = 0.7;
        let qkv = Var::from_tensor(&randn(&[b * seq, 3 * h], 1)).unwrap();
        let up = randn(&[b * seq, h], 2);
        let keep = dropout_multipliers(&[b, nh, seq, seq], 3);
        for mask in [None, Some(&keep)] {
            let ours =
                self_attention(qkv.as_tensor(), &lengths, (seq, seq), nh, scale, mask).unwrap();
            let theirs = composed(qkv.as_tensor(), &lengths, seq, nh, scale, mask);
            assert!(max_abs(&ours, &theirs) < 1e-12);
            // the f32 path (AVX2 softmax kernels) against the f64 result
            let f32 = |t: &Tensor| t.to_dtype(candle_core::DType::F32).unwrap();
            let ours32 = self_attention(
                &f32(qkv.as_tensor()),
                &lengths,
                (seq, seq),
                nh,
                scale,
                mask.map(f32).as_ref(),
            )
            .unwrap();
            assert!(max_abs(&ours32.to_dtype(candle_core::DType::F64).unwrap(), &ours) < 1e-5);
            let loss = |t: &Tensor| (t * &up).unwrap().sum_all().unwrap();
            let g1 = loss(&ours).backward().unwrap();
            let g2 = loss(&theirs).backward().unwrap();
            let (a, c) = (g1.get(&qkv).unwrap(), g2.get(&qkv).unwrap());
            assert!(max_abs(a, c) < 1e-10, "{}", max_abs(a, c));
            let flat: Vec<f64> = qkv.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let grad: Vec<f64> = a.flatten_all().unwrap().to_vec1().unwrap();
            // a query, a real key, a padded key (zero gradient) and a value coordinate
            for idx in [
                3,
                7 * 3 * h + h + 2,
                8 * 3 * h + h + 1,
                11 * 3 * h + 2 * h + 4,
            ] {
                let f = |delta: f64| {
                    let mut v = flat.clone();
                    v[idx] += delta;
                    let t = Tensor::from_vec(v, (b * seq, 3 * h), &Device::Cpu).unwrap();
                    let o = self_attention(&t, &lengths, (seq, seq), nh, scale, mask).unwrap();
                    loss(&o).to_scalar::<f64>().unwrap()
                };
                let fd = (f(1e-6) - f(-1e-6)) / 2e-6;
                assert!(
                    (fd - grad[idx]).abs() < 1e-7,
                    "{idx}: {fd} vs {}",
                    grad[idx]
                );
            }
        }
    }

    /// With `queries = 1` the op returns the first row of every sequence of the full op, and
    /// the gradient of a loss on those rows is the same (with a dropout mask cut to that row).
    #[test]
    fn first_query_only_equals_the_first_rows_of_the_full_op() {
        let (seq, nh, h) = (4, 2, 4);
        let lengths = [3usize, 4];
        let b = lengths.len();
        let qkv = Var::from_tensor(&randn(&[b * seq, 3 * h], 5)).unwrap();
        let full_mask = randn(&[b, nh, seq, seq], 6)
            .ge(0.0)
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap();
        let first_mask = full_mask.narrow(2, 0, 1).unwrap();
        let up = randn(&[b, h], 7);
        let full = self_attention(
            qkv.as_tensor(),
            &lengths,
            (seq, seq),
            nh,
            0.5,
            Some(&full_mask),
        )
        .unwrap();
        let full_first = full
            .reshape((b, seq, h))
            .unwrap()
            .narrow(1, 0, 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        let first = self_attention(
            qkv.as_tensor(),
            &lengths,
            (seq, 1),
            nh,
            0.5,
            Some(&first_mask),
        )
        .unwrap();
        assert_eq!(first.dims(), &[b, h]);
        assert!(max_abs(&first, &full_first) < 1e-14);
        let g1 = (first * &up)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (full_first * &up)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(max_abs(g1.get(&qkv).unwrap(), g2.get(&qkv).unwrap()) < 1e-12);
    }

    /// With a score bias: forward, the gradient in `qkv` and the gradient in the bias equal
    /// the composed version (autograd through the broadcast add) in f64, with and without a
    /// dropout mask, for all queries and for the first query only; the bias gradient also
    /// matches central finite differences, including a zero at a padded-only key column.
    #[test]
    fn score_bias_matches_the_composed_attention_and_finite_differences() {
        let (seq, nh, h) = (5, 3, 6);
        let lengths = [5usize, 2, 4];
        let b = lengths.len();
        let scale = 0.6;
        let qkv = Var::from_tensor(&randn(&[b * seq, 3 * h], 11)).unwrap();
        let bias = Var::from_tensor(&randn(&[nh, seq, seq], 12)).unwrap();
        let up = randn(&[b * seq, h], 13);
        let keep = dropout_multipliers(&[b, nh, seq, seq], 14);
        let loss = |t: &Tensor, up: &Tensor| (t * up).unwrap().sum_all().unwrap();
        // ours and the composed reference, on `qkv`, for the first `queries` rows
        let run = |queries: usize, mask: Option<&Tensor>, bias: &Tensor| {
            let q = qkv.as_tensor();
            biased_self_attention(q, &lengths, (seq, queries), nh, scale, mask, Some(bias))
        };
        let ours = |queries: usize, mask: Option<&Tensor>, bias: &Tensor| {
            run(queries, mask, bias).unwrap()
        };
        let theirs = |mask: Option<&Tensor>| {
            let (q, b) = (qkv.as_tensor(), bias.as_tensor());
            composed_biased(q, &lengths, seq, nh, scale, mask, Some(b))
        };
        for mask in [None, Some(&keep)] {
            let (o, r) = (ours(seq, mask, bias.as_tensor()), theirs(mask));
            assert!(max_abs(&o, &r) < 1e-12);
            let g1 = loss(&o, &up).backward().unwrap();
            let g2 = loss(&r, &up).backward().unwrap();
            for v in [&qkv, &bias] {
                let (a, c) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                assert!(max_abs(a, c) < 1e-10, "{}", max_abs(a, c));
            }
            let flat: Vec<f64> = bias.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let grad: Vec<f64> = g1
                .get(&bias)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            // key column 4 is real only in the first sequence, so every term but one is cut;
            // nothing reads a key beyond the longest sequence, and every coordinate below is
            // checked against the loss itself
            for idx in [
                0,
                4,
                2 * seq + 3,
                seq * seq + 7,
                2 * seq * seq + 4 * seq + 1,
            ] {
                let f = |delta: f64| {
                    let mut v = flat.clone();
                    v[idx] += delta;
                    let bt = Tensor::from_vec(v, (nh, seq, seq), &Device::Cpu).unwrap();
                    loss(&ours(seq, mask, &bt), &up).to_scalar::<f64>().unwrap()
                };
                let fd = (f(1e-6) - f(-1e-6)) / 2e-6;
                assert!(
                    (fd - grad[idx]).abs() < 1e-7,
                    "{idx}: {fd} vs {}",
                    grad[idx]
                );
            }
        }
        // the first query only: the first rows of the full op, and the same gradients
        let up1 = randn(&[b, h], 15);
        let first = ours(1, None, bias.as_tensor());
        let full_first = theirs(None)
            .reshape((b, seq, h))
            .unwrap()
            .narrow(1, 0, 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        assert!(max_abs(&first, &full_first) < 1e-12);
        let g1 = loss(&first, &up1).backward().unwrap();
        let g2 = loss(&full_first, &up1).backward().unwrap();
        for v in [&qkv, &bias] {
            assert!(max_abs(g1.get(v).unwrap(), g2.get(v).unwrap()) < 1e-10);
        }
        // a bias of the wrong shape is refused
        let bad = Tensor::zeros((nh, seq, seq - 1), candle_core::DType::F64, &Device::Cpu).unwrap();
        assert!(run(seq, None, &bad).is_err());
    }

    #[test]
    fn rejects_shapes_that_do_not_fit() {
        let t = Tensor::zeros((10, 18), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(self_attention(&t, &[5, 5], (5, 5), 3, 1.0, None).is_ok());
        assert!(self_attention(&t, &[5, 5], (5, 5), 4, 1.0, None).is_err());
        assert!(self_attention(&t, &[5, 6], (5, 5), 3, 1.0, None).is_err());
        assert!(self_attention(&t, &[5, 0], (5, 5), 3, 1.0, None).is_err());
        assert!(self_attention(&t, &[5, 5], (5, 6), 3, 1.0, None).is_err());
        let o = self_attention(&t, &[5, 5], (5, 2), 3, 1.0, None).unwrap();
        assert_eq!(o.dims(), &[4, 6]);
    }
}
