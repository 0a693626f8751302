//! Multinomial logistic regression with an L2 penalty, trained to convergence with L-BFGS.
//!
//! The objective is scikit-learn's `LogisticRegression(C=c)` divided by the number of examples:
//! `mean_i CE_i + ||W||² / (2 c n)`, intercepts unpenalised. Two classes use one weight vector
//! (sigmoid), as scikit-learn does; more classes use a softmax over one vector per class.
//! Products with the data run in `f32` (one fused pass per evaluation, AVX2 + FMA kernels where
//! the CPU has them); the parameters, losses, exps and logs and the optimiser run in `f64`.

use super::lbfgs::{self, LbfgsReport, LbfgsSettings};
use super::linalg::{exp_nonpos_f64, ln_pos_f64, matmul_nt, MatRef};
use crate::util::avx2_or;

/// Errors of the logistic-regression probe.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LogRegError {
    /// Labels and rows disagree in number.
    #[error("{labels} labels for {rows} rows")]
    LengthMismatch { labels: usize, rows: usize },
    /// A label is out of range.
    #[error("label {label} out of range for {classes} classes")]
    BadLabel { label: u32, classes: usize },
    /// Fewer than two classes, no rows, or a non-positive penalty.
    #[error("invalid problem: {0}")]
    Invalid(String),
}

/// Settings of one fit.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogRegSettings {
    /// Inverse regularisation strength (scikit-learn's `C`).
    pub c: f64,
    /// Optimiser stopping rules.
    pub lbfgs: LbfgsSettings,
    /// Threads per objective evaluation (1 = none; use 1 inside an outer parallel loop). With
    /// `t > 1` the rows are cut into `t` contiguous ranges (at least 256 rows each) evaluated
    /// in parallel on the rayon pool and added in order: results are deterministic for a given
    /// `t` and differ from `t = 1` only by the order of the sums.
    pub threads: usize,
}

impl Default for LogRegSettings {
    fn default() -> Self {
        LogRegSettings {
            c: 1.0,
            lbfgs: LbfgsSettings {
                max_iter: 1000,
                gtol: 1e-5,
                ftol: 1e-10,
                memory: 40,
            },
            threads: 1,
        }
    }
}

/// A fitted (or initial) model.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReg {
    /// Number of classes `k` (≥ 2).
    pub n_classes: usize,
    /// Feature dimension.
    pub dim: usize,
    /// Parameters: weights `m × dim` row-major (one row per output), then `m` intercepts,
    /// where `m = 1` for two classes and `m = k` otherwise.
    pub theta: Vec<f64>,
}

/// Outcome of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitInfo {
    /// The penalty it was fitted with.
    pub c: f64,
    /// Final objective (see the module docs).
    pub objective: f64,
    /// Optimiser report.
    pub report: LbfgsReport,
}

fn outputs(k: usize) -> usize {
    if k == 2 {
        1
    } else {
        k
    }
}

impl LogReg {
    /// All-zero parameters.
    pub fn zeros(n_classes: usize, dim: usize) -> Self {
        let m = outputs(n_classes);
        LogReg {
            n_classes,
            dim,
            theta: vec![0.0; m * (dim + 1)],
        }
    }

    fn m(&self) -> usize {
        outputs(self.n_classes)
    }

    /// Scores `n × m` (`m = 1` for two classes: the logit of class 1).
    pub fn decision(&self, x: MatRef) -> Vec<f64> {
        assert_eq!(x.dim, self.dim);
        let m = self.m();
        let w: Vec<f32> = self.theta[..self.dim * m]
            .iter()
            .map(|&v| v as f32)
            .collect();
        let b = &self.theta[self.dim * m..];
        let mut z = vec![0f32; x.n * m];
        matmul_nt(x.n, x.dim, m, x.data, &w, &mut z, 1);
        z.chunks(m)
            .flat_map(|r| r.iter().zip(b).map(|(&v, &bb)| v as f64 + bb))
            .collect()
    }

