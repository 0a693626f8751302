//! The dense layer `y = x Wᵀ + b` as one differentiable op with its own backward pass.
//!
//! Composed from candle primitives (`matmul` with a transposed weight view, then
//! `broadcast_add`), a layer costs a GEMM plus a pass over the output forward, and backward a
//! single-threaded strided reduction for the bias gradient (6 % of a fine-tuning step's samples)
//! and a transposing copy of the weight gradient. Here the bias is written into the output first
//! and the GEMM accumulates onto it; backward is two GEMMs straight into their final layouts,
//! `dx = dy W` and `dW = dyᵀ x`, and `db = Σ_rows dy` as per-chunk partial sums added in a fixed
//! order (deterministic for a given input, whatever the thread count's work stealing does).

use super::ops::{contiguous, err, tensor_from, with_slice, OpFloat};
use crate::kernels::dense::{matmul, matmul_nt_acc, matmul_tn, Real};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Rows per partial sum of the bias gradient.
const ROWS: usize = 64;

struct LinearOp;

/// `(rows, in, out)` of `x [rows, in]`, `w [out, in]`, `b [out]`, or an error.
fn dims(x: &Shape, w: &Shape, b: &Shape) -> Result<(usize, usize, usize)> {
    let (&[rows, inp], &[out, w_in]) = (x.dims(), w.dims()) else {
        return Err(err("linear", "x must be [rows, in] and w [out, in]"));
    };
    if w_in != inp || b.elem_count() != out {
        return Err(err(
            "linear",
            &format!("shapes do not fit: x {x:?}, w {w:?}, b {b:?}"),
        ));
    }
    Ok((rows, inp, out))
}

fn threads() -> usize {
    rayon::current_num_threads()
}

/// `x Wᵀ + b`, [rows, out].
fn forward<T: OpFloat + Real>(x: &[T], w: &[T], b: &[T], rows: usize, inp: usize) -> Vec<T> {
    let out = b.len();
    let mut y = vec![T::zero(); rows * out];
    y.par_chunks_mut(ROWS * out.max(1))
        .for_each(|c| c.chunks_mut(out.max(1)).for_each(|r| r.copy_from_slice(b)));
    matmul_nt_acc(rows, inp, out, x, w, &mut y, threads());
    y
}

/// Column sums of `g` [rows, out]: chunk partials added in chunk order.
fn column_sums<T: OpFloat>(g: &[T], out: usize) -> Vec<T> {
    let partials: Vec<Vec<T>> = g
        .par_chunks(ROWS * out.max(1))
        .map(|c| {
            let mut s = vec![T::zero(); out];
            for r in c.chunks(out.max(1)) {
                s.iter_mut().zip(r).for_each(|(a, &v)| *a += v);
            }
            s
        })
        .collect();
    let mut db = vec![T::zero(); out];
    for p in partials {
        db.iter_mut().zip(p).for_each(|(a, v)| *a += v);
    }
    db
}

/// `(dx, dW, db)` for upstream gradient `g` [rows, out].
fn backward<T: OpFloat + Real>(
    x: &[T],
    w: &[T],
    g: &[T],
    rows: usize,
    inp: usize,
    out: usize,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dx = vec![T::zero(); rows * inp];
    matmul(rows, out, inp, g, w, &mut dx, threads());
    let mut dw = vec![T::zero(); out * inp];
    matmul_tn(out, rows, inp, g, x, &mut dw, threads());
    (dx, dw, column_sums(g, out))
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, inp, out) = dims(lx.shape(), lw.shape(), lb.shape())?;
        fn go<T: OpFloat + Real>(
            s: [(&CpuStorage, &Layout); 3],
            (rows, inp, out): (usize, usize, usize),
        ) -> Result<(CpuStorage, Shape)> {
            let x = contiguous::<T>("linear", s[0].0, s[0].1)?;
            let w = contiguous::<T>("linear", s[1].0, s[1].1)?;
            let b = contiguous::<T>("linear", s[2].0, s[2].1)?;
            Ok((T::storage(forward(x, w, b, rows, inp)), (rows, out).into()))
        }
        let s = [(sx, lx), (sw, lw), (sb, lb)];
        match sx {
            CpuStorage::F64(_) => go::<f64>(s, (rows, inp, out)),
            _ => go::<f32>(s, (rows, inp, out)),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (rows, inp, out) = dims(x.shape(), w.shape(), b.shape())?;
        fn go<T: OpFloat + Real>(
            x: &Tensor,
            w: &Tensor,
            b: &Tensor,
            g: &Tensor,
            (rows, inp, out): (usize, usize, usize),
        ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let g = g.contiguous()?;
            let (dx, dw, db) = with_slice::<T, _>(x, |xs| {
                with_slice::<T, _>(w, |ws| {
                    with_slice::<T, _>(&g, |gs| Ok(backward(xs, ws, gs, rows, inp, out)))
                })
            })?;
            Ok((
                Some(tensor_from(dx, x.shape())?),
                Some(tensor_from(dw, w.shape())?),
                Some(tensor_from(db, b.shape())?),
            ))
        }
        match x.dtype() {
            candle_core::DType::F64 => go::<f64>(x, w, b, grad, (rows, inp, out)),
            _ => go::<f32>(x, w, b, grad, (rows, inp, out)),
        }
    }
}

