//! The Prediction and Ranking sections. Prediction: per fit and target, the out-of-fold
//! predictions against the fine-tuned scores with their intervals and the y = x line, beside a
//! table of the predictor's error, the baselines, permutation p and coverage; every number of a
//! paper-protocol fit carries an "in-sample" label; a predictor that has shrunk to the training
//! mean gets the reading aid of [`crate::predict::shrinkage`]. Ranking: per predictions file and
//! target, a forest plot of the candidates by predicted score with intervals, the fine-tuned
//! references marked with their actual score.

use super::figures::{forest, predicted_vs_actual, slug, Figure, ForestRow, ScatterPoint};
use super::inputs::{FitInput, Inputs};
use super::page::figure;
use super::ReportError;
use crate::predict::outputs::SummaryRow;
use crate::predict::shrinkage::{self, ShrinkageCheck};
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "–".into()
    }
}

/// The cross-validation scheme recorded in a predictor's settings, readable.
pub fn cv_label(settings: &serde_json::Value) -> String {
    let cv = &settings["cv"];
    match cv["scheme"].as_str() {
        Some("loo") => "leave-one-checkpoint-out".into(),
        Some("group") => match cv["column"].as_str() {
            Some(col) => format!("leave-one-{col}-out"),
            None => "leave-one-family-out".into(),
        },
        Some("kfold") => format!("{}-fold x {}", cv["k"], cv["repeats"]),
        Some(s) => s.to_string(),
        None => "–".into(),
    }
}

/// The numbers of one target: `summary.csv`'s row, else the predictor's validation object.
pub fn target_numbers(fit: &FitInput, target: &str) -> Option<SummaryRow> {
    if let Some(s) = fit.summary.iter().find(|s| s.target == target) {
        return Some(s.clone());
    }
    let t = fit.predictor.targets.iter().find(|t| t.target == target)?;
    let v = &t.validation;
    let n = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
    Some(SummaryRow {
        target: target.to_string(),
        protocol: fit.predictor.protocol.clone(),
        method: v["method"].as_str().unwrap_or("").to_string(),
        rmse: n(&v["rmse"]),
        kendall_tau: n(&v["kendall_tau"]),
        r2: n(&v["r2"]),
        baseline_mean: n(&v["baselines"]["mean"]),
        baseline_family_mean: n(&v["baselines"]["family_mean"]),
        baseline_noise: n(&v["baselines"]["noise"]),
        reduction_pct: n(&v["reduction_pct"]),
        p_value: n(&v["p_value"]),
        coverage: n(&v["coverage"]),
        interval_half_width: n(&v["interval_half_width"]),
        features: t.features.clone(),
    })
}

/// The shrunk-to-the-mean check of one target's first-repeat out-of-fold predictions.
pub fn shrinkage_of(fit: &FitInput, target: &str) -> Option<ShrinkageCheck> {
    let rows: Vec<_> = fit
        .cv
        .iter()
        .filter(|r| r.target == target && r.repeat == 0)
        .collect();
    let folds: Option<Vec<usize>> = rows.iter().map(|r| r.fold).collect();
    let truth: Vec<f64> = rows.iter().map(|r| r.truth).collect();
    let pred: Vec<f64> = rows.iter().map(|r| r.predicted).collect();
    shrinkage::shrinkage_to_mean(&truth, &pred, &folds?)
}

fn numbers_table(s: &SummaryRow, in_sample: bool) -> Markup {
    let cell = |v: f64| {
        html! { td { (fmt(v)) @if in_sample && v.is_finite() { span.tag { "in-sample" } } } }
    };
    let pct = |v: f64| {
        html! { td { @if v.is_finite() { (format!("{v:.1}%")) } @else { "–" } @if in_sample && v.is_finite() { span.tag { "in-sample" } } } }
    };
    html! {
        table {
            thead { tr { th { "estimate" } th { "RMSE" } } }
            tbody {
                tr { td { "probing predictor (" (s.method) ")" } (cell(s.rmse)) }
                tr { td { "baseline: training mean" } (cell(s.baseline_mean)) }
                tr { td { "baseline: family mean" } (cell(s.baseline_family_mean)) }
                tr { td { "baseline: noise features" } (cell(s.baseline_noise)) }
            }
        }
        table {
            tbody {
                tr { td { "RMSE reduction vs mean" } (pct(s.reduction_pct)) }
                tr { td { "Kendall τ" } (cell(s.kendall_tau)) }
                tr { td { "R²" } (cell(s.r2)) }
                tr { td { "permutation p" } (cell(s.p_value)) }
                tr { td { "interval coverage" } (cell(s.coverage)) }
                tr { td { "interval half-width" } (cell(s.interval_half_width)) }
            }
        }
    }
}