    /// Class probabilities, `n × k` row-major.
    pub fn predict_proba(&self, x: MatRef) -> Vec<f64> {
        let z = self.decision(x);
        let k = self.n_classes;
        if k == 2 {
            z.iter()
                .flat_map(|&s| {
                    let p1 = sigmoid(s);
                    [1.0 - p1, p1]
                })
                .collect()
        } else {
            let mut p = z;
            for row in p.chunks_mut(k) {
                let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - mx).exp();
                    sum += *v;
                }
                row.iter_mut().for_each(|v| *v /= sum);
            }
            p
        }
    }

    /// Most probable class of each row (ties: the lower class index).
    pub fn predict(&self, x: MatRef) -> Vec<u32> {
        let z = self.decision(x);
        if self.n_classes == 2 {
            z.iter().map(|&s| u32::from(s > 0.0)).collect()
        } else {
            z.chunks(self.n_classes).map(argmax).collect()
        }
    }

    /// Fraction of rows whose predicted class equals `y`.
    pub fn accuracy(&self, x: MatRef, y: &[u32]) -> f64 {
        accuracy(&self.predict(x), y)
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(row: &[f64]) -> u32 {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best as u32
}

/// Fraction of equal entries.
pub fn accuracy(pred: &[u32], y: &[u32]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn check(x: MatRef, y: &[u32], k: usize, c: f64) -> Result<(), LogRegError> {
    if y.len() != x.n {
        return Err(LogRegError::LengthMismatch {
            labels: y.len(),
            rows: x.n,
        });
    }
    if k < 2 || x.n == 0 || c.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(LogRegError::Invalid(format!(
            "{} classes, {} rows, C = {c}",
            k, x.n
        )));
    }
    if let Some(&label) = y.iter().find(|&&l| l as usize >= k) {
        return Err(LogRegError::BadLabel { label, classes: k });
    }
    Ok(())
}

/// Portable dot product (8 independent partial sums).
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `g += r * x`.
#[inline(always)]
fn axpy<const FMA: bool>(g: &mut [f32], r: f32, x: &[f32]) {
    for (gi, &xi) in g.iter_mut().zip(x) {
        *gi = if FMA {
            xi.mul_add(r, *gi)
        } else {
            *gi + r * xi
        };
    }
}

/// Four dot products `x_t · w` (t = 0..4) sharing the loads of `w`.
#[inline(always)]
fn dot4<const SIMD: bool>(x: [&[f32]; 4], w: &[f32]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    if SIMD {
        // SAFETY: SIMD is only true inside `block_avx2`, which runs after feature detection.
        return unsafe { dot4_avx2(x, w) };
    }
    [
        dot_portable(x[0], w),
        dot_portable(x[1], w),
        dot_portable(x[2], w),
        dot_portable(x[3], w),
    ]
}

/// `g += Σ_t r_t x_t` over four rows, loading and storing `g` once.
#[inline(always)]
fn axpy4<const SIMD: bool>(g: &mut [f32], r: [f32; 4], x: [&[f32]; 4]) {
    #[cfg(target_arch = "x86_64")]
    if SIMD {
        // SAFETY: as in `dot4`.
        return unsafe { axpy4_avx2(g, r, x) };
    }
    for t in 0..4 {
        axpy::<false>(g, r[t], x[t]);
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn hsum256(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    let s = _mm_hadd_ps(s, s);
    let s = _mm_hadd_ps(s, s);
    _mm_cvtss_f32(s)
}

/// # Safety
/// The CPU must support AVX2 and FMA; all slices have the same length.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4_avx2(x: [&[f32]; 4], w: &[f32]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let n = w.len();
    assert!(x.iter().all(|r| r.len() == n));
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for every slice.
        let wv = _mm256_loadu_ps(w.as_ptr().add(i));
        for t in 0..4 {
            acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(x[t].as_ptr().add(i)), wv, acc[t]);
        }
        i += 8;
    }
    let mut out = [0f32; 4];
    for t in 0..4 {
        out[t] = hsum256(acc[t]);
        for j in i..n {
            out[t] += x[t][j] * w[j];
        }
    }
    out
}

