//! The fit stage: merge the finished units into tables under `results/`, fit and validate the
//! predictor once per fold scheme (`probecast fit`'s library call), and predict the checkpoints
//! that were not fine-tuned with the first scheme's predictor (`probecast predict`'s).
//!
//! Files: `checkpoints.csv` (name, family, operation, fine-tuned, groups), `probes.csv` and
//! `features.csv` (every checkpoint, rows relabelled with the study's names), `finetune.csv`
//! (tidy, every run) and `targets.csv` (fine-tuned checkpoints: each task's best-epoch dev score,
//! mean over seeds), `table-<scheme>.csv` (the fit's input: id, grouping column, features),
//! `fit-<scheme>/`, `predict-table.csv` and `predictions.csv`, and last `fit.json` (the
//! fingerprint of every unit and setting that made them: the stage is done when it matches).

use super::file::Study;
use super::plan::{Plan, Stage, UnitKind};
use super::StudyError;
use crate::features::table::{read_probes_csv, write_features_csv, write_probes_csv};
use crate::finetune::results::{read_finetune_csv, read_targets_csv, FINETUNE_HEADER};
use crate::predict::table::TableSettings;
use crate::util;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The fit stage's marker file.
pub const FIT_MARKER: &str = "fit.json";

/// What the fit stage did.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The results directory.
    pub dir: PathBuf,
    /// Per fold scheme: its label and the fit's text table.
    pub fits: Vec<(String, String)>,
    /// Checkpoints predicted (not fine-tuned).
    pub predicted: usize,
}

/// The fit settings and checkpoint labels the fit depends on (beyond the units).
pub fn fit_identity(study: &Study) -> serde_json::Value {
    serde_json::json!({
        "fit": serde_json::to_value(&study.spec.fit).unwrap_or_default(),
        "checkpoints": study.checkpoints.iter().map(|c| serde_json::json!({
            "name": c.name, "family": c.family, "operation": c.operation, "groups": c.groups,
            "finetuned": c.finetuned, "seeds": c.seeds,
        })).collect::<Vec<_>>(),
        "tasks": study.tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    })
}

/// Whether the fit stage is done: `fit.json` records the current fingerprint.
pub fn fit_done(study: &Study, plan: &Plan) -> bool {
    let p = plan.results_dir().join(FIT_MARKER);
    let want = plan.fingerprint(&fit_identity(study));
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("fingerprint")
                .and_then(|f| f.as_str())
                .map(String::from)
        })
        .is_some_and(|f| f == want)
}

fn csv_text(header: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), StudyError> {
    util::write_atomic(path, bytes)
        .map_err(|e| StudyError::input(path, format!("cannot write: {e}")))
}

/// The directory of a partial fit (`study run --stage fit --partial`), beside `results/` so
/// that it is never taken for the study's results.
pub const PARTIAL_DIR: &str = "results-partial";

/// Per checkpoint: whether it can enter a partial fit — its probing unit is done and, for a
/// fine-tuned one, every task has at least one finished seed (extra seeds run after every
/// checkpoint's first seed, so waiting for them would keep the first checkpoints out for most
/// of a long study; the targets are then the mean of the finished seeds, and `partial.json`
/// lists the seeds still pending).
/// `done`: the keys of the finished units ([`done_keys`]).
pub fn complete_checkpoints(study: &Study, plan: &Plan, done: &HashSet<&str>) -> Vec<bool> {
    let n = study.checkpoints.len();
    let mut probed = vec![false; n];
    let mut tuned = vec![vec![false; study.tasks.len()]; n];
    for u in &plan.units {
        let done = done.contains(u.key.as_str());
        match u.kind {
            UnitKind::Probe(c) => probed[c] = done,
            UnitKind::Finetune { ckpt, task, .. } => tuned[ckpt][task] |= done,
            UnitKind::Variant(_) => {}
        }
    }
    (0..n)
        .map(|c| probed[c] && (!study.checkpoints[c].finetuned || tuned[c].iter().all(|&t| t)))
        .collect()
}

/// The keys of the units whose outputs are complete and intact (each verified once).
pub fn done_keys(plan: &Plan) -> HashSet<&str> {
    plan.units
        .iter()
        .filter(|u| super::store::verify(&u.dir, &u.hash).is_none())
        .map(|u| u.key.as_str())
        .collect()
}

