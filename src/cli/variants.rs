//! `probecast variants`: write checkpoint variants (noise, pruning, truncation, quantisation,
//! corruption by masked-LM training on word-shuffled text) as Hugging Face directories.

use super::CliError;
use crate::encoder::extract::model_name;
use crate::encoder::resolve::resolve_model;
use crate::zoo::mlm::MlmSettings;
use crate::zoo::run::{run_variants, VariantsSettings};
use std::path::PathBuf;

/// Arguments of `probecast variants`.
#[derive(Debug, clap::Args)]
pub struct VariantsArgs {
    /// Base checkpoint (HF directory or cached model id).
    #[arg(long)]
    pub model: String,
    /// Output directory: one sub-directory per variant, variants.csv, manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Gaussian noise scales relative to each weight matrix's standard deviation.
    #[arg(long, value_delimiter = ',')]
    pub noise: Vec<f64>,
    /// Global magnitude-pruning sparsities of the transformer layers' linear weights, in [0, 1).
    #[arg(long, value_delimiter = ',')]
    pub prune: Vec<f64>,
    /// Keep the first k transformer layers.
    #[arg(long, value_delimiter = ',')]
    pub truncate: Vec<usize>,
    /// Per-output-channel symmetric fake quantisation: int8, int4 (int2 ... int8).
    #[arg(long, value_delimiter = ',')]
    pub quantize: Vec<String>,
    /// Steps of continued masked-LM training on word-shuffled --corpus at which to save.
    #[arg(long, value_delimiter = ',')]
    pub corrupt_steps: Vec<usize>,
    /// Text file, one text per line, for --corrupt-steps.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Seed of the noise, the shuffling and the training.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replace an output directory that holds a different run.
    #[arg(long)]
    pub force: bool,
    /// Peak learning rate of the corruption training.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Lines per step of the corruption training.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Truncation length in tokens of the corruption training.
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    /// Fraction of the corruption steps used for linear warmup.
    #[arg(long, default_value_t = 0.06)]
    pub warmup_ratio: f64,
}

/// Run the command.
pub fn run(a: VariantsArgs, argv: &[String]) -> Result<(), CliError> {
    let model_dir = resolve_model(&a.model)?;
    let spec = VariantsSettings {
        family: model_name(&a.model),
        model_dir,
        out: a.out,
        noise: a.noise,
        prune: a.prune,
        truncate: a.truncate,
        quantize: a.quantize,
        corrupt_steps: a.corrupt_steps,
        corpus: a.corpus,
        seed: a.seed,
        force: a.force,
        mlm: MlmSettings {
            lr: a.lr,
            batch_size: a.batch_size,
            max_length: a.max_length,
            warmup_ratio: a.warmup_ratio,
            ..Default::default()
        },
    };
    let pb = crate::util::progress_bar(0, "{msg} [{bar:25}] {pos}/{len} ({elapsed})");
    let rows = run_variants(spec, argv, &pb)?;
    pb.finish_and_clear();
    for r in &rows {
        println!("{} ({} {})", r.variant, r.operation, r.parameters);
    }
    Ok(())
}
