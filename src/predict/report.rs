//! Rendering fit and predict results: the readable table, the JSON summary, `summary.csv`,
//! `cv_predictions.csv`, `predictions.csv` and the predictor file.

use super::persist::{self, Prediction, PredictorFile, TargetPredictor};
use super::pipeline::{FitOutcome, FitSettings, Protocol, TargetResult};
use super::table::Dataset;
use serde_json::{json, Value};

/// A JSON number, or `null` for NaN and infinities.
pub fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, num)
}

const IN_SAMPLE_NOTE: &str = "IN-SAMPLE errors: the paper protocol measures RMSE on the same rows that chose the feature subset; these are not estimates of error on new checkpoints (use --protocol honest).";
const HONEST_NOTE: &str = "Out-of-fold errors: scaling, feature selection and penalty were chosen inside each training fold; baselines use the same folds.";

/// The per-target JSON summary object.
pub fn target_json(ds: &Dataset, cfg: &FitSettings, name: &str, r: &TargetResult) -> Value {
    let names = |idx: &[usize]| -> Vec<String> {
        idx.iter().map(|&j| ds.feature_names[j].clone()).collect()
    };
    match r {
        TargetResult::Paper(p) => {
            let t = ds.target_names.iter().position(|t| t == name).unwrap();
            let y = &ds.y[t];
            json!({
                "target": name,
                "method": format!("ols-subset(k={})", cfg.k),
                "features": names(&p.features),
                "in_sample": true,
                "rmse": num(p.rmse),
                "baselines": {
                    "mean": num(crate::stats::rmse(y, &vec![super::linalg::mean(y); y.len()])),
                    "family_mean": Value::Null,
                    "noise": num(p.noise_mean),
                    "noise_seed_draw": num(p.noise_seed),
                },
                "reduction_pct": num(p.reduction_pct),
                "reduction_pct_seed_draw": num(p.reduction_pct_seed),
                "kendall_tau": num(crate::stats::kendall_tau(y, &p.fitted)),
                "p_value": Value::Null,
                "coverage": Value::Null,
                "dropped_constant_columns": p.dropped_constant,
                "searched_columns": p.searched_columns,
            })
        }
        TargetResult::Honest(h) => {
            let freq: Vec<Value> = h
                .selection_frequency
                .iter()
                .take(10)
                .map(|&(j, f)| json!({"feature": ds.feature_names[j], "fraction": f}))
                .collect();
            json!({
                "target": name,
                "method": cfg.method.label(),
                "features": names(&h.model.features),
                "in_sample": false,
                "rmse": num(h.scores.rmse),
                "mae": num(h.scores.mae),
                "r2": num(h.scores.r2),
                "baselines": {
                    "mean": num(h.baselines.mean),
                    "family_mean": opt(h.baselines.family_mean),
                    "noise": opt(h.baselines.noise),
                },
                "reduction_pct": num(h.reduction_pct),
                "kendall_tau": num(h.scores.kendall_tau),
                "spearman": num(h.scores.spearman),
                "p_value": opt(h.p_value),
                "coverage": num(h.coverage),
                "interval_half_width": num(h.half_width),
                "penalty": opt(h.model.penalty),
                "fold_selection_frequency": freq,
            })
        }
    }
}

/// The full JSON summary printed by `--json`.
pub fn summary_json(ds: &Dataset, cfg: &FitSettings, out: &FitOutcome) -> Value {
    let targets: Vec<Value> = out
        .results
        .iter()
        .map(|(n, r)| target_json(ds, cfg, n, r))
        .collect();
    json!({
        "protocol": cfg.protocol,
        "cv": if cfg.protocol == Protocol::Honest { json!(cfg.cv.label()) } else { Value::Null },
        "folds": out.n_folds,
        "coverage_nominal": cfg.coverage,
        "seed": cfg.seed,
        "rows": ds.ids.len(),
        "feature_columns": ds.feature_names.len(),
        "note": if cfg.protocol == Protocol::Paper { IN_SAMPLE_NOTE } else { HONEST_NOTE },
        "targets": targets,
    })
}

