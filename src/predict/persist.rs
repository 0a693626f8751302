//! `predictor.json`: the saved predictor (one linear model per target, with its scaling,
//! interval half-width and validation summary), and applying it to a new features table.

use super::model::{LinearModel, Method};
use super::table::{self, TableError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag written into every predictor file.
pub const FORMAT: &str = "probecast-predictor/1";

/// Errors of loading or applying a predictor.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Unreadable or malformed predictor file.
    #[error("{file}: {msg}")]
    Predictor {
        /// The file.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// Problem in the features table.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// The saved model of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPredictor {
    /// Target name.
    pub target: String,
    /// Method and its settings.
    pub method: Method,
    /// Feature column names the model reads, in coefficient order.
    pub features: Vec<String>,
    /// Training means of those columns.
    pub means: Vec<f64>,
    /// Training scales (population standard deviations) of those columns.
    pub scales: Vec<f64>,
    /// Coefficients on standardised columns.
    pub coefficients: Vec<f64>,
    /// Intercept on standardised columns.
    pub intercept: f64,
    /// Coefficients on the raw feature scale (for reading; not used to predict).
    pub raw_coefficients: Vec<f64>,
    /// Intercept on the raw scale.
    pub raw_intercept: f64,
    /// Chosen penalty, if any.
    pub penalty: Option<f64>,
    /// Nominal interval coverage.
    pub coverage: f64,
    /// Interval half-width from cross-validation residuals; `null` when there is none
    /// (paper protocol) or it is unbounded (too few rows for the coverage).
    pub interval_half_width: Option<f64>,
    /// Validation summary (the same object as in `--json`).
    pub validation: serde_json::Value,
}

impl TargetPredictor {
    /// Build from a fitted model whose feature indices refer to `feature_names`.
    pub fn from_model(
        target: &str,
        method: Method,
        m: &LinearModel,
        feature_names: &[String],
        coverage: f64,
        half_width: Option<f64>,
        validation: serde_json::Value,
    ) -> Self {
        let (raw, b0) = m.raw_coefficients();
        TargetPredictor {
            target: target.to_string(),
            method,
            features: m
                .features
                .iter()
                .map(|&j| feature_names[j].clone())
                .collect(),
            means: m.means.clone(),
            scales: m.scales.clone(),
            coefficients: m.coef.clone(),
            intercept: m.intercept,
            raw_coefficients: raw,
            raw_intercept: b0,
            penalty: m.penalty,
            coverage,
            interval_half_width: half_width.filter(|w| w.is_finite()),
            validation,
        }
    }

    /// The model with features indexed `0..features.len()`.
    pub fn model(&self) -> LinearModel {
        LinearModel {
            features: (0..self.features.len()).collect(),
            means: self.means.clone(),
            scales: self.scales.clone(),
            coef: self.coefficients.clone(),
            intercept: self.intercept,
            penalty: self.penalty,
        }
    }
}

/// The whole predictor file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// probecast version that wrote it.
    pub probecast_version: String,
    /// `paper` or `honest`.
    pub protocol: String,
    /// Name of the id column in the training data.
    pub id_column: String,
    /// SHA-256 of the training file(s).
    pub training_data_sha256: String,
    /// Training rows.
    pub training_rows: usize,
    /// Settings of the fit run.
    pub settings: serde_json::Value,
    /// One model per target.
    pub targets: Vec<TargetPredictor>,
}

/// Read and check a predictor file.
pub fn load(path: &Path) -> Result<PredictorFile, PersistError> {
    let file = path.display().to_string();
    let bad = |msg: String| PersistError::Predictor {
        file: file.clone(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let p: PredictorFile = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a probecast predictor file: {e}")))?;
    if p.format != FORMAT {
        return Err(bad(format!(
            "unknown format '{}' (expected {FORMAT})",
            p.format
        )));
    }
    for t in &p.targets {
        let k = t.features.len();
        if t.means.len() != k || t.scales.len() != k || t.coefficients.len() != k {
            return Err(bad(format!(
                "target '{}': features, means, scales and coefficients differ in length",
                t.target
            )));
        }
        check_target_numbers(t).map_err(|m| bad(format!("target '{}': {m}", t.target)))?;
    }
    Ok(p)
}

/// Refuse numbers a fitted predictor never holds (a hand-edited file): a zero, negative or
/// non-finite scale would predict inf, a negative half-width gives lower > upper.
fn check_target_numbers(t: &TargetPredictor) -> Result<(), String> {
    let finite = |what: &str, v: &[f64]| match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(format!("{what}[{i}] is {} (must be finite)", v[i])),
        None => Ok(()),
    };
    finite("means", &t.means)?;
    finite("coefficients", &t.coefficients)?;
    finite("intercept", &[t.intercept])?;
    if let Some(i) = t.scales.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
        return Err(format!(
            "scales[{i}] is {} (must be a positive finite number)",
            t.scales[i]
        ));
    }
    if let Some(w) = t.interval_half_width {
        if !(w.is_finite() && w >= 0.0) {
            return Err(format!(
                "interval_half_width is {w} (must be a non-negative finite number or null)"
            ));
        }
    }
    if !(t.coverage > 0.0 && t.coverage < 1.0) {
        return Err(format!(
            "coverage is {} (must lie strictly between 0 and 1)",
            t.coverage
        ));
    }
    Ok(())
}