/// # Safety
/// The CPU must support AVX2 and FMA; all slices have the same length.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy4_avx2(g: &mut [f32], r: [f32; 4], x: [&[f32]; 4]) {
    use std::arch::x86_64::*;
    let n = g.len();
    assert!(x.iter().all(|row| row.len() == n));
    let rv = [
        _mm256_set1_ps(r[0]),
        _mm256_set1_ps(r[1]),
        _mm256_set1_ps(r[2]),
        _mm256_set1_ps(r[3]),
    ];
    let mut i = 0;
    let gp = g.as_mut_ptr();
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for every slice.
        let mut gv = _mm256_loadu_ps(gp.add(i));
        for t in 0..4 {
            gv = _mm256_fmadd_ps(_mm256_loadu_ps(x[t].as_ptr().add(i)), rv[t], gv);
        }
        _mm256_storeu_ps(gp.add(i), gv);
        i += 8;
    }
    for j in i..n {
        for t in 0..4 {
            g[j] += r[t] * x[t][j];
        }
    }
}

/// Dot products of four rows with two weight vectors, `[row][class]`, sharing every load.
#[inline(always)]
fn dot4x2<const SIMD: bool>(x: [&[f32]; 4], w0: &[f32], w1: &[f32]) -> [[f32; 2]; 4] {
    #[cfg(target_arch = "x86_64")]
    if SIMD {
        // SAFETY: SIMD is only true inside `block_avx2`, which runs after feature detection.
        return unsafe { dot4x2_avx2(x, w0, w1) };
    }
    let (a, b) = (dot4::<false>(x, w0), dot4::<false>(x, w1));
    [[a[0], b[0]], [a[1], b[1]], [a[2], b[2]], [a[3], b[3]]]
}

/// `g0 += Σ_t r0_t x_t` and `g1 += Σ_t r1_t x_t` over four rows, loading the rows once.
#[inline(always)]
fn axpy4x2<const SIMD: bool>(
    g0: &mut [f32],
    g1: &mut [f32],
    r0: [f32; 4],
    r1: [f32; 4],
    x: [&[f32]; 4],
) {
    #[cfg(target_arch = "x86_64")]
    if SIMD {
        // SAFETY: as in `dot4x2`.
        return unsafe { axpy4x2_avx2(g0, g1, r0, r1, x) };
    }
    axpy4::<false>(g0, r0, x);
    axpy4::<false>(g1, r1, x);
}

/// # Safety
/// The CPU must support AVX2 and FMA; all slices have the same length.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4x2_avx2(x: [&[f32]; 4], w0: &[f32], w1: &[f32]) -> [[f32; 2]; 4] {
    use std::arch::x86_64::*;
    let n = w0.len();
    assert!(w1.len() == n && x.iter().all(|r| r.len() == n));
    let mut a0 = [_mm256_setzero_ps(); 4];
    let mut a1 = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for every slice.
        let v0 = _mm256_loadu_ps(w0.as_ptr().add(i));
        let v1 = _mm256_loadu_ps(w1.as_ptr().add(i));
        for t in 0..4 {
            let xv = _mm256_loadu_ps(x[t].as_ptr().add(i));
            a0[t] = _mm256_fmadd_ps(xv, v0, a0[t]);
            a1[t] = _mm256_fmadd_ps(xv, v1, a1[t]);
        }
        i += 8;
    }
    let mut out = [[0f32; 2]; 4];
    for t in 0..4 {
        out[t] = [hsum256(a0[t]), hsum256(a1[t])];
        for j in i..n {
            out[t][0] += x[t][j] * w0[j];
            out[t][1] += x[t][j] * w1[j];
        }
    }
    out
}

