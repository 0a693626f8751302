//! LogME (You, Liu, Wang, Long 2021; fixed-point form of "Ranking and Tuning Pre-trained
//! Models", 2022).
//!
//! For each target column `y` (the one-hot indicator of class c = 0..=max label, or the
//! regression target), LogME takes the Bayesian linear model `y = X w + ε` with prior
//! `w ~ N(0, α⁻¹ I_d)` and noise `ε ~ N(0, β⁻¹ I_n)`, and the log evidence
//!
//! ```text
//! L(α, β) = d/2 ln α + n/2 ln β − ½ ln det(α I_d + β XᵀX) − β/2 ‖y − X m‖² − α/2 ‖m‖² − n/2 ln 2π,
//! m = β (α I + β XᵀX)⁻¹ Xᵀ y.
//! ```
//!
//! With the singular values `s_i` of X (σ_i = s_i², i = 1..k, k = rank) and `z = Uᵀ y`, and
//! `t = α/β`: γ = Σ σ_i/(σ_i + t), ‖m‖² = Σ σ_i z_i²/(t + σ_i)², ‖y − X m‖² =
//! Σ z_i²/(1 + σ_i/t)² + (‖y‖² − Σ z_i²). The fixed-point updates are α ← γ/(‖m‖² + 10⁻⁵),
//! β ← (n − γ)/(‖y − X m‖² + 10⁻⁵), at most 11 of them, stopping when t changes by at most
//! 10⁻³ relative; the score is L/n averaged over the columns. All of this follows the
//! reference implementation (LogME.py of thuml/LogME, `_fit_fixed_point`) step for step,
//! including its final evaluation (the last α, β with the ‖m‖², residual of the step before).
//!
//! **Where the reference is wrong, and what probecast does.** `ln det(α I_d + β XᵀX)` has d
//! eigenvalues: α + β σ_i for the k non-zero σ_i and α for the other d − k. The reference sums
//! `ln(α + β σ_i)` over the k singular values its SVD returns only, so whenever k < d — always
//! when n < d (fewer examples than feature dimensions, e.g. 500 sentences of a 768-wide model),
//! and when X is rank deficient — it drops (d − k)/2 · ln α from the evidence. probecast pads σ
//! with zeros to d values ([`Variant::Corrected`], the default); [`Variant::Reference`]
//! reproduces the reference for comparison. When k = d both agree exactly.
//!
//! **How it is computed.** The smaller Gram matrix G (XᵀX, d × d, when n > d; X Xᵀ, n × n,
//! otherwise) is reduced to tridiagonal form `G = Q T Qᵀ` by faer's Householder
//! tridiagonalisation, whose reflections are applied to the few target columns only (`Qᵀ Xᵀ Y`
//! or `Qᵀ Y`). Everything a fixed-point step needs is a function of `(G + tI)⁻¹` (see
//! `Spectrum`): two quadratic forms of it, its trace (for γ) and, at the end, its
//! log-determinant. Each comes from the O(d) LDLᵀ factorisation of `T + tI`, so the default
//! variant forms no eigenvalue and no eigenvector. [`Variant::Reference`] takes T's eigenvalues
//! (faer's tridiagonal QR, no vectors) for γ and the log-determinant, since it drops, as the
//! reference does for n > d, the singular values with s ≤ 10⁻¹⁰ (the corrected variant keeps
//! them, and their terms are ln α, as its padding). Should `T + tI` not be numerically positive
//! definite (a rank-deficient X and a vanishing t), T's eigenvectors are computed after all and
//! the sums taken over G's eigenvalues and the projections on its eigenvectors.

use super::{gram, par, to_f64_rows, EstimatorOptions, Gram, Target};
use crate::learn::MatRef;

/// Which log-determinant to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Over all d eigenvalues (zeros padded): the correct evidence.
    Corrected,
    /// Over the k singular values only, as LogME.py does.
    Reference,
}

/// Maximum number of fixed-point iterations (as the reference).
pub const MAX_ITER: usize = 11;
/// Relative tolerance on t = α/β (as the reference).
pub const TOL: f64 = 1e-3;

