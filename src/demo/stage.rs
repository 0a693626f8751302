//! Resumable stages: a stage's directory holds its outputs and, written last, `manifest.json`
//! with the stage's settings, their hash, the outputs and the timings. A stage whose manifest
//! has the same settings hash and whose outputs all exist is skipped; `--force` reruns it.

use super::DemoError;
use crate::util;
use std::path::{Path, PathBuf};

/// The manifest file of a stage directory.
pub const MANIFEST: &str = "manifest.json";

/// Hash of a settings value (its compact JSON).
pub fn settings_hash(settings: &serde_json::Value) -> String {
    util::sha256_hex(settings.to_string().as_bytes())
}

/// True when `dir/manifest.json` records `settings` and every listed output exists.
pub fn is_done(dir: &Path, settings: &serde_json::Value) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
        return false;
    };
    let Ok(m) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    if m.get("settings_hash").and_then(|h| h.as_str()) != Some(&settings_hash(settings)) {
        return false;
    }
    m.get("outputs")
        .and_then(|o| o.as_array())
        .is_some_and(|outs| {
            outs.iter()
                .all(|o| o.as_str().is_some_and(|p| dir.join(p).exists()))
        })
}

/// Write the manifest of a finished stage (last, atomically).
pub fn finish(
    dir: &Path,
    stage: &str,
    settings: &serde_json::Value,
    outputs: &[String],
    seconds: f64,
    extra: serde_json::Value,
) -> Result<(), DemoError> {
    let m = serde_json::json!({
        "probecast_version": env!("CARGO_PKG_VERSION"),
        "command": "demo",
        "stage": stage,
        "settings": settings,
        "settings_hash": settings_hash(settings),
        "outputs": outputs,
        "timing": { "seconds": seconds },
        "details": extra,
        "created_unix": util::unix_time(),
    });
    util::write_json(&dir.join(MANIFEST), &m).map_err(DemoError::Io)
}

/// Seconds recorded in a finished stage's manifest (0 if unreadable).
pub fn recorded_seconds(dir: &Path) -> f64 {
    std::fs::read_to_string(dir.join(MANIFEST))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m["timing"]["seconds"].as_f64())
        .unwrap_or(0.0)
}

/// Create a directory, naming it in the error.
pub fn mkdir(dir: &Path) -> Result<PathBuf, DemoError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| DemoError::Io(format!("{}: cannot create directory: {e}", dir.display())))?;
    Ok(dir.to_path_buf())
}

/// Write a text file atomically, naming it in the error.
pub fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    util::write_atomic_str(path, text)
        .map_err(|e| DemoError::Io(format!("{}: cannot write: {e}", path.display())))
}
