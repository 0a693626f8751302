//! Fused training ops with hand-written backward passes: LayerNorm and GELU (exact and tanh), and
//! the row kernels of the attention softmax used by the attention op (`super::attention`).
//!
//! candle's differentiable versions of these are compositions of primitive ops (LayerNorm alone
//! is about ten forward and twenty backward passes over the activations, each allocating a new
//! tensor; GELU calls a scalar libm `erf`). Each op here is one parallel pass forward and one
//! backward, f32 kernels vectorised with AVX2 + FMA when the CPU has them. f64 is supported (the
//! gradient checks run in f64) with libm's exact `erf`. The formulas:
//!
//! - LayerNorm, `x̂ = (x - μ) / sqrt(σ² + ε)`, `y = w ⊙ x̂ + b` per row; with `g = w ⊙ dy`:
//!   `dx = (g - mean(g) - x̂ · mean(g ⊙ x̂)) / sqrt(σ² + ε)`, `dw = Σ_rows dy ⊙ x̂`, `db = Σ_rows dy`.
//! - GELU, `y = x Φ(x)`: `dy/dx = Φ(x) + x φ(x)`; tanh form `y = x/2 (1 + tanh u)`,
//!   `u = c (x + 0.044715 x³)`: `dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh² u) c (1 + 3 · 0.044715 x²)`.
//! - Softmax rows over the first `len` keys: `p = softmax(scale · s)`, 0 beyond;
//!   `ds = scale · p ⊙ (dp - Σ p ⊙ dp)`. Same result as adding -1e9 to padded keys before a
//!   softmax (exp underflows to 0).

use crate::kernels::activation::{erf_as, exp_nonpos};
use crate::util::avx2_or;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

/// Floats the fused ops support.
pub trait OpFloat:
    candle_core::WithDType + num_traits::Float + num_traits::NumAssign + Send + Sync + std::iter::Sum
{
    /// The slice of a CPU storage of this type.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    /// Wrap a vector as CPU storage.
    fn storage(v: Vec<Self>) -> CpuStorage;
    /// erf(x).
    fn erf(self) -> Self;
    /// e^x for x <= 0.
    fn exp_nonpos(self) -> Self;
}

impl OpFloat for f32 {
    fn slice(s: &CpuStorage) -> Option<&[f32]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn storage(v: Vec<f32>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    #[inline(always)]
    fn erf(self) -> f32 {
        erf_as(self)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> f32 {
        exp_nonpos(self)
    }
}

impl OpFloat for f64 {
    fn slice(s: &CpuStorage) -> Option<&[f64]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn storage(v: Vec<f64>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    #[inline(always)]
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> f64 {
        self.exp()
    }
}

pub(crate) fn err(op: &str, what: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!("{op}: {what}"))
}

/// The contiguous part of a CPU storage described by `layout`.
pub(crate) fn contiguous<'a, T: OpFloat>(
    op: &str,
    s: &'a CpuStorage,
    l: &Layout,
) -> Result<&'a [T]> {
    let v = T::slice(s).ok_or_else(|| err(op, "unsupported dtype (f32 and f64 only)"))?;
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| err(op, "non-contiguous input"))?;
    Ok(&v[a..b])
}

/// Run `f` on the contiguous CPU buffer of `t` (read-locked meanwhile).
pub fn with_slice<T: candle_core::WithDType, R>(
    t: &Tensor,
    f: impl FnOnce(&[T]) -> Result<R>,
) -> Result<R> {
    let (st, l) = t.storage_and_layout();
    let Storage::Cpu(cs) = &*st else {
        candle_core::bail!("CPU tensors only");
    };
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| err("with_slice", "non-contiguous tensor"))?;
    f(&cs.as_slice::<T>()?[a..b])
}

pub(crate) fn tensor_from<T: OpFloat>(v: Vec<T>, shape: &Shape) -> Result<Tensor> {
    Tensor::from_vec(v, shape.clone(), &candle_core::Device::Cpu)
}

/// Rows per parallel chunk.
const ROWS: usize = 32;

// ---------------------------------------------------------------- LayerNorm

/// LayerNorm over the last dimension as one op: `(x, w, b)`.
struct LayerNormOp {
    eps: f64,
}