fn fit_block(
    inp: &Inputs,
    k: usize,
    fit: &FitInput,
    figs: &mut Vec<Figure>,
) -> Result<Markup, ReportError> {
    let p = &fit.predictor;
    let paper = p.protocol == "paper";
    let cv = cv_label(&p.settings);
    let dir = fit.dir.display().to_string();
    let dir_tag = slug(
        &fit.dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| format!("fit{k}")),
    );
    let coverage = p.targets.first().map_or(0.9, |t| t.coverage);
    let mut items = Vec::new();
    for t in &p.targets {
        let name = &t.target;
        let nums = target_numbers(fit, name);
        let rows: Vec<_> = fit
            .cv
            .iter()
            .filter(|r| &r.target == name && r.repeat == 0)
            .collect();
        let fig = if rows.is_empty() {
            None
        } else {
            let groups: Vec<String> = rows
                .iter()
                .map(|r| inp.family(&r.model).to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let pts: Vec<ScatterPoint> = rows
                .iter()
                .map(|r| ScatterPoint {
                    group: groups
                        .iter()
                        .position(|g| g == inp.family(&r.model))
                        .unwrap_or(0),
                    actual: r.truth,
                    predicted: r.predicted,
                    lower: r.lower,
                    upper: r.upper,
                })
                .collect();
            let what = if paper {
                "in-sample fitted"
            } else {
                "out-of-fold predicted"
            };
            Some(Figure {
                name: format!("prediction-{dir_tag}-{}", slug(name)),
                title: format!(
                    "{name}: {what} against fine-tuned score ({}), {} checkpoints{}; dashed: y = x",
                    if paper {
                        "paper protocol, IN-SAMPLE".to_string()
                    } else {
                        cv.clone()
                    },
                    rows.len(),
                    if paper {
                        String::new()
                    } else {
                        format!("; bars: {:.0}% intervals", coverage * 100.0)
                    }
                ),
                svg: predicted_vs_actual(
                    &format!("{name} ({})", if paper { "in-sample" } else { cv.as_str() }),
                    &groups,
                    &pts,
                )?,
            })
        };
        let shrunk = if paper { None } else { shrinkage_of(fit, name) };
        let m = html! {
            h3 { (name) }
            div.pair {
                @if let Some(f) = &fig { (figure(f)) }
                div.side {
                    @if let Some(s) = &nums { (numbers_table(s, paper)) }
                    @if !t.features.is_empty() {
                        p.muted {
                            "final model's features (" (t.features.len()) "): "
                            span.mono {
                                (t.features.iter().take(6).cloned().collect::<Vec<_>>().join(", "))
                                @if t.features.len() > 6 { ", …" }
                            }
                        }
                    }
                    @if let Some(c) = shrunk.filter(|c| c.shrunk) {
                        p.note {
                            strong { "Reading aid: " }
                            (shrinkage::note(name, nums.as_ref().map_or(f64::NAN, |s| s.kendall_tau), &c))
                            " A negative τ here does not mean the probing features rank checkpoints backwards."
                        }
                    }
                }
            }
        };
        if let Some(f) = fig {
            figs.push(f);
        }
        items.push(m);
    }
    Ok(html! {
        h3 { "Fit " code { (dir) } }
        p.muted {
            "protocol " strong { (p.protocol) } " · validation " (if paper { "none (in-sample)".to_string() } else { cv.clone() })
            " · " (p.training_rows) " checkpoints · probecast " (p.probecast_version)
        }
        @if paper {
            p.note {
                strong { "In-sample: " }
                "the paper protocol measures error on the same checkpoints that chose the feature subset. "
                "These numbers are not estimates of error on new checkpoints."
            }
        }
        @for m in items { (m) }
    })
}