/// One prediction for one checkpoint and target.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Checkpoint id.
    pub id: String,
    /// Target.
    pub target: String,
    /// Predicted score.
    pub predicted: f64,
    /// Lower bound (NaN when the predictor carries no interval).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Rank among the checkpoints for this target (1 = highest predicted score).
    pub rank: usize,
}

/// Apply the predictor to a features table. `id_column` overrides the predictor's.
/// Refuses a table that lacks a needed column; missing cells are an error unless
/// `impute_mean` (then they take the training mean).
pub fn apply(
    p: &PredictorFile,
    data: &Path,
    id_column: Option<&str>,
    impute_mean: bool,
) -> Result<Vec<Prediction>, PersistError> {
    let mut needed: Vec<String> = Vec::new();
    for t in &p.targets {
        for f in &t.features {
            if !needed.contains(f) {
                needed.push(f.clone());
            }
        }
    }
    let id_col = id_column.unwrap_or(&p.id_column);
    let (ids, x) = table::read_columns(data, id_col, &needed, impute_mean)?;
    let mut out = Vec::new();
    for t in &p.targets {
        let cols: Vec<usize> = t
            .features
            .iter()
            .map(|f| needed.iter().position(|g| g == f).unwrap())
            .collect();
        let m = t.model();
        let preds: Vec<f64> = (0..ids.len())
            .map(|i| m.predict_with(|j| x.at(i, cols[j])))
            .collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by(|&a, &b| preds[b].total_cmp(&preds[a]).then(a.cmp(&b)));
        let mut rank = vec![0; ids.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r + 1;
        }
        let w = t.interval_half_width.unwrap_or(f64::NAN);
        for i in 0..ids.len() {
            out.push(Prediction {
                id: ids[i].clone(),
                target: t.target.clone(),
                predicted: preds[i],
                lower: preds[i] - w,
                upper: preds[i] + w,
                rank: rank[i],
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PredictorFile {
        let m = LinearModel {
            features: vec![2, 0],
            means: vec![1.0, 10.0],
            scales: vec![2.0, 5.0],
            coef: vec![0.5, -1.0],
            intercept: 3.0,
            penalty: Some(0.1),
        };
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let t = TargetPredictor::from_model(
            "rte",
            Method::Ridge,
            &m,
            &names,
            0.9,
            Some(0.25),
            serde_json::json!({}),
        );
        PredictorFile {
            format: FORMAT.into(),
            probecast_version: "0".into(),
            protocol: "honest".into(),
            id_column: "model".into(),
            training_data_sha256: String::new(),
            training_rows: 3,
            settings: serde_json::json!({}),
            targets: vec![t],
        }
    }

    #[test]
    fn a_saved_predictor_round_trips_and_predicts_like_the_fitted_model() {
        let p = sample();
        let t = &p.targets[0];
        assert_eq!(t.features, vec!["c", "a"]);
        // raw coefficients: 0.5/2, -1/5; intercept 3 - 0.25*1 - (-0.2)*10 = 4.75
        assert_eq!(t.raw_coefficients, vec![0.25, -0.2]);
        assert!((t.raw_intercept - 4.75).abs() < 1e-12);
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("predictor.json");
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(load(&path).unwrap(), p);
        let csv = d.path().join("new.csv");
        std::fs::write(&csv, "model,a,b,c\nx,10,0,1\ny,20,0,3\n").unwrap();
        let preds = apply(&p, &csv, None, false).unwrap();
        // x: 3 + 0.5*(1-1)/2 - 1*(10-10)/5 = 3; y: 3 + 0.5*1 - 2 = 1.5
        assert_eq!(preds[0].predicted, 3.0);
        assert_eq!(preds[1].predicted, 1.5);
        assert_eq!((preds[0].rank, preds[1].rank), (1, 2));
        assert_eq!((preds[1].lower, preds[1].upper), (1.25, 1.75));
    }

    #[test]
    fn a_predictor_with_inconsistent_lengths_is_refused() {
        let mut p = sample();
        p.targets[0].scales.pop();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("predictor.json");
        std::fs::write(&path, serde_json::to_string(&p).unwrap()).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("differ in length"), "{e}");
    }
}
