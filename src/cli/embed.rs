//! `probecast embed`: every layer's pooled features of a SentEval file.

use super::CliError;
use crate::cache::save_features;
use crate::data::senteval;
use crate::encoder::extract;
use crate::util;
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
    if a.encoder.batch_size == 0 {
        return Err(CliError("--batch-size must be at least 1".into()));
    }
    let data = senteval::read(&a.data)?;
    util::ensure_writable_dir(&a.out).map_err(CliError)?;
    let settings = a.encoder.settings();
    let t0 = std::time::Instant::now();
    let out = extract::embed_dataset_with_progress(&a.model, &data, &settings, true)?;
    for (p, f) in &out.features {
        let path = a.out.join(format!("{p}.safetensors"));
        save_features(&path, f)?;
    }
    let labels: Vec<serde_json::Value> = data
        .examples
        .iter()
        .map(|e| serde_json::json!({"split": e.split.code(), "label": e.label}))
        .collect();
    util::write_atomic_str(
        &a.out.join("labels.json"),
        &serde_json::to_string(&labels).expect("json"),
    )
    .map_err(|e| CliError(format!("{}: {e}", a.out.display())))?;
    let data_file_hash = util::sha256_file(&a.data)?;
    let f0 = out.features.values().next().expect("at least one pooling");
    let manifest = serde_json::json!({
        "probecast_version": env!("CARGO_PKG_VERSION"),
        "command": "embed",
        "command_line": argv,
        "inputs": {
            "model": a.model,
            "model_dir": out.model_dir,
            "model_hash": out.model_hash,
            "data": a.data,
            "data_file_sha256": data_file_hash,
            "sentences_sha256": out.data_hash,
        },
        "settings": {
            "pooling": settings.poolings,
            "batch_size": settings.batch_size,
            "max_length": settings.max_length,
            "cache_dir": settings.cache_dir,
            "feature_code_version": crate::cache::FEATURE_CODE_VERSION,
        },
        "outputs": {
            "sentences": f0.n,
            "hidden_size": f0.dim,
            "hidden_states": f0.layers.len(),
            "files": out.features.keys().map(|p| format!("{p}.safetensors")).chain(["labels.json".to_string()]).collect::<Vec<_>>(),
        },
        "cache_hit": out.from_cache,
        "timing": {
            "total_seconds": t0.elapsed().as_secs_f64(),
            "forward_seconds": out.seconds,
            "tokens": out.tokens,
            "tokens_per_second": if out.seconds > 0.0 { out.tokens as f64 / out.seconds } else { 0.0 },
        },
        "created_unix": util::unix_time(),
    });
    util::write_json(&a.out.join("manifest.json"), &manifest).map_err(CliError)?;
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
