//! Resumable stages: a stage's directory holds its outputs and, written last, `manifest.json`
//! (the one [`Manifest`] type: command `demo`, the stage's settings and outputs, the timing; the
//! section holds the stage name and the settings hash). A stage whose manifest
//! has the same settings hash and whose outputs all exist is skipped; `--force` reruns it.

use super::DemoError;
use crate::manifest::Manifest;
use crate::util;
use std::path::{Path, PathBuf};

/// Hash of a settings value (its compact JSON).
pub fn settings_hash(settings: &serde_json::Value) -> String {
    util::sha256_hex(settings.to_string().as_bytes())
}

/// True when `dir/manifest.json` is a demo stage's manifest recording `settings` and every
/// listed output exists.
pub fn is_done(dir: &Path, settings: &serde_json::Value) -> bool {
    let Ok(m) = Manifest::read(dir) else {
        return false;
    };
    if m.command != "demo"
        || m.section().get("settings_hash").and_then(|h| h.as_str())
            != Some(&settings_hash(settings))
    {
        return false;
    }
    m.outputs.iter().all(|p| dir.join(p).exists())
}

/// Write the manifest of a finished stage (last, atomically).
pub fn finish(
    dir: &Path,
    command_line: &[String],
    stage: &str,
    settings: &serde_json::Value,
    outputs: &[String],
    seconds: f64,
    extra: serde_json::Value,
) -> Result<(), DemoError> {
    let mut m = Manifest::new("demo", command_line);
    m.settings = settings.clone();
    m.outputs = outputs.to_vec();
    m.timing.seconds = seconds;
    m.set_section(serde_json::json!({
        "stage": stage,
        "settings_hash": settings_hash(settings),
        "details": extra,
    }));
    m.write(dir).map_err(DemoError::Io)
}

/// Seconds recorded in a finished stage's manifest (0 if unreadable).
pub fn recorded_seconds(dir: &Path) -> f64 {
    Manifest::read(dir).map(|m| m.timing.seconds).unwrap_or(0.0)
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
