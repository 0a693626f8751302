//! `probecast finetune`: fine-tune checkpoints on GLUE tasks for ground-truth scores.

use super::CliError;
use crate::finetune::run::{finetune_to_dir, FinetuneJob};
use crate::finetune::train::TrainSettings;
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
    let job = FinetuneJob {
        models: a.model,
        tasks: a.task,
        task_type: a.task_type,
        seeds: a.seeds,
        save_models: a.save_model,
    };
    finetune_to_dir(&job, &s, &a.out, argv, &mut |r| {
        let x = &r.result;
        println!(
            "{} {} seed {}: best {} {:.4} at epoch {} ({} examples, {} steps, {:.0} s)",
            r.model,
            r.task,
            r.seed,
            x.primary,
            x.best,
            x.best_epoch,
            x.train_examples,
            x.steps,
            x.seconds
        );
    })?;
    Ok(())
}
