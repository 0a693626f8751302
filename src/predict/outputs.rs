//! Readers of the files that `probecast fit` and `probecast predict` write (their writers are
//! in [`super::report`]): `cv_predictions.csv`, `summary.csv` and `predictions.csv`. Used by the
//! HTML report; every problem is one line naming the file.

use std::collections::HashMap;
use std::path::Path;

/// Errors of reading a fit or predict output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Unreadable file, missing column or malformed cell.
    #[error("{file}: {msg}")]
    Bad {
        /// The file.
        file: String,
        /// What is wrong.
        msg: String,
    },
}

/// One row of `cv_predictions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct CvRow {
    /// Checkpoint id.
    pub model: String,
    /// Target.
    pub target: String,
    /// True score.
    pub truth: f64,
    /// Out-of-fold (or, paper protocol, in-sample fitted) prediction.
    pub predicted: f64,
    /// Interval bounds (NaN when there is none).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Fold index; `None` for the paper protocol's `in-sample` rows.
    pub fold: Option<usize>,
    /// Repeat index.
    pub repeat: usize,
}

/// One row of `summary.csv` (NaN for empty cells).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Target.
    pub target: String,
    /// `honest` or `paper`.
    pub protocol: String,
    /// Method label.
    pub method: String,
    /// RMSE (out-of-fold, or in-sample for the paper protocol).
    pub rmse: f64,
    /// Kendall tau.
    pub kendall_tau: f64,
    /// R².
    pub r2: f64,
    /// Training-mean baseline RMSE.
    pub baseline_mean: f64,
    /// Family-mean baseline RMSE.
    pub baseline_family_mean: f64,
    /// Noise-features baseline RMSE.
    pub baseline_noise: f64,
    /// RMSE reduction against the mean baseline, percent.
    pub reduction_pct: f64,
    /// Permutation p-value.
    pub p_value: f64,
    /// Empirical interval coverage.
    pub coverage: f64,
    /// Interval half-width.
    pub interval_half_width: f64,
    /// Features of the final model.
    pub features: Vec<String>,
}

/// One row of `predictions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// Checkpoint id (first column, whatever its name).
    pub id: String,
    /// Target.
    pub target: String,
    /// Predicted score.
    pub predicted: f64,
    /// Lower bound (NaN when none).
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Rank (1 = best).
    pub rank: usize,
}

