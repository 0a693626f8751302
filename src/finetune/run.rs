//! `probecast finetune` as a library call: fine-tune every (checkpoint, task, seed), then write
//! `finetune.csv`, `targets.csv` ([`super::results`]) and the manifest into the output
//! directory. Settings, tasks and checkpoints are all checked before the first run starts.

use super::results::{finetune_csv, targets_csv, RunRow};
use super::train::{finetune, RunResult, TrainSettings};
use super::FinetuneError;
use crate::data::glue::{self, GlueSplit};
use crate::encoder::extract::model_name;
use crate::encoder::resolve::resolve_model;
use crate::manifest::Manifest;
use crate::util::{self, SettingsError};
use std::path::{Path, PathBuf};

/// What to fine-tune, beyond the training settings.
#[derive(Debug, Clone)]
pub struct FinetuneJob {
    /// Checkpoints (directories or cached model ids).
    pub models: Vec<String>,
    /// GLUE task directories (train.tsv + dev.tsv).
    pub tasks: Vec<PathBuf>,
    /// Task type when a directory name is not a GLUE task name.
    pub task_type: Option<String>,
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
    /// Write each fine-tuned model under `<out>/models/<model>-<task>-seed<seed>`.
    pub save_models: bool,
}

impl FinetuneJob {
    /// At least one seed, each seed once.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.seeds.is_empty() {
            return Err(SettingsError::new("seeds", "needs at least one seed"));
        }
        for (i, s) in self.seeds.iter().enumerate() {
            if self.seeds[..i].contains(s) {
                return Err(SettingsError::new(
                    "seeds",
                    format!("seed {s} is given twice (every run would be written twice)"),
                ));
            }
        }
        Ok(())
    }
}

/// One finished run.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// Checkpoint name.
    pub model: String,
    /// GLUE task name.
    pub task: String,
    /// Seed.
    pub seed: u64,
    /// The result.
    pub result: RunResult,
}

/// Fine-tune every (model, task, seed) of `job` with `s` and write the tables and the manifest
/// into `out`. `on_run` is called after each run (to print it).
pub fn finetune_to_dir(
    job: &FinetuneJob,
    s: &TrainSettings,
    out: &Path,
    command_line: &[String],
    on_run: &mut dyn FnMut(&FinishedRun),
) -> Result<Vec<FinishedRun>, FinetuneError> {
    s.check()?;
    job.check()?;
    let tasks: Vec<(GlueSplit, GlueSplit)> = job
        .tasks
        .iter()
        .map(|t| glue::read_task(t, job.task_type.as_deref()))
        .collect::<Result<_, _>>()?;
    for (_, dev) in &tasks {
        if let Some(w) = constant_regression_gold(dev) {
            eprintln!("warning: {w}");
        }
    }
    let mut models = Vec::new();
    for m in &job.models {
        models.push((model_name(m), resolve_model(m)?));
    }
    let tx = crate::outdir::OutputTx::begin(out).map_err(FinetuneError::Settings)?;
    let out = tx.dir();
    let t0 = std::time::Instant::now();
    let mut runs: Vec<FinishedRun> = Vec::new();
    for (name, dir) in &models {
        for (train, dev) in &tasks {
            for &seed in &job.seeds {
                let pb = crate::util::progress_bar(
                    0,
                    "{prefix} {msg} [{bar:25}] {pos}/{len} steps ({per_sec}, eta {eta})",
                );
                pb.set_prefix(format!("{name} {} seed {seed}", train.spec.name));
                let save = job.save_models.then(|| {
                    out.join("models")
                        .join(format!("{name}-{}-seed{seed}", train.spec.name))
                });
                let r = finetune(dir, train, dev, s, seed, save.as_deref(), &pb)?;
                pb.finish_and_clear();
                let run = FinishedRun {
                    model: name.clone(),
                    task: train.spec.name.to_string(),
                    seed,
                    result: r,
                };
                on_run(&run);
                runs.push(run);
            }
        }
    }
    let rows: Vec<RunRow> = runs
        .iter()
        .map(|r| RunRow {
            model: &r.model,
            task: &r.task,
            seed: r.seed,
            result: &r.result,
        })
        .collect();
    let mut names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    names.dedup();
    let task_names: Vec<&str> = tasks.iter().map(|(t, _)| t.spec.name).collect();
    let w = |f: &str, s: &str| {
        util::write_atomic_str(&out.join(f), s)
            .map_err(|e| FinetuneError::Settings(format!("{}: {e}", out.join(f).display())))
    };
    w("finetune.csv", &finetune_csv(&rows))?;
    w("targets.csv", &targets_csv(&names, &task_names, &rows))?;
    let mut m = Manifest::new("finetune", command_line);
    for (_, d) in &models {
        m.input("model", d, None);
    }
    for (t, d) in &tasks {
        m.input_file("train", &t.path);
        m.input_file("dev", &d.path);
    }
    m.set_settings(
        serde_json::json!({ "train": s, "seeds": job.seeds, "task_type": job.task_type }),
    );
    m.outputs = vec!["finetune.csv".into(), "targets.csv".into()];
    m.set_section(serde_json::json!({
        "models": models.iter().map(|(n, d)| serde_json::json!({"name": n, "dir": d})).collect::<Vec<_>>(),
        "primary_metric": "best epoch's dev value, mean over seeds (targets.csv)",
        "runs": runs.iter().map(|r| serde_json::json!({"model": r.model, "task": r.task, "seed": r.seed, "result": r.result})).collect::<Vec<_>>(),
    }));
    m.set_elapsed(t0);
    m.write(out).map_err(FinetuneError::Settings)?;
    tx.commit().map_err(FinetuneError::Settings)?;
    Ok(runs)
}

/// A regression dev set whose gold scores are all equal (legal, but every correlation on it is
/// undefined and reported as NaN): the warning to print, if so.
pub fn constant_regression_gold(dev: &GlueSplit) -> Option<String> {
    if dev.spec.kind != crate::data::glue::TaskKind::Regression {
        return None;
    }
    let first = dev.examples.first()?.target;
    dev.examples.iter().all(|e| e.target == first).then(|| {
        format!(
            "{}: every dev score is {first}: the correlations are undefined (reported as NaN)",
            dev.path.display()
        )
    })
}
