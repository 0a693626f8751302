//! `probecast rank`: rank checkpoints on a labelled target task with a transferability
//! estimator (parsing and printing; the work is [`crate::transfer::rank`]).

use super::CliError;
use crate::encoder::Pooling;
use crate::features::EmbedSettings;
use crate::transfer::layers::LayerAgg;
use crate::transfer::rank::{self, RankSettings};
use crate::transfer::Estimator;
use std::path::PathBuf;

/// Arguments of `probecast rank`.
#[derive(Debug, clap::Args)]
pub struct RankArgs {
    /// Checkpoints: Hugging Face model directories or model ids in the local HF cache (repeat
    /// the flag or separate with commas).
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',')]
    pub model: Vec<String>,
    /// GLUE task directory (its train.tsv is sampled; the task type comes from the name).
    #[arg(long)]
    pub task: PathBuf,
    /// Task type when the directory name does not say it (rte, mrpc, stsb, ...).
    #[arg(long)]
    pub task_type: Option<String>,
    /// Estimator: logme, hscore, knn, probe.
    #[arg(long, default_value = "logme")]
    pub estimator: String,
    /// Hidden states: mean (features averaged over layers), best (best layer), last.
    #[arg(long, default_value = "mean")]
    pub layers: String,
    /// Sampling, pooling and extraction.
    #[command(flatten)]
    pub sample: SampleArgs,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// The target-task sample and its features, shared by `rank` and `transfer-compare`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Pooling of the sentence features: cls or mean.
    #[arg(long, default_value = "mean")]
    pub pooling: String,
    /// Stratified sample of the training file (default: all of it).
    #[arg(long)]
    pub max_examples: Option<usize>,
    /// Seed of the sample (and of the probe's train/test split).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Truncation length in tokens (special tokens included).
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    /// Feature cache directory (default: $PROBECAST_CACHE or ~/.cache/probecast).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

impl SampleArgs {
    /// The pooling and the extraction settings.
    pub fn embed(&self) -> Result<(Pooling, EmbedSettings), CliError> {
        let pooling: Pooling = self
            .pooling
            .parse()
            .map_err(|e| CliError(format!("--pooling: {e}")))?;
        let embed = EmbedSettings {
            poolings: vec![pooling],
            batch_size: self.batch_size,
            max_length: self.max_length,
            cache_dir: self
                .cache_dir
                .clone()
                .unwrap_or_else(crate::features::cache::FeatureCache::default_dir),
        };
        Ok((pooling, embed))
    }
}

fn settings(a: &RankArgs) -> Result<RankSettings, CliError> {
    let estimator = Estimator::parse(&a.estimator).ok_or_else(|| {
        CliError(format!(
            "--estimator: unknown estimator {:?} (expected logme, hscore, knn, probe)",
            a.estimator
        ))
    })?;
    let layers = LayerAgg::parse(&a.layers).ok_or_else(|| {
        CliError(format!(
            "--layers: unknown aggregation {:?} (expected mean, best, last)",
            a.layers
        ))
    })?;
    let (pooling, embed) = a.sample.embed()?;
    Ok(RankSettings {
        models: a.model.clone(),
        task: a.task.clone(),
        task_type: a.task_type.clone(),
        estimator,
        layers,
        pooling,
        max_examples: a.sample.max_examples,
        seed: a.sample.seed,
        embed,
        out: a.out.clone(),
    })
}

/// Run the command.
pub fn run(a: RankArgs, argv: &[String]) -> Result<(), CliError> {
    let s = settings(&a)?;
    let checked = s.check()?;
    let out = rank::rank(&s, checked, argv, true)?;
    println!(
        "{} ({} of {} examples{}), {} on {} pooling, layers {}:",
        out.task.name,
        out.task.examples.len(),
        out.task.file_examples,
        if out.task.is_pairs() { ", pairs" } else { "" },
        s.estimator.name(),
        s.pooling.name(),
        s.layers.name()
    );
    let width = out
        .rows
        .iter()
        .map(|r| r.model.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:>4}  {:<width$}  {:>12}  {:>10}  {:>8}",
        "rank", "model", "score", "best layer", "seconds"
    );
    for r in &out.rows {
        let mut score = format!("{:.4}", r.score);
        if let Some(m) = r.knn_macro {
            score = format!("{score} (macro {m:.4})");
        }
        println!(
            "{:>4}  {:<width$}  {:>12}  {:>10}  {:>8.2}",
            r.rank,
            r.model,
            score,
            r.best_layer.map(|l| l.to_string()).unwrap_or("-".into()),
            r.seconds
        );
    }
    println!("-> {}", s.out.display());
    Ok(())
}