/// # Safety
/// The CPU must support AVX2 and FMA; all slices have the same length.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy4x2_avx2(g0: &mut [f32], g1: &mut [f32], r0: [f32; 4], r1: [f32; 4], x: [&[f32]; 4]) {
    use std::arch::x86_64::*;
    let n = g0.len();
    assert!(g1.len() == n && x.iter().all(|row| row.len() == n));
    let b0 = r0.map(|v| _mm256_set1_ps(v));
    let b1 = r1.map(|v| _mm256_set1_ps(v));
    let (p0, p1) = (g0.as_mut_ptr(), g1.as_mut_ptr());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for every slice.
        let mut v0 = _mm256_loadu_ps(p0.add(i));
        let mut v1 = _mm256_loadu_ps(p1.add(i));
        for t in 0..4 {
            let xv = _mm256_loadu_ps(x[t].as_ptr().add(i));
            v0 = _mm256_fmadd_ps(xv, b0[t], v0);
            v1 = _mm256_fmadd_ps(xv, b1[t], v1);
        }
        _mm256_storeu_ps(p0.add(i), v0);
        _mm256_storeu_ps(p1.add(i), v1);
        i += 8;
    }
    for j in i..n {
        for t in 0..4 {
            g0[j] += r0[t] * x[t][j];
            g1[j] += r1[t] * x[t][j];
        }
    }
}

/// Rows per register block of the fused pass (two groups of four for the products).
const RB: usize = 8;

/// Binary loss and residuals of `RB` rows: `z[t]` is row t's logit; writes
/// `r[t] = (σ(z) - y) / n` (0 for padding rows `t ≥ y.len()`) and returns the summed
/// cross-entropy `softplus(∓z)`. One exp and one log per row, both the branch-free `f64`
/// polynomials of `linalg`, so the loop over the block vectorises.
#[inline(always)]
fn binary_rows(z: &[f64; RB], y: &[u32], inv_n: f64, r: &mut [f64]) -> f64 {
    let mut e = [0f64; RB];
    let mut l1p = [0f64; RB];
    for t in 0..RB {
        // e = exp(-|z|); softplus(±z) and σ(z) both follow from it
        e[t] = exp_nonpos_f64(-z[t].abs());
        let u = 1.0 + e[t];
        // log1p(e) = ln(u) · e / (u - 1) corrects the rounding of 1 + e
        l1p[t] = if u == 1.0 {
            e[t]
        } else {
            ln_pos_f64(u) * (e[t] / (u - 1.0))
        };
        let p1 = if z[t] >= 0.0 { 1.0 / u } else { e[t] / u };
        r[t] = p1 * inv_n;
    }
    let mut loss = 0.0;
    for t in 0..RB {
        if t < y.len() {
            let s = if y[t] == 1 { -z[t] } else { z[t] };
            loss += s.max(0.0) + l1p[t];
            r[t] -= f64::from(y[t]) * inv_n;
        } else {
            r[t] = 0.0;
        }
    }
    loss
}

