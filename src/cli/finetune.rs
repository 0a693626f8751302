//! `probecast finetune`: fine-tune checkpoints on GLUE tasks for ground-truth scores.

use super::CliError;
use crate::data::glue;
use crate::encoder::extract::model_name;
use crate::encoder::resolve::resolve_model;
use crate::finetune::train::{finetune, TrainSettings};
use crate::util;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `probecast finetune`.
#[derive(Debug, clap::Args)]
pub struct FinetuneArgs {
    /// Checkpoints (HF directories or cached model ids); repeat or comma-separate.
    #[arg(long, required = true, value_delimiter = ',', num_args = 1..)]
    pub model: Vec<String>,
    /// GLUE task directories holding train.tsv and dev.tsv; repeat or comma-separate.
    #[arg(long, required = true, value_delimiter = ',', num_args = 1..)]
    pub task: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Task type when the directory name is not a GLUE task name (cola, sst2, mrpc, stsb, rte, ...).
    #[arg(long)]
    pub task_type: Option<String>,
    /// Epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Batch size.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Truncation length in tokens.
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    /// Fraction of steps for linear warmup.
    #[arg(long, default_value_t = 0.06)]
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Seeds, comma-separated (one run per seed).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub seeds: Vec<u64>,
    /// Stratified subsample of the training set, for cheap runs.
    #[arg(long)]
    pub max_train_examples: Option<usize>,
    /// Stratified subsample of the dev set (same examples for every seed), for cheap smoke
    /// runs; the scores are then not standard GLUE dev scores.
    #[arg(long)]
    pub max_dev_examples: Option<usize>,
    /// Write each fine-tuned model as a Hugging Face directory under <out>/models/.
    #[arg(long)]
    pub save_model: bool,
}

/// Run the command.
pub fn run(a: FinetuneArgs, argv: &[String]) -> Result<(), CliError> {
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        return Err(CliError(format!("--lr must be positive, got {}", a.lr)));
    }
    if a.epochs == 0 || a.batch_size == 0 {
        return Err(CliError(
            "--epochs and --batch-size must be at least 1".into(),
        ));
    }
    if a.max_train_examples == Some(0) || a.max_dev_examples == Some(0) {
        return Err(CliError(
            "--max-train-examples and --max-dev-examples must be at least 1".into(),
        ));
    }
    if !(0.0..1.0).contains(&a.warmup_ratio) {
        return Err(CliError(format!(
            "--warmup-ratio must be in [0, 1), got {}",
            a.warmup_ratio
        )));
    }
    let mut tasks = Vec::new();
    for t in &a.task {
        tasks.push(glue::read_task(t, a.task_type.as_deref())?);
    }
    let mut models = Vec::new();
    for m in &a.model {
        models.push((model_name(m), resolve_model(m)?));
    }
    util::ensure_writable_dir(&a.out).map_err(CliError)?;
    let s = TrainSettings {
        epochs: a.epochs,
        lr: a.lr,
        batch_size: a.batch_size,
        max_length: a.max_length,
        warmup_ratio: a.warmup_ratio,
        weight_decay: a.weight_decay,
        max_train_examples: a.max_train_examples,
        max_dev_examples: a.max_dev_examples,
        ..Default::default()
    };
    let mut tidy = String::from("model,task,seed,epoch,metric,value\n");
    let mut wide: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    let mut runs = Vec::new();
    let t0 = std::time::Instant::now();
    for (name, dir) in &models {
        for (train, dev) in &tasks {
            for &seed in &a.seeds {
                let pb = indicatif::ProgressBar::new(0);
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:25}] {pos}/{len} steps ({per_sec}, eta {eta})",
                    )
                    .unwrap()
                    .progress_chars("=> "),
                );
                pb.set_message(format!("{name} {} seed {seed}", train.spec.name));
                let save = a.save_model.then(|| {
                    a.out
                        .join("models")
                        .join(format!("{name}-{}-seed{seed}", train.spec.name))
                });
                let r = finetune(
                    dir,
                    train,
                    dev,
                    &s,
                    seed,
                    save.as_deref(),
                    &mut |st, tot, loss| {
                        pb.set_length(tot as u64);
                        pb.set_position(st as u64);
                        pb.set_message(format!(
                            "{name} {} seed {seed} loss {loss:.3}",
                            train.spec.name
                        ));
                    },
                )?;
                pb.finish_and_clear();
                for e in &r.epochs {
                    tidy.push_str(&format!(
                        "{name},{},{seed},{},train_loss,{}\n",
                        train.spec.name, e.epoch, e.train_loss
                    ));
                    for (m, v) in &e.metrics {
                        tidy.push_str(&format!(
                            "{name},{},{seed},{},{m},{v}\n",
                            train.spec.name, e.epoch
                        ));
                    }
                }
                println!(
                    "{name} {} seed {seed}: best {} {:.4} at epoch {} ({} examples, {} steps, {:.0} s)",
                    train.spec.name, r.primary, r.best, r.best_epoch, r.train_examples, r.steps, r.seconds
                );
                wide.entry(name.clone())
                    .or_default()
                    .entry(train.spec.name.to_string())
                    .or_default()
                    .push(r.best);
                runs.push(serde_json::json!({"model": name, "task": train.spec.name, "seed": seed, "result": r}));
            }
        }
    }
    let task_names: Vec<&str> = tasks.iter().map(|(t, _)| t.spec.name).collect();
    let mut targets = format!("model,{}\n", task_names.join(","));
    for (m, per) in &wide {
        let vals: Vec<String> = task_names
            .iter()
            .map(|t| {
                let v = &per[*t];
                format!("{}", v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        targets.push_str(&format!("{m},{}\n", vals.join(",")));
    }
    let w = |f: &str, s: &str| {
        util::write_atomic_str(&a.out.join(f), s)
            .map_err(|e| CliError(format!("{}: {e}", a.out.join(f).display())))
    };
    w("finetune.csv", &tidy)?;
    w("targets.csv", &targets)?;
    let manifest = serde_json::json!({
        "probecast_version": env!("CARGO_PKG_VERSION"),
        "command": "finetune",
        "command_line": argv,
        "inputs": {
            "models": models.iter().map(|(n, d)| serde_json::json!({"name": n, "dir": d})).collect::<Vec<_>>(),
            "tasks": tasks.iter().map(|(t, d)| serde_json::json!({"task": t.spec.name, "train": t.path, "dev": d.path,
                "train_sha256": util::sha256_file(&t.path).ok(), "dev_sha256": util::sha256_file(&d.path).ok()})).collect::<Vec<_>>(),
        },
        "settings": s,
        "seeds": a.seeds,
        "primary_metric": "best epoch's dev value, mean over seeds (targets.csv)",
        "runs": runs,
        "timing": {"total_seconds": t0.elapsed().as_secs_f64()},
        "created_unix": util::unix_time(),
    });
    util::write_json(&a.out.join("manifest.json"), &manifest).map_err(CliError)?;
    Ok(())
}
