//! `probecast rank`: score several checkpoints on one labelled target task with one
//! transferability estimator and rank them. [`RankSettings::check`] validates everything (the
//! settings, the task, the estimator against the task, every model, the output directory)
//! before any model is run; [`rank`] embeds the sample with each model (through the feature
//! cache), scores it and writes `ranking.csv`, `ranking.json` and `manifest.json`.

use super::layers::{score_layers, LayerAgg, LayerResult};
use super::target::{TargetError, TargetTask};
use super::{Estimator, EstimatorOptions, TransferError};
use crate::data::glue::TaskKind;
use crate::encoder::extract::model_name;
use crate::encoder::{EncoderError, Pooling};
use crate::features::EmbedSettings;
use crate::features::Embedder;
use crate::util;
use std::path::PathBuf;

/// Settings of a ranking run.
#[derive(Debug, Clone)]
pub struct RankSettings {
    /// Checkpoints: directories or model ids in the local Hugging Face cache.
    pub models: Vec<String>,
    /// The GLUE task directory.
    pub task: PathBuf,
    /// Task type when the directory name does not say it.
    pub task_type: Option<String>,
    /// The estimator.
    pub estimator: Estimator,
    /// How the hidden states are combined.
    pub layers: LayerAgg,
    /// Pooling of the sentence features.
    pub pooling: Pooling,
    /// Stratified sample size (None: the whole training file).
    pub max_examples: Option<usize>,
    /// Seed of the sample and of the probe's split.
    pub seed: u64,
    /// Extraction settings (batch size, truncation, cache); its poolings are ignored.
    pub embed: EmbedSettings,
    /// Output directory.
    pub out: PathBuf,
}

