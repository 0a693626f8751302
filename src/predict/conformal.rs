//! Prediction intervals from cross-validation residuals (split-conformal style on out-of-fold
//! residuals, i.e. the jackknife / CV interval `prediction ± q`).
//!
//! `q` is the `ceil(coverage * (m + 1))`-th smallest of `m` absolute out-of-fold residuals;
//! when that rank exceeds `m` the interval is unbounded (too few rows for the coverage asked).
//! The saved predictor uses `q` from all out-of-fold residuals. Its coverage is checked under
//! cross-validation by nesting (see `honest::evaluate`): each outer fold's width comes from an
//! inner CV on that fold's training rows. [`leave_one_out_coverage`] is the cheap alternative;
//! it is nearly tautological (with `n` rows it covers `ceil(coverage * n)` of them by
//! construction) and is kept only for comparison.

/// The conformal half-width from absolute residuals (`+inf` when there are too few).
pub fn half_width(abs_residuals: &[f64], coverage: f64) -> f64 {
    let mut v: Vec<f64> = abs_residuals.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len();
    let rank = (coverage * (m as f64 + 1.0) - 1e-9).ceil() as usize;
    if rank == 0 {
        0.0
    } else if rank > m {
        f64::INFINITY
    } else {
        v[rank - 1]
    }
}

/// For each row, the half-width computed from every other row's absolute residual; returns the
/// half-widths and the fraction of rows whose own absolute residual lies within its interval.
pub fn leave_one_out_coverage(residuals: &[f64], coverage: f64) -> (Vec<f64>, f64) {
    let abs: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
    let mut hits = 0usize;
    let widths: Vec<f64> = (0..abs.len())
        .map(|i| {
            let others: Vec<f64> = abs
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &a)| a)
                .collect();
            let w = half_width(&others, coverage);
            if abs[i] <= w {
                hits += 1;
            }
            w
        })
        .collect();
    (widths, hits as f64 / abs.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn half_width_takes_the_conformal_rank_and_is_unbounded_for_too_few_residuals() {
        let r: Vec<f64> = (1..=9).map(|v| v as f64).collect();
        // ceil(0.8 * 10) = 8 -> 8th smallest
        assert_eq!(half_width(&r, 0.8), 8.0);
        assert_eq!(half_width(&r, 0.9), 9.0);
        assert!(half_width(&r, 0.95).is_infinite());
    }

    #[test]
    fn leave_one_out_coverage_of_exchangeable_residuals_is_near_nominal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let d = Normal::new(0.0, 1.0).unwrap();
        let r: Vec<f64> = (0..2000).map(|_| d.sample(&mut rng)).collect();
        let (_, cov) = leave_one_out_coverage(&r, 0.9);
        assert!((cov - 0.9).abs() < 0.02, "{cov}");
    }
}
