//! `probecast probe` as a library call: read and check the suite, probe every checkpoint
//! ([`super::pipeline::embed_and_probe`]), and write `probes.csv`, `features.csv` and the
//! manifest into the output directory.
//!
//! A checkpoint that fails is reported and skipped; the others go on. When every checkpoint
//! fails nothing is written, so an earlier good run in the same directory is left as it was.

use super::pipeline::{embed_and_probe, PipelineError};
use super::protocol::{self, ProbeSettings, ProtocolError, Record, TaskData};
use crate::data::senteval::{self, Dataset, SentEvalError};
use crate::features::table::{self as results, ResultsError};
use crate::features::EmbedSettings;
use crate::manifest::Manifest;
use crate::util::SettingsError;
use std::path::{Path, PathBuf};

/// Errors that stop a probing run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeRunError {
    /// A setting out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A probing file cannot be read or parsed.
    #[error(transparent)]
    Data(#[from] SentEvalError),
    /// A probing task cannot be run with these settings (too few examples, one class, ...).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Writing the outputs failed.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// Anything else that stops the run (bad `--layers`, the output directory, the manifest).
    #[error("{0}")]
    Fatal(String),
}

/// A probing suite read from disk: the datasets and their prepared tasks, in the same order.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The SentEval files as read.
    pub datasets: Vec<Dataset>,
    /// The tasks (labels, training pool, test set) prepared from them.
    pub tasks: Vec<TaskData>,
}

/// Read a probing suite: SentEval files, or directories of them (every `*.txt` except README),
/// each task name once.
pub fn load_suite(paths: &[PathBuf]) -> Result<Suite, ProbeRunError> {
    let paths = senteval::expand_task_paths(paths)?;
    let datasets: Vec<Dataset> = paths
        .iter()
        .map(|p| senteval::read(p))
        .collect::<Result<_, _>>()?;
    protocol::check_unique_names(&datasets)?;
    let tasks = datasets
        .iter()
        .map(protocol::prepare_task)
        .collect::<Result<_, _>>()?;
    Ok(Suite { datasets, tasks })
}

/// One checkpoint that was probed.
#[derive(Debug, Clone)]
pub struct ProbedModel {
    /// The label of its rows (the directory name; `_2`, `_3`, ... appended when two
    /// checkpoints share one).
    pub label: String,
    /// The `--model` argument.
    pub spec: String,
    /// Seconds for this checkpoint.
    pub seconds: f64,
}

/// What [`probe_to_dir`] did.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// The checkpoints probed.
    pub models: Vec<ProbedModel>,
    /// The checkpoints that failed, with why.
    pub failed: Vec<(String, String)>,
    /// Number of tasks.
    pub tasks: usize,
    /// Seconds for the whole run.
    pub seconds: f64,
}

/// The rows another stage adds for one checkpoint (`--model` as given).
pub type RowsOf<'a> = dyn Fn(&str) -> Result<Vec<Record>, String> + 'a;

/// More columns for the features table from another stage (the transferability estimators of
/// `probecast probe --target-task`): rows per checkpoint, computed after its probing, plus the
/// settings that made them (recorded in the manifest). The probing stage knows nothing else of
/// them.
pub struct ExtraColumns<'a> {
    /// What made the rows, for the manifest's settings (`extra`).
    pub settings: serde_json::Value,
    /// The rows of one checkpoint (`--model` as given); an error stops the run.
    pub rows: Box<RowsOf<'a>>,
}