/// Softmax loss and residuals of `RB` rows over `m` classes, class-major: `z[j * RB + t]` is
/// row t's score of class j. Writes `r[j * RB + t] = (p_j - [j = y_t]) / n` (0 for padding rows)
/// and returns the summed cross-entropy `ln Σ_j e^{z_j - max} - (z_y - max)`. The exps and logs
/// are the vectorisable `f64` polynomials of `linalg`, eight rows per loop.
#[inline(always)]
fn softmax_rows(z: &[f64], m: usize, y: &[u32], inv_n: f64, r: &mut [f64]) -> f64 {
    let mut mx = [f64::NEG_INFINITY; RB];
    for j in 0..m {
        let zj = &z[j * RB..(j + 1) * RB];
        for t in 0..RB {
            mx[t] = if zj[t] > mx[t] { zj[t] } else { mx[t] };
        }
    }
    let mut sum = [0f64; RB];
    for j in 0..m {
        let zj = &z[j * RB..(j + 1) * RB];
        let rj = &mut r[j * RB..(j + 1) * RB];
        for t in 0..RB {
            rj[t] = exp_nonpos_f64(zj[t] - mx[t]);
            sum[t] += rj[t];
        }
    }
    let mut lsum = [0f64; RB];
    let mut scale = [0f64; RB];
    for t in 0..RB {
        lsum[t] = ln_pos_f64(sum[t]);
        scale[t] = inv_n / sum[t];
    }
    for j in 0..m {
        let rj = &mut r[j * RB..(j + 1) * RB];
        for t in 0..RB {
            rj[t] *= if t < y.len() { scale[t] } else { 0.0 };
        }
    }
    let mut loss = 0.0;
    for (t, &yt) in y.iter().enumerate() {
        let yt = yt as usize;
        loss += lsum[t] - (z[yt * RB + t] - mx[t]);
        r[yt * RB + t] -= inv_n;
    }
    loss
}

/// One pass over a block of rows: scores, loss and residuals per row, and the weight gradient
/// accumulated while the rows are still in cache. `w` and `g` are `m × dim`; `gb` has `m`
/// entries. Residuals are divided by `n_total`. Returns the summed cross-entropy of the block.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block_body<const FMA: bool>(
    x: &[f32],
    dim: usize,
    y: &[u32],
    k: usize,
    w: &[f32],
    b: &[f64],
    n_total: f64,
    g: &mut [f32],
    gb: &mut [f64],
) -> f64 {
    let m = b.len();
    let n = y.len();
    let inv_n = 1.0 / n_total;
    // scores and residuals of one block, class-major: [j * RB + t]
    let mut z = vec![0f64; RB * m];
    let mut res = vec![0f64; RB * m];
    let mut loss = 0.0;
    let mut i = 0;
    while i < n {
        let nr = (n - i).min(RB);
        // padding rows of the last block repeat its first row; their residuals are 0
        let row = |t: usize| {
            let ii = i + if t < nr { t } else { 0 };
            &x[ii * dim..(ii + 1) * dim]
        };
        let lo = [row(0), row(1), row(2), row(3)];
        let hi = [row(4), row(5), row(6), row(7)];
        // scores, two classes at a time where there are two
        let mut j = 0;
        while j + 2 <= m {
            let (w0, w1) = (&w[j * dim..(j + 1) * dim], &w[(j + 1) * dim..(j + 2) * dim]);
            for (half, rows) in [lo, hi].into_iter().enumerate() {
                let d = dot4x2::<FMA>(rows, w0, w1);
                for t in 0..4 {
                    z[j * RB + 4 * half + t] = d[t][0] as f64 + b[j];
                    z[(j + 1) * RB + 4 * half + t] = d[t][1] as f64 + b[j + 1];
                }
            }
            j += 2;
        }
        if j < m {
            let wj = &w[j * dim..(j + 1) * dim];
            let d0 = dot4::<FMA>(lo, wj);
            let d1 = dot4::<FMA>(hi, wj);
            let zj = &mut z[j * RB..(j + 1) * RB];
            for t in 0..4 {
                zj[t] = d0[t] as f64 + b[j];
                zj[4 + t] = d1[t] as f64 + b[j];
            }
        }
        let yb = &y[i..i + nr];
        loss += if k == 2 {
            let zb: &[f64; RB] = z[..RB].try_into().expect("one block of scores");
            binary_rows(zb, yb, inv_n, &mut res)
        } else {
            softmax_rows(&z, m, yb, inv_n, &mut res)
        };
        // gradient contributions while the rows are in cache, two classes at a time
        for (j, rj) in res.chunks(RB).enumerate() {
            gb[j] += rj.iter().sum::<f64>();
        }
        let r32 = |j: usize, half: usize| -> [f32; 4] {
            let o = j * RB + 4 * half;
            [res[o], res[o + 1], res[o + 2], res[o + 3]].map(|v| v as f32)
        };
        let halves = if nr > 4 { 2 } else { 1 };
        let mut j = 0;
        while j + 2 <= m {
            let (g0, g1) = g[j * dim..(j + 2) * dim].split_at_mut(dim);
            for (half, rows) in [lo, hi].into_iter().enumerate().take(halves) {
                axpy4x2::<FMA>(g0, g1, r32(j, half), r32(j + 1, half), rows);
            }
            j += 2;
        }
        if j < m {
            let gj = &mut g[j * dim..(j + 1) * dim];
            for (half, rows) in [lo, hi].into_iter().enumerate().take(halves) {
                axpy4::<FMA>(gj, r32(j, half), rows);
            }
        }
        i += nr;
    }
    loss
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_avx2(
    x: &[f32],
    dim: usize,
    y: &[u32],
    k: usize,
    w: &[f32],
    b: &[f64],
    n_total: f64,
    g: &mut [f32],
    gb: &mut [f64],
) -> f64 {
    block_body::<true>(x, dim, y, k, w, b, n_total, g, gb)
}

/// [`block_body`] with AVX2 + FMA where the CPU has them (checked at run time).
#[allow(clippy::too_many_arguments)]
fn block(
    x: &[f32],
    dim: usize,
    y: &[u32],
    k: usize,
    w: &[f32],
    b: &[f64],
    n_total: f64,
    g: &mut [f32],
    gb: &mut [f64],
) -> f64 {
    avx2_or!(block_avx2, block_body::<false>; x, dim, y, k, w, b, n_total, g, gb)
}

/// Fewest rows per thread when a fit is split over threads.
const MIN_PART_ROWS: usize = 256;

/// Workspace for objective evaluations.
struct Objective<'a> {
    x: MatRef<'a>,
    y: &'a [u32],
    k: usize,
    m: usize,
    c: f64,
    threads: usize,
    w: Vec<f32>,
    g: Vec<f32>,
}