/// `x Wᵀ + b` for `x [.., in]`, `w [out, in]` (PyTorch's layout), `b [out]`: `[.., out]`,
/// differentiable in all three. Leading dimensions are flattened into rows (one GEMM forward and
/// one per gradient backward); `x` is made contiguous first.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let inner = *dims.last().unwrap_or(&1);
    let flat = x
        .contiguous()?
        .reshape((x.elem_count() / inner.max(1), inner))?;
    let y = flat.apply_op3(w, b, LinearOp)?;
    let mut out = dims;
    if let Some(last) = out.last_mut() {
        *last = y.dim(1)?;
    }
    y.reshape(out)
}

/// [`linear`] through several layers of the same input width at once: the weights `ws` and
/// biases `bs` stacked, one GEMM, the outputs side by side `[.., Σ out]` (the gradient flows
/// back to each layer's own weight and bias through the concatenation). The fused Q/K/V
/// projection of the attention layers.
pub fn stacked(x: &Tensor, ws: &[&Tensor], bs: &[&Tensor]) -> Result<Tensor> {
    linear(x, &Tensor::cat(ws, 0)?, &Tensor::cat(bs, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ops::tests::max_abs;
    use candle_core::{DType, Device, Var};

    fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn vals(n: usize, seed: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * seed).sin()).collect()
    }

    /// Forward and all three gradients equal candle's composed `matmul` + `broadcast_add` (whose
    /// backward is candle's own), in f64, for a 3-D input with more rows than one chunk.
    #[test]
    fn matches_candles_composed_ops_forward_and_backward() {
        let (b0, s, inp, out) = (3, 50, 7, 5);
        let x = Var::from_tensor(&t(vals(b0 * s * inp, 0.7), &[b0, s, inp])).unwrap();
        let w = Var::from_tensor(&t(vals(out * inp, 1.3), &[out, inp])).unwrap();
        let b = Var::from_tensor(&t(vals(out, 2.1), &[out])).unwrap();
        let up = t(vals(b0 * s * out, 0.31), &[b0, s, out]);
        let ours = linear(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap();
        let theirs = x
            .as_tensor()
            .reshape((b0 * s, inp))
            .unwrap()
            .matmul(&w.as_tensor().t().unwrap())
            .unwrap()
            .broadcast_add(b.as_tensor())
            .unwrap()
            .reshape((b0, s, out))
            .unwrap();
        assert_eq!(ours.dims(), &[b0, s, out]);
        assert!(max_abs(&ours, &theirs) < 1e-12);
        let g1 = (ours * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &up)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &w, &b] {
            let (a, c) = (g1.get(v).unwrap(), g2.get(v).unwrap());
            assert_eq!(a.dims(), v.dims());
            assert!(max_abs(a, c) < 1e-10, "{:?}", v.dims());
        }
    }

    /// The bias gradient against its closed form Σ_rows g, in f32 (the training dtype).
    #[test]
    fn bias_gradient_is_the_column_sum_in_f32() {
        let (rows, out) = (130, 3);
        let g: Vec<f32> = (0..rows * out).map(|i| (i % 7) as f32 - 3.0).collect();
        let db = column_sums(&g, out);
        for (j, v) in db.iter().enumerate() {
            let want: f32 = (0..rows).map(|r| g[r * out + j]).sum();
            assert_eq!(*v, want);
        }
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        let w = Tensor::zeros((3, 5), DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        assert!(linear(&x, &w, &b).is_err());
    }
}
