//! The demo's probing stage: every checkpoint embeds the probing sentences once (all tasks
//! together, mean pooling, every hidden state), then `probe::protocol::probe_task` runs per task;
//! each checkpoint's tidy rows are saved (`rows/<id>.csv`, read back with
//! `features::table::read_probes_csv`) so an interrupted stage resumes, and
//! `probes.csv` + `features.csv` are written by `features::table`.

use super::zoo::ZooEntry;
use super::{stage, DemoError, DemoSettings};
use crate::data::senteval::Dataset;
use crate::encoder::extract::{embed_sentences, LoadedModel};
use crate::encoder::Pooling;
use crate::features::table as results;
use crate::probe::protocol::{self, ProbeKind, ProbeSettings, Record, TaskData};
use crate::probe::run::load_suite;
use crate::probe::MatRef;
use std::collections::HashMap;
use std::path::Path;

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

/// Probe one checkpoint on every task.
fn probe_one(
    e: &ZooEntry,
    datasets: &[Dataset],
    tasks: &[TaskData],
    s: &DemoSettings,
) -> Result<Vec<(String, Record)>, DemoError> {
    let model = LoadedModel::load(&e.dir, s.max_length)?;
    // every distinct sentence once
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut sentences: Vec<String> = Vec::new();
    for d in datasets {
        for ex in &d.examples {
            index.entry(ex.sentence.as_str()).or_insert_with(|| {
                sentences.push(ex.sentence.clone());
                sentences.len() - 1
            });
        }
    }
    let (feats, _) = embed_sentences(
        &model,
        &sentences,
        &[Pooling::Mean],
        64,
        &indicatif::ProgressBar::hidden(),
    )?;
    let f = &feats[&Pooling::Mean];
    let ps = probe_settings(s);
    let mut out = Vec::new();
    for (d, t) in datasets.iter().zip(tasks) {
        let rows: Vec<usize> = d
            .examples
            .iter()
            .map(|ex| index[ex.sentence.as_str()])
            .collect();
        let layers: Vec<Vec<f32>> = f
            .layers
            .iter()
            .map(|l| {
                let m = MatRef::new(l, f.n, f.dim);
                m.gather(&rows)
            })
            .collect();
        let mats: Vec<MatRef> = layers
            .iter()
            .map(|l| MatRef::new(l, rows.len(), f.dim))
            .collect();
        for r in protocol::probe_task(t, &mats, "mean", &ps, &|| {})? {
            out.push((e.id.clone(), r));
        }
    }
    Ok(out)
}

/// Probe every checkpoint (resuming from saved rows), write probes.csv and features.csv.
pub fn run(
    s: &DemoSettings,
    zoo: &[ZooEntry],
    suite_dir: &Path,
    out: &Path,
) -> Result<(), DemoError> {
    let suite = load_suite(&[suite_dir.to_path_buf()])?;
    let (datasets, tasks) = (&suite.datasets, &suite.tasks);
    let rows_dir = stage::mkdir(&out.join("rows"))?;
    let pb = super::bar(zoo.len() as u64, "  probing");
    let mut all = Vec::new();
    for e in zoo {
        pb.set_message(format!("  probing {}", e.id));
        let path = rows_dir.join(format!("{}.csv", e.id));
        let rows = match results::read_probes_csv(&path) {
            Ok(r) if !r.is_empty() => r,
            _ => {
                let r = probe_one(e, datasets, tasks, s)?;
                crate::util::write_atomic(&path, &results::probes_csv(&r))
                    .map_err(|err| DemoError::Io(format!("{}: {err}", path.display())))?;
                r
            }
        };
        all.extend(rows);
        pb.inc(1);
    }
    pb.finish_and_clear();
    results::write_probes_csv(&out.join("probes.csv"), &all)?;
    results::write_features_csv(&out.join("features.csv"), &all)?;
    Ok(())
}
