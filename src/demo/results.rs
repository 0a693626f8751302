//! The demo's fit-and-predict stage and its table. `predict::pipeline` runs three times on the
//! probing features and the fine-tuning targets: the honest protocol (ridge, selection inside
//! every fold) with leave-one-checkpoint-out and with leave-one-family-out folds (a family is a
//! pretraining run: its checkpoints along training and the variants of its last one), and the
//! seed paper's in-sample protocol (best 3-subset OLS). Each writes the usual `fit` outputs
//! (predictor.json, cv_predictions.csv, summary.csv) in its own directory; the
//! leave-one-checkpoint-out predictor is applied to every checkpoint (`predictions.csv`).
//! `results.csv` holds exactly the cells of the printed table.

use super::{stage, DemoError, DemoSettings};
use crate::predict::cv::CvScheme;
use crate::predict::model::Method;
use crate::predict::pipeline::{self, FitOutcome, FitSettings, Protocol, TargetResult};
use crate::predict::table::{self, Dataset, TableSettings};
use crate::predict::{persist, report, shrinkage};
use crate::stats::kendall_tau;
use std::path::Path;

/// Columns of results.csv (and of the printed table, after the task).
pub const HEADER: [&str; 7] = [
    "task",
    "estimate",
    "validation",
    "rmse",
    "kendall_tau",
    "coverage",
    "checkpoints",
];

/// Family of a checkpoint id: its pretraining run (`<size>-s<seed>`).
pub const FAMILY_REGEX: &str = r"^([a-z]+-s\d+)-";

fn config(s: &DemoSettings, protocol: Protocol, cv: CvScheme) -> FitSettings {
    FitSettings {
        protocol,
        method: Method::parse("ridge", 3, 0.5).expect("ridge is a method"),
        k: 3,
        cv,
        coverage: 0.9,
        permutations: s.permutations,
        noise_draws: if protocol == Protocol::Paper { 100 } else { 0 },
        seed: s.seed,
    }
}

fn write_fit(dir: &Path, ds: &Dataset, cfg: &FitSettings, o: &FitOutcome) -> Result<(), DemoError> {
    stage::mkdir(dir)?;
    let pf = report::predictor_file(ds, cfg, o, "model");
    let text = serde_json::to_string_pretty(&pf).expect("json");
    stage::write(&dir.join("predictor.json"), &text)?;
    let w = |name: &str, bytes: Vec<u8>| {
        stage::write(&dir.join(name), &String::from_utf8_lossy(&bytes))
    };
    if cfg.protocol == Protocol::Honest {
        w("cv_predictions.csv", report::cv_predictions_csv(ds, o))?;
    }
    w("summary.csv", report::summary_csv(ds, cfg, o))?;
    stage::write(&dir.join("table.txt"), &report::table_text(ds, cfg, o))
}

fn f4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "-".into()
    }
}

