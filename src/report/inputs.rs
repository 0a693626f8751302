//! Finding and reading the report's inputs: stage output directories, single files, or a demo
//! directory whose stages sit in subdirectories. Every file is read with the reader that lives
//! beside its writer; nothing here parses a stage's CSV itself.

use super::ReportError;
use crate::features::table as probe_results;
use crate::finetune::results::{self as ft, EpochMetric, Targets};
use crate::predict::outputs::{self, CvRow, PredictionRow, SummaryRow};
use crate::predict::persist::{self, PredictorFile};
use crate::probe::protocol::Record;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file names the report recognises.
pub const KNOWN_FILES: [&str; 8] = [
    "probes.csv",
    "features.csv",
    "finetune.csv",
    "targets.csv",
    "predictor.json",
    "cv_predictions.csv",
    "summary.csv",
    "predictions.csv",
];

/// Probing results of one run.
#[derive(Debug, Clone)]
pub struct ProbeInput {
    /// The file read.
    pub path: PathBuf,
    /// Tidy rows `(model, record)`.
    pub rows: Vec<(String, Record)>,
    /// Chance level per task, when it can be known (1 / classes).
    pub chance: BTreeMap<String, f64>,
}

/// Fine-tuning results of one run.
#[derive(Debug, Clone, Default)]
pub struct FinetuneInput {
    /// The directory or file read.
    pub path: PathBuf,
    /// Per-epoch metrics (`finetune.csv`), if present.
    pub epochs: Vec<EpochMetric>,
    /// The targets table, if present.
    pub targets: Option<Targets>,
}

/// One fit output directory.
#[derive(Debug, Clone)]
pub struct FitInput {
    /// The directory.
    pub dir: PathBuf,
    /// The saved predictor.
    pub predictor: PredictorFile,
    /// Out-of-fold predictions (absent for the demo's paper fit).
    pub cv: Vec<CvRow>,
    /// Per-target summary.
    pub summary: Vec<SummaryRow>,
}

/// One `predictions.csv`.
#[derive(Debug, Clone)]
pub struct PredictInput {
    /// The file.
    pub path: PathBuf,
    /// Its rows.
    pub rows: Vec<PredictionRow>,
}

/// One `manifest.json`, kept as a JSON value (its shape differs between commands and versions).
#[derive(Debug, Clone)]
pub struct ManifestInput {
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub value: serde_json::Value,
}

/// Everything the report was given.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Probing runs.
    pub probes: Vec<ProbeInput>,
    /// Fine-tuning runs.
    pub finetune: Vec<FinetuneInput>,
    /// Fit runs.
    pub fits: Vec<FitInput>,
    /// Predictions.
    pub predictions: Vec<PredictInput>,
    /// Manifests (provenance).
    pub manifests: Vec<ManifestInput>,
    /// Checkpoint families, where known (`model -> family`).
    pub families: BTreeMap<String, String>,
}

impl Inputs {
    /// The family of a model: the known one, else the model itself.
    pub fn family<'a>(&'a self, model: &'a str) -> &'a str {
        self.families.get(model).map_or(model, String::as_str)
    }
}

fn err(path: &Path, msg: impl std::fmt::Display) -> ReportError {
    ReportError::Input(format!("{}: {msg}", path.display()))
}

/// Directories to look in under `dir`: itself and its subdirectories, two levels deep (a demo
/// directory holds `study/results/`, `fit/loo/`, ...), sorted, skipping the per-unit
/// folders of resumable stages (`rows`, `runs`) and checkpoint folders.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if depth == 0 || dir.join("config.json").is_file() {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !matches!(n, "rows" | "runs" | "models") && !n.starts_with('.')
        })
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, depth - 1, out);
    }
}

/// Read every input path (directories are searched, files are taken by name) into [`Inputs`].
/// A directory without any known file is an error; so is a file of unknown kind.
pub fn collect(paths: &[PathBuf]) -> Result<Inputs, ReportError> {
    let mut inp = Inputs::default();
    for p in paths {
        if p.is_dir() {
            let mut dirs = Vec::new();
            walk(p, 2, &mut dirs);
            let before = count(&inp);
            for d in &dirs {
                read_dir_files(d, &mut inp)?;
            }
            if count(&inp) == before {
                return Err(err(
                    p,
                    format!(
                        "no probecast outputs here (looked for {} in it and two levels below)",
                        KNOWN_FILES.join(", ")
                    ),
                ));
            }
        } else if p.is_file() {
            read_file(p, &mut inp)?;
        } else {
            return Err(err(p, "no such file or directory"));
        }
    }
    Ok(inp)
}

fn count(i: &Inputs) -> usize {
    i.probes.len() + i.finetune.len() + i.fits.len() + i.predictions.len()
}