/// A CSV read into a header index and string rows.
struct Sheet {
    file: String,
    cols: HashMap<String, usize>,
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Sheet {
    fn read(path: &Path, required: &[&str]) -> Result<Sheet, OutputError> {
        let file = path.display().to_string();
        let bad = |msg: String| OutputError::Bad {
            file: file.clone(),
            msg,
        };
        let mut rd = csv::Reader::from_path(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let header: Vec<String> = rd
            .headers()
            .map_err(|e| bad(format!("bad CSV header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        let cols: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        for r in required {
            if !cols.contains_key(*r) {
                return Err(bad(format!(
                    "missing column '{r}' (header: {})",
                    header.join(",")
                )));
            }
        }
        let mut rows = Vec::new();
        for rec in rd.records() {
            let rec = rec.map_err(|e| bad(format!("bad CSV: {e}")))?;
            let line = rec.position().map_or(0, |p| p.line());
            rows.push((line, rec.iter().map(str::to_string).collect()));
        }
        Ok(Sheet {
            file,
            cols,
            header,
            rows,
        })
    }

    fn get<'a>(&self, row: &'a [String], col: &str) -> &'a str {
        self.cols
            .get(col)
            .and_then(|&c| row.get(c))
            .map_or("", String::as_str)
    }

    /// A number; empty cells are NaN.
    fn num(&self, line: u64, row: &[String], col: &str) -> Result<f64, OutputError> {
        let s = self.get(row, col);
        match s {
            "" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => s.parse().map_err(|_| OutputError::Bad {
                file: self.file.clone(),
                msg: format!("line {line}, column '{col}': '{s}' is not a number"),
            }),
        }
    }
}

/// Read `cv_predictions.csv`.
pub fn read_cv_predictions(path: &Path) -> Result<Vec<CvRow>, OutputError> {
    let s = Sheet::read(
        path,
        &[
            "model",
            "target",
            "true",
            "predicted",
            "lower",
            "upper",
            "fold",
            "repeat",
        ],
    )?;
    let mut out = Vec::with_capacity(s.rows.len());
    for (line, r) in &s.rows {
        let fold = match s.get(r, "fold") {
            "in-sample" => None,
            f => Some(f.parse().map_err(|_| OutputError::Bad {
                file: s.file.clone(),
                msg: format!("line {line}, column 'fold': '{f}' is not a fold index"),
            })?),
        };
        out.push(CvRow {
            model: s.get(r, "model").to_string(),
            target: s.get(r, "target").to_string(),
            truth: s.num(*line, r, "true")?,
            predicted: s.num(*line, r, "predicted")?,
            lower: s.num(*line, r, "lower")?,
            upper: s.num(*line, r, "upper")?,
            fold,
            repeat: s.num(*line, r, "repeat")? as usize,
        });
    }
    Ok(out)
}

/// Read `summary.csv`.
pub fn read_summary(path: &Path) -> Result<Vec<SummaryRow>, OutputError> {
    let s = Sheet::read(
        path,
        &["target", "protocol", "method", "rmse", "baseline_mean"],
    )?;
    let mut out = Vec::with_capacity(s.rows.len());
    for (line, r) in &s.rows {
        let n = |c: &str| s.num(*line, r, c);
        out.push(SummaryRow {
            target: s.get(r, "target").to_string(),
            protocol: s.get(r, "protocol").to_string(),
            method: s.get(r, "method").to_string(),
            rmse: n("rmse")?,
            kendall_tau: n("kendall_tau")?,
            r2: n("r2")?,
            baseline_mean: n("baseline_mean")?,
            baseline_family_mean: n("baseline_family_mean")?,
            baseline_noise: n("baseline_noise")?,
            reduction_pct: n("reduction_pct")?,
            p_value: n("p_value")?,
            coverage: n("coverage")?,
            interval_half_width: n("interval_half_width")?,
            features: s
                .get(r, "features")
                .split(';')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    Ok(out)
}

/// Whether a CSV header is that of `predictions.csv` (any id column name first).
pub fn is_predictions_header(header: &[String]) -> bool {
    header.len() == 6 && header[1..] == ["target", "predicted", "lower", "upper", "rank"]
}

/// Read `predictions.csv` (the id column is the first, whatever its name).
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionRow>, OutputError> {
    let s = Sheet::read(path, &["target", "predicted", "lower", "upper", "rank"])?;
    let id = s.header[0].clone();
    let mut out = Vec::with_capacity(s.rows.len());
    for (line, r) in &s.rows {
        let rank = s.num(*line, r, "rank")?;
        out.push(PredictionRow {
            id: s.get(r, &id).to_string(),
            target: s.get(r, "target").to_string(),
            predicted: s.num(*line, r, "predicted")?,
            lower: s.num(*line, r, "lower")?,
            upper: s.num(*line, r, "upper")?,
            rank: if rank.is_finite() { rank as usize } else { 0 },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cv_predictions_read_back_including_in_sample_folds_and_empty_bounds() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cv.csv");
        std::fs::write(
            &p,
            "model,target,true,predicted,lower,upper,fold,repeat\n\
             a,rte,0.5,0.25,0,0.5,3,0\nb,rte,0.75,0.5,,,in-sample,0\n",
        )
        .unwrap();
        let r = read_cv_predictions(&p).unwrap();
        assert_eq!(r[0].fold, Some(3));
        assert_eq!((r[0].truth, r[0].predicted, r[0].upper), (0.5, 0.25, 0.5));
        assert_eq!(r[1].fold, None);
        assert!(r[1].lower.is_nan());
    }

    #[test]
    fn a_missing_column_is_named_with_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("predictions.csv");
        std::fs::write(&p, "model,target,predicted,lower,upper\na,rte,1,0,2\n").unwrap();
        let e = read_predictions(&p).unwrap_err().to_string();
        assert!(
            e.contains("predictions.csv") && e.contains("missing column 'rank'"),
            "{e}"
        );
    }
}