/// The target columns: one-hot indicators of classes 0..=max label, or the regression target.
fn target_columns(target: &Target) -> Vec<Vec<f64>> {
    match target {
        Target::Classes { labels, .. } => {
            let k = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
            (0..k)
                .map(|c| {
                    labels
                        .iter()
                        .map(|&l| if l as usize == c { 1.0 } else { 0.0 })
                        .collect()
                })
                .collect()
        }
        Target::Regression(v) => vec![v.clone()],
    }
}

/// What LogME needs of the Gram matrix `G` (XᵀX when n > d, X Xᵀ otherwise, m × m): for any
/// t > 0, `γ(t) = Σ λ_i/(λ_i + t)` over its eigenvalues λ, and per target column `p` (Xᵀy, or y)
/// `a1(t) = pᵀ(G + tI)⁻¹p` and `a2(t) = ‖(G + tI)⁻¹p‖²`; and `ln det(G + tI)`.
struct Spectrum {
    /// X has more rows than columns (G = XᵀX, p = Xᵀy).
    primal: bool,
    /// Per column: `‖p‖²`.
    p2: Vec<f64>,
    /// How the sums are evaluated.
    how: How,
}

/// How the spectral sums are evaluated, through `G = Q T Qᵀ` (T tridiagonal).
enum How {
    /// From T itself: T's diagonal and subdiagonal and `Qᵀp` per column. In each fixed-point
    /// step, the LDLᵀ factorisation of `T + tI` (O(m)) gives `(T + tI)⁻¹ Qᵀp` and `ln det` (the
    /// sum of the log pivots), and with the backward pivots the diagonal of `(T + tI)⁻¹`, so
    /// `γ = m − t tr (T + tI)⁻¹`. With `lam` (T's eigenvalues), γ and `ln det` come from those
    /// instead, counting only the eigenvalues the reference keeps ([`Variant::Reference`]).
    Tridiagonal {
        diag: Vec<f64>,
        sub: Vec<f64>,
        q: Vec<Vec<f64>>,
        lam: Option<Vec<f64>>,
    },
    /// From G's eigenvalues and `Wᵀp` per column (W the eigenvectors of G). Used when `T + tI`
    /// is not numerically positive definite (a rank-deficient X and a vanishing t), and for
    /// m < 2.
    Eigen { lam: Vec<f64>, z: Vec<Vec<f64>> },
}

/// The LDLᵀ factorisation of `T + tI`, T symmetric tridiagonal (`diag`, `sub`): the pivots
/// (D) and multipliers (L's subdiagonal); `None` when a pivot is not positive (T + tI not
/// numerically positive definite).
fn ldl(diag: &[f64], sub: &[f64], t: f64, piv: &mut [f64], l: &mut [f64]) -> Option<()> {
    for i in 0..diag.len() {
        let di = if i == 0 {
            diag[0] + t
        } else {
            diag[i] + t - l[i - 1] * sub[i - 1]
        };
        if !(di > 0.0 && di.is_finite()) {
            return None;
        }
        piv[i] = di;
        if i < sub.len() {
            l[i] = sub[i] / di;
        }
    }
    Some(())
}

/// `u = (T + tI)⁻¹ q` from [`ldl`]'s factors.
fn ldl_solve(piv: &[f64], l: &[f64], q: &[f64], u: &mut [f64]) {
    let m = piv.len();
    for i in 0..m {
        u[i] = if i == 0 {
            q[0]
        } else {
            q[i] - l[i - 1] * u[i - 1]
        };
    }
    for i in 0..m {
        u[i] /= piv[i];
    }
    for i in (0..m.saturating_sub(1)).rev() {
        u[i] -= l[i] * u[i + 1];
    }
}