impl<'a> Objective<'a> {
    fn new(x: MatRef<'a>, y: &'a [u32], k: usize, c: f64, threads: usize) -> Self {
        let m = outputs(k);
        Objective {
            x,
            y,
            k,
            m,
            c,
            threads,
            w: vec![0.0; x.dim * m],
            g: vec![0.0; x.dim * m],
        }
    }

    /// Objective value; writes the gradient into `grad`. One fused pass over the data: each
    /// row is read once for its scores and its gradient contribution.
    fn eval(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (n, dim, m, k) = (self.x.n, self.x.dim, self.m, self.k);
        let nf = n as f64;
        for (w, &t) in self.w.iter_mut().zip(&theta[..dim * m]) {
            *w = t as f32;
        }
        let b = &theta[dim * m..];
        let (w, x, y) = (&self.w, self.x.data, self.y);
        let mut gb = vec![0.0; m];
        let parts = self.threads.min(n / MIN_PART_ROWS).max(1);
        let loss = if parts > 1 {
            // `parts` contiguous row ranges (whole register blocks), one per thread; partial
            // sums added in range order, so the result depends on the thread count only.
            use rayon::prelude::*;
            let per = n.div_ceil(parts).div_ceil(RB) * RB;
            let partial: Vec<(f64, Vec<f32>, Vec<f64>)> = (0..parts)
                .into_par_iter()
                .map(|p| {
                    let (lo, hi) = ((p * per).min(n), ((p + 1) * per).min(n));
                    let mut g = vec![0f32; dim * m];
                    let mut gbb = vec![0f64; m];
                    let l = block(
                        &x[lo * dim..hi * dim],
                        dim,
                        &y[lo..hi],
                        k,
                        w,
                        b,
                        nf,
                        &mut g,
                        &mut gbb,
                    );
                    (l, g, gbb)
                })
                .collect();
            self.g.iter_mut().for_each(|v| *v = 0.0);
            let mut loss = 0.0;
            for (l, g, gbb) in partial {
                loss += l;
                for (a, v) in self.g.iter_mut().zip(&g) {
                    *a += v;
                }
                for (a, v) in gb.iter_mut().zip(&gbb) {
                    *a += v;
                }
            }
            loss
        } else {
            self.g.iter_mut().for_each(|v| *v = 0.0);
            block(x, dim, y, k, w, b, nf, &mut self.g, &mut gb)
        };
        let lam = 1.0 / (self.c * nf);
        let mut pen = 0.0;
        for ((g, &gw), &t) in grad[..dim * m]
            .iter_mut()
            .zip(&self.g)
            .zip(&theta[..dim * m])
        {
            *g = gw as f64 + lam * t;
            pen += t * t;
        }
        grad[dim * m..].copy_from_slice(&gb);
        loss / nf + 0.5 * lam * pen
    }
}