/// Merge, fit, predict. Every probing and fine-tuning unit must be done, unless `partial`:
/// then only the complete checkpoints ([`complete_checkpoints`]) enter, the outputs go to
/// [`PARTIAL_DIR`] with `partial.json` naming who is in and who is missing, and `fit.json` (the
/// stage's completion marker) is not written.
pub fn fit(
    study: &Study,
    plan: &Plan,
    argv: &[String],
    partial: bool,
) -> Result<FitReport, StudyError> {
    let res = if partial {
        plan.out.join(PARTIAL_DIR)
    } else {
        plan.results_dir()
    };
    std::fs::create_dir_all(&res).map_err(|e| StudyError::input(&res, e.to_string()))?;
    let err = |p: &Path, e: String| StudyError::input(p, e);
    // a partial fit reads only finished units
    let done = if partial {
        done_keys(plan)
    } else {
        HashSet::new()
    };
    let include = if partial {
        complete_checkpoints(study, plan, &done)
    } else {
        vec![true; study.checkpoints.len()]
    };
    // probing rows, relabelled
    let mut rows = Vec::new();
    let mut probe_cpu = vec![None; study.checkpoints.len()];
    for u in plan.stage(Stage::Probe) {
        let UnitKind::Probe(i) = u.kind else {
            continue;
        };
        if !include[i] {
            continue;
        }
        probe_cpu[i] = super::store::read_marker(&u.dir).map(|m| m.cpu_seconds);
        let p = u.dir.join("probes.csv");
        let name = &study.checkpoints[i].name;
        let r = read_probes_csv(&p).map_err(|e| err(&p, e.to_string()))?;
        rows.extend(r.into_iter().map(|(_, rec)| (name.clone(), rec)));
    }
    write_probes_csv(&res.join("probes.csv"), &rows).map_err(|e| err(&res, e.to_string()))?;
    write_features_csv(&res.join("features.csv"), &rows).map_err(|e| err(&res, e.to_string()))?;
    let (fh, fb) = crate::features::table::features_table(&rows);
    // fine-tuning: tidy rows and the per-seed targets, relabelled
    let mut tidy = format!("{FINETUNE_HEADER}\n");
    let ntask = study.tasks.len();
    // per checkpoint and task: each seed's score, and the first seed's CPU seconds
    let mut scores = vec![vec![Vec::<f64>::new(); ntask]; study.checkpoints.len()];
    let mut tune_cpu = vec![vec![None; ntask]; study.checkpoints.len()];
    // In the study file's order (checkpoint, task, seed), whatever order the units ran in.
    let mut units: Vec<_> = plan
        .stage(Stage::Finetune)
        .into_iter()
        .filter_map(|u| match u.kind {
            UnitKind::Finetune { ckpt, task, seed } => Some((ckpt, task, seed, u)),
            _ => None,
        })
        .collect();
    units.sort_by_key(|&(c, t, s, _)| (c, t, s));
    let mut pending_seeds = Vec::new();
    for (ckpt, task, _, u) in units {
        if !include[ckpt] {
            continue;
        }
        if partial && !done.contains(u.key.as_str()) {
            pending_seeds.push(u.key.clone());
            continue;
        }
        if tune_cpu[ckpt][task].is_none() {
            tune_cpu[ckpt][task] = super::store::read_marker(&u.dir).map(|m| m.cpu_seconds);
        }
        let name = &study.checkpoints[ckpt].name;
        // relabelled: the study's checkpoint and task names
        let tname = &study.tasks[task].name;
        let p = u.dir.join("finetune.csv");
        for m in read_finetune_csv(&p).map_err(|e| err(&p, e.to_string()))? {
            tidy.push_str(&format!(
                "{name},{tname},{},{},{},{}\n",
                m.seed, m.epoch, m.metric, m.value
            ));
        }
        let p = u.dir.join("targets.csv");
        let t = read_targets_csv(&p).map_err(|e| err(&p, e.to_string()))?;
        let v = t.values.first().and_then(|r| r.first()).copied();
        let v = v.ok_or_else(|| err(&p, "no target value".into()))?;
        scores[ckpt][task].push(v);
    }
    write(&res.join("finetune.csv"), tidy.as_bytes())?;
    let mut th = vec!["model".to_string()];
    th.extend(study.tasks.iter().map(|t| t.name.clone()));
    let mut tb = Vec::new();
    for (i, c) in study.checkpoints.iter().enumerate() {
        if !c.finetuned || !include[i] {
            continue;
        }
        let mut r = vec![c.name.clone()];
        r.extend(scores[i].iter().map(|v| format!("{}", mean(v))));
        tb.push(r);
    }
    let targets = res.join("targets.csv");
    write(&targets, &csv_text(&th, &tb).map_err(|e| err(&targets, e))?)?;
    let p = res.join("seed-noise.csv");
    write(
        &p,
        &seed_noise_csv(study, &include, &scores).map_err(|e| err(&p, e))?,
    )?;
    let p = res.join(COST_FILE);
    write(
        &p,
        &cost_csv(study, &include, &probe_cpu, &tune_cpu).map_err(|e| err(&p, e))?,
    )?;
    // checkpoints.csv
    let group_names: std::collections::BTreeSet<String> = study
        .checkpoints
        .iter()
        .flat_map(|c| c.groups.keys().cloned())
        .collect();
    let mut ch: Vec<String> = ["model", "family", "operation", "finetuned", "seeds"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ch.extend(group_names.iter().cloned());
    let cb: Vec<Vec<String>> = study
        .checkpoints
        .iter()
        .zip(&include)
        .filter(|(_, inc)| **inc)
        .map(|(c, _)| {
            let seeds: Vec<String> = c.seeds.iter().map(|s| s.to_string()).collect();
            let mut r = vec![
                c.name.clone(),
                c.family.clone(),
                c.operation.clone(),
                c.finetuned.to_string(),
                seeds.join(" "),
            ];
            r.extend(
                group_names
                    .iter()
                    .map(|g| c.groups.get(g).cloned().unwrap_or_default()),
            );
            r
        })
        .collect();
    let cp = res.join("checkpoints.csv");
    write(&cp, &csv_text(&ch, &cb).map_err(|e| err(&cp, e))?)?;
    // one table and one fit per fold scheme
    let by_name = |n: &str| study.checkpoints.iter().find(|c| c.name == n);
    let features = study
        .spec
        .fit
        .features
        .as_deref()
        .map(|r| crate::predict::run::compile_regex("fit.features", r))
        .transpose()
        .map_err(|e| err(&study.file, e))?;
    let mut fits = Vec::new();
    let mut skipped: Vec<serde_json::Value> = Vec::new();
    for f in &study.folds {
        // the family column always (the family-mean baseline), and the scheme's grouping
        // column when it is another one (leave one operation out: the held-out variants'
        // family is still in training, so the family-mean baseline is a real one)
        let group = f.column.clone().filter(|c| c != "family");
        let mut h = vec!["model".to_string(), "family".to_string()];
        if let Some(c) = &group {
            h.push(c.clone());
        }
        h.extend(fh[1..].iter().cloned());
        let mut b = Vec::new();
        for r in &fb {
            let Some(c) = by_name(&r[0]).filter(|c| c.finetuned) else {
                continue;
            };
            let mut row = vec![r[0].clone(), c.family.clone()];
            if let Some(col) = &group {
                row.push(c.group(col).unwrap_or_default().to_string());
            }
            row.extend(r[1..].iter().cloned());
            b.push(row);
        }
        let table = res.join(format!("table-{}.csv", &f.label["fit-".len()..]));
        write(&table, &csv_text(&h, &b).map_err(|e| err(&table, e))?)?;
        let opts = TableSettings {
            id_column: "model".into(),
            targets: Vec::new(),
            targets_file: Some(targets.clone()),
            family_column: Some("family".into()),
            family_regex: None,
            group_column: group.clone(),
            features: features.clone(),
            impute_mean: study.spec.fit.impute,
        };
        let mut cfg = study.fit.clone();
        cfg.cv = f.cv.clone();
        let dir = res.join(&f.label);
        let r = match crate::predict::run::fit_to_dir(&table, &opts, &cfg, Some(&dir), argv) {
            Ok(r) => r,
            // a partial fit goes on with the schemes its few checkpoints allow, and says which
            // it skipped (e.g. leave one operation out before two operations are complete)
            Err(e) if partial => {
                let _ = std::fs::remove_dir_all(&dir);
                skipped.push(serde_json::json!({ "folds": f.spec, "why": e.to_string() }));
                continue;
            }
            Err(e) => return Err(err(&table, format!("fit ({}): {e}", f.spec))),
        };
        fits.push((
            f.spec.clone(),
            crate::predict::report::table_text(&r.ds, &cfg, &r.outcome),
        ));
    }
    // predictions for the checkpoints that were not fine-tuned
    let pb: Vec<Vec<String>> = fb
        .iter()
        .filter(|r| by_name(&r[0]).is_some_and(|c| !c.finetuned))
        .cloned()
        .collect();
    let first = res.join(&study.folds[0].label).join("predictor.json");
    if !pb.is_empty() && first.is_file() {
        let table = res.join("predict-table.csv");
        write(&table, &csv_text(&fh, &pb).map_err(|e| err(&table, e))?)?;
        crate::predict::run::predict_to_file(
            &first,
            &table,
            None,
            study.spec.fit.impute,
            Some(&res.join("predictions.csv")),
            argv,
        )
        .map_err(|e| err(&table, format!("predict: {e}")))?;
    }
    if partial {
        let names = |want: bool| -> Vec<&str> {
            study
                .checkpoints
                .iter()
                .zip(&include)
                .filter(|(_, inc)| **inc == want)
                .map(|(c, _)| c.name.as_str())
                .collect()
        };
        let note = serde_json::json!({
            "study": study.spec.name,
            "partial": true,
            "included": names(true),
            "missing": names(false),
            "pending_seeds": pending_seeds,
            "skipped_folds": skipped,
        });
        util::write_json(&res.join("partial.json"), &note).map_err(|e| err(&res, e))?;
    } else {
        let marker = serde_json::json!({
            "study": study.spec.name,
            "fingerprint": plan.fingerprint(&fit_identity(study)),
        });
        util::write_json(&res.join(FIT_MARKER), &marker).map_err(|e| err(&res, e))?;
    }
    Ok(FitReport {
        dir: res,
        fits,
        predicted: if first.is_file() { pb.len() } else { 0 },
    })
}

/// The results file with each checkpoint's CPU cost (not deterministic: left out of
/// byte-for-byte comparisons).
pub const COST_FILE: &str = "cost.csv";

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample standard deviation (n - 1); `None` below two values.
fn sample_sd(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    Some((v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

/// `seed-noise.csv`, one row per task: how many checkpoints were fine-tuned with more than one
/// seed, the mean over them of the seeds' sample standard deviation (the seed-noise floor), the
/// standard deviation and range of the targets across fine-tuned checkpoints (each the mean
/// over its seeds), and their ratio (targets that do not spread beyond the noise floor cannot
/// be predicted, whatever the features).
fn seed_noise_csv(
    study: &Study,
    include: &[bool],
    scores: &[Vec<Vec<f64>>],
) -> Result<Vec<u8>, String> {
    let header: Vec<String> = [
        "task",
        "checkpoints_with_seeds",
        "seed_sd",
        "checkpoints",
        "target_sd",
        "target_range",
        "target_sd_over_seed_sd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    for (t, task) in study.tasks.iter().enumerate() {
        let fine: Vec<&Vec<f64>> = (0..study.checkpoints.len())
            .filter(|&i| include[i] && study.checkpoints[i].finetuned && !scores[i][t].is_empty())
            .map(|i| &scores[i][t])
            .collect();
        let sds: Vec<f64> = fine.iter().filter_map(|v| sample_sd(v)).collect();
        let seed_sd = (!sds.is_empty()).then(|| mean(&sds));
        let means: Vec<f64> = fine.iter().map(|v| mean(v)).collect();
        let target_sd = sample_sd(&means);
        let range = (!means.is_empty()).then(|| {
            let hi = means.iter().cloned().fold(f64::MIN, f64::max);
            hi - means.iter().cloned().fold(f64::MAX, f64::min)
        });
        let ratio = match (target_sd, seed_sd) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        rows.push(vec![
            task.name.clone(),
            sds.len().to_string(),
            fmt_opt(seed_sd),
            means.len().to_string(),
            fmt_opt(target_sd),
            fmt_opt(range),
            fmt_opt(ratio),
        ]);
    }
    csv_text(&header, &rows)
}

/// `cost.csv`, one row per checkpoint: CPU seconds of its probing unit and of fine-tuning it
/// (each task's first seed, and their sum), and fine-tuning over probing: what probing saves.
/// From the units' markers; empty where a unit has no record (older markers).
fn cost_csv(
    study: &Study,
    include: &[bool],
    probe: &[Option<f64>],
    tune: &[Vec<Option<f64>>],
) -> Result<Vec<u8>, String> {
    let mut header = vec!["model".to_string(), "probe_cpu_seconds".to_string()];
    header.extend(
        study
            .tasks
            .iter()
            .map(|t| format!("finetune_cpu_seconds_{}", t.name)),
    );
    header.push("finetune_cpu_seconds".into());
    header.push("finetune_over_probe".into());
    let mut rows = Vec::new();
    for (i, c) in study.checkpoints.iter().enumerate() {
        if !include[i] {
            continue;
        }
        let p = probe[i].filter(|v| *v > 0.0);
        let mut r = vec![c.name.clone(), fmt_opt(p)];
        r.extend(tune[i].iter().map(|v| fmt_opt(v.filter(|x| *x > 0.0))));
        let all: Option<f64> = if c.finetuned {
            tune[i].iter().map(|v| v.filter(|x| *x > 0.0)).sum()
        } else {
            None
        };
        r.push(fmt_opt(all));
        r.push(fmt_opt(match (all, p) {
            (Some(a), Some(b)) => Some(a / b),
            _ => None,
        }));
        rows.push(r);
    }
    csv_text(&header, &rows)
}