/// Probe `models` on the suite `task_paths` and write `probes.csv`, `features.csv` and
/// `manifest.json` into `out`. Settings and every task are checked before any model is loaded.
/// `layers` restricts the probed hidden states (all when `None`); `extra` adds rows of another
/// stage to each checkpoint's.
#[allow(clippy::too_many_arguments)]
pub fn probe_to_dir(
    models: &[String],
    task_paths: &[PathBuf],
    out: &Path,
    s: &ProbeSettings,
    embed: &EmbedSettings,
    layers: Option<&[usize]>,
    command_line: &[String],
    extra: Option<ExtraColumns>,
) -> Result<ProbeRun, ProbeRunError> {
    s.check()?;
    embed.check()?;
    let suite = load_suite(task_paths)?;
    for t in &suite.tasks {
        protocol::class_sizes(t, s.train_per_class, s.allow_fewer)?;
    }
    crate::outdir::remove_stale_temp_tree(&embed.cache_dir);
    let tx = crate::outdir::OutputTx::begin(out).map_err(ProbeRunError::Fatal)?;
    let final_out = out;
    let out = tx.dir();
    let t0 = std::time::Instant::now();
    let mut rows: Vec<(String, Record)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut probed: Vec<ProbedModel> = Vec::new();
    let mut manifest = Manifest::new("probe", command_line);
    let mut model_info = Vec::new();
    for spec in models {
        let tm = std::time::Instant::now();
        match embed_and_probe(
            spec,
            &suite.datasets,
            &suite.tasks,
            embed,
            layers,
            s,
            &indicatif::MultiProgress::new(),
        ) {
            Err(PipelineError::Model(why)) => {
                eprintln!("error: model {spec} failed, continuing with the others: {why}");
                failed.push((spec.clone(), why.to_string()));
            }
            Err(PipelineError::Fatal(why)) => return Err(ProbeRunError::Fatal(why)),
            Ok(run) => {
                // Two checkpoints with the same directory name: keep the rows apart.
                let mut label = run.name.clone();
                let mut i = 2;
                while probed.iter().any(|p| p.label == label) {
                    label = format!("{}_{i}", run.name);
                    i += 1;
                }
                rows.extend(run.records.into_iter().map(|r| (label.clone(), r)));
                if let Some(x) = &extra {
                    let more = (x.rows)(spec).map_err(ProbeRunError::Fatal)?;
                    rows.extend(more.into_iter().map(|r| (label.clone(), r)));
                }
                manifest.input("model", &run.dir, Some(run.hash.clone()));
                model_info.push(serde_json::json!({
                    "model": label, "spec": spec, "model_dir": run.dir,
                    "embed_seconds": run.embed_seconds,
                    "seconds": tm.elapsed().as_secs_f64(),
                }));
                probed.push(ProbedModel {
                    label,
                    spec: spec.clone(),
                    seconds: tm.elapsed().as_secs_f64(),
                });
            }
        }
    }
    if probed.is_empty() {
        let list: Vec<String> = failed.iter().map(|(m, w)| format!("{m} ({w})")).collect();
        return Err(ProbeRunError::Fatal(format!(
            "every model failed, nothing written to {}: {}",
            final_out.display(),
            list.join("; ")
        )));
    }
    results::write_probes_csv(&out.join("probes.csv"), &rows)?;
    results::write_features_csv(&out.join("features.csv"), &rows)?;
    let mut task_info = Vec::new();
    for (d, t) in suite.datasets.iter().zip(&suite.tasks) {
        manifest.input_file("task", &d.path);
        task_info.push(serde_json::json!({
            "task": t.name, "path": d.path,
            "classes": t.labels, "train_pool": t.pool.iter().map(Vec::len).collect::<Vec<_>>(),
            "test": t.test.len(),
        }));
    }
    manifest.set_settings(serde_json::json!({
        "pooling": embed.poolings,
        "train_per_class": s.train_per_class,
        "val_per_class": protocol::val_per_class(s.train_per_class),
        "allow_fewer": s.allow_fewer,
        "seeds": (0..s.seeds).collect::<Vec<_>>(),
        "probes": s.probes.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "selectivity": s.selectivity,
        "mdl": s.mdl,
        "mdl_block_percents": super::mdl::VOITA_TITOV_PERCENTS,
        "c_grid": s.c_grid,
        "logreg_gtol": s.logreg.lbfgs.gtol,
        "mlp_hidden": s.mlp_hidden,
        "mlp": { "lr": s.mlp.lr, "weight_decay": s.mlp.weight_decay, "batch_size": s.mlp.batch_size,
                 "max_epochs": s.mlp.max_epochs, "patience": s.mlp.patience },
        "layers": layers,
        "batch_size": embed.batch_size,
        "max_length": embed.max_length,
        "cache_dir": embed.cache_dir,
        "standardize": "per draw, training mean and standard deviation",
        "extra": extra.as_ref().map(|x| x.settings.clone()),
    }));
    manifest.outputs = vec!["probes.csv".into(), "features.csv".into()];
    manifest.set_section(serde_json::json!({
        "models": model_info,
        "tasks": task_info,
        "failed_models": failed.iter().map(|(m, w)| serde_json::json!({"model": m, "error": w})).collect::<Vec<_>>(),
    }));
    manifest.set_elapsed(t0);
    manifest.write(out).map_err(ProbeRunError::Fatal)?;
    tx.commit().map_err(ProbeRunError::Fatal)?;
    Ok(ProbeRun {
        models: probed,
        failed,
        tasks: suite.tasks.len(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
