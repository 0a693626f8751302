//! The Fine-tuning section: the primary dev metric (the first metric each epoch reports) per
//! epoch, one line per (checkpoint, seed) coloured by family, per task; and the targets table.

use super::figures::{slug, Figure, Line, LineChart};
use super::inputs::Inputs;
use super::page::figure;
use super::ReportError;
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

/// `(epoch, value, error)` of a line.
type Point = (f64, f64, f64);

/// The primary metric of each task: the first metric other than `train_loss` in file order.
pub fn primary_metrics(epochs: &[crate::finetune::results::EpochMetric]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in epochs {
        if e.metric != "train_loss" && !out.iter().any(|(t, _)| *t == e.task) {
            out.push((e.task.clone(), e.metric.clone()));
        }
    }
    out
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "–".into()
    }
}

/// Render the section.
pub fn section(inp: &Inputs, figs: &mut Vec<Figure>) -> Result<Markup, ReportError> {
    let mut blocks = Vec::new();
    for (k, f) in inp.finetune.iter().enumerate() {
        let mut mine = Vec::new();
        for (task, metric) in primary_metrics(&f.epochs) {
            let mut series: BTreeMap<(String, u64), Vec<Point>> = BTreeMap::new();
            for e in f
                .epochs
                .iter()
                .filter(|e| e.task == task && e.metric == metric)
            {
                series.entry((e.model.clone(), e.seed)).or_default().push((
                    e.epoch as f64,
                    e.value,
                    f64::NAN,
                ));
            }
            let groups: Vec<String> = series
                .keys()
                .map(|(m, _)| inp.family(m).to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let lines = series
                .into_iter()
                .map(|((m, seed), pts)| Line {
                    group: groups.iter().position(|g| g == inp.family(&m)).unwrap_or(0),
                    label: format!("{m} seed {seed}"),
                    points: pts,
                })
                .collect();
            let ch = LineChart {
                title: format!("{task}: dev {metric} by epoch"),
                x_desc: "epoch".into(),
                y_desc: format!("dev {metric}"),
                groups,
                lines,
                reference: None,
            };
            mine.push(Figure {
                name: format!("finetune-{k}-{}", slug(&task)),
                title: format!(
                    "{task}: dev {metric} after each epoch, one line per checkpoint and seed, coloured by family"
                ),
                svg: ch.svg()?,
            });
        }
        let m = html! {
            p.muted { "From " code { (f.path.display().to_string()) } "." }
            @if !mine.is_empty() {
                div.grid { @for fig in &mine { (figure(fig)) } }
            }
            @if let Some(t) = &f.targets {
                h3 { "Targets (best dev score per checkpoint and task)" }
                div.scroll {
                    table {
                        thead { tr { th.name { "checkpoint" } th.name { "family" } @for task in &t.tasks { th { (task) } } } }
                        tbody {
                            @for (i, m) in t.models.iter().enumerate() {
                                tr {
                                    td.name { (m) }
                                    td.name { (inp.family(m)) }
                                    @for v in &t.values[i] { td { (fmt(*v)) } }
                                }
                            }
                        }
                    }
                }
            }
        };
        figs.extend(mine);
        blocks.push(m);
    }
    Ok(html! { @for b in blocks { (b) } })
}
