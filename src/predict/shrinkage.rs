//! Reading aid for cross-validated rank scores: has the predictor shrunk to the training mean?
//!
//! Under leave-one-out the training-mean baseline predicts, for held-out row `i`, the mean of
//! the other rows, `m_i = (S - y_i) / (n - 1)`: a decreasing function of `y_i`. A predictor whose
//! out-of-fold predictions are (close to) these training means plus a constant therefore ranks
//! the held-out rows exactly backwards, and its Kendall tau is -1 (or near it) *by
//! construction*, not because the features anti-predict. A reader of a table that says
//! `tau = -0.95` would take it for "anti-predictive"; [`shrinkage_to_mean`] detects the case.
//!
//! The check works for any fold assignment: the training mean of row `i` is the mean of the
//! truth over the rows in other folds. A predictor is flagged as shrunk when both
//! - its out-of-fold predictions spread no more than [`MAX_SPREAD_RATIO`] times as widely
//!   (population standard deviation) as those training means do (the mean baseline's own
//!   spread; under leave-one-out that is `sd(y) / (n - 1)`), and
//! - they correlate with the training means at least [`MIN_CORRELATION`] (Pearson).
//!
//! A useful predictor's predictions spread like the truth, about `n - 1` times the mean
//! baseline's spread under leave-one-out, and correlate with the truth, hence negatively with
//! the training means.

use crate::stats::pearson;

/// Largest ratio of prediction spread to training-mean spread that still counts as shrunk.
pub const MAX_SPREAD_RATIO: f64 = 5.0;
/// Smallest correlation between predictions and training means that counts as shrunk.
pub const MIN_CORRELATION: f64 = 0.5;

/// The outcome of [`shrinkage_to_mean`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShrinkageCheck {
    /// Population standard deviation of the predictions over that of the per-row training
    /// means (infinite when the training means do not vary).
    pub spread_ratio: f64,
    /// Pearson correlation between the predictions and the per-row training means
    /// (NaN when either does not vary).
    pub correlation: f64,
    /// Kendall tau of the training means against the truth: what a predictor that is exactly
    /// the training mean scores (-1 under leave-one-out without ties).
    pub mean_baseline_tau: f64,
    /// Whether the predictor counts as shrunk to the training mean.
    pub shrunk: bool,
}

fn sd(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
}

/// The training mean of every row: the mean of `truth` over the rows whose fold differs.
/// `None` when a row's fold holds every row (no training rows).
pub fn training_means(truth: &[f64], folds: &[usize]) -> Option<Vec<f64>> {
    let total: f64 = truth.iter().sum();
    let n = truth.len();
    let mut per_fold: std::collections::HashMap<usize, (f64, usize)> = Default::default();
    for (&y, &f) in truth.iter().zip(folds) {
        let e = per_fold.entry(f).or_insert((0.0, 0));
        e.0 += y;
        e.1 += 1;
    }
    folds
        .iter()
        .map(|f| {
            let (s, c) = per_fold[f];
            (c < n).then(|| (total - s) / (n - c) as f64)
        })
        .collect()
}

/// Check whether out-of-fold predictions `pred` of `truth` (row `i` held out in fold
/// `folds[i]`, one repeat) have shrunk to the training mean. `None` with fewer than 3 rows,
/// mismatched lengths, non-finite values or a fold that holds every row.
pub fn shrinkage_to_mean(truth: &[f64], pred: &[f64], folds: &[usize]) -> Option<ShrinkageCheck> {
    let n = truth.len();
    if n < 3 || pred.len() != n || folds.len() != n {
        return None;
    }
    if truth.iter().chain(pred).any(|v| !v.is_finite()) {
        return None;
    }
    let m = training_means(truth, folds)?;
    let sm = sd(&m);
    let spread_ratio = if sm > 0.0 {
        sd(pred) / sm
    } else {
        f64::INFINITY
    };
    let correlation = pearson(pred, &m);
    let shrunk = spread_ratio <= MAX_SPREAD_RATIO && correlation >= MIN_CORRELATION;
    Some(ShrinkageCheck {
        spread_ratio,
        correlation,
        mean_baseline_tau: crate::stats::kendall_tau(&m, truth),
        shrunk,
    })
}

/// [`shrinkage_to_mean`] of an honest result's first-repeat out-of-fold predictions.
pub fn check_result(h: &super::honest::HonestResult) -> Option<ShrinkageCheck> {
    let mut p: Vec<&super::honest::CvPrediction> =
        h.predictions.iter().filter(|p| p.repeat == 0).collect();
    p.sort_by_key(|p| p.row);
    let truth: Vec<f64> = p.iter().map(|p| p.truth).collect();
    let pred: Vec<f64> = p.iter().map(|p| p.pred).collect();
    let folds: Vec<usize> = p.iter().map(|p| p.fold).collect();
    shrinkage_to_mean(&truth, &pred, &folds)
}

/// One line explaining a flagged target's rank score, for tables and the report.
pub fn note(target: &str, tau: f64, c: &ShrinkageCheck) -> String {
    format!(
        "{target}: tau {tau:.2} is an artefact, not anti-prediction: the predictor has shrunk to the training mean (its out-of-fold predictions spread {:.1}x the mean baseline's and correlate {:.2} with the held-out rows' training means, which rank them backwards: tau {:.2} by construction).",
        c.spread_ratio, c.correlation, c.mean_baseline_tau
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::kendall_tau;

    #[test]
    fn predicting_the_leave_one_out_training_mean_is_flagged_and_has_tau_minus_one() {
        // y = 1..5, S = 15: the training mean of row i is (15 - y_i) / 4.
        let y = [1.0, 2.0, 3.0, 4.0, 5.0];
        let folds = [0, 1, 2, 3, 4];
        let m = training_means(&y, &folds).unwrap();
        assert_eq!(m, vec![3.5, 3.25, 3.0, 2.75, 2.5]);
        // a predictor equal to the training mean plus a constant offset
        let pred: Vec<f64> = m.iter().map(|v| v + 0.1).collect();
        assert_eq!(kendall_tau(&y, &pred), -1.0);
        let c = shrinkage_to_mean(&y, &pred, &folds).unwrap();
        assert!((c.spread_ratio - 1.0).abs() < 1e-12);
        assert!((c.correlation - 1.0).abs() < 1e-12);
        assert_eq!(c.mean_baseline_tau, -1.0);
        assert!(c.shrunk);
        let line = note("rte", -1.0, &c);
        assert!(line.contains("shrunk to the training mean"), "{line}");
    }

    #[test]
    fn a_predictor_that_follows_the_truth_is_not_flagged() {
        let y = [1.0, 2.0, 3.0, 4.0, 5.0];
        let pred = [1.2, 1.9, 3.1, 3.8, 5.3];
        let c = shrinkage_to_mean(&y, &pred, &[0, 1, 2, 3, 4]).unwrap();
        // sd(pred) ~ sd(y) = sqrt(2); sd of the training means = sqrt(2) / 4
        assert!(c.spread_ratio > 3.9, "{c:?}");
        assert!(c.correlation < -0.9, "{c:?}");
        assert!(!c.shrunk);
    }

    #[test]
    fn training_means_of_grouped_folds_leave_the_whole_group_out() {
        let y = [1.0, 3.0, 10.0, 20.0];
        let m = training_means(&y, &[0, 0, 1, 1]).unwrap();
        assert_eq!(m, vec![15.0, 15.0, 2.0, 2.0]);
        assert!(training_means(&y, &[0, 0, 0, 0]).is_none());
    }
}
