//! Transferability scores as predictor features: `probecast probe --target-task DIR
//! --metrics acc,logme,hscore,knn,probe` adds, per hidden state k and pooling, the columns
//! `<target>__logme_layer_<k>`, `<target>__hscore_layer_<k>`, `<target>__knn_layer_<k>`
//! (micro) and `<target>__knnmacro_layer_<k>`, `<target>__probe_layer_<k>` to features.csv
//! (with `__mean` appended for mean pooling, as every column). They are [`Record`]s with the
//! metric `transfer` and the task `<target>__<estimator>`, so probes.csv and features.csv carry
//! them through the probing stage's own writers and `probecast fit` reads them like any column.

use super::layers::{check_features, score_each};
use super::target::TargetTask;
use super::{Estimator, EstimatorOptions, TransferError};
use crate::features::table::Record;
use crate::features::Embedder;

/// The metric name of the transferability records.
pub const METRIC: &str = "transfer";

/// Estimators named in a `--metrics` list (`logme`, `hscore`, `knn`, `probe`); other names are
/// left to the caller.
pub fn estimators_in(metrics: &[String]) -> Vec<Estimator> {
    let mut out = Vec::new();
    for m in metrics {
        if let Some(e) = Estimator::parse(m) {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// Check that every estimator applies to `task` (only LogME scores regression targets).
pub fn check_estimators(task: &TargetTask, estimators: &[Estimator]) -> Result<(), String> {
    if task.kind == crate::data::glue::TaskKind::Regression {
        if let Some(e) = estimators.iter().find(|e| !e.supports_regression()) {
            return Err(format!(
                "--metrics {} with --target-task {}: {}",
                e.name(),
                task.dir.display(),
                super::not_defined(*e)
            ));
        }
    }
    Ok(())
}

/// The transferability records of one checkpoint on `task`: every estimator, every pooling of
/// the embedder's settings, every hidden state in `layers` (all when `None`).
pub fn target_records(
    embedder: &Embedder,
    task: &TargetTask,
    estimators: &[Estimator],
    layers: Option<&[usize]>,
    seed: u64,
) -> Result<Vec<Record>, String> {
    let pb = indicatif::ProgressBar::hidden();
    let out = task
        .embed(embedder, &pb)
        .map_err(|e| format!("--target-task {}: {e}", task.dir.display()))?;
    let target = task.target();
    let opts = EstimatorOptions {
        seed,
        ..EstimatorOptions::default()
    };
    let mut records = Vec::new();
    for (pooling, f) in &out.features {
        check_features(f).map_err(|e: TransferError| {
            format!(
                "{}: features of {}: {e}",
                embedder.dir().display(),
                task.name
            )
        })?;
        let which: Vec<usize> = match layers {
            Some(l) => l.iter().copied().filter(|&k| k < f.layers.len()).collect(),
            None => (0..f.layers.len()).collect(),
        };
        for &est in estimators {
            let scores = score_each(est, f, &which, &target, &opts)
                .map_err(|e| format!("--target-task {}: {e}", task.dir.display()))?;
            for (&k, s) in which.iter().zip(&scores) {
                let mut push = |name: &str, value: f64| {
                    records.push(Record {
                        task: format!("{}__{name}", task.name),
                        layer: k,
                        pooling: pooling.name().to_string(),
                        probe: est.name().to_string(),
                        seed: "mean".to_string(),
                        metric: METRIC.to_string(),
                        value,
                    })
                };
                push(est.name(), s.value);
                if let Some(m) = s.knn_macro {
                    push("knnmacro", m);
                }
            }
        }
    }
    Ok(records)
}

/// A `probecast probe --target-task` request, checked: the sampled task and the estimators.
pub struct TargetFeatures {
    /// The sampled target task.
    pub task: TargetTask,
    /// The estimators to add as columns.
    pub estimators: Vec<Estimator>,
    /// Seed of the sample and of the probe's split.
    pub seed: u64,
}

impl TargetFeatures {
    /// Check a request before any model runs: the estimators named in `metrics` need a target
    /// task and the other way round; the task is read, sampled (`max_examples`, stratified,
    /// `seed`) and checked; every estimator must apply to it. `Ok(None)` when neither is asked.
    pub fn prepare(
        dir: Option<&std::path::Path>,
        metrics: &[String],
        max_examples: Option<usize>,
        seed: u64,
    ) -> Result<Option<TargetFeatures>, String> {
        let estimators = estimators_in(metrics);
        let dir = match (dir, estimators.is_empty()) {
            (None, true) => return Ok(None),
            (None, false) => {
                return Err(format!(
                    "--metrics {}: transferability metrics need --target-task GLUE_DIR",
                    estimators[0].name()
                ))
            }
            (Some(d), true) => {
                return Err(format!(
                "--target-task {}: name the estimators in --metrics (logme, hscore, knn, probe)",
                d.display()
            ))
            }
            (Some(d), false) => d,
        };
        let task = TargetTask::load(dir, None, max_examples, seed).map_err(|e| e.to_string())?;
        check_estimators(&task, &estimators)?;
        Ok(Some(TargetFeatures {
            task,
            estimators,
            seed,
        }))
    }

    /// What made the columns, for the probing run's manifest.
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target_task": self.task.dir,
            "target_max_examples": self.task.examples.len(),
            "target_estimators": self.estimators.iter().map(|e| e.name()).collect::<Vec<_>>(),
            "seed": self.seed,
        })
    }

    /// The records of one checkpoint (`model` as given to `--model`) with the extraction
    /// settings of the probing run.
    pub fn records(
        &self,
        model: &str,
        embed: &crate::features::EmbedSettings,
        layers: Option<&[usize]>,
    ) -> Result<Vec<Record>, String> {
        let e = Embedder::new(model, embed).map_err(|e| e.to_string())?;
        target_records(&e, &self.task, &self.estimators, layers, self.seed)
    }
}
