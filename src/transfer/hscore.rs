//! The regularised H-score (Bao et al. 2019, "An information-theoretic approach to
//! transferability"; shrinkage form of Ibrahim, Ponomareva, Mazumder 2022, "Newer is not always
//! better").
//!
//! With the features centred (X̃ = X − column means), the H-score is
//! `tr(Σ_f⁻¹ Σ_g)`, where Σ_g is the covariance of g(x) = E[f | class of x] (each row replaced
//! by its class mean, normalised by n − 1) and Σ_f the feature covariance. The regularised form
//! replaces Σ_f by the Ledoit–Wolf estimate `Σ_α = (1 − α) S + α μ I` (S = X̃ᵀX̃/n, μ = tr S/d,
//! α the Ledoit–Wolf shrinkage) and scales Σ_g by (1 − α):
//!
//! ```text
//! H = tr(pinv(Σ_α) (1 − α) Σ_g) = (1 − α)/(n − 1) · Σ_c n_c m_cᵀ Σ_α⁻¹ m_c
//! ```
//!
//! with m_c the centred mean of class c and n_c its size. The shrinkage is scikit-learn's
//! `ledoit_wolf_shrinkage`: with δ' = ‖X̃ᵀX̃‖²_F / n² and β' = Σ_i ‖x̃_i‖⁴,
//! β = (β'/n − δ')/(d n), δ = (δ' − 2 μ tr S + d μ²)/d, α = min(β, δ)/δ (0 when β = 0 or
//! d = 1). Σ_α is positive definite when α > 0, so pinv is its inverse (a Cholesky solve);
//! when α = 0 and S is singular, the pseudo-inverse is taken from the eigendecomposition with
//! numpy's cut-off (eigenvalues below 10⁻¹⁵ of the largest are dropped). The score is
//! invariant to adding a constant to X, and higher is better. Classification only: class
//! means do not exist for a real-valued target.

use super::{gram, par, to_f64_rows, EstimatorOptions, Gram};
use crate::learn::MatRef;

/// The Ledoit–Wolf shrinkage α and μ = tr S / d, from the centred features `xc` (row-major
/// n × d) and S's Gram matrix `g = X̃ᵀX̃` (scikit-learn's `ledoit_wolf_shrinkage` with
/// `assume_centered=True`).
pub fn ledoit_wolf(xc: &[f64], n: usize, g: faer::MatRef<'_, f64>) -> (f64, f64) {
    let d = g.nrows();
    let n = n as f64;
    let trace: f64 = (0..d).map(|j| g[(j, j)]).sum::<f64>() / n;
    let mu = trace / d as f64;
    if d == 1 {
        return (0.0, mu);
    }
    let row_sq: Vec<f64> = xc
        .chunks_exact(d)
        .map(|row| row.iter().map(|v| v * v).sum())
        .collect();
    let beta_: f64 = row_sq.iter().map(|r| r * r).sum();
    let mut delta_ = 0.0;
    for j in 0..d {
        let col = g.col(j).try_as_col_major().unwrap().as_slice();
        delta_ += col.iter().map(|v| v * v).sum::<f64>();
    }
    delta_ /= n * n;
    let beta = 1.0 / (d as f64 * n) * (beta_ / n - delta_);
    let delta = (delta_ - 2.0 * mu * trace + d as f64 * mu * mu) / d as f64;
    let beta = beta.min(delta);
    let shrinkage = if beta == 0.0 { 0.0 } else { beta / delta };
    (shrinkage, mu)
}

/// The regularised H-score of `x` for labels in `0..classes`.
pub fn hscore(x: MatRef, labels: &[u32], classes: usize, opts: &EstimatorOptions) -> f64 {
    let (n, d) = (x.n, x.dim);
    let xc = to_f64_rows(x, true);
    let g = gram(&xc, n, d, Gram::Features, opts.threads);
    let g = faer::MatRef::from_column_major_slice(&g, d, d);
    let (alpha, mu) = ledoit_wolf(&xc, n, g);
    // Σ_α = (1 − α) G/n + α μ I
    let sigma = faer::Mat::<f64>::from_fn(d, d, |i, j| {
        (1.0 - alpha) * g[(i, j)] / n as f64 + if i == j { alpha * mu } else { 0.0 }
    });
    // Class sums of the centred rows, then means (d × classes).
    let counts = super::class_counts(labels, classes);
    let mut means = faer::Mat::<f64>::zeros(d, classes);
    for (row, &l) in xc.chunks_exact(d.max(1)).zip(labels) {
        let m = means
            .col_mut(l as usize)
            .try_as_col_major_mut()
            .unwrap()
            .as_slice_mut();
        m.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
    for (c, &nc) in counts.iter().enumerate() {
        for j in 0..d {
            means[(j, c)] /= nc.max(1) as f64;
        }
    }
    // w = pinv(Σ_α) m_c for every class at once.
    let w = if alpha > 0.0 {
        match sigma.llt(faer::Side::Lower) {
            Ok(llt) => {
                use faer::linalg::solvers::Solve;
                llt.solve(means.as_ref())
            }
            Err(_) => pinv_solve(&sigma, &means, opts.threads),
        }
    } else {
        pinv_solve(&sigma, &means, opts.threads)
    };
    let mut quad = 0.0;
    for (c, &nc) in counts.iter().enumerate() {
        let q: f64 = (0..d).map(|j| means[(j, c)] * w[(j, c)]).sum();
        quad += nc as f64 * q;
    }
    (1.0 - alpha) * quad / (n as f64 - 1.0)
}

/// `pinv(a) b` for symmetric `a`, dropping eigenvalues below 10⁻¹⁵ of the largest magnitude.
fn pinv_solve(a: &faer::Mat<f64>, b: &faer::Mat<f64>, threads: usize) -> faer::Mat<f64> {
    use faer::linalg::matmul::matmul;
    let eig = a
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("eigendecomposition of a symmetric matrix");
    let (u, lam) = (eig.U(), eig.S().column_vector());
    let d = a.nrows();
    let top = (0..d).map(|i| lam[i].abs()).fold(0.0, f64::max);
    let mut t = faer::Mat::<f64>::zeros(d, b.ncols());
    matmul(
        t.as_mut(),
        faer::Accum::Replace,
        u.transpose(),
        b.as_ref(),
        1.0,
        par(threads),
    );
    for i in 0..d {
        let inv = if lam[i].abs() > 1e-15 * top {
            1.0 / lam[i]
        } else {
            0.0
        };
        for c in 0..b.ncols() {
            t[(i, c)] *= inv;
        }
    }
    let mut out = faer::Mat::<f64>::zeros(d, b.ncols());
    matmul(
        out.as_mut(),
        faer::Accum::Replace,
        u,
        t.as_ref(),
        1.0,
        par(threads),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn hscore_is_invariant_to_adding_a_constant_to_x() {
        let (n, d) = (50, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let y: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let x: Vec<f32> = (0..n * d)
            // multiples of 1/64: adding 3.25 is exact in f32
            .map(|i| rng.gen_range(-64i32..64) as f32 / 64.0 + 0.5 * y[i / d] as f32)
            .collect();
        let shifted: Vec<f32> = x.iter().map(|v| v + 3.25).collect();
        let o = EstimatorOptions::default();
        let a = hscore(MatRef::new(&x, n, d), &y, 3, &o);
        let b = hscore(MatRef::new(&shifted, n, d), &y, 3, &o);
        assert!(a > 0.1, "{a}");
        assert!((a - b).abs() <= 1e-10 * a.abs(), "{a} vs {b}");
    }
}
