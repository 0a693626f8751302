//! The one statistics module: error, correlation and ranking metrics between two series, and the
//! classification metrics of the GLUE tasks. Used by the fine-tuning stage (dev metrics), the
//! predictor (validation) and the reports.
//!
//! Rule for undefined values: a correlation (Pearson, Spearman, Kendall) or an R² whose input
//! has a constant side is undefined and returned as NaN, never as a silent 0; callers print it
//! as undefined. The one exception is the Matthews correlation, which follows scikit-learn's
//! documented convention (0 when undefined) so that CoLA scores match the GLUE tooling.

/// Root mean squared error.
pub fn rmse(truth: &[f64], pred: &[f64]) -> f64 {
    (truth
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / truth.len() as f64)
        .sqrt()
}

/// Mean absolute error.
pub fn mae(truth: &[f64], pred: &[f64]) -> f64 {
    truth
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / truth.len() as f64
}

/// Coefficient of determination `1 - SSE / SST` (SST around the mean of `truth`), as
/// scikit-learn's `r2_score`; negative when worse than predicting that mean.
pub fn r2(truth: &[f64], pred: &[f64]) -> f64 {
    let m = truth.iter().sum::<f64>() / truth.len() as f64;
    let sse: f64 = truth.iter().zip(pred).map(|(a, b)| (a - b) * (a - b)).sum();
    let sst: f64 = truth.iter().map(|a| (a - m) * (a - m)).sum();
    if sst == 0.0 {
        f64::NAN
    } else {
        1.0 - sse / sst
    }
}

/// Kendall's tau-b (ties handled as in `scipy.stats.kendalltau`). NaN when either side is
/// constant.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    let (mut conc, mut disc, mut tie_a, mut tie_b) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        for j in i + 1..n {
            let da = (a[i] - a[j]).signum() * ((a[i] != a[j]) as i32 as f64);
            let db = (b[i] - b[j]).signum() * ((b[i] != b[j]) as i32 as f64);
            if da == 0.0 && db == 0.0 {
                continue;
            } else if da == 0.0 {
                tie_a += 1.0;
            } else if db == 0.0 {
                tie_b += 1.0;
            } else if da == db {
                conc += 1.0;
            } else {
                disc += 1.0;
            }
        }
    }
    let denom = ((conc + disc + tie_a) * (conc + disc + tie_b)).sqrt();
    if denom == 0.0 {
        f64::NAN
    } else {
        (conc - disc) / denom
    }
}

/// Ranks starting at 1, ties get their average rank.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut ranks = vec![0.0; v.len()];
    let mut s = 0;
    while s < idx.len() {
        let mut e = s;
        while e + 1 < idx.len() && v[idx[e + 1]] == v[idx[s]] {
            e += 1;
        }
        let r = (s + e) as f64 / 2.0 + 1.0;
        for &i in &idx[s..=e] {
            ranks[i] = r;
        }
        s = e + 1;
    }
    ranks
}

/// Pearson correlation (NaN when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Spearman rank correlation (Pearson on average ranks).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// Fraction of equal labels.
pub fn accuracy(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len());
    if gold.is_empty() {
        return 0.0;
    }
    pred.iter().zip(gold).filter(|(p, g)| p == g).count() as f64 / gold.len() as f64
}

fn confusion(pred: &[usize], gold: &[usize]) -> (f64, f64, f64, f64) {
    let (mut tp, mut tn, mut fp, mut fn_) = (0.0, 0.0, 0.0, 0.0);
    for (&p, &g) in pred.iter().zip(gold) {
        match (p == 1, g == 1) {
            (true, true) => tp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
        }
    }
    (tp, tn, fp, fn_)
}

/// F1 of the positive class (label 1); 0 when there are no true or predicted positives
/// (scikit-learn's `zero_division=0`).
pub fn f1_binary(pred: &[usize], gold: &[usize]) -> f64 {
    let (tp, _, fp, fn_) = confusion(pred, gold);
    if tp == 0.0 {
        return 0.0;
    }
    2.0 * tp / (2.0 * tp + fp + fn_)
}

