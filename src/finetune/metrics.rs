//! GLUE metrics: accuracy, binary F1, Matthews correlation (CoLA), Pearson and Spearman
//! (STS-B), and each task's primary metric as the GLUE leaderboard scores it.

use crate::data::glue::TaskSpec;

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

/// Pearson correlation; 0 when a side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

/// Ranks (1-based) with ties given their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation (Pearson of average ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// All metrics of a task on dev predictions, as (name, value) pairs, primary first. The primary
/// metric is what the GLUE leaderboard scores: Matthews correlation for CoLA, the mean of F1 and
/// accuracy for MRPC and QQP, the mean of Pearson and Spearman for STS-B, accuracy otherwise.
/// `pred` holds class indices (as f64) or regression outputs.
pub fn task_metrics(spec: &TaskSpec, pred: &[f64], gold: &[f64]) -> Vec<(String, f64)> {
    let cls = |v: &[f64]| v.iter().map(|&x| x as usize).collect::<Vec<_>>();
    match spec.name {
        "stsb" => {
            let (p, s) = (pearson(pred, gold), spearman(pred, gold));
            vec![
                ("pearson_spearman".into(), (p + s) / 2.0),
                ("pearson".into(), p),
                ("spearman".into(), s),
            ]
        }
        "cola" => {
            let (p, g) = (cls(pred), cls(gold));
            vec![
                ("mcc".into(), matthews(&p, &g)),
                ("accuracy".into(), accuracy(&p, &g)),
            ]
        }
        "mrpc" | "qqp" => {
            let (p, g) = (cls(pred), cls(gold));
            let (f, a) = (f1_binary(&p, &g), accuracy(&p, &g));
            vec![
                ("f1_accuracy".into(), (f + a) / 2.0),
                ("f1".into(), f),
                ("accuracy".into(), a),
            ]
        }
        _ => {
            let (p, g) = (cls(pred), cls(gold));
            vec![("accuracy".into(), accuracy(&p, &g))]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
