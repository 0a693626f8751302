//! `probecast embed`: every layer's pooled features of a SentEval file.

use super::CliError;
use std::path::PathBuf;

/// Arguments of `probecast embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// Checkpoint: a Hugging Face model directory, or a model id in the local HF cache.
    #[arg(long)]
    pub model: String,
    /// SentEval-format data file (split<TAB>label<TAB>sentence).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Encoder options.
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
}

/// Run the command.
pub fn run(a: EmbedArgs, argv: &[String]) -> Result<(), CliError> {
    let settings = a.encoder.settings();
    let run = crate::features::embed::embed_to_dir(
        &a.model,
        &a.data,
        &a.out,
        &settings,
        argv,
        &indicatif::ProgressBar::new(0),
    )?;
    let out = &run.output;
    let f0 = out.features.values().next().expect("at least one pooling");
    println!(
        "embedded {} sentences x {} hidden states x {} ({}) with {} -> {}{}",
        f0.n,
        f0.layers.len(),
        f0.dim,
        settings
            .poolings
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(","),
        out.model_name,
        a.out.display(),
        if out.from_cache {
            " (from cache)".to_string()
        } else {
            format!(
                ", {:.0} tokens/s",
                out.tokens as f64 / out.seconds.max(1e-9)
            )
        }
    );
    Ok(())
}