/// The objective (see the module docs) of `model` on `(x, y)` with penalty `c`.
pub fn objective(model: &LogReg, x: MatRef, y: &[u32], c: f64) -> Result<f64, LogRegError> {
    check(x, y, model.n_classes, c)?;
    let mut obj = Objective::new(x, y, model.n_classes, c, 1);
    let mut g = vec![0.0; model.theta.len()];
    Ok(obj.eval(&model.theta, &mut g))
}

/// Fit a model on `(x, y)` with labels in `0..n_classes`, starting from `init` (a warm start)
/// or from zero.
pub fn fit(
    x: MatRef,
    y: &[u32],
    n_classes: usize,
    opts: &LogRegSettings,
    init: Option<&LogReg>,
) -> Result<(LogReg, FitInfo), LogRegError> {
    check(x, y, n_classes, opts.c)?;
    let mut model = match init {
        Some(m) if m.n_classes == n_classes && m.dim == x.dim => m.clone(),
        _ => LogReg::zeros(n_classes, x.dim),
    };
    let mut obj = Objective::new(x, y, n_classes, opts.c, opts.threads);
    let mut run = || lbfgs::minimize(&mut model.theta, |t, g| obj.eval(t, g), &opts.lbfgs);
    // With several threads, run the whole fit on a pool thread: each evaluation then wakes
    // only the other threads, which are still spinning from the previous one.
    let report = if opts.threads > 1 {
        rayon::scope(|_| run())
    } else {
        run()
    };
    Ok((
        model,
        FitInfo {
            c: opts.c,
            objective: report.value,
            report,
        },
    ))
}

