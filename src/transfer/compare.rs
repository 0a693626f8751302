//! How well each way of ranking checkpoints orders their fine-tuned scores: per target task,
//! the Kendall τ-b ([`crate::stats::kendall_tau`], scipy's `kendalltau`) between the fine-tuned
//! scores and
//!
//! - each transferability estimator's score, with the hidden states averaged (`mean`) and the
//!   best hidden state (`best`), computed here on the task's training file;
//! - probecast's probing predictor: its out-of-sample predictions (`cv_predictions.csv` of
//!   `probecast fit`, averaged over repeats; in-sample rows are skipped);
//! - a static baseline: the number of parameters in the checkpoint's weights file.
//!
//! [`kendall_rows`] is the comparison itself (pure); [`CompareSettings::check`] validates the
//! inputs before any model runs and [`compare`] computes the scores and writes
//! `comparison.csv`, `scores.csv` and `manifest.json`. `probecast transfer-compare` is the
//! command; docs/transfer.md has the demo's table.

use super::layers::{score_layers, LayerAgg};
use super::target::{TargetError, TargetTask};
use super::{Estimator, EstimatorOptions};
use crate::data::glue::TaskKind;
use crate::encoder::weights::{weights_file, Weights};
use crate::encoder::{EncoderError, Pooling};
use crate::features::{EmbedSettings, Embedder};
use crate::util;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct CompareSettings {
    /// CSV with columns `model` and `dir` (a checkpoint directory or cached model id), e.g. the
    /// demo's `zoo/checkpoints.csv`; other columns are ignored.
    pub checkpoints: PathBuf,
    /// CSV with a `model` column and one column of fine-tuned scores per task (`targets.csv`
    /// of `probecast finetune` or the demo).
    pub targets: PathBuf,
    /// GLUE task directories; each directory's name is a column of `targets`.
    pub tasks: Vec<PathBuf>,
    /// Task types by task name, for directories whose name is not a GLUE task.
    pub task_types: BTreeMap<String, String>,
    /// `cv_predictions.csv` files of `probecast fit`; each is labelled `predictor:<its
    /// directory's name>`.
    pub predictions: Vec<PathBuf>,
    /// The estimators to compute.
    pub estimators: Vec<Estimator>,
    /// Pooling of the sentence features.
    pub pooling: Pooling,
    /// Stratified sample of each training file (None: all of it).
    pub max_examples: Option<usize>,
    /// Seed of the samples and of the probe's split.
    pub seed: u64,
    /// Extraction settings (batch size, truncation, cache); its poolings are ignored.
    pub embed: EmbedSettings,
    /// Output directory.
    pub out: PathBuf,
}

/// Errors of a comparison: each names the file, flag or model at fault.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A CSV input is missing, malformed or lacks a column.
    #[error("{path}: {why}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A flag is wrong.
    #[error("{0}")]
    Settings(String),
    /// A task cannot be used.
    #[error(transparent)]
    Task(#[from] TargetError),
    /// A model cannot be loaded, run or scored.
    #[error("model {model}: {why}")]
    Model {
        /// The model.
        model: String,
        /// Why.
        why: String,
    },
    /// The output directory or a file in it cannot be written.
    #[error("{0}")]
    Output(String),
}

fn input(path: &Path, why: impl std::fmt::Display) -> CompareError {
    CompareError::Input {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// A CSV file as its header and rows.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), CompareError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| input(path, e))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| input(path, e))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.map(|r| r.iter().map(|s| s.trim().to_string()).collect())
                .map_err(|e| input(path, e))
        })
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    Ok((header, rows))
}

fn column(path: &Path, header: &[String], name: &str) -> Result<usize, CompareError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| input(path, format!("no column {name:?}")))
}

