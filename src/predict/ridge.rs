//! Ridge regression with an unpenalised intercept on centred columns, its exact leave-one-out
//! residuals (hat-matrix shortcut), and penalty choice by efficient leave-one-out error (as
//! scikit-learn's `RidgeCV` does by default).
//!
//! With `n` rows and `p` columns the solve is primal (`(Z'Z + lambda I) b = Z'y`, p x p) when
//! `p <= n` and dual (`b = Z' (ZZ' + lambda I)^{-1} y`, n x n) otherwise.

use super::linalg::{cholesky_in_place, cholesky_inverse, cholesky_solve, dot, Mat};

/// Errors of a ridge fit.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RidgeError {
    /// The penalty must be positive and finite.
    #[error("ridge penalty must be positive, got {0}")]
    BadPenalty(f64),
    /// The regularised system could not be factorised (should not happen with lambda > 0).
    #[error("ridge system is not positive definite")]
    NotPositiveDefinite,
}

/// A ridge fit on centred columns.
#[derive(Debug, Clone)]
pub struct RidgeFit {
    /// Coefficients on the centred columns.
    pub coef: Vec<f64>,
    /// Exact leave-one-out residuals of the model with intercept.
    pub loo_residuals: Vec<f64>,
}

/// Fit ridge on centred columns `z` and centred target `yc` with penalty `lambda`
/// (objective `||yc - Z b||^2 + lambda ||b||^2`), returning coefficients and exact
/// leave-one-out residuals of the model with an (unpenalised) intercept.
pub fn fit_centred(z: &Mat, yc: &[f64], lambda: f64) -> Result<RidgeFit, RidgeError> {
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(RidgeError::BadPenalty(lambda));
    }
    let (n, p) = (z.rows, z.cols);
    let inv_n = 1.0 / n as f64;
    if p <= n {
        let mut a = z.gram().data;
        for j in 0..p {
            a[j * p + j] += lambda;
        }
        if !cholesky_in_place(&mut a, p, 1e-14) {
            return Err(RidgeError::NotPositiveDefinite);
        }
        let coef = cholesky_solve(&a, p, &z.t_mul_vec(yc));
        let inv = cholesky_inverse(&a, p);
        let loo = (0..n)
            .map(|i| {
                let zi = z.row(i);
                let e = yc[i] - dot(zi, &coef);
                let mut h = inv_n;
                for a in 0..p {
                    h += zi[a] * dot(&inv[a * p..(a + 1) * p], zi);
                }
                e / (1.0 - h)
            })
            .collect();
        Ok(RidgeFit {
            coef,
            loo_residuals: loo,
        })
    } else {
        let mut k = z.outer_gram().data;
        for i in 0..n {
            k[i * n + i] += lambda;
        }
        if !cholesky_in_place(&mut k, n, 1e-14) {
            return Err(RidgeError::NotPositiveDefinite);
        }
        let alpha = cholesky_solve(&k, n, yc);
        let coef = z.t_mul_vec(&alpha);
        let inv = cholesky_inverse(&k, n);
        // residual e = lambda * alpha; hat diagonal h = 1/n + 1 - lambda * inv_ii.
        let loo = (0..n)
            .map(|i| lambda * alpha[i] / (lambda * inv[i * n + i] - inv_n))
            .collect();
        Ok(RidgeFit {
            coef,
            loo_residuals: loo,
        })
    }
}

/// The default penalty grid for standardised columns (diagonal of `Z'Z` equal to `n`): 36
/// values log-spaced over 1e-3 .. 1e4.
pub fn default_grid() -> Vec<f64> {
    (0..36)
        .map(|i| 10f64.powf(-3.0 + 7.0 * i as f64 / 35.0))
        .collect()
}

