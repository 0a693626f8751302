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
//! **How it is computed.** One symmetric eigendecomposition of the smaller Gram matrix (XᵀX,
//! d × d, when n > d; X Xᵀ, n × n, otherwise; faer's Householder tridiagonalisation and
//! tridiagonal eigensolver) gives σ, and the projections of every target column at once
//! (`Vᵀ Xᵀ Y / s`, or `Uᵀ Y`) come from rotating those few columns only, never forming the
//! eigenvectors of the Gram matrix (`eigen_project`); the per-column iterations are O(k).
//! As in the reference, for n > d the singular values with s ≤ 10⁻¹⁰ are dropped.

use super::{gram_t, par, to_f64, EstimatorOptions, Target};
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

/// The eigenvalues (nondecreasing) of the symmetric `g` (lower triangle read) and `Wᵀ p`,
/// W its eigenvectors, without forming W: `g = Q T Qᵀ` (Householder tridiagonalisation, in
/// place), `Qᵀ p` from the Householder reflections, then T's eigendecomposition `T = S Λ Sᵀ`
/// and `Sᵀ (Qᵀ p)`. This skips the d × d × d back-transformation `W = Q S` that a full
/// eigendecomposition does, which only `p`'s few columns need.
fn eigen_project(
    mut g: faer::Mat<f64>,
    mut p: faer::Mat<f64>,
    threads: usize,
) -> (Vec<f64>, faer::Mat<f64>) {
    use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
    use faer::linalg::{evd, householder, matmul::matmul};
    let (m, c) = (g.nrows(), p.ncols());
    let pr = par(threads);
    if m < 2 {
        return ((0..m).map(|i| g[(i, i)]).collect(), p);
    }
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(m, m);
    let mut hh = faer::Mat::<f64>::zeros(bs, m - 1);
    let req =
        StackReq::any_of(&[
            evd::tridiag::tridiag_in_place_scratch::<f64>(m, pr, Default::default()),
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<
                f64,
            >(m - 1, bs, c),
            evd::self_adjoint_evd_scratch::<f64>(
                m,
                evd::ComputeEigenvectors::Yes,
                pr,
                Default::default(),
            ),
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
    let diag = faer::Col::<f64>::from_fn(m, |i| g[(i, i)]);
    let sub = faer::Col::<f64>::from_fn(m, |i| if i + 1 < m { g[(i + 1, i)] } else { 0.0 });
    let mut s = faer::diag::Diag::<f64>::zeros(m);
    let mut w = faer::Mat::<f64>::zeros(m, m);
    evd::tridiagonal_self_adjoint_evd(
        diag.as_diagonal(),
        sub.as_diagonal(),
        s.as_mut(),
        Some(w.as_mut()),
        pr,
        stack,
        Default::default(),
    )
    .expect("eigendecomposition of a symmetric tridiagonal matrix");
    let mut z = faer::Mat::<f64>::zeros(m, c);
    matmul(
        z.as_mut(),
        faer::Accum::Replace,
        w.transpose(),
        p.as_ref(),
        1.0,
        pr,
    );
    let sv = s.column_vector();
    let lam = (0..m).map(|i| sv[i]).collect();
    (lam, z)
}

/// σ (the squared singular values kept) and, per target column, its projections z.
fn spectrum(x: MatRef, cols: &[Vec<f64>], threads: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    use faer::linalg::matmul::matmul;
    let (n, d, c) = (x.n, x.dim, cols.len());
    let xf = to_f64(x, false);
    let y = faer::Mat::<f64>::from_fn(n, c, |i, j| cols[j][i]);
    if n > d {
        let g = gram_t(xf.as_ref(), threads);
        let mut p = faer::Mat::<f64>::zeros(d, c);
        matmul(
            p.as_mut(),
            faer::Accum::Replace,
            xf.transpose(),
            y.as_ref(),
            1.0,
            par(threads),
        );
        // z = Vᵀ Xᵀ y; divided by s below it is Uᵀ y
        let (lam, z) = eigen_project(g, p, threads);
        let mut sigma = Vec::with_capacity(d);
        let mut proj = vec![Vec::with_capacity(d); c];
        for i in 0..d {
            let l = lam[i].abs();
            let s = l.sqrt();
            if s > 1e-10 {
                sigma.push(l);
                for (j, pj) in proj.iter_mut().enumerate() {
                    pj.push(z[(i, j)] / s);
                }
            }
        }
        (sigma, proj)
    } else {
        let k = gram_t(xf.transpose(), threads);
        let (lam, z) = eigen_project(k, y, threads);
        let sigma = (0..n).map(|i| lam[i].abs()).collect();
        let proj = (0..c)
            .map(|j| (0..n).map(|i| z[(i, j)]).collect())
            .collect();
        (sigma, proj)
    }
}

/// The evidence per example of one target column, given σ (k values), its projections `z`
/// and `‖y‖²`, for n examples of dimension d.
pub fn evidence(sigma: &[f64], z: &[f64], y2: f64, n: usize, d: usize, variant: Variant) -> f64 {
    let nf = n as f64;
    let df = d as f64;
    let x2: Vec<f64> = z.iter().map(|v| v * v).collect();
    let res_x2 = y2 - x2.iter().sum::<f64>();
    let (mut alpha, mut beta) = (1.0f64, 1.0f64);
    let (mut m2, mut res2) = (0.0, 0.0);
    for _ in 0..MAX_ITER {
        let t = alpha / beta;
        let mut gamma = 0.0;
        m2 = 0.0;
        res2 = res_x2;
        for (&s, &q) in sigma.iter().zip(&x2) {
            gamma += s / (s + t);
            m2 += s * q / ((t + s) * (t + s));
            let r = 1.0 + s / t;
            res2 += q / (r * r);
        }
        alpha = gamma / (m2 + 1e-5);
        beta = (nf - gamma) / (res2 + 1e-5);
        let t_new = alpha / beta;
        if (t_new - t).abs() / t <= TOL {
            break;
        }
    }
    let mut logdet: f64 = sigma.iter().map(|&s| (alpha + beta * s).ln()).sum();
    if variant == Variant::Corrected {
        logdet += (df - sigma.len() as f64) * alpha.ln();
    }
    let ev = df / 2.0 * alpha.ln() + nf / 2.0 * beta.ln()
        - 0.5 * logdet
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - nf / 2.0 * (2.0 * std::f64::consts::PI).ln();
    ev / nf
}

/// LogME of `x` for `target`: the mean over target columns of the evidence per example.
pub fn logme(x: MatRef, target: &Target, variant: Variant, opts: &EstimatorOptions) -> f64 {
    let cols = target_columns(target);
    let (sigma, proj) = spectrum(x, &cols, opts.threads);
    let total: f64 = cols
        .iter()
        .zip(&proj)
        .map(|(y, z)| {
            let y2 = y.iter().map(|v| v * v).sum();
            evidence(&sigma, z, y2, x.n, x.dim, variant)
        })
        .sum();
    total / cols.len() as f64
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
        assert_eq!(a, b);
        let (x, y) = data(10, 30, 3);
        let t = Target::Classes {
            labels: y,
            classes: 2,
        };
        let a = logme(MatRef::new(&x, 10, 30), &t, Variant::Corrected, &o);
        let b = logme(MatRef::new(&x, 10, 30), &t, Variant::Reference, &o);
        assert!(a != b && a.is_finite() && b.is_finite(), "{a} {b}");
    }
}