/// A number cell: empty, `nan` or unparsable cells are missing (`NaN`).
fn number(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// `model,dir` pairs of a checkpoints CSV, in file order.
pub fn read_checkpoints(path: &Path) -> Result<Vec<(String, String)>, CompareError> {
    let (h, rows) = read_csv(path)?;
    let (m, d) = (column(path, &h, "model")?, column(path, &h, "dir")?);
    let out: Vec<(String, String)> = rows.iter().map(|r| (r[m].clone(), r[d].clone())).collect();
    if out.is_empty() {
        return Err(input(path, "no checkpoints"));
    }
    Ok(out)
}

/// The fine-tuned scores of `task` by model (missing cells are NaN).
pub fn read_targets(path: &Path, task: &str) -> Result<BTreeMap<String, f64>, CompareError> {
    let (h, rows) = read_csv(path)?;
    let (m, t) = (column(path, &h, "model")?, column(path, &h, task)?);
    Ok(rows.iter().map(|r| (r[m].clone(), number(&r[t]))).collect())
}

/// Out-of-sample predictions of `task` by model from a `cv_predictions.csv` (columns
/// `model,target,predicted,fold`; averaged over repeats; `in-sample` rows skipped).
pub fn read_predictions(path: &Path, task: &str) -> Result<BTreeMap<String, f64>, CompareError> {
    let (h, rows) = read_csv(path)?;
    let m = column(path, &h, "model")?;
    let t = column(path, &h, "target")?;
    let p = column(path, &h, "predicted")?;
    let f = column(path, &h, "fold")?;
    let mut acc: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r[t] == task && r[f] != "in-sample") {
        let e = acc.entry(r[m].clone()).or_insert((0.0, 0));
        e.0 += number(&r[p]);
        e.1 += 1;
    }
    Ok(acc
        .into_iter()
        .map(|(k, (s, c))| (k, s / c as f64))
        .collect())
}

/// Floating-point parameters in a checkpoint's weights file (integer buffers such as
/// `position_ids` excluded).
pub fn parameter_count(dir: &Path) -> Result<usize, EncoderError> {
    Weights::load(&weights_file(dir)?).map(|w| w.n_parameters())
}

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TauRow {
    /// The target task.
    pub task: String,
    /// How the checkpoints were ranked (`logme/mean`, `knn/best`, `predictor:loo`, `params`).
    pub method: String,
    /// Checkpoints with both a score and a fine-tuned score.
    pub n: usize,
    /// Kendall's τ-b between the method's scores and the fine-tuned scores (NaN when either
    /// is constant).
    pub tau: f64,
    /// Pairs of checkpoints the method ties.
    pub method_ties: usize,
    /// Pairs of checkpoints the fine-tuned scores tie.
    pub target_ties: usize,
    /// The standard deviation of τ under independence without ties,
    /// √(2(2n + 5) / (9n(n − 1))): the scale of chance at this n.
    pub null_sd: f64,
}

/// Pairs `i < j` with `v[i] == v[j]`.
pub fn tied_pairs(v: &[f64]) -> usize {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let mut ties = 0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i + 1;
        while j < s.len() && s[j] == s[i] {
            j += 1;
        }
        ties += (j - i) * (j - i - 1) / 2;
        i = j;
    }
    ties
}

/// For each method (name, one score per checkpoint, NaN when missing), τ-b against `target`
/// (one fine-tuned score per checkpoint) over the checkpoints where both are finite.
pub fn kendall_rows(task: &str, methods: &[(String, Vec<f64>)], target: &[f64]) -> Vec<TauRow> {
    methods
        .iter()
        .map(|(name, s)| {
            let (a, b): (Vec<f64>, Vec<f64>) = s
                .iter()
                .zip(target)
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(&x, &y)| (x, y))
                .unzip();
            let n = a.len();
            let nf = n as f64;
            TauRow {
                task: task.to_string(),
                method: name.clone(),
                n,
                tau: if n < 2 {
                    f64::NAN
                } else {
                    crate::stats::kendall_tau(&a, &b)
                },
                method_ties: tied_pairs(&a),
                target_ties: tied_pairs(&b),
                null_sd: if n < 2 {
                    f64::NAN
                } else {
                    (2.0 * (2.0 * nf + 5.0) / (9.0 * nf * (nf - 1.0))).sqrt()
                },
            }
        })
        .collect()
}