/// `tr (T + tI)⁻¹` from the forward pivots δ of [`ldl`] and the backward ones η (the same
/// elimination from the last row up): `((T + tI)⁻¹)_ii = 1 / (a_i − b_{i−1}²/δ_{i−1} −
/// b_i²/η_{i+1})`, a_i = T_ii + t, b_i = T_{i+1,i}. `None` when a backward pivot or a diagonal
/// denominator is not positive.
fn trace_inverse(diag: &[f64], sub: &[f64], t: f64, piv: &[f64], back: &mut [f64]) -> Option<f64> {
    let m = diag.len();
    for i in (0..m).rev() {
        let e = if i + 1 == m {
            diag[i] + t
        } else {
            diag[i] + t - sub[i] * sub[i] / back[i + 1]
        };
        if !(e > 0.0 && e.is_finite()) {
            return None;
        }
        back[i] = e;
    }
    let mut tr = 0.0;
    for i in 0..m {
        let mut den = diag[i] + t;
        if i > 0 {
            den -= sub[i - 1] * sub[i - 1] / piv[i - 1];
        }
        if i + 1 < m {
            den -= sub[i] * sub[i] / back[i + 1];
        }
        if !(den > 0.0 && den.is_finite()) {
            return None;
        }
        tr += 1.0 / den;
    }
    Some(tr)
}

/// Which eigenvalues the reference keeps: for n > d those with √|λ| > 10⁻¹⁰ (its SVD rank
/// cut-off), all of them otherwise; as |λ|.
fn kept(lam: &[f64], primal: bool) -> impl Iterator<Item = f64> + '_ {
    lam.iter()
        .map(|l| l.abs())
        .filter(move |&l| !primal || l.sqrt() > 1e-10)
}

/// The spectral sums of one target column at one t (see [`Spectrum`]).
struct Sums {
    gamma: f64,
    a1: f64,
    a2: f64,
}

/// Scratch vectors for [`Spectrum::sums`].
struct Work {
    piv: Vec<f64>,
    l: Vec<f64>,
    back: Vec<f64>,
    u: Vec<f64>,
}

impl Work {
    fn new(m: usize) -> Work {
        Work {
            piv: vec![0.0; m],
            l: vec![0.0; m],
            back: vec![0.0; m],
            u: vec![0.0; m],
        }
    }
}

impl Spectrum {
    /// G's order m.
    fn order(&self) -> usize {
        match &self.how {
            How::Tridiagonal { diag, .. } => diag.len(),
            How::Eigen { lam, .. } => lam.len(),
        }
    }

    /// γ, a1 and a2 of column `j` at `t`, or `None` (see [`How::Eigen`]).
    fn sums(&self, j: usize, t: f64, w: &mut Work) -> Option<Sums> {
        match &self.how {
            How::Tridiagonal { diag, sub, q, lam } => {
                ldl(diag, sub, t, &mut w.piv, &mut w.l)?;
                ldl_solve(&w.piv, &w.l, &q[j], &mut w.u);
                let gamma = match lam {
                    Some(lam) => kept(lam, self.primal).map(|s| s / (s + t)).sum(),
                    None => {
                        diag.len() as f64 - t * trace_inverse(diag, sub, t, &w.piv, &mut w.back)?
                    }
                };
                Some(Sums {
                    gamma,
                    a1: q[j].iter().zip(&w.u).map(|(a, b)| a * b).sum(),
                    a2: w.u.iter().map(|v| v * v).sum(),
                })
            }
            How::Eigen { lam, z } => {
                let (mut a1, mut a2) = (0.0, 0.0);
                for (&l, &zi) in lam.iter().zip(&z[j]) {
                    let r = zi / (t + l);
                    a1 += zi * r;
                    a2 += r * r;
                }
                let gamma = kept(lam, self.primal).map(|s| s / (s + t)).sum();
                Some(Sums { gamma, a1, a2 })
            }
        }
    }