fn f4(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else if v.is_nan() {
        "-".into()
    } else {
        "inf".into()
    }
}

fn fo(v: Option<f64>) -> String {
    v.map_or("-".into(), f4)
}

/// The readable table printed by `probecast fit`.
pub fn table_text(ds: &Dataset, cfg: &FitSettings, out: &FitOutcome) -> String {
    let mut s = String::new();
    let rows = ds.ids.len();
    let cols = ds.feature_names.len();
    match cfg.protocol {
        Protocol::Paper => {
            s += &format!(
                "probecast fit: protocol paper, OLS on the best {}-subset, {rows} rows x {cols} feature columns\n",
                cfg.k
            );
            s += &format!(
                "{:<10} {:>9} {:>10} {:>10} {:>9} {:>8}  features\n",
                "target", "rmse_in", "noise_mean", "noise_seed", "reduct%", "tau_in"
            );
            for (name, r) in &out.results {
                if let TargetResult::Paper(p) = r {
                    let t = ds.target_names.iter().position(|t| t == name).unwrap();
                    let tau = crate::stats::kendall_tau(&ds.y[t], &p.fitted);
                    let feats: Vec<&str> = p
                        .features
                        .iter()
                        .map(|&j| ds.feature_names[j].as_str())
                        .collect();
                    s += &format!(
                        "{:<10} {:>9} {:>10} {:>10} {:>9.1} {:>8}  {}\n",
                        name,
                        f4(p.rmse),
                        f4(p.noise_mean),
                        f4(p.noise_seed),
                        p.reduction_pct,
                        f4(tau),
                        feats.join(" ")
                    );
                }
            }
            s += IN_SAMPLE_NOTE;
            s += "\n";
        }
        Protocol::Honest => {
            s += &format!(
                "probecast fit: protocol honest, method {}, cv {} ({} folds), {rows} rows x {cols} feature columns\n",
                cfg.method.label(),
                cfg.cv.label(),
                out.n_folds
            );
            s += &format!(
                "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6}\n",
                "target", "rmse", "mean", "family", "noise", "reduct%", "tau", "r2", "p", "cover"
            );
            for (name, r) in &out.results {
                if let TargetResult::Honest(h) = r {
                    s += &format!(
                        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8.1} {:>8} {:>7} {:>6} {:>6}\n",
                        name,
                        f4(h.scores.rmse),
                        f4(h.baselines.mean),
                        fo(h.baselines.family_mean),
                        fo(h.baselines.noise),
                        h.reduction_pct,
                        f4(h.scores.kendall_tau),
                        format!("{:.2}", h.scores.r2),
                        h.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                        format!("{:.2}", h.coverage),
                    );
                }
            }
            s += &format!(
                "{HONEST_NOTE}\nreduct% = RMSE reduction vs the training-mean baseline; p = permutation p-value ({} permutations); cover = empirical coverage of the {:.0}% intervals (widths from an inner CV on each training fold).\n",
                cfg.permutations,
                cfg.coverage * 100.0
            );
            for (name, r) in &out.results {
                if let TargetResult::Honest(h) = r {
                    if let Some(c) = super::shrinkage::check_result(h).filter(|c| c.shrunk) {
                        s += &format!(
                            "note: {}\n",
                            super::shrinkage::note(name, h.scores.kendall_tau, &c)
                        );
                    }
                }
            }
        }
    }
    s
}

