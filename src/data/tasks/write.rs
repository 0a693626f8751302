//! Writing a built suite: `<task>.txt` in SentEval format, `report.csv` (label counts per task
//! and split) and `manifest.json`. An output directory that holds a different run (or other
//! files) is refused unless `force`; every file is written atomically.

use super::{BuiltSuite, BuiltTask, TasksError};
use crate::data::senteval::Split;
use crate::manifest::Manifest;
use crate::util;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of [`write_suite_with`].
#[derive(Debug, Clone, Default)]
pub struct WriteSettings {
    /// Replace an output directory that holds a different run (or other files).
    pub force: bool,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
    /// The inputs (treebank files with their hashes), for the manifest.
    pub inputs: Vec<crate::manifest::Input>,
    /// More about the inputs (formats, sentence counts), for the manifest's section.
    pub input_details: serde_json::Value,
}

/// SentEval text of a task: `split<TAB>label<TAB>sentence` lines.
pub fn task_text(t: &BuiltTask) -> String {
    let mut s = String::new();
    for e in &t.examples {
        s.push_str(e.split.code());
        s.push('\t');
        s.push_str(&e.label);
        s.push('\t');
        s.push_str(&e.sentence);
        s.push('\n');
    }
    s
}

/// Label counts: task -> split -> label -> count.
pub fn label_counts(t: &BuiltTask) -> BTreeMap<Split, BTreeMap<String, usize>> {
    let mut m: BTreeMap<Split, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &t.examples {
        *m.entry(e.split)
            .or_default()
            .entry(e.label.clone())
            .or_default() += 1;
    }
    m
}

/// `report.csv`: `task,split,label,count`, classes in the task's order, splits tr, va, te.
pub fn report_csv(suite: &BuiltSuite) -> String {
    let mut s = String::from("task,split,label,count\n");
    for t in &suite.tasks {
        let counts = label_counts(t);
        for split in [Split::Train, Split::Valid, Split::Test] {
            for c in &t.classes {
                let n = counts
                    .get(&split)
                    .and_then(|m| m.get(c))
                    .copied()
                    .unwrap_or(0);
                let label = if c.contains([',', '"']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                };
                s.push_str(&format!("{},{},{},{}\n", t.task, split.code(), label, n));
            }
        }
    }
    s
}

/// A hash of the options and of every task file: two runs with the same fingerprint wrote the
/// same files.
pub fn fingerprint(suite: &BuiltSuite) -> String {
    let mut text = serde_json::to_string(&suite.options).expect("options serialise");
    for t in &suite.tasks {
        text.push('\0');
        text.push_str(t.task.name());
        text.push('\0');
        text.push_str(&task_text(t));
    }
    util::sha256_hex(text.as_bytes())
}

/// Write the suite into `out` (created if needed); refuses a directory holding another run.
/// Returns the files written.
pub fn write_suite(out: &Path, suite: &BuiltSuite) -> Result<Vec<PathBuf>, TasksError> {
    write_suite_with(out, suite, &WriteSettings::default())
}

fn out_err(out: &Path, msg: impl Into<String>) -> TasksError {
    TasksError::Output {
        path: out.display().to_string(),
        msg: msg.into(),
    }
}

/// Check `out` can take this run; with `force`, remove the files an earlier run listed.
fn prepare(out: &Path, fp: &str, force: bool) -> Result<(), TasksError> {
    if out.exists() && !out.is_dir() {
        return Err(out_err(out, "exists and is not a directory"));
    }
    if !out.is_dir() {
        return Ok(());
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(|e| out_err(out, format!("cannot read: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let manifest = Manifest::read(out).ok().filter(|m| m.command == "tasks");
    let ours = manifest.as_ref().map(|m| m.section()["fingerprint"] == fp);
    match (ours, force) {
        (Some(true), _) => Ok(()),
        (Some(false), false) => Err(out_err(
            out,
            "already holds a different tasks run (other inputs or options); use --force to replace it",
        )),
        (None, false) => Err(out_err(
            out,
            "is not empty and holds no tasks run (no probecast tasks manifest.json); use --force to write there anyway",
        )),
        (_, true) => {
            if let Some(m) = &manifest {
                for f in &m.outputs {
                    if !f.contains('/') && !f.contains('\\') && !f.starts_with('.') {
                        let _ = std::fs::remove_file(out.join(f));
                    }
                }
            }
            Ok(())
        }
    }
}

/// [`write_suite`] with options.
pub fn write_suite_with(
    out: &Path,
    suite: &BuiltSuite,
    opts: &WriteSettings,
) -> Result<Vec<PathBuf>, TasksError> {
    let fp = fingerprint(suite);
    prepare(out, &fp, opts.force)?;
    // ensure_writable_dir's message already starts with the path: print it once.
    util::ensure_writable_dir(out).map_err(|m| {
        let path = out.display().to_string();
        let msg = m
            .strip_prefix(&format!("{path}: "))
            .map(str::to_string)
            .unwrap_or(m);
        TasksError::Output { path, msg }
    })?;
    let mut written = Vec::new();
    let mut names = Vec::new();
    let mut tasks_json = Vec::new();
    for t in &suite.tasks {
        let name = format!("{}.txt", t.task.name());
        let path = out.join(&name);
        util::write_atomic_str(&path, &task_text(t))
            .map_err(|e| out_err(&path, format!("cannot write: {e}")))?;
        let counts = label_counts(t);
        let by_split: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(s, m)| (s.code().to_string(), json!(m)))
            .collect();
        tasks_json.push(json!({
            "task": t.task.name(),
            "file": name,
            "classes": t.classes,
            "per_class": t.per_class,
            "examples": t.examples.len(),
            "candidates": t.candidates,
            "label_counts": by_split,
            "rule": t.task.rule(),
        }));
        names.push(name);
        written.push(path);
    }
    let report = out.join("report.csv");
    util::write_atomic_str(&report, &report_csv(suite))
        .map_err(|e| out_err(&report, format!("cannot write: {e}")))?;
    names.push("report.csv".into());
    written.push(report);
    let mut m = Manifest::new("tasks", &opts.command_line);
    m.inputs = opts.inputs.clone();
    m.set_settings(&suite.options);
    m.outputs = names;
    m.set_section(json!({
        "fingerprint": fp,
        "inputs": opts.input_details,
        "sentences_in": suite.sentences_in,
        "sentences_used": suite.sentences_used,
        "tasks": tasks_json,
        "skipped": suite.skipped.iter().map(|(t, r)| json!({"task": t.name(), "reason": r})).collect::<Vec<_>>(),
    }));
    let mpath = out.join("manifest.json");
    m.write(out).map_err(TasksError::Write)?;
    written.push(mpath);
    Ok(written)
}