    /// `ln det(α I_d + β XᵀX)` for features of dimension d: over all d eigenvalues (G's m and
    /// d − m zeros), or, for [`Variant::Reference`], over the eigenvalues the reference keeps
    /// only (which needs the eigenvalues).
    fn logdet(
        &self,
        alpha: f64,
        beta: f64,
        d: usize,
        variant: Variant,
        w: &mut Work,
    ) -> Option<f64> {
        let lam = match &self.how {
            How::Tridiagonal { lam, .. } => lam.as_ref(),
            How::Eigen { lam, .. } => Some(lam),
        };
        let (sum, count) = match (lam, &self.how) {
            (Some(lam), _) => kept(lam, self.primal).fold((0.0, 0usize), |(s, c), l| {
                (s + (alpha + beta * l).ln(), c + 1)
            }),
            (None, How::Tridiagonal { diag, sub, .. }) => {
                ldl(diag, sub, alpha / beta, &mut w.piv, &mut w.l)?;
                let s = w.piv.iter().map(|&p| (beta * p).ln()).sum();
                (s, diag.len())
            }
            (None, How::Eigen { .. }) => unreachable!("the eigen path has its eigenvalues"),
        };
        Some(match variant {
            Variant::Corrected => sum + (d - count) as f64 * alpha.ln(),
            Variant::Reference => sum,
        })
    }
}

/// `(XᵀX, Xᵀy)` for n > d (XᵀX as a column-major d × d slice), accumulated over blocks of
/// rows converted to f64 in one reused buffer (the whole of X is never held in f64).
fn primal_products(
    x: MatRef,
    y: faer::MatRef<'_, f64>,
    threads: usize,
) -> (Vec<f64>, faer::Mat<f64>) {
    use crate::kernels::dense::gram_lower;
    use faer::linalg::matmul::matmul;
    const ROWS: usize = 512;
    let (n, d) = (x.n, x.dim);
    let mut g = vec![0.0f64; d * d];
    let mut p = faer::Mat::<f64>::zeros(d, y.ncols());
    let mut buf = vec![0.0f64; ROWS.min(n) * d];
    for r0 in (0..n).step_by(ROWS) {
        let r1 = (r0 + ROWS).min(n);
        let b = &mut buf[..(r1 - r0) * d];
        b.iter_mut()
            .zip(&x.data[r0 * d..r1 * d])
            .for_each(|(c, &v)| *c = v as f64);
        gram_lower(r1 - r0, d, b, (d, 1), &mut g, (d, 1), r0 > 0, threads);
        let bt = faer::MatRef::from_row_major_slice(b, r1 - r0, d).transpose();
        matmul(
            p.as_mut(),
            faer::Accum::Add,
            bt,
            y.subrows(r0, r1 - r0),
            1.0,
            par(threads),
        );
    }
    super::mirror_lower(&mut g, d);
    (g, p)
}

/// What the spectrum must hold.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    /// T and `Qᵀp` only (the default: [`Variant::Corrected`]).
    Tridiagonal,
    /// T's eigenvalues as well ([`Variant::Reference`], which drops some of them).
    Eigenvalues,
    /// G's eigenvalues and `Wᵀp` (the fallback, see [`How::Eigen`]).
    Eigenvectors,
}

