//! The demo's fine-tuning stage: every checkpoint is fine-tuned on both downstream tasks with
//! `finetune::train::finetune`; each run's result is saved (`runs/<id>--<task>.json`, so an
//! interrupted stage resumes) and `targets.csv` holds the best dev score per checkpoint and task
//! (the primary metric: Matthews correlation for acceptability, mean of F1 and accuracy for
//! paraphrase). Both tables are written by `finetune::results`, as `probecast finetune` writes
//! them.

use super::zoo::ZooEntry;
use super::{stage, DemoError, DemoSettings};
use crate::data::glue::{self, GlueSplit};
use crate::finetune::results::{finetune_csv, targets_csv, RunRow};
use crate::finetune::train::{finetune, RunResult, TrainSettings};
use std::path::{Path, PathBuf};

/// The downstream tasks: (name, GLUE layout it is written in).
pub const TASKS: [(&str, &str); 2] = [("acceptability", "cola"), ("paraphrase", "mrpc")];

/// Fine-tuning settings of the demo.
pub fn train_settings(s: &DemoSettings) -> TrainSettings {
    TrainSettings {
        epochs: s.ft_epochs,
        lr: s.ft_lr,
        batch_size: 32,
        max_length: s.max_length,
        warmup_ratio: 0.1,
        weight_decay: 0.01,
        max_train_examples: None,
        ..Default::default()
    }
}

/// Fine-tune every checkpoint on every task; write targets.csv and finetune.csv.
pub fn run(
    s: &DemoSettings,
    zoo: &[ZooEntry],
    task_dirs: &[PathBuf],
    out: &Path,
) -> Result<(), DemoError> {
    let splits: Vec<(GlueSplit, GlueSplit)> = TASKS
        .iter()
        .zip(task_dirs)
        .map(|((_, layout), d)| glue::read_task(d, Some(layout)))
        .collect::<Result<_, _>>()?;
    let runs_dir = stage::mkdir(&out.join("runs"))?;
    let ts = train_settings(s);
    let pb = super::bar((zoo.len() * TASKS.len()) as u64, "  fine-tuning");
    let mut runs: Vec<(String, &str, RunResult)> = Vec::new();
    for e in zoo {
        for ((name, _), (train, dev)) in TASKS.iter().zip(&splits) {
            pb.set_message(format!("  fine-tuning {} on {name}", e.id));
            let path = runs_dir.join(format!("{}--{name}.json", e.id));
            let saved: Option<RunResult> = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            let r = match saved {
                Some(r) => r,
                None => {
                    let r = finetune(
                        &e.dir,
                        train,
                        dev,
                        &ts,
                        s.seed,
                        None,
                        &indicatif::ProgressBar::hidden(),
                    )?;
                    let v = serde_json::to_value(&r).expect("json");
                    crate::util::write_json(&path, &v).map_err(DemoError::Io)?;
                    r
                }
            };
            runs.push((e.id.clone(), name, r));
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let rows: Vec<RunRow> = runs
        .iter()
        .map(|(m, t, r)| RunRow {
            model: m,
            task: t,
            seed: s.seed,
            result: r,
        })
        .collect();
    let models: Vec<&str> = zoo.iter().map(|e| e.id.as_str()).collect();
    let tasks: Vec<&str> = TASKS.iter().map(|t| t.0).collect();
    stage::write(
        &out.join("targets.csv"),
        &targets_csv(&models, &tasks, &rows),
    )?;
    stage::write(&out.join("finetune.csv"), &finetune_csv(&rows))?;
    Ok(())
}
