//! GLUE dev metrics per task: each task's metrics and its primary metric as the GLUE leaderboard
//! scores it, computed with `crate::stats`.

use crate::data::glue::TaskSpec;
use crate::stats::{accuracy, f1_binary, matthews, pearson, spearman};

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
    use crate::data::glue::task_spec;

    #[test]
    fn stsb_with_constant_predictions_reports_undefined_correlations() {
        let spec = task_spec("stsb").unwrap();
        let m = task_metrics(spec, &[2.5, 2.5, 2.5], &[1.0, 3.0, 4.0]);
        assert_eq!(m[0].0, "pearson_spearman");
        assert!(m.iter().all(|(_, v)| v.is_nan()), "{m:?}");
    }
}