/// One task ready to score.
pub struct CheckedTask {
    /// Its name (the directory name, a `targets` column).
    pub name: String,
    /// The sampled task.
    pub task: TargetTask,
    /// Fine-tuned scores by model.
    pub targets: BTreeMap<String, f64>,
    /// Per predictions file: its label and predictions by model.
    pub predictions: Vec<(String, BTreeMap<String, f64>)>,
}

/// What [`CompareSettings::check`] found valid.
pub struct CheckedCompare {
    /// The tasks.
    pub tasks: Vec<CheckedTask>,
    /// The checkpoints: name, spec and loaded embedder.
    pub models: Vec<(String, String, Embedder)>,
}

/// The label of a predictions file: `predictor:<its directory's name>`.
pub fn predictions_label(path: &Path) -> String {
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fit".into());
    format!("predictor:{dir}")
}

impl CompareSettings {
    /// Validate everything before any model runs: the CSVs and their columns, each task (and
    /// each estimator on it), every checkpoint, the output directory.
    pub fn check(&self) -> Result<CheckedCompare, CompareError> {
        if self.tasks.is_empty() {
            return Err(CompareError::Settings("--task: at least one task".into()));
        }
        if self.estimators.is_empty() {
            return Err(CompareError::Settings(
                "--estimators: at least one estimator".into(),
            ));
        }
        if let Some(m) = self.max_examples {
            if m < 4 {
                return Err(CompareError::Settings(format!(
                    "--max-examples {m}: at least 4 examples are needed"
                )));
            }
        }
        if self.embed.batch_size == 0 {
            return Err(CompareError::Settings(
                "--batch-size must be at least 1".into(),
            ));
        }
        let ckpts = read_checkpoints(&self.checkpoints)?;
        let mut tasks = Vec::new();
        for dir in &self.tasks {
            let name = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let task = TargetTask::load(
                dir,
                self.task_types.get(&name).map(String::as_str),
                self.max_examples,
                self.seed,
            )?;
            let targets = read_targets(&self.targets, &name)?;
            let predictions = self
                .predictions
                .iter()
                .map(|p| Ok((predictions_label(p), read_predictions(p, &name)?)))
                .collect::<Result<Vec<_>, CompareError>>()?;
            tasks.push(CheckedTask {
                name,
                task,
                targets,
                predictions,
            });
        }
        let embed = EmbedSettings {
            poolings: vec![self.pooling],
            ..self.embed.clone()
        };
        let models = ckpts
            .into_iter()
            .map(|(name, spec)| {
                let e = Embedder::new(&spec, &embed).map_err(|e| CompareError::Model {
                    model: name.clone(),
                    why: e.to_string(),
                })?;
                Ok((name, spec, e))
            })
            .collect::<Result<Vec<_>, CompareError>>()?;
        util::ensure_writable_dir(&self.out).map_err(CompareError::Output)?;
        Ok(CheckedCompare { tasks, models })
    }
}

/// The scores behind one task's comparison: per method, one score per checkpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskScores {
    /// The task.
    pub task: String,
    /// Checkpoint names, in the checkpoints file's order.
    pub models: Vec<String>,
    /// Their fine-tuned scores (NaN when missing).
    pub targets: Vec<f64>,
    /// Per method, its scores (NaN when missing or not defined).
    pub methods: Vec<(String, Vec<f64>)>,
}

/// The outcome of [`compare`].
#[derive(Debug, Clone)]
pub struct CompareOutput {
    /// Every task's scores.
    pub scores: Vec<TaskScores>,
    /// The τ rows, task by task, in method order.
    pub rows: Vec<TauRow>,
    /// Seconds in all.
    pub seconds: f64,
}