/// Choose the penalty in `grid` with the lowest exact leave-one-out mean squared error
/// (ties go to the larger penalty) and return it with its fit.
///
/// One eigendecomposition of the smaller Gram matrix (`Z'Z` or `ZZ'`) serves every penalty,
/// so each grid point costs O(n * min(n, p)) instead of a fresh factorisation.
pub fn choose_penalty(z: &Mat, yc: &[f64], grid: &[f64]) -> Result<(f64, RidgeFit), RidgeError> {
    let path = EigenPath::new(z, yc);
    let mut best: Option<(f64, f64)> = None;
    for &lam in grid {
        if !(lam > 0.0 && lam.is_finite()) {
            return Err(RidgeError::BadPenalty(lam));
        }
        let sse = path.loo_sse(lam);
        if best.is_none_or(|b| sse <= b.0) {
            best = Some((sse, lam));
        }
    }
    let (_, lam) = best.ok_or(RidgeError::BadPenalty(f64::NAN))?;
    Ok((lam, fit_centred(z, yc, lam)?))
}

/// Ridge quantities for any penalty from one eigendecomposition.
struct EigenPath {
    n: usize,
    /// Eigenvalues of the Gram matrix.
    d: Vec<f64>,
    /// `U` (n x m): the data in the eigenbasis, rows = observations (`Z W` or the eigenvectors
    /// of `ZZ'` times sqrt(d)).
    u: Vec<f64>,
    m: usize,
    /// `U' yc / d`-free projections: `U' yc`.
    uty: Vec<f64>,
    yc: Vec<f64>,
}

impl EigenPath {
    fn new(z: &Mat, yc: &[f64]) -> Self {
        let (n, p) = (z.rows, z.cols);
        // In both forms, fitted = U diag(1/(d+lam)) U' yc and h_ii = sum_k U_ik^2/(d_k+lam),
        // where U = Z W (primal, W eigenvectors of Z'Z) or U = V diag(d) ... handled below.
        if p <= n {
            let (d, w) = super::linalg::sym_eigen(&z.gram().data, p);
            let mut u = vec![0.0; n * p];
            for i in 0..n {
                let zi = z.row(i);
                for k in 0..p {
                    u[i * p + k] = (0..p).map(|a| zi[a] * w[a * p + k]).sum();
                }
            }
            let uty = (0..p)
                .map(|k| (0..n).map(|i| u[i * p + k] * yc[i]).sum())
                .collect();
            EigenPath {
                n,
                d,
                u,
                m: p,
                uty,
                yc: yc.to_vec(),
            }
        } else {
            // ZZ' = V D V'; Z Z' (ZZ' + lam)^-1 = V diag(d/(d+lam)) V' -> U = V sqrt(D).
            let (d, v) = super::linalg::sym_eigen(&z.outer_gram().data, n);
            let mut u = vec![0.0; n * n];
            for i in 0..n {
                for k in 0..n {
                    u[i * n + k] = v[i * n + k] * d[k].max(0.0).sqrt();
                }
            }
            let uty = (0..n)
                .map(|k| (0..n).map(|i| u[i * n + k] * yc[i]).sum())
                .collect();
            EigenPath {
                n,
                d,
                u,
                m: n,
                uty,
                yc: yc.to_vec(),
            }
        }
    }