fn name_of(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn read_file(p: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    let dir = p.parent().unwrap_or(Path::new("."));
    match name_of(p) {
        "probes.csv" => read_probes(p, inp),
        "features.csv" => Err(err(
            p,
            "features.csv alone cannot be plotted per seed; give the probe output directory or its probes.csv",
        )),
        "finetune.csv" | "targets.csv" => {
            let mut f = FinetuneInput {
                path: p.to_path_buf(),
                ..Default::default()
            };
            if name_of(p) == "finetune.csv" {
                f.epochs = ft::read_finetune_csv(p).map_err(|e| ReportError::Input(e.to_string()))?;
            } else {
                f.targets =
                    Some(ft::read_targets_csv(p).map_err(|e| ReportError::Input(e.to_string()))?);
            }
            inp.finetune.push(f);
            Ok(())
        }
        "predictor.json" | "cv_predictions.csv" | "summary.csv" => read_fit(dir, inp),
        "manifest.json" => read_manifest(p, inp),
        n if n.ends_with(".csv") => read_predictions(p, inp),
        _ => Err(err(
            p,
            format!("unknown input (expected a directory or one of {})", KNOWN_FILES.join(", ")),
        )),
    }
}

fn read_dir_files(d: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    let has = |n: &str| d.join(n).is_file();
    if has("probes.csv") {
        read_probes(&d.join("probes.csv"), inp)?;
    }
    if has("finetune.csv") || has("targets.csv") {
        let mut f = FinetuneInput {
            path: d.to_path_buf(),
            ..Default::default()
        };
        if has("finetune.csv") {
            f.epochs = ft::read_finetune_csv(&d.join("finetune.csv"))
                .map_err(|e| ReportError::Input(e.to_string()))?;
        }
        if has("targets.csv") {
            f.targets = Some(
                ft::read_targets_csv(&d.join("targets.csv"))
                    .map_err(|e| ReportError::Input(e.to_string()))?,
            );
        }
        inp.finetune.push(f);
    }
    if has("predictor.json") {
        read_fit(d, inp)?;
    }
    if has("predictions.csv") {
        read_predictions(&d.join("predictions.csv"), inp)?;
    }
    if has("checkpoints.csv") {
        let pairs = crate::zoo::listing::read_checkpoints_csv(&d.join("checkpoints.csv"))
            .map_err(|e| ReportError::Input(e.to_string()))?;
        inp.families.extend(pairs);
    }
    if has("manifest.json") {
        read_manifest(&d.join("manifest.json"), inp)?;
    }
    Ok(())
}

fn read_manifest(p: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    if inp.manifests.iter().any(|m| m.path == p) {
        return Ok(());
    }
    let text = std::fs::read_to_string(p).map_err(|e| err(p, format!("cannot read: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(p, format!("not JSON: {e}")))?;
    inp.manifests.push(ManifestInput {
        path: p.to_path_buf(),
        value,
    });
    Ok(())
}

fn read_probes(p: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    let rows = probe_results::read_probes_csv(p).map_err(|e| ReportError::Input(e.to_string()))?;
    if rows.is_empty() {
        return Err(err(p, "no rows"));
    }
    let dir = p.parent().unwrap_or(Path::new("."));
    let chance = chance_levels(dir, &rows);
    // a `family` column in the features table beside it
    if let Ok(mut rd) = csv::Reader::from_path(dir.join("features.csv")) {
        let h: Vec<String> = rd
            .headers()
            .map(|h| h.iter().map(str::to_string).collect())
            .unwrap_or_default();
        if let (Some(m), Some(f)) = (
            h.iter().position(|x| x == "model"),
            h.iter().position(|x| x == "family"),
        ) {
            for r in rd.records().flatten() {
                if let (Some(a), Some(b)) = (r.get(m), r.get(f)) {
                    inp.families.entry(a.to_string()).or_insert(b.to_string());
                }
            }
        }
    }
    inp.probes.push(ProbeInput {
        path: p.to_path_buf(),
        rows,
        chance,
    });
    Ok(())
}

/// Chance level per task: 1 / (number of classes) from the probe manifest (`inputs.tasks[]`
/// with `classes`), else from the demo's probing suite files beside the stage
/// (`../data/probing/<task>.txt`), else the mean held-out control-task accuracy (chance by
/// construction) when selectivity was run.
fn chance_levels(dir: &Path, rows: &[(String, Record)]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Some(m) = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    {
        for t in m["inputs"]["tasks"].as_array().into_iter().flatten() {
            if let (Some(name), Some(k)) = (t["task"].as_str(), t["classes"].as_array()) {
                if !k.is_empty() {
                    out.insert(name.to_string(), 1.0 / k.len() as f64);
                }
            }
        }
    }
    let tasks: std::collections::BTreeSet<&str> =
        rows.iter().map(|(_, r)| r.task.as_str()).collect();
    for t in &tasks {
        if out.contains_key(*t) {
            continue;
        }
        let f = dir.join("../data/probing").join(format!("{t}.txt"));
        if let Ok(d) = crate::data::senteval::read(&f) {
            let labels: std::collections::BTreeSet<&str> =
                d.examples.iter().map(|e| e.label.as_str()).collect();
            if !labels.is_empty() {
                out.insert(t.to_string(), 1.0 / labels.len() as f64);
                continue;
            }
        }
        let v: Vec<f64> = rows
            .iter()
            .filter(|(_, r)| r.task == *t && r.metric == "control_test_acc" && r.seed == "mean")
            .map(|(_, r)| r.value)
            .filter(|v| v.is_finite())
            .collect();
        if !v.is_empty() {
            out.insert(t.to_string(), v.iter().sum::<f64>() / v.len() as f64);
        }
    }
    out
}

fn read_predictions(p: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    let header: Vec<String> = csv::Reader::from_path(p)
        .and_then(|mut r| r.headers().map(|h| h.iter().map(str::to_string).collect()))
        .map_err(|e| err(p, format!("cannot read: {e}")))?;
    if !outputs::is_predictions_header(&header) {
        return Err(err(
            p,
            format!(
                "not a known probecast output (header {}; a predictions CSV has <id>,target,predicted,lower,upper,rank)",
                header.join(",")
            ),
        ));
    }
    let rows = outputs::read_predictions(p).map_err(|e| ReportError::Input(e.to_string()))?;
    inp.predictions.push(PredictInput {
        path: p.to_path_buf(),
        rows,
    });
    Ok(())
}

fn read_fit(d: &Path, inp: &mut Inputs) -> Result<(), ReportError> {
    if inp.fits.iter().any(|f| f.dir == d) {
        return Ok(());
    }
    let pj = d.join("predictor.json");
    if !pj.is_file() {
        return Err(err(
            d,
            "a fit output needs predictor.json beside cv_predictions.csv and summary.csv",
        ));
    }
    let predictor = persist::load(&pj).map_err(|e| ReportError::Input(e.to_string()))?;
    let cvp = d.join("cv_predictions.csv");
    let cv = if cvp.is_file() {
        outputs::read_cv_predictions(&cvp).map_err(|e| ReportError::Input(e.to_string()))?
    } else {
        Vec::new()
    };
    let sp = d.join("summary.csv");
    let summary = if sp.is_file() {
        outputs::read_summary(&sp).map_err(|e| ReportError::Input(e.to_string()))?
    } else {
        Vec::new()
    };
    check_same_fit(d, &predictor, &cv, &summary)?;
    inp.fits.push(FitInput {
        dir: d.to_path_buf(),
        predictor,
        cv,
        summary,
    });
    Ok(())
}

/// Refuse a `cv_predictions.csv` or `summary.csv` that another fit wrote: the targets must be
/// the predictor's, each target must have one prediction per training row in every repeat, the
/// protocol must agree (paper rows are `in-sample`), and the true values must be the same
/// across files' repeats.
pub fn check_same_fit(
    d: &Path,
    p: &PredictorFile,
    cv: &[CvRow],
    summary: &[SummaryRow],
) -> Result<(), ReportError> {
    let want: Vec<&str> = p.targets.iter().map(|t| t.target.as_str()).collect();
    let cvp = d.join("cv_predictions.csv");
    let from_other = |what: &Path, why: String| {
        err(
            what,
            format!(
                "not from the fit that wrote {} ({why})",
                d.join("predictor.json").display()
            ),
        )
    };
    if !cv.is_empty() {
        let mut got: Vec<&str> = Vec::new();
        for r in cv {
            if !got.contains(&r.target.as_str()) {
                got.push(&r.target);
            }
        }
        if got != want {
            return Err(from_other(
                &cvp,
                format!("targets {} vs {}", got.join(","), want.join(",")),
            ));
        }
        for t in &want {
            let n = cv
                .iter()
                .filter(|r| r.target == *t && r.repeat == 0)
                .count();
            if n != p.training_rows {
                return Err(from_other(
                    &cvp,
                    format!(
                        "{n} checkpoints for target {t}, the predictor was trained on {}",
                        p.training_rows
                    ),
                ));
            }
        }
        let in_sample = cv.iter().all(|r| r.fold.is_none());
        if in_sample != (p.protocol == "paper") {
            return Err(from_other(
                &cvp,
                format!(
                    "{} rows, predictor protocol {}",
                    if in_sample {
                        "in-sample"
                    } else {
                        "out-of-fold"
                    },
                    p.protocol
                ),
            ));
        }
    }
    if !summary.is_empty() {
        let got: Vec<&str> = summary.iter().map(|s| s.target.as_str()).collect();
        if got != want || summary.iter().any(|s| s.protocol != p.protocol) {
            return Err(from_other(
                &d.join("summary.csv"),
                format!(
                    "targets {} ({}) vs {} ({})",
                    got.join(","),
                    summary.first().map_or("", |s| s.protocol.as_str()),
                    want.join(","),
                    p.protocol
                ),
            ));
        }
    }
    Ok(())
}
