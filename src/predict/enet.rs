//! Elastic net by cyclic coordinate descent (scikit-learn's objective and parameterisation),
//! with the penalty chosen by inner k-fold cross-validation along a warm-started path.
//!
//! Objective on centred columns `Z` and centred target `yc` (n rows):
//! `1/(2n) ||yc - Z b||^2 + alpha * l1_ratio * ||b||_1 + alpha * (1 - l1_ratio) / 2 * ||b||^2`.

use super::linalg::{dot, Mat};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Errors of an elastic-net fit.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnetError {
    /// `l1_ratio` must lie in (0, 1].
    #[error("elastic net l1_ratio must be in (0, 1], got {0}")]
    BadL1Ratio(f64),
    /// Too few rows for the inner cross-validation.
    #[error("elastic net needs at least 4 training rows for its inner cross-validation, got {0}")]
    TooFewRows(usize),
}

/// Coordinate descent to convergence: stops when the largest coefficient change in a sweep is
/// below `tol` times the largest coefficient (or after `max_sweeps` passes). `b` is the warm start
/// and is overwritten with the solution.
pub fn coordinate_descent(
    z: &Mat,
    yc: &[f64],
    alpha: f64,
    l1_ratio: f64,
    b: &mut [f64],
    tol: f64,
    max_sweeps: usize,
) {
    let (n, p) = (z.rows, z.cols);
    let cols: Vec<Vec<f64>> = (0..p).map(|j| z.col(j)).collect();
    let norms: Vec<f64> = cols.iter().map(|c| dot(c, c)).collect();
    let l1 = alpha * l1_ratio * n as f64;
    let l2 = alpha * (1.0 - l1_ratio) * n as f64;
    let mut r: Vec<f64> = yc.to_vec();
    for (j, c) in cols.iter().enumerate() {
        if b[j] != 0.0 {
            for (ri, ci) in r.iter_mut().zip(c) {
                *ri -= ci * b[j];
            }
        }
    }
    // Active-set iteration (as glmnet): a full sweep, then sweeps over the nonzero
    // coefficients only until they settle, then a full sweep again to confirm.
    let mut sweeps = 0;
    let mut active: Vec<usize> = Vec::with_capacity(p);
    while sweeps < max_sweeps {
        let (d, m) = sweep(&cols, &norms, l1, l2, b, &mut r, 0..p);
        sweeps += 1;
        if m == 0.0 || d <= tol * m {
            break;
        }
        active.clear();
        active.extend((0..p).filter(|&j| b[j] != 0.0));
        while sweeps < max_sweeps {
            let (d, m) = sweep(&cols, &norms, l1, l2, b, &mut r, active.iter().copied());
            sweeps += 1;
            if m == 0.0 || d <= tol * m {
                break;
            }
        }
    }
}

/// One coordinate-descent pass over `idx`; returns (largest change, largest |coefficient|).
fn sweep(
    cols: &[Vec<f64>],
    norms: &[f64],
    l1: f64,
    l2: f64,
    b: &mut [f64],
    r: &mut [f64],
    idx: impl Iterator<Item = usize>,
) -> (f64, f64) {
    let (mut max_delta, mut max_b) = (0.0f64, 0.0f64);
    for j in idx {
        if norms[j] == 0.0 {
            continue;
        }
        let old = b[j];
        let rho = dot(&cols[j], r) + norms[j] * old;
        let new = soft(rho, l1) / (norms[j] + l2);
        if new != old {
            let d = new - old;
            for (ri, ci) in r.iter_mut().zip(&cols[j]) {
                *ri -= ci * d;
            }
            b[j] = new;
            max_delta = max_delta.max(d.abs());
        }
        max_b = max_b.max(new.abs());
    }
    (max_delta, max_b)
}

fn soft(x: f64, t: f64) -> f64 {
    if x > t {
        x - t
    } else if x < -t {
        x + t
    } else {
        0.0
    }
}

/// The smallest `alpha` at which every coefficient is zero.
pub fn alpha_max(z: &Mat, yc: &[f64], l1_ratio: f64) -> f64 {
    let c = z.t_mul_vec(yc);
    c.iter().fold(0.0f64, |m, v| m.max(v.abs())) / (z.rows as f64 * l1_ratio)
}