    fn loo_sse(&self, lam: f64) -> f64 {
        let inv_n = 1.0 / self.n as f64;
        let w: Vec<f64> = self.d.iter().map(|d| 1.0 / (d.max(0.0) + lam)).collect();
        let coef: Vec<f64> = self.uty.iter().zip(&w).map(|(a, b)| a * b).collect();
        let mut sse = 0.0;
        for i in 0..self.n {
            let ui = &self.u[i * self.m..(i + 1) * self.m];
            let fitted = dot(ui, &coef);
            let h: f64 = ui.iter().zip(&w).map(|(a, b)| a * a * b).sum::<f64>() + inv_n;
            let e = (self.yc[i] - fitted) / (1.0 - h);
            sse += e * e;
        }
        sse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, p: usize) -> (Mat, Vec<f64>) {
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..p).map(|_| next()).collect()).collect();
        let y: Vec<f64> = (0..n).map(|_| next()).collect();
        (Mat::from_rows(&rows), y)
    }

    fn centre(x: &Mat, y: &[f64]) -> (Mat, Vec<f64>, Vec<f64>, f64) {
        let means: Vec<f64> = (0..x.cols)
            .map(|j| x.col(j).iter().sum::<f64>() / x.rows as f64)
            .collect();
        let mut z = x.clone();
        for i in 0..x.rows {
            for j in 0..x.cols {
                *z.at_mut(i, j) -= means[j];
            }
        }
        let ym = y.iter().sum::<f64>() / y.len() as f64;
        (z, y.iter().map(|v| v - ym).collect(), means, ym)
    }

    fn explicit_loo(x: &Mat, y: &[f64], lam: f64) -> Vec<f64> {
        (0..x.rows)
            .map(|i| {
                let keep: Vec<usize> = (0..x.rows).filter(|&j| j != i).collect();
                let yt: Vec<f64> = keep.iter().map(|&j| y[j]).collect();
                let (z, yc, means, ym) = centre(&x.select_rows(&keep), &yt);
                let f = fit_centred(&z, &yc, lam).unwrap();
                let pred = ym
                    + (0..x.cols)
                        .map(|j| (x.at(i, j) - means[j]) * f.coef[j])
                        .sum::<f64>();
                y[i] - pred
            })
            .collect()
    }

    #[test]
    fn ridge_loo_shortcut_equals_explicit_refits_in_primal_and_dual_form() {
        for (n, p) in [(12, 4), (8, 20)] {
            let (x, y) = data(n, p);
            let (z, yc, _, _) = centre(&x, &y);
            let f = fit_centred(&z, &yc, 0.7).unwrap();
            let slow = explicit_loo(&x, &y, 0.7);
            for i in 0..n {
                assert!(
                    (f.loo_residuals[i] - slow[i]).abs() < 1e-10,
                    "n={n} p={p} row {i}"
                );
            }
        }
    }

    #[test]
    fn primal_and_dual_ridge_give_the_same_coefficients() {
        let (x, y) = data(10, 10);
        let (z, yc, _, _) = centre(&x, &y);
        let primal = fit_centred(&z, &yc, 0.3).unwrap();
        // force the dual by dropping one row? instead compare with the dual identity directly
        let mut k = z.outer_gram().data;
        for i in 0..10 {
            k[i * 10 + i] += 0.3;
        }
        assert!(cholesky_in_place(&mut k, 10, 1e-14));
        let dual = z.t_mul_vec(&cholesky_solve(&k, 10, &yc));
        for (a, b) in primal.coef.iter().zip(&dual) {
            assert!((a - b).abs() < 1e-10);
        }
    }

    #[test]
    fn eigen_path_loo_error_equals_the_direct_solve_in_both_forms() {
        for (n, p) in [(12, 4), (8, 20)] {
            let (x, y) = data(n, p);
            let (z, yc, _, _) = centre(&x, &y);
            let path = EigenPath::new(&z, &yc);
            for lam in [0.01, 0.7, 30.0] {
                let direct: f64 = fit_centred(&z, &yc, lam)
                    .unwrap()
                    .loo_residuals
                    .iter()
                    .map(|e| e * e)
                    .sum();
                assert!(
                    (path.loo_sse(lam) - direct).abs() < 1e-9 * direct,
                    "n={n} p={p} lam={lam}"
                );
            }
        }
    }

    #[test]
    fn penalty_choice_picks_a_large_penalty_for_pure_noise() {
        let (x, y) = data(20, 10);
        let (z, yc, _, _) = centre(&x, &y);
        let (lam, _) = choose_penalty(&z, &yc, &default_grid()).unwrap();
        assert!(lam > 1.0, "lambda {lam}");
    }
}