/// The spectrum of `X` for the target columns `cols`: `G = Q T Qᵀ` by faer's Householder
/// tridiagonalisation, the reflections applied to the few columns `p` only; then, as `want`
/// asks, T's eigenvalues (faer's tridiagonal QR, no vectors), or T's eigenvectors to project
/// `Qᵀp` onto G's eigenvectors. G's own eigenvectors (the d × d × d back-transformation) are
/// never formed.
fn spectrum(x: MatRef, cols: &[Vec<f64>], threads: usize, want: Want) -> Spectrum {
    use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
    use faer::linalg::{evd, householder, matmul::matmul};
    let (n, d, c) = (x.n, x.dim, cols.len());
    let pr = par(threads);
    let y = faer::Mat::<f64>::from_fn(n, c, |i, j| cols[j][i]);
    let primal = n > d;
    let (mut gv, mut p) = if primal {
        primal_products(x, y.as_ref(), threads)
    } else {
        let xf = to_f64_rows(x, false);
        (gram(&xf, n, d, Gram::Examples, threads), y)
    };
    let m = p.nrows();
    let mut g = faer::MatMut::from_column_major_slice_mut(&mut gv, m, m);
    let p2 = (0..c)
        .map(|j| (0..m).map(|i| p[(i, j)] * p[(i, j)]).sum())
        .collect();
    let column = |p: &faer::Mat<f64>, j: usize| (0..m).map(|i| p[(i, j)]).collect::<Vec<_>>();
    if m < 2 {
        let lam = (0..m).map(|i| g[(i, i)]).collect();
        let z = (0..c).map(|j| column(&p, j)).collect();
        return Spectrum {
            primal,
            p2,
            how: How::Eigen { lam, z },
        };
    }
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(m, m);
    let mut hh = faer::Mat::<f64>::zeros(bs, m - 1);
    let vectors = if want == Want::Eigenvectors {
        evd::ComputeEigenvectors::Yes
    } else {
        evd::ComputeEigenvectors::No
    };
    let req =
        StackReq::any_of(&[
            evd::tridiag::tridiag_in_place_scratch::<f64>(m, pr, Default::default()),
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<
                f64,
            >(m - 1, bs, c),
            evd::self_adjoint_evd_scratch::<f64>(m, vectors, pr, Default::default()),
        ]);
    let mut mem = MemBuffer::new(req);
    let stack = MemStack::new(&mut mem);
    evd::tridiag::tridiag_in_place(g.as_mut(), hh.as_mut(), pr, stack, Default::default());
    householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
        g.as_ref().submatrix(1, 0, m - 1, m - 1),
        hh.as_ref(),
        faer::Conj::No,
        p.as_mut().subrows_mut(1, m - 1),
        pr,
        stack,
    );
    let diag: Vec<f64> = (0..m).map(|i| g[(i, i)]).collect();
    let sub: Vec<f64> = (0..m - 1).map(|i| g[(i + 1, i)]).collect();
    if want == Want::Tridiagonal {
        let q = (0..c).map(|j| column(&p, j)).collect();
        let how = How::Tridiagonal {
            diag,
            sub,
            q,
            lam: None,
        };
        return Spectrum { primal, p2, how };
    }
    let dc = faer::Col::<f64>::from_fn(m, |i| diag[i]);
    let sc = faer::Col::<f64>::from_fn(m, |i| if i + 1 < m { sub[i] } else { 0.0 });
    let mut s = faer::diag::Diag::<f64>::zeros(m);
    let mut w = (want == Want::Eigenvectors).then(|| faer::Mat::<f64>::zeros(m, m));
    evd::tridiagonal_self_adjoint_evd(
        dc.as_diagonal(),
        sc.as_diagonal(),
        s.as_mut(),
        w.as_mut().map(|w| w.as_mut()),
        pr,
        stack,
        Default::default(),
    )
    .expect("eigendecomposition of a symmetric tridiagonal matrix");
    let sv = s.column_vector();
    let lam: Vec<f64> = (0..m).map(|i| sv[i]).collect();
    let how = match w {
        Some(w) => {
            let mut z = faer::Mat::<f64>::zeros(m, c);
            matmul(
                z.as_mut(),
                faer::Accum::Replace,
                w.transpose(),
                p.as_ref(),
                1.0,
                pr,
            );
            How::Eigen {
                lam,
                z: (0..c).map(|j| column(&z, j)).collect(),
            }
        }
        None => How::Tridiagonal {
            diag,
            sub,
            q: (0..c).map(|j| column(&p, j)).collect(),
            lam: Some(lam),
        },
    };
    Spectrum { primal, p2, how }
}