/// Matthews correlation coefficient for any number of classes (scikit-learn's formula); 0 when
/// undefined.
pub fn matthews(pred: &[usize], gold: &[usize]) -> f64 {
    let k = pred
        .iter()
        .chain(gold)
        .copied()
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    let mut c = vec![vec![0f64; k]; k];
    for (&p, &g) in pred.iter().zip(gold) {
        c[g][p] += 1.0;
    }
    let t: Vec<f64> = (0..k).map(|i| c[i].iter().sum()).collect();
    let p: Vec<f64> = (0..k).map(|j| (0..k).map(|i| c[i][j]).sum()).collect();
    let n: f64 = t.iter().sum();
    let correct: f64 = (0..k).map(|i| c[i][i]).sum();
    let cov_ytyp = correct * n - t.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>();
    let cov_ypyp = n * n - p.iter().map(|x| x * x).sum::<f64>();
    let cov_ytyt = n * n - t.iter().map(|x| x * x).sum::<f64>();
    if cov_ypyp * cov_ytyt == 0.0 {
        return 0.0;
    }
    cov_ytyp / (cov_ytyt * cov_ypyp).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmse_mae_and_r2_of_a_small_example() {
        let t = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 4.0];
        assert!((rmse(&t, &p) - (1.25f64 / 4.0).sqrt()).abs() < 1e-15);
        assert!((mae(&t, &p) - 0.375).abs() < 1e-15);
        assert!((r2(&t, &p) - (1.0 - 1.25 / 5.0)).abs() < 1e-15);
        assert!(r2(&t, &[2.5; 4]).abs() < 1e-15);
    }

    #[test]
    fn kendall_tau_b_matches_scipy_on_tied_data() {
        // scipy.stats.kendalltau([1,2,2,3,4],[1,3,2,2,5]).statistic = 0.6666666666666666
        let t = kendall_tau(&[1.0, 2.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 2.0, 5.0]);
        assert!((t - 2.0 / 3.0).abs() < 1e-12, "{t}");
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    }

    #[test]
    fn spearman_uses_average_ranks_for_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 5.0]),
            vec![2.5, 4.0, 2.5, 1.0]
        );
        // scipy.stats.spearmanr([1,2,2,3,4],[1,3,2,2,5]).statistic = 0.7631578947368421
        let s = spearman(&[1.0, 2.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 2.0, 5.0]);
        assert!((s - 0.763_157_894_736_842_1).abs() < 1e-12, "{s}");
    }

    fn fixture() -> serde_json::Value {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/finetune/metrics.json"
        );
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn us(v: &serde_json::Value) -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    }

    fn fs(v: &serde_json::Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    #[test]
    fn classification_metrics_match_scikit_learn() {
        for c in fixture()["classification"].as_array().unwrap() {
            let (g, p) = (us(&c["gold"]), us(&c["pred"]));
            assert!((accuracy(&p, &g) - c["accuracy"].as_f64().unwrap()).abs() < 1e-12);
            assert!((matthews(&p, &g) - c["mcc"].as_f64().unwrap()).abs() < 1e-12);
            if let Some(f) = c.get("f1") {
                assert!((f1_binary(&p, &g) - f.as_f64().unwrap()).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn correlations_match_scipy_including_ties() {
        for c in fixture()["correlation"].as_array().unwrap() {
            let (x, y) = (fs(&c["x"]), fs(&c["y"]));
            assert!((pearson(&x, &y) - c["pearson"].as_f64().unwrap()).abs() < 1e-12);
            assert!((spearman(&x, &y) - c["spearman"].as_f64().unwrap()).abs() < 1e-12);
        }
    }

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn correlations_and_r2_of_a_constant_side_are_undefined_not_zero() {
        let x = [1.0, 2.0, 3.0];
        let c = [0.5, 0.5, 0.5];
        assert!(pearson(&x, &c).is_nan());
        assert!(pearson(&c, &x).is_nan());
        assert!(spearman(&x, &c).is_nan());
        assert!(kendall_tau(&c, &x).is_nan());
        assert!(r2(&c, &x).is_nan());
        // scikit-learn's convention for the MCC: 0 when a side has one class
        assert_eq!(matthews(&[1, 1, 1], &[0, 1, 0]), 0.0);
    }
}