/// Errors of `probecast rank`: each names the flag, file or model at fault.
#[derive(Debug, thiserror::Error)]
pub enum RankError {
    /// No `--model`.
    #[error("--model: at least one model is needed")]
    NoModels,
    /// `--max-examples` too small.
    #[error("--max-examples {0}: at least 4 examples are needed")]
    MaxExamples(usize),
    /// `--batch-size` 0.
    #[error("--batch-size must be at least 1")]
    BatchSize,
    /// The target task cannot be used.
    #[error(transparent)]
    Task(#[from] TargetError),
    /// The estimator does not apply to the task.
    #[error("--estimator {estimator} on {path}: {why}")]
    NotDefined {
        /// The estimator.
        estimator: &'static str,
        /// The task directory.
        path: String,
        /// Why not.
        why: String,
    },
    /// A model cannot be loaded or run.
    #[error("model {model}: {source}")]
    Model {
        /// The `--model` argument.
        model: String,
        /// The encoder's error (names the file).
        source: EncoderError,
    },
    /// The features of a model cannot be scored.
    #[error("model {model}: {source}")]
    Score {
        /// The model.
        model: String,
        /// Why.
        source: TransferError,
    },
    /// The output directory or a file in it cannot be written.
    #[error("{0}")]
    Output(String),
}

/// What [`RankSettings::check`] found valid, ready to run.
pub struct CheckedRank {
    /// The sampled task.
    pub task: TargetTask,
    /// The models, resolved and hashed.
    pub embedders: Vec<Embedder>,
}

impl RankSettings {
    /// Validate everything before any work: settings, task, estimator on the task, models
    /// (resolved, config read, hashed) and the output directory.
    pub fn check(&self) -> Result<CheckedRank, RankError> {
        if self.models.is_empty() {
            return Err(RankError::NoModels);
        }
        if let Some(m) = self.max_examples {
            if m < 4 {
                return Err(RankError::MaxExamples(m));
            }
        }
        if self.embed.batch_size == 0 {
            return Err(RankError::BatchSize);
        }
        let task = TargetTask::load(
            &self.task,
            self.task_type.as_deref(),
            self.max_examples,
            self.seed,
        )?;
        if task.kind == TaskKind::Regression && !self.estimator.supports_regression() {
            return Err(RankError::NotDefined {
                estimator: self.estimator.name(),
                path: self.task.display().to_string(),
                why: super::not_defined(self.estimator),
            });
        }
        let embed = self.embed_settings();
        let embedders = self
            .models
            .iter()
            .map(|m| {
                Embedder::new(m, &embed).map_err(|source| RankError::Model {
                    model: m.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        util::ensure_writable_dir(&self.out).map_err(RankError::Output)?;
        Ok(CheckedRank { task, embedders })
    }

    fn embed_settings(&self) -> EmbedSettings {
        EmbedSettings {
            poolings: vec![self.pooling],
            ..self.embed.clone()
        }
    }
}

/// One model's line of the ranking.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RankRow {
    /// Position (1 = best).
    pub rank: usize,
    /// Display name (directory name; `_2`, `_3` appended to repeated names).
    pub model: String,
    /// The `--model` argument.
    pub spec: String,
    /// The checkpoint directory.
    pub model_dir: PathBuf,
    /// Content hash of the checkpoint.
    pub model_hash: String,
    /// The estimator's score (higher is better).
    pub score: f64,
    /// kNN only: the macro accuracy.
    pub knn_macro: Option<f64>,
    /// The hidden state the score came from (None for the layer mean).
    pub best_layer: Option<usize>,
    /// Every hidden state's score (`--layers best` only).
    pub per_layer: Vec<f64>,
    /// Whether the features came from the cache.
    pub from_cache: bool,
    /// Seconds embedding (0 when cached).
    pub embed_seconds: f64,
    /// Seconds scoring.
    pub score_seconds: f64,
    /// Seconds in all for this model (loading, hashing, embedding, scoring).
    pub seconds: f64,
}

/// The result of [`rank`].
#[derive(Debug, Clone)]
pub struct RankOutput {
    /// Rows, best first.
    pub rows: Vec<RankRow>,
    /// The task sampled.
    pub task: TargetTask,
    /// Seconds in all.
    pub seconds: f64,
}

/// Run a checked ranking: embed, score, sort, write `ranking.csv`, `ranking.json` and
/// `manifest.json` into `settings.out`. `argv` goes into the manifest.
pub fn rank(
    settings: &RankSettings,
    checked: CheckedRank,
    argv: &[String],
    progress: bool,
) -> Result<RankOutput, RankError> {
    let t0 = std::time::Instant::now();
    let CheckedRank { task, embedders } = checked;
    let target = task.target();
    let opts = EstimatorOptions {
        seed: settings.seed,
        ..EstimatorOptions::default()
    };
    let mut rows: Vec<RankRow> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (spec, e) in settings.models.iter().zip(&embedders) {
        let tm = std::time::Instant::now();
        let pb = if progress {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let out = task.embed(e, &pb).map_err(|source| RankError::Model {
            model: spec.clone(),
            source,
        })?;
        let ts = std::time::Instant::now();
        let feats = &out.features[&settings.pooling];
        let LayerResult {
            score,
            best_layer,
            per_layer,
        } = score_layers(settings.estimator, feats, &target, settings.layers, &opts).map_err(
            |source| RankError::Score {
                model: spec.clone(),
                source,
            },
        )?;
        let score_seconds = ts.elapsed().as_secs_f64();
        let base = model_name(spec);
        let mut label = base.clone();
        let mut i = 2;
        while names.contains(&label) {
            label = format!("{base}_{i}");
            i += 1;
        }
        names.push(label.clone());
        rows.push(RankRow {
            rank: 0,
            model: label,
            spec: spec.clone(),
            model_dir: e.dir().to_path_buf(),
            model_hash: e.hash().to_string(),
            score: score.value,
            knn_macro: score.knn_macro,
            best_layer,
            per_layer: per_layer.iter().map(|s| s.value).collect(),
            from_cache: out.from_cache,
            embed_seconds: out.seconds,
            score_seconds,
            seconds: tm.elapsed().as_secs_f64(),
        });
    }
    // Best first; equal scores keep the command-line order.
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    let output = RankOutput {
        rows,
        task,
        seconds: t0.elapsed().as_secs_f64(),
    };
    write_outputs(settings, &output, argv)?;
    Ok(output)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// `ranking.csv`: `rank,model,estimator,layers,pooling,score,knn_macro,best_layer,seconds`.
pub fn ranking_csv(settings: &RankSettings, rows: &[RankRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "rank",
        "model",
        "estimator",
        "layers",
        "pooling",
        "score",
        "knn_macro",
        "best_layer",
        "seconds",
    ];
    w.write_record(header).expect("in-memory write");
    for r in rows {
        w.write_record([
            r.rank.to_string(),
            r.model.clone(),
            settings.estimator.name().to_string(),
            settings.layers.name().to_string(),
            settings.pooling.name().to_string(),
            format!("{}", r.score),
            opt(r.knn_macro),
            r.best_layer.map(|l| l.to_string()).unwrap_or_default(),
            format!("{:.3}", r.seconds),
        ])
        .expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

fn settings_json(s: &RankSettings) -> serde_json::Value {
    serde_json::json!({
        "estimator": s.estimator.name(),
        "layers": s.layers.name(),
        "pooling": s.pooling.name(),
        "max_examples": s.max_examples,
        "seed": s.seed,
        "task_type": s.task_type,
        "batch_size": s.embed.batch_size,
        "max_length": s.embed.max_length,
        "cache_dir": s.embed.cache_dir,
        "knn_k": super::knn::K,
        "logme": { "max_iter": super::logme::MAX_ITER, "tol": super::logme::TOL,
                   "log_det": "all d eigenvalues (zeros padded)" },
        "probe": { "test_fraction": super::linear::TEST_FRACTION, "c": 1.0 },
    })
}

fn task_json(t: &TargetTask) -> serde_json::Value {
    serde_json::json!({
        "name": t.name, "dir": t.dir, "file": t.file, "kind": t.kind,
        "classes": t.class_names, "file_examples": t.file_examples,
        "sampled_examples": t.examples.len(), "pairs": t.is_pairs(),
    })
}

fn write_outputs(
    settings: &RankSettings,
    out: &RankOutput,
    argv: &[String],
) -> Result<(), RankError> {
    let wr = |name: &str, bytes: &[u8]| {
        let p = settings.out.join(name);
        util::write_atomic(&p, bytes)
            .map_err(|e| RankError::Output(format!("{}: cannot write: {e}", p.display())))
    };
    wr("ranking.csv", &ranking_csv(settings, &out.rows))?;
    let ranking = serde_json::json!({
        "task": task_json(&out.task),
        "settings": settings_json(settings),
        "ranking": out.rows,
    });
    let pretty = serde_json::to_string_pretty(&ranking).expect("serialisable");
    wr("ranking.json", pretty.as_bytes())?;
    let mut m = crate::manifest::Manifest::new("rank", argv);
    for r in &out.rows {
        m.input("model", &r.model_dir, Some(r.model_hash.clone()));
    }
    m.input_file("task", &out.task.file);
    m.settings = settings_json(settings);
    m.outputs = vec!["ranking.csv".into(), "ranking.json".into()];
    m.timing.seconds = out.seconds;
    m.set_section(serde_json::json!({ "task": task_json(&out.task), "ranking": out.rows }));
    m.write(&settings.out).map_err(RankError::Output)
}