/// Fit one model per penalty in `cs` (in the given order), each warm-started from the previous
/// one. Ascending `cs` (strong to weak regularisation) makes the warm starts most useful.
pub fn fit_path(
    x: MatRef,
    y: &[u32],
    n_classes: usize,
    cs: &[f64],
    opts: &LogRegSettings,
) -> Result<Vec<(LogReg, FitInfo)>, LogRegError> {
    let mut out: Vec<(LogReg, FitInfo)> = Vec::with_capacity(cs.len());
    for &c in cs {
        let o = LogRegSettings { c, ..*opts };
        let init = out.last().map(|(m, _)| m);
        let r = fit(x, y, n_classes, &o, init)?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<f32>, Vec<u32>) {
        // 3 classes on a line, overlapping a little.
        let x: Vec<f32> = (0..30)
            .map(|i| (i as f32) / 10.0 + ((i * 7) % 5) as f32 * 0.3)
            .collect();
        let y: Vec<u32> = (0..30).map(|i| (i / 10) as u32).collect();
        (x, y)
    }

    #[test]
    fn gradient_matches_finite_differences_for_binary_and_multiclass() {
        let (x, y3) = toy();
        let y2: Vec<u32> = y3.iter().map(|&v| u32::from(v > 0)).collect();
        let xm = MatRef::new(&x, 30, 1);
        for (y, k) in [(&y2, 2usize), (&y3, 3)] {
            let mut obj = Objective::new(xm, y, k, 0.7, 1);
            let m = outputs(k);
            let theta: Vec<f64> = (0..2 * m).map(|j| 0.1 * j as f64 - 0.2).collect();
            let mut g = vec![0.0; theta.len()];
            obj.eval(&theta, &mut g);
            for j in 0..theta.len() {
                let h = 1e-3;
                let mut tp = theta.clone();
                tp[j] += h;
                let mut tm = theta.clone();
                tm[j] -= h;
                let mut d = vec![0.0; theta.len()];
                let fd = (obj.eval(&tp, &mut d) - obj.eval(&tm, &mut d)) / (2.0 * h);
                assert!((fd - g[j]).abs() < 1e-4, "k={k} j={j}: {fd} vs {}", g[j]);
            }
        }
    }

    #[test]
    fn threaded_evaluation_is_deterministic_and_equals_the_single_thread_one() {
        // 1100 rows: 4 parts of 280/280/280/260 rows with 4 threads, 2 of 552/548 with 2.
        let (n, dim) = (1100, 19);
        let x: Vec<f32> = (0..n * dim)
            .map(|i| (((i * 7919) % 1013) as f32 / 1013.0 - 0.5) * 2.0)
            .collect();
        let xm = MatRef::new(&x, n, dim);
        for k in [2usize, 5] {
            let y: Vec<u32> = (0..n)
                .map(|i| {
                    let s: f32 = x[i * dim..i * dim + 3].iter().sum();
                    ((s + 3.0) * k as f32 / 6.0).clamp(0.0, k as f32 - 1.0) as u32
                })
                .collect();
            let m = outputs(k);
            let theta: Vec<f64> = (0..m * (dim + 1)).map(|j| 0.01 * (j % 7) as f64).collect();
            let mut g1 = vec![0.0; theta.len()];
            let f1 = Objective::new(xm, &y, k, 0.5, 1).eval(&theta, &mut g1);
            for t in [2, 4] {
                let mut ga = vec![0.0; theta.len()];
                let mut gb = vec![0.0; theta.len()];
                let fa = Objective::new(xm, &y, k, 0.5, t).eval(&theta, &mut ga);
                let fb = Objective::new(xm, &y, k, 0.5, t).eval(&theta, &mut gb);
                assert_eq!((fa, &ga), (fb, &gb), "k={k} t={t}: not deterministic");
                assert!(
                    (fa - f1).abs() <= 1e-12 * f1.abs(),
                    "k={k} t={t}: {fa} vs {f1}"
                );
                for (a, b) in ga.iter().zip(&g1) {
                    assert!((a - b).abs() <= 1e-6, "k={k} t={t}: gradient {a} vs {b}");
                }
            }
            let o = |threads| LogRegSettings {
                c: 0.5,
                threads,
                ..Default::default()
            };
            let (_, i1) = fit(xm, &y, k, &o(1), None).unwrap();
            let (m2, i2) = fit(xm, &y, k, &o(2), None).unwrap();
            let (m2b, _) = fit(xm, &y, k, &o(2), None).unwrap();
            assert_eq!(m2, m2b, "k={k}: two-thread fits differ");
            let rel = (i2.objective - i1.objective).abs() / i1.objective;
            assert!(
                rel < 1e-6,
                "k={k}: objective {} vs {}",
                i2.objective,
                i1.objective
            );
        }
    }

    #[test]
    fn rejects_labels_out_of_range_and_single_class_problems() {
        let (x, mut y) = toy();
        y[0] = 5;
        let xm = MatRef::new(&x, 30, 1);
        assert_eq!(
            fit(xm, &y, 3, &LogRegSettings::default(), None).unwrap_err(),
            LogRegError::BadLabel {
                label: 5,
                classes: 3
            }
        );
        assert!(fit(xm, &y, 1, &LogRegSettings::default(), None).is_err());
    }
}