/// The evidence per example of target column `j` (with `‖y‖² = y2`) for n examples of
/// dimension d, or `None` when the spectrum's tridiagonal factorisation fails (see
/// [`How::Eigen`]).
///
/// With G's eigenvalues λ_i and `z = Wᵀp`, `a1 = Σ z_i²/(t + λ_i)` and `a2 = Σ z_i²/(t + λ_i)²`.
/// When n > d (p = Xᵀy, z_i = s_i (Uᵀy)_i) the reference's sums are ‖m‖² = a2 and
/// ‖y − Xm‖² = ‖y‖² − a1 − t a2; otherwise (p = y, z = Uᵀy) ‖m‖² = a1 − t a2 and
/// ‖y − Xm‖² = ‖y‖² − ‖z‖² + t² a2.
fn column_evidence(
    sp: &Spectrum,
    j: usize,
    y2: f64,
    n: usize,
    d: usize,
    variant: Variant,
) -> Option<f64> {
    let nf = n as f64;
    let df = d as f64;
    let mut w = Work::new(sp.order());
    let (mut alpha, mut beta) = (1.0f64, 1.0f64);
    let (mut m2, mut res2) = (0.0, 0.0);
    for _ in 0..MAX_ITER {
        let t = alpha / beta;
        let Sums { gamma, a1, a2 } = sp.sums(j, t, &mut w)?;
        if sp.primal {
            m2 = a2;
            res2 = y2 - a1 - t * a2;
        } else {
            m2 = a1 - t * a2;
            res2 = (y2 - sp.p2[j]) + t * t * a2;
        }
        alpha = gamma / (m2 + 1e-5);
        beta = (nf - gamma) / (res2 + 1e-5);
        let t_new = alpha / beta;
        if (t_new - t).abs() / t <= TOL {
            break;
        }
    }
    let logdet = sp.logdet(alpha, beta, d, variant, &mut w)?;
    let ev = df / 2.0 * alpha.ln() + nf / 2.0 * beta.ln()
        - 0.5 * logdet
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - nf / 2.0 * (2.0 * std::f64::consts::PI).ln();
    Some(ev / nf)
}