/// Run the fits, write their outputs, predictions.csv and results.csv; return the printed table.
pub fn run(
    s: &DemoSettings,
    features: &Path,
    targets: &Path,
    out: &Path,
) -> Result<String, DemoError> {
    let opts = TableSettings {
        id_column: "model".into(),
        targets: vec![],
        targets_file: Some(targets.to_path_buf()),
        family_column: None,
        family_regex: Some(regex::Regex::new(FAMILY_REGEX).expect("valid regex")),
        group_column: None,
        features: None,
        impute_mean: false,
    };
    let ds = table::load(features, &opts)?;
    let schemes = [
        ("leave-one-checkpoint-out", "loo", CvScheme::Loo),
        ("leave-one-family-out", "family", CvScheme::Group),
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    let mut honest = Vec::new();
    for (label, dir, cv) in &schemes {
        let cfg = config(s, Protocol::Honest, cv.clone());
        let o = pipeline::run(&ds, &cfg)?;
        write_fit(&out.join(dir), &ds, &cfg, &o)?;
        if *dir == "loo" {
            let pf = report::predictor_file(&ds, &cfg, &o, "model");
            let preds = persist::apply(&pf, features, None, false)?;
            stage::write(
                &out.join("predictions.csv"),
                &String::from_utf8_lossy(&report::predictions_csv(&preds, "model")),
            )?;
        }
        honest.push((label.to_string(), o));
    }
    let pcfg = config(s, Protocol::Paper, CvScheme::Loo);
    let paper = pipeline::run(&ds, &pcfg)?;
    write_fit(&out.join("paper"), &ds, &pcfg, &paper)?;
    let n = ds.ids.len().to_string();
    for (t, name) in ds.target_names.iter().enumerate() {
        for (label, o) in &honest {
            if let TargetResult::Honest(h) = &o.results[t].1 {
                rows.push([
                    name.clone(),
                    "probing predictor (ridge)".into(),
                    label.clone(),
                    f4(h.scores.rmse),
                    f4(h.scores.kendall_tau),
                    f4(h.coverage),
                    n.clone(),
                ]);
                rows.push([
                    name.clone(),
                    "mean baseline".into(),
                    label.clone(),
                    f4(h.baselines.mean),
                    "-".into(),
                    "-".into(),
                    n.clone(),
                ]);
            }
        }
        if let TargetResult::Paper(p) = &paper.results[t].1 {
            rows.push([
                name.clone(),
                "paper protocol (best 3-subset OLS)".into(),
                "in-sample".into(),
                f4(p.rmse),
                f4(kendall_tau(&p.fitted, &ds.y[t])),
                "-".into(),
                n.clone(),
            ]);
        }
    }
    let mut csv = HEADER.join(",") + "\n";
    for r in &rows {
        csv.push_str(&r.join(","));
        csv.push('\n');
    }
    stage::write(&out.join("results.csv"), &csv)?;
    let mut text = table_text(&ds, &rows);
    // reading aid: a leave-one-out tau of a predictor shrunk to the training mean
    for (t, name) in ds.target_names.iter().enumerate() {
        for (label, o) in &honest {
            if let TargetResult::Honest(h) = &o.results[t].1 {
                if let Some(c) = shrinkage::check_result(h).filter(|c| c.shrunk) {
                    text.push_str(&format!(
                        "note ({label}): {}\n",
                        shrinkage::note(name, h.scores.kendall_tau, &c)
                    ));
                }
            }
        }
    }
    stage::write(&out.join("table.txt"), &text)?;
    Ok(text)
}

/// The printed table: per task a header line, one line per results.csv row (its cells after the
/// task, columns separated by two or more spaces), and a verdict for each validation.
pub fn table_text(ds: &Dataset, rows: &[[String; 7]]) -> String {
    let mut s = String::new();
    for (t, name) in ds.target_names.iter().enumerate() {
        let y = &ds.y[t];
        let (lo, hi) = y
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let fams = ds
            .families
            .as_ref()
            .map(|f| f.iter().collect::<std::collections::BTreeSet<_>>().len())
            .unwrap_or(0);
        s.push_str(&format!(
            "\n{name}: fine-tuned dev score of {} checkpoints ({fams} families), range {lo:.4} .. {hi:.4}\n",
            ds.ids.len()
        ));
        s.push_str(&format!(
            "  {:<36}  {:<26}  {:>8}  {:>8}  {:>8}\n",
            "estimate", "validation", "rmse", "tau", "coverage"
        ));
        let mine: Vec<&[String; 7]> = rows.iter().filter(|r| &r[0] == name).collect();
        for r in &mine {
            s.push_str(&format!(
                "  {:<36}  {:<26}  {:>8}  {:>8}  {:>8}\n",
                r[1], r[2], r[3], r[4], r[5]
            ));
        }
        for pair in mine
            .chunks(2)
            .filter(|p| p.len() == 2 && p[1][1] == "mean baseline")
        {
            let (p, m) = (pair[0], pair[1]);
            let (pr, mr) = (p[3].parse::<f64>(), m[3].parse::<f64>());
            let verdict = match (pr, mr) {
                (Ok(a), Ok(b)) if a < b => "probing BEATS the mean baseline",
                _ => "probing does NOT beat the mean baseline",
            };
            s.push_str(&format!("  {verdict} out-of-sample ({}).\n", p[2]));
        }
    }
    s.push_str(
        "\ncoverage: share of held-out checkpoints inside their 90% interval. The paper-protocol \
         number is in-sample (the subset was chosen on the same rows), not an estimate for new \
         checkpoints.\n",
    );
    s
}