/// A path of `n_alphas` values log-spaced from `alpha_max` down to `1e-2 * alpha_max`
/// (smaller penalties interpolate tens of rows and converge slowly; CV does not pick them).
pub fn alpha_path(z: &Mat, yc: &[f64], l1_ratio: f64, n_alphas: usize) -> Vec<f64> {
    let amax = alpha_max(z, yc, l1_ratio).max(1e-12);
    (0..n_alphas)
        .map(|i| amax * 10f64.powf(-2.0 * i as f64 / (n_alphas - 1).max(1) as f64))
        .collect()
}

fn centre(z: &Mat, y: &[f64]) -> (Mat, Vec<f64>, Vec<f64>, f64) {
    let n = z.rows as f64;
    let means: Vec<f64> = (0..z.cols)
        .map(|j| z.col(j).iter().sum::<f64>() / n)
        .collect();
    let mut zc = z.clone();
    for i in 0..z.rows {
        for j in 0..z.cols {
            *zc.at_mut(i, j) -= means[j];
        }
    }
    let ym = y.iter().sum::<f64>() / n;
    (zc, y.iter().map(|v| v - ym).collect(), means, ym)
}

/// Choose `alpha` on the path by `folds`-fold cross-validation (rows shuffled with `seed`),
/// each inner fit centring on its own training rows, then fit on all rows.
/// Returns `(alpha, coefficients)` on the centred columns `z`.
pub fn fit_cv(
    z: &Mat,
    yc: &[f64],
    l1_ratio: f64,
    folds: usize,
    seed: u64,
) -> Result<(f64, Vec<f64>), EnetError> {
    if !(l1_ratio > 0.0 && l1_ratio <= 1.0) {
        return Err(EnetError::BadL1Ratio(l1_ratio));
    }
    let n = z.rows;
    if n < 4 {
        return Err(EnetError::TooFewRows(n));
    }
    let path = alpha_path(z, yc, l1_ratio, 20);
    let folds = folds.min(n);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut sse = vec![0.0; path.len()];
    for f in 0..folds {
        let test: Vec<usize> = order.iter().copied().skip(f).step_by(folds).collect();
        let train: Vec<usize> = (0..n).filter(|i| !test.contains(i)).collect();
        let ytr: Vec<f64> = train.iter().map(|&i| yc[i]).collect();
        let (ztr, ytrc, means, ym) = centre(&z.select_rows(&train), &ytr);
        let mut b = vec![0.0; z.cols];
        for (a, &alpha) in path.iter().enumerate() {
            coordinate_descent(&ztr, &ytrc, alpha, l1_ratio, &mut b, 1e-4, 1000);
            for &i in &test {
                let pred = ym
                    + z.row(i)
                        .iter()
                        .zip(&means)
                        .zip(&b)
                        .map(|((x, m), c)| (x - m) * c)
                        .sum::<f64>();
                sse[a] += (yc[i] - pred).powi(2);
            }
        }
    }
    let mut best = 0;
    for a in 1..path.len() {
        if sse[a] < sse[best] {
            best = a;
        }
    }
    // Refit along the path down to the chosen alpha (warm starts).
    let mut b = vec![0.0; z.cols];
    for &alpha in &path[..=best] {
        coordinate_descent(z, yc, alpha, l1_ratio, &mut b, 1e-7, 5000);
    }
    Ok((path[best], b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lasso_on_one_column_is_the_soft_thresholded_ols_slope() {
        // z'z = n, so b = soft(z'y / n, alpha)
        let z = Mat::from_rows(&[vec![-1.0], vec![1.0], vec![-1.0], vec![1.0]]);
        let y = [-2.0, 2.0, -2.0, 2.0];
        let mut b = vec![0.0];
        coordinate_descent(&z, &y, 0.5, 1.0, &mut b, 1e-14, 1000);
        assert!((b[0] - 1.5).abs() < 1e-12);
        let mut b = vec![0.0];
        coordinate_descent(&z, &y, 3.0, 1.0, &mut b, 1e-14, 1000);
        assert_eq!(b[0], 0.0);
    }

    #[test]
    fn alpha_max_zeroes_every_coefficient() {
        let z = Mat::from_rows(&[vec![-1.0, 0.5], vec![1.0, -0.2], vec![0.0, -0.3]]);
        let y = [-1.0, 1.5, -0.5];
        let a = alpha_max(&z, &y, 0.5);
        let mut b = vec![0.0; 2];
        coordinate_descent(&z, &y, a * 1.0000001, 0.5, &mut b, 1e-14, 1000);
        assert_eq!(b, vec![0.0, 0.0]);
    }
}
