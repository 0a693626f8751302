//! The one `manifest.json` type. Every command (and every stage directory of the demo) writes it
//! last, atomically, beside its outputs: a shared header — probecast version, command, command
//! line, creation time, inputs with their hashes, settings, outputs, timing — then one
//! per-command section under the command's own name (`"probe": {...}`, `"fit": {...}`). Tools
//! that read runs (the report, a study runner, resumable stages) rely on the header; the section
//! is the command's own. The format is documented in docs/manifest.md.

use crate::util;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// The file name every command writes.
pub const FILE: &str = "manifest.json";

/// One input of a run: what it is for, where it was, and its content hash when it is a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// What the input is (`model`, `data`, `task`, `features`, ...).
    pub role: String,
    /// The path (or model id) as given or resolved.
    pub path: String,
    /// Hex SHA-256 of the file's content (of a checkpoint: over its config, weights and
    /// tokenizer files); absent for directories and model ids that were not hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// How long the run took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Timing {
    /// Wall-clock seconds from the start of the command to the manifest.
    pub seconds: f64,
}

/// The manifest of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// probecast's version (Cargo package version).
    pub probecast_version: String,
    /// The command (`embed`, `probe`, `finetune`, `fit`, `predict`, `variants`, `tasks`,
    /// `demo`, ...).
    pub command: String,
    /// The command line, argv[0] included.
    pub command_line: Vec<String>,
    /// Seconds since the Unix epoch when the manifest was made.
    pub created_unix: u64,
    /// The inputs, in the order the command read them.
    pub inputs: Vec<Input>,
    /// The settings that determine the outputs (serialised settings struct).
    pub settings: Value,
    /// The files written, relative to the output directory.
    pub outputs: Vec<String>,
    /// Timing.
    pub timing: Timing,
    /// The per-command section, under the command's name (any other keys of an older or newer
    /// manifest are kept here too, so reading never fails on them).
    #[serde(flatten)]
    pub sections: serde_json::Map<String, Value>,
}

impl Manifest {
    /// A new manifest for `command` run as `command_line`; the header's version and creation
    /// time are filled in.
    pub fn new(command: &str, command_line: &[String]) -> Self {
        Manifest {
            probecast_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            command_line: command_line.to_vec(),
            created_unix: util::unix_time(),
            inputs: Vec::new(),
            settings: Value::Null,
            outputs: Vec::new(),
            timing: Timing::default(),
            sections: serde_json::Map::new(),
        }
    }

    /// Add an input with a known hash (or none).
    pub fn input(&mut self, role: &str, path: impl AsRef<Path>, sha256: Option<String>) {
        self.inputs.push(Input {
            role: role.to_string(),
            path: path.as_ref().display().to_string(),
            sha256,
        });
    }

    /// Add a file input, hashing its content (no hash when it cannot be read).
    pub fn input_file(&mut self, role: &str, path: impl AsRef<Path>) {
        let sha = util::sha256_file(path.as_ref()).ok();
        self.input(role, path, sha);
    }

    /// Set the settings (any serialisable value).
    pub fn set_settings(&mut self, settings: impl Serialize) {
        self.settings = serde_json::to_value(settings).unwrap_or(Value::Null);
    }

    /// Set the per-command section (stored under the command's name).
    pub fn set_section(&mut self, section: Value) {
        self.sections.insert(self.command.clone(), section);
    }

    /// The per-command section (`Null` when absent).
    pub fn section(&self) -> &Value {
        self.sections.get(&self.command).unwrap_or(&Value::Null)
    }

    /// Set the elapsed time from `started`.
    pub fn set_elapsed(&mut self, started: std::time::Instant) {
        self.timing.seconds = started.elapsed().as_secs_f64();
    }

    /// Write `dir/manifest.json` atomically (pretty JSON); the error names the file.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        self.write_to(&dir.join(FILE))
    }

    /// Write the manifest to `path` atomically (for an output that is a file, not a
    /// directory: `<file>.manifest.json`).
    pub fn write_to(&self, path: &Path) -> Result<(), String> {
        let v = serde_json::to_value(self).expect("a manifest serialises");
        util::write_json(path, &v)
    }

    /// Read `dir/manifest.json`; the error names the file and says what is wrong.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let p = dir.join(FILE);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a probecast manifest: {e}", p.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_with_its_section_under_the_command_name() {
        let mut m = Manifest::new("probe", &["probecast".into(), "probe".into()]);
        m.input("model", "/m", Some("ab".into()));
        m.set_settings(serde_json::json!({"seeds": 5}));
        m.outputs = vec!["probes.csv".into()];
        m.set_section(serde_json::json!({"failed_models": []}));
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["probe"]["failed_models"], serde_json::json!([]));
        assert_eq!(v["inputs"][0]["sha256"], "ab");
        assert_eq!(v["timing"]["seconds"], 0.0);
        let back: Manifest = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.section()["failed_models"], serde_json::json!([]));
    }

    #[test]
    fn reading_a_file_that_is_not_a_manifest_names_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE), "{\"x\": 1}").unwrap();
        let e = Manifest::read(d.path()).unwrap_err();
        assert!(e.contains("manifest.json: not a probecast manifest"), "{e}");
    }
}