/// Compute every method's scores on every task, the τ rows, and write `scores.csv`,
/// `comparison.csv`, `comparison.json` and `manifest.json` into `settings.out`.
pub fn compare(
    settings: &CompareSettings,
    checked: CheckedCompare,
    argv: &[String],
    progress: bool,
) -> Result<CompareOutput, CompareError> {
    let t0 = std::time::Instant::now();
    let opts = EstimatorOptions {
        seed: settings.seed,
        ..EstimatorOptions::default()
    };
    let params: Vec<f64> = checked
        .models
        .iter()
        .map(|(name, _, e)| {
            parameter_count(e.dir())
                .map(|p| p as f64)
                .map_err(|err| CompareError::Model {
                    model: name.clone(),
                    why: err.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut all = Vec::new();
    let mut rows = Vec::new();
    for t in &checked.tasks {
        let target = t.task.target();
        let ests: Vec<Estimator> = settings
            .estimators
            .iter()
            .copied()
            .filter(|e| t.task.kind == TaskKind::Classification || e.supports_regression())
            .collect();
        let mut methods: Vec<(String, Vec<f64>)> = Vec::new();
        for e in &ests {
            for agg in [LayerAgg::Mean, LayerAgg::Best] {
                methods.push((format!("{}/{}", e.name(), agg.name()), Vec::new()));
            }
        }
        for (name, _, emb) in &checked.models {
            let pb = if progress {
                indicatif::ProgressBar::new(0)
            } else {
                indicatif::ProgressBar::hidden()
            };
            let out = t.task.embed(emb, &pb).map_err(|e| CompareError::Model {
                model: name.clone(),
                why: e.to_string(),
            })?;
            let feats = &out.features[&settings.pooling];
            let mut m = 0;
            for e in &ests {
                for agg in [LayerAgg::Mean, LayerAgg::Best] {
                    let r = score_layers(*e, feats, &target, agg, &opts).map_err(|err| {
                        CompareError::Model {
                            model: name.clone(),
                            why: err.to_string(),
                        }
                    })?;
                    methods[m].1.push(r.score.value);
                    m += 1;
                }
            }
        }
        let names: Vec<String> = checked.models.iter().map(|m| m.0.clone()).collect();
        for (label, p) in &t.predictions {
            let v = names
                .iter()
                .map(|n| p.get(n).copied().unwrap_or(f64::NAN))
                .collect();
            methods.push((label.clone(), v));
        }
        methods.push(("params".into(), params.clone()));
        let targets: Vec<f64> = names
            .iter()
            .map(|n| t.targets.get(n).copied().unwrap_or(f64::NAN))
            .collect();
        rows.extend(kendall_rows(&t.name, &methods, &targets));
        all.push(TaskScores {
            task: t.name.clone(),
            models: names,
            targets,
            methods,
        });
    }
    let output = CompareOutput {
        scores: all,
        rows,
        seconds: t0.elapsed().as_secs_f64(),
    };
    write_outputs(settings, &checked, &output, argv)?;
    Ok(output)
}

fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// `comparison.csv`: `task,method,n,kendall_tau,method_ties,target_ties,null_sd`.
pub fn comparison_csv(rows: &[TauRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "task",
        "method",
        "n",
        "kendall_tau",
        "method_ties",
        "target_ties",
        "null_sd",
    ])
    .expect("in-memory write");
    for r in rows {
        w.write_record([
            r.task.clone(),
            r.method.clone(),
            r.n.to_string(),
            cell(r.tau),
            r.method_ties.to_string(),
            r.target_ties.to_string(),
            format!("{:.4}", r.null_sd),
        ])
        .expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

/// `scores.csv`: `task,model,target,<method>...`, one line per task and checkpoint.
pub fn scores_csv(scores: &[TaskScores]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let methods: Vec<String> = scores
        .iter()
        .flat_map(|s| s.methods.iter().map(|m| m.0.clone()))
        .fold(Vec::new(), |mut v, m| {
            if !v.contains(&m) {
                v.push(m);
            }
            v
        });
    let mut header = vec!["task".to_string(), "model".into(), "target".into()];
    header.extend(methods.iter().cloned());
    w.write_record(&header).expect("in-memory write");
    for s in scores {
        for (i, model) in s.models.iter().enumerate() {
            let mut rec = vec![s.task.clone(), model.clone(), cell(s.targets[i])];
            for m in &methods {
                let v = s
                    .methods
                    .iter()
                    .find(|x| &x.0 == m)
                    .map_or(f64::NAN, |x| x.1[i]);
                rec.push(cell(v));
            }
            w.write_record(&rec).expect("in-memory write");
        }
    }
    w.into_inner().expect("in-memory write")
}

fn settings_json(s: &CompareSettings) -> serde_json::Value {
    serde_json::json!({
        "estimators": s.estimators.iter().map(|e| e.name()).collect::<Vec<_>>(),
        "layers": ["mean", "best"],
        "pooling": s.pooling.name(),
        "max_examples": s.max_examples,
        "seed": s.seed,
        "task_types": s.task_types,
        "batch_size": s.embed.batch_size,
        "max_length": s.embed.max_length,
        "cache_dir": s.embed.cache_dir,
        "tau": "Kendall tau-b (scipy.stats.kendalltau)",
        "params": "floating-point parameters in the checkpoint's weights file",
    })
}

fn write_outputs(
    settings: &CompareSettings,
    checked: &CheckedCompare,
    out: &CompareOutput,
    argv: &[String],
) -> Result<(), CompareError> {
    let wr = |name: &str, bytes: &[u8]| {
        let p = settings.out.join(name);
        util::write_atomic(&p, bytes)
            .map_err(|e| CompareError::Output(format!("{}: cannot write: {e}", p.display())))
    };
    wr("comparison.csv", &comparison_csv(&out.rows))?;
    wr("scores.csv", &scores_csv(&out.scores))?;
    let json = serde_json::json!({
        "settings": settings_json(settings),
        "comparison": out.rows,
    });
    wr(
        "comparison.json",
        serde_json::to_string_pretty(&json)
            .expect("serialisable")
            .as_bytes(),
    )?;
    let mut m = crate::manifest::Manifest::new("transfer-compare", argv);
    m.input_file("checkpoints", &settings.checkpoints);
    m.input_file("targets", &settings.targets);
    for p in &settings.predictions {
        m.input_file("predictions", p);
    }
    for t in &checked.tasks {
        m.input_file("task", &t.task.file);
    }
    for (_, _, e) in &checked.models {
        m.input("model", e.dir(), Some(e.hash().to_string()));
    }
    m.settings = settings_json(settings);
    m.outputs = vec![
        "comparison.csv".into(),
        "scores.csv".into(),
        "comparison.json".into(),
    ];
    m.timing.seconds = out.seconds;
    m.set_section(serde_json::json!({ "comparison": out.rows }));
    m.write(&settings.out).map_err(CompareError::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tied_pairs_counts_each_group_of_equal_values() {
        assert_eq!(tied_pairs(&[1.0, 2.0, 1.0, 1.0, 3.0, 3.0]), 3 + 1);
        assert_eq!(tied_pairs(&[1.0, 2.0]), 0);
    }

    #[test]
    fn kendall_rows_drop_missing_checkpoints_and_give_the_null_sd_of_tau() {
        let t = [1.0, 2.0, 3.0, 4.0, f64::NAN];
        let rows = kendall_rows(
            "x",
            &[
                ("up".into(), vec![10.0, 20.0, 30.0, 40.0, 50.0]),
                ("gap".into(), vec![f64::NAN, 3.0, 2.0, 1.0, 0.0]),
            ],
            &t,
        );
        assert_eq!((rows[0].n, rows[0].tau), (4, 1.0));
        assert_eq!((rows[1].n, rows[1].tau), (3, -1.0));
        // n = 4: sqrt(2 * 13 / (9 * 4 * 3))
        assert!((rows[0].null_sd - (26.0f64 / 108.0).sqrt()).abs() < 1e-15);
    }
}