/// Render the Prediction section.
pub fn section(inp: &Inputs, figs: &mut Vec<Figure>) -> Result<Markup, ReportError> {
    // honest fits first (leave-one-out, grouped, k-fold), the paper protocol last
    let mut order: Vec<&FitInput> = inp.fits.iter().collect();
    order.sort_by_key(|f| {
        let scheme = f.predictor.settings["cv"]["scheme"].as_str().unwrap_or("");
        let rank = match scheme {
            "loo" => 0,
            "group" => 1,
            _ => 2,
        };
        (f.predictor.protocol == "paper", rank)
    });
    let mut blocks = Vec::new();
    for (k, fit) in order.into_iter().enumerate() {
        blocks.push(fit_block(inp, k, fit, figs)?);
    }
    Ok(html! {
        p.muted {
            "Each point is a checkpoint held out of the fit that predicted it (out-of-fold), except under the paper protocol. "
            "Baselines use the same folds: the training mean, the mean of the checkpoint's family, and a predictor on random noise features."
        }
        @for b in blocks { (b) }
    })
}

/// Fine-tuned scores known for `(model, target)`: from the targets tables, else the fits'
/// cross-validation truth.
pub fn references(inp: &Inputs) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for fit in &inp.fits {
        for r in &fit.cv {
            out.insert((r.model.clone(), r.target.clone()), r.truth);
        }
    }
    for f in &inp.finetune {
        if let Some(t) = &f.targets {
            for (i, m) in t.models.iter().enumerate() {
                for (j, task) in t.tasks.iter().enumerate() {
                    if t.values[i][j].is_finite() {
                        out.insert((m.clone(), task.clone()), t.values[i][j]);
                    }
                }
            }
        }
    }
    out
}

/// Render the Ranking section.
pub fn ranking(inp: &Inputs, figs: &mut Vec<Figure>) -> Result<Markup, ReportError> {
    let refs = references(inp);
    let mut blocks = Vec::new();
    for (k, p) in inp.predictions.iter().enumerate() {
        let mut targets: Vec<&str> = Vec::new();
        for r in &p.rows {
            if !targets.contains(&r.target.as_str()) {
                targets.push(&r.target);
            }
        }
        let mut mine = Vec::new();
        for t in targets {
            let mut rows: Vec<_> = p.rows.iter().filter(|r| r.target == t).collect();
            rows.sort_by(|a, b| b.predicted.total_cmp(&a.predicted).then(a.id.cmp(&b.id)));
            let fr: Vec<ForestRow> = rows
                .iter()
                .map(|r| ForestRow {
                    label: r.id.clone(),
                    estimate: r.predicted,
                    lower: r.lower,
                    upper: r.upper,
                    reference: refs.get(&(r.id.clone(), t.to_string())).copied(),
                })
                .collect();
            let n_ref = fr.iter().filter(|r| r.reference.is_some()).count();
            mine.push(Figure {
                name: format!("ranking-{k}-{}", slug(t)),
                title: format!(
                    "{t}: {} checkpoints by predicted score (best first) with intervals; filled: the {n_ref} fine-tuned references, × their fine-tuned score; hollow: candidates",
                    fr.len()
                ),
                svg: forest(&format!("{t}: predicted score"), "predicted score", &fr)?,
            });
        }
        blocks.push(html! {
            p.muted { "From " code { (p.path.display().to_string()) } "." }
            div.grid { @for f in &mine { (figure(f)) } }
        });
        figs.extend(mine);
    }
    Ok(html! { @for b in blocks { (b) } })
}

#[cfg(test)]
mod tests {
    use super::cv_label;

    #[test]
    fn grouped_folds_are_named_by_their_column() {
        let s = |v: serde_json::Value| serde_json::json!({ "cv": v });
        assert_eq!(
            cv_label(&s(serde_json::json!({"scheme": "loo"}))),
            "leave-one-checkpoint-out"
        );
        assert_eq!(
            cv_label(&s(serde_json::json!({"scheme": "group"}))),
            "leave-one-family-out"
        );
        assert_eq!(
            cv_label(&s(
                serde_json::json!({"scheme": "group", "column": "operation"})
            )),
            "leave-one-operation-out"
        );
    }
}
