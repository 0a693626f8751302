//! `probecast fit` and `probecast predict` as library calls: load the table, fit and validate,
//! write `predictor.json`, `cv_predictions.csv`, `summary.csv` and the manifest; apply a saved
//! predictor and write the predictions with their manifest.

use super::cv::CvScheme;
use super::persist::{self, PersistError, Prediction, PredictorFile};
use super::pipeline::{self, FitError, FitOutcome, FitSettings, Protocol};
use super::report;
use super::table::{self, Dataset, TableError, TableSettings};
use crate::manifest::Manifest;
use crate::util;
use std::path::{Path, PathBuf};

/// Errors of [`fit_to_dir`] and [`predict_to_file`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading the features or targets table.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The settings against the data, or the fit itself.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// Reading or applying a predictor file.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// Writing an output (the message names the file).
    #[error("{0}")]
    Output(String),
}

impl Protocol {
    /// `honest` or `paper`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "honest" => Some(Protocol::Honest),
            "paper" => Some(Protocol::Paper),
            _ => None,
        }
    }

    /// Noise draws when none are asked for: 100 random-column baselines for the paper
    /// protocol, 10 search-matched noise controls for the honest one.
    pub fn default_noise_draws(self) -> usize {
        match self {
            Protocol::Paper => 100,
            Protocol::Honest => 10,
        }
    }
}

/// Compile a user regex; the error names the flag and keeps the regex crate's reason (its
/// message spans several lines: the last one says why).
pub fn compile_regex(flag: &str, pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| {
        let msg = e.to_string();
        let reason = msg
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("error: ");
        format!("bad {flag} regex '{pattern}': {reason}")
    })
}

/// A finished fit.
#[derive(Debug, Clone)]
pub struct FitRun {
    /// The table as loaded.
    pub ds: Dataset,
    /// The outcome per target.
    pub outcome: FitOutcome,
    /// The machine-readable summary (`--json`).
    pub summary: serde_json::Value,
    /// The files written (empty without an output directory).
    pub written: Vec<PathBuf>,
}

/// Fit and validate a predictor on the table `data`; with `out`, write `predictor.json`,
/// `cv_predictions.csv`, `summary.csv` and `manifest.json` there (atomically, the manifest
/// last). The output directory is checked before the (possibly long) fit starts.
pub fn fit_to_dir(
    data: &Path,
    opts: &TableSettings,
    cfg: &FitSettings,
    out: Option<&Path>,
    command_line: &[String],
) -> Result<FitRun, RunError> {
    let started = std::time::Instant::now();
    let tx = out
        .map(crate::outdir::OutputTx::begin)
        .transpose()
        .map_err(RunError::Output)?;
    let ds = table::load(data, opts)?;
    let outcome = pipeline::run(&ds, cfg)?;
    let summary = report::summary_json(&ds, cfg, &outcome);
    let mut written = Vec::new();
    if let (Some(out), Some(tx)) = (out, tx) {
        let stage = tx.dir().to_path_buf();
        let mut w = |name: &str, bytes: &[u8]| -> Result<(), RunError> {
            let p = out.join(name);
            util::write_atomic(&stage.join(name), bytes)
                .map_err(|e| RunError::Output(format!("{}: {e}", p.display())))?;
            written.push(p);
            Ok(())
        };
        let mut pf = report::predictor_file(&ds, cfg, &outcome, &opts.id_column);
        if let (CvScheme::Group, Some(col)) = (&cfg.cv, &opts.group_column) {
            // grouped folds by a column other than the family: record which, for readers
            pf.settings["cv"]["column"] = col.clone().into();
        }
        w(
            "predictor.json",
            serde_json::to_string_pretty(&pf)
                .expect("a predictor serialises")
                .as_bytes(),
        )?;
        w(
            "cv_predictions.csv",
            &report::cv_predictions_csv(&ds, &outcome),
        )?;
        w("summary.csv", &report::summary_csv(&ds, cfg, &outcome))?;
        let mut m = Manifest::new("fit", command_line);
        for f in &ds.files {
            m.input_file("table", f);
        }
        m.set_settings(cfg);
        m.outputs = vec![
            "predictor.json".into(),
            "cv_predictions.csv".into(),
            "summary.csv".into(),
        ];
        m.set_section(serde_json::json!({
            "input_sha256": ds.sha256,
            "rows": ds.ids.len(),
            "feature_columns": ds.feature_names.len(),
            "targets": ds.target_names,
            "folds": outcome.n_folds,
        }));
        m.set_elapsed(started);
        m.write(&stage).map_err(RunError::Output)?;
        tx.commit().map_err(RunError::Output)?;
        written.push(out.join(crate::manifest::FILE));
    }
    Ok(FitRun {
        ds,
        outcome,
        summary,
        written,
    })
}

/// Predictions of a saved predictor, and where they went.
#[derive(Debug, Clone)]
pub struct PredictRun {
    /// The predictor as loaded.
    pub predictor: PredictorFile,
    /// One prediction per (checkpoint, target).
    pub predictions: Vec<Prediction>,
    /// The predictions as CSV (`id,target,predicted,lower,upper,rank`).
    pub csv: Vec<u8>,
}

/// Apply the predictor file `predictor` to the table `data`. With `out`, write the CSV there
/// and its manifest beside it as `<out>.manifest.json` (a predictions file is a file, not a
/// directory, so its manifest cannot take the directory's name without clobbering another
/// run's).
pub fn predict_to_file(
    predictor: &Path,
    data: &Path,
    id_column: Option<&str>,
    impute_mean: bool,
    out: Option<&Path>,
    command_line: &[String],
) -> Result<PredictRun, RunError> {
    let started = std::time::Instant::now();
    let p = persist::load(predictor)?;
    let preds = persist::apply(&p, data, id_column, impute_mean)?;
    let id_col = id_column.unwrap_or(&p.id_column);
    let bytes = report::predictions_csv(&preds, id_col);
    if let Some(out) = out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            util::ensure_writable_dir(dir).map_err(RunError::Output)?;
        }
        util::write_atomic(out, &bytes)
            .map_err(|e| RunError::Output(format!("{}: {e}", out.display())))?;
        let mut m = Manifest::new("predict", command_line);
        m.input_file("predictor", predictor);
        m.input_file("table", data);
        m.set_settings(serde_json::json!({ "id_column": id_col, "impute": impute_mean }));
        m.outputs = vec![out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()];
        m.set_section(serde_json::json!({
            "predictions": preds.len(),
            "targets": p.targets.iter().map(|t| &t.target).collect::<Vec<_>>(),
        }));
        m.set_elapsed(started);
        let mpath = PathBuf::from(format!("{}.manifest.json", out.display()));
        m.write_to(&mpath).map_err(RunError::Output)?;
    }
    Ok(PredictRun {
        predictor: p,
        predictions: preds,
        csv: bytes,
    })
}