/// LogME of `x` for `target`: the mean over target columns of the evidence per example.
pub fn logme(x: MatRef, target: &Target, variant: Variant, opts: &EstimatorOptions) -> f64 {
    let cols = target_columns(target);
    let score = |sp: &Spectrum| -> Option<f64> {
        let mut total = 0.0;
        for (j, y) in cols.iter().enumerate() {
            let y2 = y.iter().map(|v| v * v).sum();
            total += column_evidence(sp, j, y2, x.n, x.dim, variant)?;
        }
        Some(total / cols.len() as f64)
    };
    let want = match variant {
        Variant::Corrected => Want::Tridiagonal,
        Variant::Reference => Want::Eigenvalues,
    };
    score(&spectrum(x, &cols, opts.threads, want)).unwrap_or_else(|| {
        score(&spectrum(x, &cols, opts.threads, Want::Eigenvectors))
            .expect("the eigen path always evaluates")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn data(n: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let y: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
        let x = (0..n * d)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect::<Vec<_>>();
        (x, y)
    }

    #[test]
    fn logme_increases_when_a_feature_is_a_noiseless_copy_of_the_label() {
        let (n, d) = (60, 5);
        let (mut x, y) = data(n, d, 1);
        let t = Target::Classes {
            labels: y.clone(),
            classes: 2,
        };
        let o = EstimatorOptions::default();
        let before = logme(MatRef::new(&x, n, d), &t, Variant::Corrected, &o);
        for i in 0..n {
            x[i * d + 2] = y[i] as f32;
        }
        let after = logme(MatRef::new(&x, n, d), &t, Variant::Corrected, &o);
        assert!(after > before + 0.5, "{before} -> {after}");
    }

    #[test]
    fn both_variants_agree_when_n_exceeds_d_and_differ_by_the_missing_log_alpha_when_n_is_below_d()
    {
        let o = EstimatorOptions::default();
        let (x, y) = data(40, 6, 2);
        let t = Target::Classes {
            labels: y,
            classes: 2,
        };
        let a = logme(MatRef::new(&x, 40, 6), &t, Variant::Corrected, &o);
        let b = logme(MatRef::new(&x, 40, 6), &t, Variant::Reference, &o);
        // equal up to rounding: Corrected is evaluated from T's LDLᵀ factors, Reference from
        // its eigenvalues
        assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} {b}");
        let (x, y) = data(10, 30, 3);
        let t = Target::Classes {
            labels: y,
            classes: 2,
        };
        let a = logme(MatRef::new(&x, 10, 30), &t, Variant::Corrected, &o);
        let b = logme(MatRef::new(&x, 10, 30), &t, Variant::Reference, &o);
        assert!(a != b && a.is_finite() && b.is_finite(), "{a} {b}");
    }

    #[test]
    fn the_tridiagonal_sums_equal_the_sums_over_the_eigenvectors() {
        use Variant::{Corrected, Reference};
        for (n, d, seed) in [(50, 7, 4), (9, 20, 5)] {
            let (x, y) = data(n, d, seed);
            let t = Target::Classes {
                labels: y,
                classes: 2,
            };
            let cols = target_columns(&t);
            let x = MatRef::new(&x, n, d);
            let tri = spectrum(x, &cols, 1, Want::Tridiagonal);
            let val = spectrum(x, &cols, 1, Want::Eigenvalues);
            let eig = spectrum(x, &cols, 1, Want::Eigenvectors);
            assert!(matches!(tri.how, How::Tridiagonal { lam: None, .. }));
            assert!(matches!(val.how, How::Tridiagonal { lam: Some(_), .. }));
            assert!(matches!(eig.how, How::Eigen { .. }));
            let mut w = Work::new(tri.order());
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
            for tt in [1e-3, 0.7, 40.0] {
                let want = eig.sums(0, tt, &mut w).unwrap();
                for sp in [&tri, &val] {
                    let got = sp.sums(0, tt, &mut w).unwrap();
                    assert!(close(got.gamma, want.gamma), "{} {}", got.gamma, want.gamma);
                    assert!(close(got.a1, want.a1), "{} {}", got.a1, want.a1);
                    assert!(close(got.a2, want.a2), "{} {}", got.a2, want.a2);
                }
                let (alpha, beta) = (tt * 0.2, 0.2);
                let want = eig.logdet(alpha, beta, d, Corrected, &mut w).unwrap();
                let got = tri.logdet(alpha, beta, d, Corrected, &mut w).unwrap();
                assert!(close(got, want), "{got} {want}");
                for v in [Corrected, Reference] {
                    let want = eig.logdet(alpha, beta, d, v, &mut w).unwrap();
                    let got = val.logdet(alpha, beta, d, v, &mut w).unwrap();
                    assert!(close(got, want), "{got} {want}");
                }
            }
            for (j, col) in cols.iter().enumerate() {
                let y2 = col.iter().map(|v| v * v).sum();
                let ev = |sp: &Spectrum, v| column_evidence(sp, j, y2, n, d, v).unwrap();
                assert!(close(ev(&tri, Corrected), ev(&eig, Corrected)));
                assert!(close(ev(&val, Corrected), ev(&eig, Corrected)));
                assert!(close(ev(&val, Reference), ev(&eig, Reference)));
            }
        }
    }

    #[test]
    fn the_factorisation_reports_a_non_positive_pivot_and_solves_and_inverts_otherwise() {
        // T = [[1, 2], [2, 1]] has eigenvalue -1: T + 0.5 I is indefinite
        let (mut piv, mut l, mut u, mut back) = ([0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        assert!(ldl(&[1.0, 1.0], &[2.0], 0.5, &mut piv, &mut l).is_none());
        // T + 2 I = [[3, 2], [2, 3]]: u = (1/5, 1/5) for q = (1, 1); its inverse is
        // [[3, -2], [-2, 3]] / 5, trace 6/5; det 5
        ldl(&[1.0, 1.0], &[2.0], 2.0, &mut piv, &mut l).unwrap();
        ldl_solve(&piv, &l, &[1.0, 1.0], &mut u);
        assert!(
            (u[0] - 0.2).abs() < 1e-15 && (u[1] - 0.2).abs() < 1e-15,
            "{u:?}"
        );
        let tr = trace_inverse(&[1.0, 1.0], &[2.0], 2.0, &piv, &mut back).unwrap();
        assert!((tr - 1.2).abs() < 1e-15, "{tr}");
        assert!((piv[0] * piv[1] - 5.0).abs() < 1e-14);
    }
}