#[inline(always)]
fn row_stats<T: OpFloat>(x: &[T], eps: f64) -> (T, T) {
    let n = T::from(x.len()).unwrap_or_else(T::one);
    let mean = x.iter().copied().sum::<T>() / n;
    let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<T>() / n;
    let rstd = T::one() / (var + T::from(eps).unwrap_or_else(T::zero)).sqrt();
    (mean, rstd)
}

#[inline(always)]
fn ln_fwd_rows<T: OpFloat>(x: &[T], w: &[T], b: &[T], y: &mut [T], eps: f64) {
    let h = w.len();
    for (xr, yr) in x.chunks_exact(h).zip(y.chunks_exact_mut(h)) {
        let (mean, rstd) = row_stats(xr, eps);
        for i in 0..h {
            yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_fwd_rows_avx2<T: OpFloat>(x: &[T], w: &[T], b: &[T], y: &mut [T], eps: f64) {
    ln_fwd_rows(x, w, b, y, eps)
}

/// Accumulates `dw`, `db` over the rows and writes `dx`.
#[inline(always)]
fn ln_bwd_rows<T: OpFloat>(
    x: &[T],
    dy: &[T],
    w: &[T],
    dx: &mut [T],
    dw: &mut [T],
    db: &mut [T],
    eps: f64,
) {
    let h = w.len();
    let n = T::from(h).unwrap_or_else(T::one);
    for ((xr, gr), dxr) in x
        .chunks_exact(h)
        .zip(dy.chunks_exact(h))
        .zip(dx.chunks_exact_mut(h))
    {
        let (mean, rstd) = row_stats(xr, eps);
        let mut sg = T::zero();
        let mut sgx = T::zero();
        for i in 0..h {
            let xh = (xr[i] - mean) * rstd;
            let g = gr[i] * w[i];
            sg += g;
            sgx += g * xh;
            dw[i] += gr[i] * xh;
            db[i] += gr[i];
        }
        let (mg, mgx) = (sg / n, sgx / n);
        for i in 0..h {
            let xh = (xr[i] - mean) * rstd;
            dxr[i] = (gr[i] * w[i] - mg - xh * mgx) * rstd;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_bwd_rows_avx2<T: OpFloat>(
    x: &[T],
    dy: &[T],
    w: &[T],
    dx: &mut [T],
    dw: &mut [T],
    db: &mut [T],
    eps: f64,
) {
    ln_bwd_rows(x, dy, w, dx, dw, db, eps)
}

fn ln_fwd<T: OpFloat>(x: &[T], w: &[T], b: &[T], eps: f64) -> Vec<T> {
    let h = w.len();
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(ROWS * h)
        .zip(x.par_chunks(ROWS * h))
        .for_each(|(yc, xc)| avx2_or!(ln_fwd_rows_avx2, ln_fwd_rows; xc, w, b, yc, eps));
    y
}

fn ln_bwd<T: OpFloat>(x: &[T], dy: &[T], w: &[T], eps: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let h = w.len();
    let mut dx = vec![T::zero(); x.len()];
    // Per-chunk partial sums collected in order and added sequentially: a rayon fold/reduce
    // would associate them in an order that depends on work stealing, and runs must be
    // bit-for-bit reproducible.
    let parts: Vec<(Vec<T>, Vec<T>)> = dx
        .par_chunks_mut(ROWS * h)
        .zip(x.par_chunks(ROWS * h).zip(dy.par_chunks(ROWS * h)))
        .map(|(dxc, (xc, gc))| {
            let (mut dw, mut db) = (vec![T::zero(); h], vec![T::zero(); h]);
            avx2_or!(ln_bwd_rows_avx2, ln_bwd_rows; xc, gc, w, dxc, &mut dw, &mut db, eps);
            (dw, db)
        })
        .collect();
    let (mut dw, mut db) = (vec![T::zero(); h], vec![T::zero(); h]);
    for (pw, pb) in parts {
        dw.iter_mut().zip(pw).for_each(|(a, c)| *a += c);
        db.iter_mut().zip(pb).for_each(|(a, c)| *a += c);
    }
    (dx, dw, db)
}

fn ln_check(h: usize, lx: &Layout, lw: &Layout, lb: &Layout) -> Result<()> {
    if lw.shape().elem_count() != h || lb.shape().elem_count() != h || lx.shape().rank() == 0 {
        candle_core::bail!("layer-norm: weight and bias must have the last dimension's size {h}");
    }
    Ok(())
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
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
        let h = *lx.shape().dims().last().unwrap_or(&0);
        ln_check(h, lx, lw, lb)?;
        fn go<T: OpFloat>(eps: f64, s: [(&CpuStorage, &Layout); 3]) -> Result<(CpuStorage, Shape)> {
            let x = contiguous::<T>("layer-norm", s[0].0, s[0].1)?;
            let w = contiguous::<T>("layer-norm", s[1].0, s[1].1)?;
            let b = contiguous::<T>("layer-norm", s[2].0, s[2].1)?;
            Ok((T::storage(ln_fwd(x, w, b, eps)), s[0].1.shape().clone()))
        }
        let s = [(sx, lx), (sw, lw), (sb, lb)];
        match sx {
            CpuStorage::F64(_) => go::<f64>(self.eps, s),
            _ => go::<f32>(self.eps, s),
        }
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        fn go<T: OpFloat>(
            eps: f64,
            x: &Tensor,
            w: &Tensor,
            g: &Tensor,
        ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let g = g.contiguous()?;
            let (dx, dw, db) = with_slice::<T, _>(x, |xs| {
                with_slice::<T, _>(w, |ws| {
                    with_slice::<T, _>(&g, |gs| Ok(ln_bwd(xs, gs, ws, eps)))
                })
            })?;
            Ok((
                Some(tensor_from(dx, x.shape())?),
                Some(tensor_from(dw, w.shape())?),
                Some(tensor_from(db, w.shape())?),
            ))
        }
        match x.dtype() {
            candle_core::DType::F64 => go::<f64>(self.eps, x, w, grad),
            _ => go::<f32>(self.eps, x, w, grad),
        }
    }
}

/// LayerNorm of the last dimension of `x` with scale `w` and shift `b` (differentiable in all
/// three). `x` is made contiguous first.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(w, b, LayerNormOp { eps })
}

// ---------------------------------------------------------------- GELU

/// Which GELU.
#[derive(Debug, Clone, Copy)]
pub enum Gelu {
    /// x Φ(x) (BERT's `gelu`).
    Erf,
    /// The tanh approximation (`gelu_new`).
    Tanh,
}

const TANH_C: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
const TANH_A: f64 = 0.044_715;

#[inline(always)]
fn tanh_via_exp<T: OpFloat>(u: T) -> T {
    let e = (T::from(-2.0).unwrap_or_else(T::zero) * u.abs()).exp_nonpos();
    let t = (T::one() - e) / (T::one() + e);
    if u < T::zero() {
        -t
    } else {
        t
    }
}

/// (gelu(x), gelu'(x)).
#[inline(always)]
fn gelu_and_grad<T: OpFloat>(kind: Gelu, x: T) -> (T, T) {
    let half = T::from(0.5).unwrap_or_else(T::zero);
    match kind {
        Gelu::Erf => {
            let cdf = half
                * (T::one()
                    + (x * T::from(std::f64::consts::FRAC_1_SQRT_2).unwrap_or_else(T::zero)).erf());
            let pdf = (-half * x * x).exp_nonpos()
                * T::from(0.398_942_280_401_432_7).unwrap_or_else(T::zero); // 1/sqrt(2 pi)
            (x * cdf, cdf + x * pdf)
        }
        Gelu::Tanh => {
            let c = T::from(TANH_C).unwrap_or_else(T::zero);
            let a = T::from(TANH_A).unwrap_or_else(T::zero);
            let t = tanh_via_exp(c * (x + a * x * x * x));
            let three = T::from(3.0).unwrap_or_else(T::zero);
            let d = half * (T::one() + t)
                + half * x * (T::one() - t * t) * c * (T::one() + three * a * x * x);
            (half * x * (T::one() + t), d)
        }
    }
}

#[inline(always)]
fn gelu_fwd_kernel<T: OpFloat>(kind: Gelu, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = gelu_and_grad(kind, x).0;
    }
}

#[inline(always)]
fn gelu_bwd_kernel<T: OpFloat>(kind: Gelu, x: &[T], g: &[T], dx: &mut [T]) {
    for ((d, &x), &g) in dx.iter_mut().zip(x).zip(g) {
        *d = g * gelu_and_grad(kind, x).1;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_fwd_avx2<T: OpFloat>(kind: Gelu, x: &[T], y: &mut [T]) {
    gelu_fwd_kernel(kind, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_bwd_avx2<T: OpFloat>(kind: Gelu, x: &[T], g: &[T], dx: &mut [T]) {
    gelu_bwd_kernel(kind, x, g, dx)
}

const CHUNK: usize = 16 * 1024;

fn gelu_fwd<T: OpFloat>(kind: Gelu, x: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| avx2_or!(gelu_fwd_avx2, gelu_fwd_kernel; kind, x, y));
    y
}

fn gelu_bwd<T: OpFloat>(kind: Gelu, x: &[T], g: &[T]) -> Vec<T> {
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
        .for_each(|(d, (x, g))| avx2_or!(gelu_bwd_avx2, gelu_bwd_kernel; kind, x, g, d));
    dx
}

struct GeluOp(Gelu);

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        match s {
            CpuStorage::F64(_) => {
                let x = contiguous::<f64>("gelu", s, l)?;
                Ok((f64::storage(gelu_fwd(self.0, x)), l.shape().clone()))
            }
            _ => {
                let x = contiguous::<f32>("gelu", s, l)?;
                Ok((f32::storage(gelu_fwd(self.0, x)), l.shape().clone()))
            }
        }
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let g = grad.contiguous()?;
        fn go<T: OpFloat>(kind: Gelu, x: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
            let dx = with_slice::<T, _>(x, |xs| {
                with_slice::<T, _>(g, |gs| Ok(gelu_bwd(kind, xs, gs)))
            })?;
            Ok(Some(tensor_from(dx, x.shape())?))
        }
        match x.dtype() {
            candle_core::DType::F64 => go::<f64>(self.0, x, &g),
            _ => go::<f32>(self.0, x, &g),
        }
    }
}

/// GELU of `x`, differentiable (`x` made contiguous first).
pub fn gelu(x: &Tensor, kind: Gelu) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluOp(kind))
}

// ---------------------------------------------------------------- attention softmax kernels

#[inline(always)]
fn softmax_rows<T: OpFloat>(s: &[T], p: &mut [T], keys: usize, len: usize, scale: T) {
    for (sr, pr) in s.chunks_exact(keys).zip(p.chunks_exact_mut(keys)) {
        let mut m = T::neg_infinity();
        for &v in &sr[..len] {
            m = num_traits::Float::max(m, v * scale);
        }
        let mut sum = T::zero();
        for j in 0..len {
            let e = (sr[j] * scale - m).exp_nonpos();
            pr[j] = e;
            sum += e;
        }
        let inv = T::one() / sum;
        for v in &mut pr[..len] {
            *v *= inv;
        }
        for v in &mut pr[len..] {
            *v = T::zero();
        }
    }
}

#[inline(always)]
fn softmax_bwd_rows<T: OpFloat>(p: &[T], g: &[T], d: &mut [T], keys: usize, len: usize, scale: T) {
    for ((pr, gr), dr) in p
        .chunks_exact(keys)
        .zip(g.chunks_exact(keys))
        .zip(d.chunks_exact_mut(keys))
    {
        let mut dot = T::zero();
        for j in 0..len {
            dot += pr[j] * gr[j];
        }
        for j in 0..len {
            dr[j] = scale * pr[j] * (gr[j] - dot);
        }
        for v in &mut dr[len..] {
            *v = T::zero();
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_rows_avx2<T: OpFloat>(s: &[T], p: &mut [T], keys: usize, len: usize, scale: T) {
    softmax_rows(s, p, keys, len, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_bwd_rows_avx2<T: OpFloat>(
    p: &[T],
    g: &[T],
    d: &mut [T],
    keys: usize,
    len: usize,
    scale: T,
) {
    softmax_bwd_rows(p, g, d, keys, len, scale)
}

/// `p = softmax(scale · s)` over the first `len` entries of each `keys`-wide row of `s`, 0 beyond
/// (one block of rows; AVX2 when the CPU has it).
pub(crate) fn softmax_block<T: OpFloat>(s: &[T], p: &mut [T], keys: usize, len: usize, scale: T) {
    avx2_or!(softmax_rows_avx2, softmax_rows; s, p, keys, len, scale)
}

/// The gradient of [`softmax_block`]: `d = scale · p ⊙ (g - Σ p ⊙ g)` per row, 0 beyond `len`.
pub(crate) fn softmax_bwd_block<T: OpFloat>(
    p: &[T],
    g: &[T],
    d: &mut [T],
    keys: usize,
    len: usize,
    scale: T,
) {
    avx2_or!(softmax_bwd_rows_avx2, softmax_bwd_rows; p, g, d, keys, len, scale)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// An f64 tensor of `shape` with entries uniform in [-2, 2), seeded (shared by the tests of
    /// the other training ops).
    pub(crate) fn randn(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| r.gen_range(-2.0..2.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Largest absolute entry of `a - b` (f64 tensors).
    pub(crate) fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    /// Central finite differences of `sum(f(x) * probe)` with respect to every entry of `x`.
    fn numeric_grad(x: &Tensor, probe: &Tensor, f: &dyn Fn(&Tensor) -> Tensor) -> Tensor {
        let v = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let h = 1e-6;
        let loss = |v: &[f64]| -> f64 {
            let t = Tensor::from_slice(v, x.shape(), &Device::Cpu).unwrap();
            (f(&t) * probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let g: Vec<f64> = (0..v.len())
            .map(|i| {
                let mut a = v.clone();
                a[i] += h;
                let mut b = v.clone();
                b[i] -= h;
                (loss(&a) - loss(&b)) / (2.0 * h)
            })
            .collect();
        Tensor::from_vec(g, x.shape(), &Device::Cpu).unwrap()
    }

    #[test]
    fn layer_norm_matches_the_composed_reference_and_finite_differences() {
        let x = Var::from_tensor(&randn(&[3, 4, 8], 1)).unwrap();
        let w = Var::from_tensor(&randn(&[8], 2)).unwrap();
        let b = Var::from_tensor(&randn(&[8], 3)).unwrap();
        let probe = randn(&[3, 4, 8], 4);
        let y = layer_norm(&x, &w, &b, 1e-5).unwrap();
        let r = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-5).unwrap();
        let d = max_abs(&y, &r);
        assert!(d < 1e-10, "forward differs by {d}");
        let grads = (&y * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (wt, bt) = (w.as_tensor().clone(), b.as_tensor().clone());
        let gx = numeric_grad(&x, &probe, &|t| layer_norm(t, &wt, &bt, 1e-5).unwrap());
        assert!(max_abs(grads.get(&x).unwrap(), &gx) < 1e-6);
        let xt = x.as_tensor().clone();
        let gw = numeric_grad(&w, &probe, &|t| layer_norm(&xt, t, &bt, 1e-5).unwrap());
        assert!(max_abs(grads.get(&w).unwrap(), &gw) < 1e-6);
        let gb = numeric_grad(&b, &probe, &|t| layer_norm(&xt, &wt, t, 1e-5).unwrap());
        assert!(max_abs(grads.get(&b).unwrap(), &gb) < 1e-6);
        // f32 forward agrees with f64 to f32 precision.
        let y32 = layer_norm(
            &x.to_dtype(DType::F32).unwrap(),
            &w.to_dtype(DType::F32).unwrap(),
            &b.to_dtype(DType::F32).unwrap(),
            1e-5,
        )
        .unwrap();
        assert!(max_abs(&y32.to_dtype(DType::F64).unwrap(), &y) < 1e-5);
    }

    #[test]
    fn gelu_matches_closed_forms_and_finite_differences() {
        let x = Var::from_tensor(&(randn(&[5, 40], 5) * 2.0).unwrap()).unwrap();
        let probe = randn(&[5, 40], 6);
        for (kind, reference) in [
            (Gelu::Erf, x.gelu_erf().unwrap()),
            (Gelu::Tanh, x.gelu().unwrap()),
        ] {
            let y = gelu(&x, kind).unwrap();
            assert!(max_abs(&y, &reference) < 1e-12, "{kind:?}");
            let grads = (&y * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g = numeric_grad(&x, &probe, &|t| gelu(t, kind).unwrap());
            assert!(max_abs(grads.get(&x).unwrap(), &g) < 1e-7, "{kind:?}");
            // f32 (vectorised erf/exp) against f64.
            let y32 = gelu(&x.to_dtype(DType::F32).unwrap(), kind).unwrap();
            assert!(
                max_abs(&y32.to_dtype(DType::F64).unwrap(), &y) < 2e-6,
                "{kind:?}"
            );
            let x32 = Var::from_tensor(&x.to_dtype(DType::F32).unwrap()).unwrap();
            let p32 = probe.to_dtype(DType::F32).unwrap();
            let g32 = (gelu(&x32, kind).unwrap() * &p32)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g32 = g32.get(&x32).unwrap().to_dtype(DType::F64).unwrap();
            assert!(max_abs(&g32, grads.get(&x).unwrap()) < 1e-5, "{kind:?}");
        }
    }
}
