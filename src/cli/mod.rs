//! Command-line interface: clap definitions, one file per command. No logic beyond wiring.

use clap::{Parser, Subcommand};

pub mod demo;
pub mod embed;
pub mod finetune;
pub mod fit;
pub mod predict;
pub mod probe;
pub mod rank;
pub mod report;
pub mod study;
pub mod tasks;
pub mod transfer_compare;
pub mod variants;

/// probecast: forecast fine-tuning scores of encoder checkpoints from probing.
#[derive(Debug, Parser)]
#[command(name = "probecast", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Revision (branch, tag or commit) of every `--model` given as a Hugging Face model id
    /// (downloaded into the Hugging Face cache when not there).
    #[arg(long, global = true, default_value = "main")]
    pub revision: String,
}

/// The commands, one per pipeline stage.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Extract every layer's pooled sentence features from a checkpoint.
    Embed(embed::EmbedArgs),
    /// Train probing classifiers per (task, layer, pooling) and write the features table.
    Probe(probe::ProbeArgs),
    /// Rank checkpoints on a labelled GLUE task with a transferability estimator.
    Rank(rank::RankArgs),
    /// Kendall tau of each estimator's ranking, the predictor and a parameter-count baseline
    /// against fine-tuned scores.
    TransferCompare(transfer_compare::TransferCompareArgs),
    /// Fine-tune checkpoints on GLUE tasks for ground-truth scores.
    Finetune(finetune::FinetuneArgs),
    /// Fit a predictor from probing features to fine-tuning scores, with honest validation.
    Fit(fit::FitArgs),
    /// Apply a saved predictor to a features table.
    Predict(predict::PredictArgs),
    /// Write checkpoint variants (noise, pruning, truncation, quantisation, corruption).
    Variants(variants::VariantsArgs),
    /// Build SentEval probing tasks from treebanks (`tasks build`), or list them (`tasks list`).
    Tasks(tasks::TasksArgs),
    /// The whole loop on built-in data: grammar, model zoo, probing, fine-tuning, fit, table.
    Demo(demo::DemoArgs),
    /// Write a self-contained HTML report (and SVG figures) from output directories.
    Report(report::ReportArgs),
    /// Run a study file: variants, probing, fine-tuning, fit and predict as resumable units.
    Study(study::StudyArgs),
}

/// Encoder options shared by the commands that embed sentences (`embed`, `probe`).
#[derive(Debug, clap::Args)]
pub struct EncoderArgs {
    /// Poolings, comma-separated: cls (the architecture's summary token: the first token,
    /// [CLS] / <s>, for BERT, RoBERTa, XLM-R, DistilBERT, MPNet, ELECTRA, ALBERT, DeBERTa v1/v2/v3
    /// and ModernBERT; the last token, <cls>, for XLNet), mean (over the real tokens), first (the
    /// first real token for every architecture: the seed paper's protocol).
    #[arg(long, default_value = "cls,mean", value_delimiter = ',')]
    pub pooling: Vec<crate::encoder::Pooling>,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Truncation length in tokens (special tokens included).
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    /// Feature cache directory (default: $PROBECAST_CACHE or ~/.cache/probecast).
    #[arg(long)]
    pub cache_dir: Option<std::path::PathBuf>,
}

impl EncoderArgs {
    /// The extraction settings: poolings sorted and deduplicated, the default cache directory
    /// when none is given.
    pub fn settings(&self) -> crate::features::EmbedSettings {
        let mut poolings = self.pooling.clone();
        poolings.sort();
        poolings.dedup();
        crate::features::EmbedSettings {
            poolings,
            batch_size: self.batch_size,
            max_length: self.max_length,
            cache_dir: self
                .cache_dir
                .clone()
                .unwrap_or_else(crate::features::cache::FeatureCache::default_dir),
        }
    }
}

/// An error that reaches the command line: printed as one line, exit code 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// Parse the command line, run the command and return the process exit code
/// (0 success, 2 bad input or usage).
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    crate::encoder::resolve::set_revision(&cli.revision);
    let argv: Vec<String> = std::env::args().collect();
    let res = match cli.command {
        Command::Embed(a) => embed::run(a, &argv),
        Command::Probe(a) => probe::run(a, &argv),
        Command::Rank(a) => rank::run(a, &argv),
        Command::TransferCompare(a) => transfer_compare::run(a, &argv),
        Command::Finetune(a) => finetune::run(a, &argv),
        Command::Fit(a) => fit::run(a, &argv),
        Command::Predict(a) => predict::run(a, &argv),
        Command::Variants(a) => variants::run(a, &argv),
        Command::Tasks(a) => tasks::run(a, &argv),
        Command::Demo(a) => demo::run(a, &argv),
        Command::Report(a) => report::run(a, &argv),
        Command::Study(a) => study::run(a, &argv),
    };
    match res {
        Ok(()) => 0,
        Err(CliError(msg)) => {
            eprintln!("error: {msg}");
            2
        }
    }
}
