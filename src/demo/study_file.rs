//! The demo's built-in study file: every checkpoint of the zoo (pretraining checkpoints and
//! their variants, each with its pretraining run as family and its kind as a grouping column),
//! the generated probing suite, the two generated downstream tasks and the fit, written as the
//! TOML of `probecast study` (`<out>/study.toml`, paths relative to it) and run by
//! [`crate::study`] — the demo has no orchestration of probing, fine-tuning and fitting of its
//! own. `probecast study status <out>/study.toml` shows its units.

use super::zoo::ZooEntry;
use super::DemoSettings;
use crate::finetune::train::TrainSettings;
use crate::probe::protocol::{ProbeKind, ProbeSettings};
use std::path::Path;

/// The study's name (recorded in its directory).
pub const NAME: &str = "probecast-demo";

/// The downstream tasks: (directory under `data/`, GLUE layout it is written in).
pub const TASKS: [(&str, &str); 2] = [("acceptability", "cola"), ("paraphrase", "mrpc")];

/// The probing settings of the demo: one logistic-regression draw per (task, layer), the
/// per-class counts the suite has (80/20 train/validation of its tr+va lines).
pub fn probe_settings(s: &DemoSettings) -> ProbeSettings {
    ProbeSettings {
        train_per_class: s.probe_per_class,
        seeds: 1,
        probes: vec![ProbeKind::LogReg],
        selectivity: false,
        mdl: false,
        c_grid: vec![0.1, 1.0, 10.0],
        allow_fewer: true,
        ..Default::default()
    }
}

/// Fine-tuning settings of the demo.
pub fn train_settings(s: &DemoSettings) -> TrainSettings {
    TrainSettings {
        epochs: s.ft_epochs,
        lr: s.ft_lr,
        batch_size: 32,
        max_length: s.max_length,
        warmup_ratio: 0.1,
        weight_decay: 0.01,
        max_train_examples: None,
        ..Default::default()
    }
}

/// JSON nulls (unset options) are not TOML: drop them.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn rel(p: &Path, out: &Path) -> String {
    p.strip_prefix(out).unwrap_or(p).display().to_string()
}

/// The study file's text for the zoo `entries` of a demo under `out` (where it is written).
pub fn text(s: &DemoSettings, entries: &[ZooEntry], out: &Path) -> String {
    let checkpoints: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.id,
                "path": rel(&e.dir, out),
                "family": e.family,
                "groups": { "kind": e.kind },
            })
        })
        .collect();
    let tasks: Vec<serde_json::Value> = TASKS
        .iter()
        .map(|(dir, layout)| serde_json::json!({ "path": format!("data/{dir}"), "task_type": layout }))
        .collect();
    let mut v = serde_json::json!({
        "name": NAME,
        "out": "study",
        "checkpoint": checkpoints,
        "probe": {
            "tasks": ["data/probing"],
            "settings": probe_settings(s),
            "embed": { "poolings": ["mean"], "batch_size": 64, "max_length": s.max_length },
        },
        "finetune": {
            "seeds": [s.seed],
            "task": tasks,
            "train": train_settings(s),
        },
        "fit": {
            "protocol": "honest",
            "method": "ridge",
            "folds": ["loo", "group:family"],
            "coverage": 0.9,
            "permutations": s.permutations,
            "noise_draws": 0,
            "seed": s.seed,
        },
    });
    drop_nulls(&mut v);
    let body = toml::to_string(&v).expect("a JSON object without nulls is TOML");
    format!(
        "# The built-in study of `probecast demo` (written by it; see src/demo/study_file.rs).\n\
         # Paths are relative to this file. Units and results: the study/ directory beside it.\n{body}"
    )
}