fn csv_bytes(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("in-memory write");
    for r in rows {
        w.write_record(&r).expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        String::new()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// `summary.csv`: one row per target.
pub fn summary_csv(ds: &Dataset, cfg: &FitSettings, out: &FitOutcome) -> Vec<u8> {
    let header = [
        "target",
        "protocol",
        "method",
        "rmse",
        "mae",
        "r2",
        "kendall_tau",
        "spearman",
        "baseline_mean",
        "baseline_family_mean",
        "baseline_noise",
        "reduction_pct",
        "p_value",
        "coverage",
        "interval_half_width",
        "features",
    ];
    let rows = out
        .results
        .iter()
        .map(|(n, r)| {
            let j = target_json(ds, cfg, n, r);
            let g = |k: &str| {
                j.get(k)
                    .and_then(|v| v.as_f64())
                    .map(cell)
                    .unwrap_or_default()
            };
            let b = |k: &str| {
                j["baselines"]
                    .get(k)
                    .and_then(|v| v.as_f64())
                    .map(cell)
                    .unwrap_or_default()
            };
            let feats: Vec<String> = j["features"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                n.clone(),
                format!("{:?}", cfg.protocol).to_lowercase(),
                j["method"].as_str().unwrap_or("").to_string(),
                g("rmse"),
                g("mae"),
                g("r2"),
                g("kendall_tau"),
                g("spearman"),
                b("mean"),
                b("family_mean"),
                b("noise"),
                g("reduction_pct"),
                g("p_value"),
                g("coverage"),
                g("interval_half_width"),
                feats.join(";"),
            ]
        })
        .collect();
    csv_bytes(&header, rows)
}

/// `cv_predictions.csv`: one row per (checkpoint, target, repeat) out-of-fold prediction
/// (paper protocol: the in-sample fitted values, fold `in-sample`, no interval).
pub fn cv_predictions_csv(ds: &Dataset, out: &FitOutcome) -> Vec<u8> {
    let header = [
        "model",
        "target",
        "true",
        "predicted",
        "lower",
        "upper",
        "fold",
        "repeat",
    ];
    let mut rows = Vec::new();
    for (name, r) in &out.results {
        let t = ds.target_names.iter().position(|t| t == name).unwrap();
        match r {
            TargetResult::Paper(p) => {
                for (i, f) in p.fitted.iter().enumerate() {
                    rows.push(vec![
                        ds.ids[i].clone(),
                        name.clone(),
                        cell(ds.y[t][i]),
                        cell(*f),
                        String::new(),
                        String::new(),
                        "in-sample".into(),
                        "0".into(),
                    ]);
                }
            }
            TargetResult::Honest(h) => {
                let mut preds = h.predictions.clone();
                preds.sort_by_key(|p| (p.repeat, p.row));
                for p in preds {
                    rows.push(vec![
                        ds.ids[p.row].clone(),
                        name.clone(),
                        cell(p.truth),
                        cell(p.pred),
                        cell(p.lower),
                        cell(p.upper),
                        p.fold.to_string(),
                        p.repeat.to_string(),
                    ]);
                }
            }
        }
    }
    csv_bytes(&header, rows)
}

/// The predictor file for a fit run.
pub fn predictor_file(
    ds: &Dataset,
    cfg: &FitSettings,
    out: &FitOutcome,
    id_column: &str,
) -> PredictorFile {
    let targets = out
        .results
        .iter()
        .map(|(name, r)| {
            let v = target_json(ds, cfg, name, r);
            match r {
                TargetResult::Paper(p) => TargetPredictor::from_model(
                    name,
                    super::model::Method::OlsSubset { k: cfg.k },
                    &p.model,
                    &ds.feature_names,
                    cfg.coverage,
                    None,
                    v,
                ),
                TargetResult::Honest(h) => TargetPredictor::from_model(
                    name,
                    cfg.method,
                    &h.model,
                    &ds.feature_names,
                    cfg.coverage,
                    Some(h.half_width),
                    v,
                ),
            }
        })
        .collect();
    PredictorFile {
        format: persist::FORMAT.into(),
        probecast_version: env!("CARGO_PKG_VERSION").into(),
        protocol: format!("{:?}", cfg.protocol).to_lowercase(),
        id_column: id_column.into(),
        training_data_sha256: ds.sha256.clone(),
        training_rows: ds.ids.len(),
        settings: serde_json::to_value(cfg).unwrap_or(Value::Null),
        targets,
    }
}

/// `predictions.csv` written by `probecast predict`.
pub fn predictions_csv(preds: &[Prediction], id_column: &str) -> Vec<u8> {
    let header = [id_column, "target", "predicted", "lower", "upper", "rank"];
    let rows = preds
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.target.clone(),
                cell(p.predicted),
                cell(p.lower),
                cell(p.upper),
                p.rank.to_string(),
            ]
        })
        .collect();
    csv_bytes(&header, rows)
}
