//! The Probing section: per probing run, accuracy against layer for every (pooling, task) with
//! one line per checkpoint coloured by family, chance level and +-1 SD error bars over seeds;
//! a task x layer heatmap of mean accuracy per family; selectivity and MDL compression curves
//! when the run measured them.

use super::figures::{heatmap, slug, Figure, Line, LineChart};
use super::inputs::{Inputs, ProbeInput};
use super::page::figure;
use super::ReportError;
use crate::probe::protocol::Record;
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

/// The probe whose rows are reported: `best` when the run had several probe families, else the
/// first one seen.
pub fn reported_probe(rows: &[(String, Record)]) -> String {
    if rows.iter().any(|(_, r)| r.probe == "best") {
        "best".into()
    } else {
        rows.first()
            .map(|(_, r)| r.probe.clone())
            .unwrap_or_default()
    }
}

/// Number of distinct numbered seeds in the rows.
pub fn seed_count(rows: &[(String, Record)]) -> usize {
    rows.iter()
        .filter(|(_, r)| r.seed.parse::<u64>().is_ok())
        .map(|(_, r)| r.seed.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// Values of `metric` keyed by (model, task, pooling, layer), with the seed standard deviation:
/// `(mean, sd)`.
type Curves = BTreeMap<(String, String, String, usize), (f64, f64)>;

fn curves(p: &ProbeInput, metric: &str, probe: &str) -> Curves {
    let mut out: Curves = BTreeMap::new();
    for (m, r) in &p.rows {
        if r.metric != metric || r.probe != probe {
            continue;
        }
        let key = (m.clone(), r.task.clone(), r.pooling.clone(), r.layer);
        let e = out.entry(key).or_insert((f64::NAN, f64::NAN));
        match r.seed.as_str() {
            "mean" => e.0 = r.value,
            "std" => e.1 = r.value,
            _ => {}
        }
    }
    out
}

fn first_seen<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for s in it {
        if !v.iter().any(|x| x == s) {
            v.push(s.to_string());
        }
    }
    v
}

/// The line chart of one metric for one (task, pooling): one line per model.
pub fn metric_chart(
    inp: &Inputs,
    c: &Curves,
    models: &[String],
    task: &str,
    pooling: &str,
    y_desc: &str,
    with_sd: bool,
) -> LineChart {
    let groups: Vec<String> = models
        .iter()
        .map(|m| inp.family(m).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut lines = Vec::new();
    for m in models {
        let pts: Vec<(f64, f64, f64)> = c
            .range(
                (m.clone(), task.to_string(), pooling.to_string(), 0)
                    ..=(m.clone(), task.to_string(), pooling.to_string(), usize::MAX),
            )
            .filter(|(_, v)| v.0.is_finite())
            .map(|(k, v)| (k.3 as f64, v.0, if with_sd { v.1 } else { f64::NAN }))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let g = groups.iter().position(|g| g == inp.family(m)).unwrap_or(0);
        lines.push(Line {
            label: m.clone(),
            group: g,
            points: pts,
        });
    }
    LineChart {
        title: format!("{task} ({pooling} pooling)"),
        x_desc: "layer".into(),
        y_desc: y_desc.into(),
        groups,
        lines,
        reference: None,
    }
}

/// Render the section.
pub fn section(inp: &Inputs, figs: &mut Vec<Figure>) -> Result<Markup, ReportError> {
    let mut blocks = Vec::new();
    for p in &inp.probes {
        blocks.push(run_block(inp, p, figs)?);
    }
    Ok(html! { @for b in blocks { (b) } })
}

fn run_block(inp: &Inputs, p: &ProbeInput, figs: &mut Vec<Figure>) -> Result<Markup, ReportError> {
    let probe = reported_probe(&p.rows);
    let seeds = seed_count(&p.rows);
    let models = first_seen(p.rows.iter().map(|(m, _)| m.as_str()));
    let tasks = first_seen(p.rows.iter().map(|(_, r)| r.task.as_str()));
    let poolings = first_seen(p.rows.iter().map(|(_, r)| r.pooling.as_str()));
    let families: BTreeSet<&str> = models.iter().map(|m| inp.family(m)).collect();
    let src = p.path.display().to_string();
    let tag = slug(
        &p.path
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "probe".into()),
    );

    let acc = curves(p, "test_acc", &probe);
    let mut acc_figs = Vec::new();
    for pool in &poolings {
        for t in &tasks {
            let mut ch = metric_chart(inp, &acc, &models, t, pool, "test accuracy", seeds > 1);
            if let Some(&c) = p.chance.get(t) {
                ch.reference = Some((c, format!("chance {c:.2}")));
            }
            if ch.lines.is_empty() {
                continue;
            }
            acc_figs.push(Figure {
                name: format!("probing-{tag}-{}-{}", slug(pool), slug(t)),
                title: format!(
                    "{t}: test accuracy by layer, {pool} pooling, probe {probe}{}",
                    if seeds > 1 {
                        format!("; bars: ±1 SD over {seeds} seeds")
                    } else {
                        String::new()
                    }
                ),
                svg: ch.svg()?,
            });
        }
    }

    // heatmaps: mean accuracy over the family's checkpoints, first pooling
    let mut heat_figs = Vec::new();
    if let Some(pool) = poolings.first() {
        let layers: BTreeSet<usize> = acc.keys().map(|k| k.3).collect();
        let layers: Vec<usize> = layers.into_iter().collect();
        for fam in &families {
            let members: Vec<&String> = models.iter().filter(|m| inp.family(m) == *fam).collect();
            let values: Vec<Vec<f64>> = tasks
                .iter()
                .map(|t| {
                    layers
                        .iter()
                        .map(|&l| {
                            let v: Vec<f64> = members
                                .iter()
                                .filter_map(|m| {
                                    acc.get(&((*m).clone(), t.clone(), pool.clone(), l))
                                })
                                .map(|v| v.0)
                                .filter(|v| v.is_finite())
                                .collect();
                            if v.is_empty() {
                                f64::NAN
                            } else {
                                v.iter().sum::<f64>() / v.len() as f64
                            }
                        })
                        .collect()
                })
                .collect();
            let cols: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
            heat_figs.push(Figure {
                name: format!("heatmap-{tag}-{}", slug(fam)),
                title: format!(
                    "family {fam}: mean test accuracy of its {} checkpoint(s), task x layer, {pool} pooling (colours span this figure's own range)",
                    members.len()
                ),
                svg: heatmap(&format!("family {fam}"), &tasks, &cols, &values)?,
            });
        }
    }

    let mut extra_figs = Vec::new();
    for (metric, label, what) in [
        (
            "selectivity",
            "selectivity",
            "selectivity (accuracy − control-task train accuracy)",
        ),
        (
            "mdl_compression",
            "MDL compression",
            "MDL compression (uniform / online codelength)",
        ),
    ] {
        let c = curves(p, metric, &probe);
        if c.is_empty() {
            continue;
        }
        for pool in &poolings {
            for t in &tasks {
                let ch = metric_chart(inp, &c, &models, t, pool, label, seeds > 1);
                if ch.lines.is_empty() {
                    continue;
                }
                extra_figs.push(Figure {
                    name: format!("{}-{tag}-{}-{}", slug(metric), slug(pool), slug(t)),
                    title: format!("{t}: {what} by layer, {pool} pooling"),
                    svg: ch.svg()?,
                });
            }
        }
    }

    let m = html! {
        p.muted {
            "From " code { (src) } ": " (models.len()) " checkpoints, " (tasks.len()) " tasks, "
            (families.len()) " families, probe " (probe) ", " (seeds.max(1)) " seed(s). "
            "Lines are coloured by family; the dashed line is chance level (1 / classes)"
            @if p.chance.is_empty() { " — unknown here: no class counts found" }
            "."
        }
        h3 { "Accuracy by layer" }
        div.grid { @for f in &acc_figs { (figure(f)) } }
        h3 { "Task × layer heatmaps per family" }
        div.grid { @for f in &heat_figs { (figure(f)) } }
        @if !extra_figs.is_empty() {
            h3 { "Selectivity and MDL" }
            div.grid { @for f in &extra_figs { (figure(f)) } }
        }
    };
    figs.extend(acc_figs);
    figs.extend(heat_figs);
    figs.extend(extra_figs);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(task: &str, layer: usize, seed: &str, metric: &str, v: f64) -> Record {
        Record {
            task: task.into(),
            layer,
            pooling: "cls".into(),
            probe: "logreg".into(),
            seed: seed.into(),
            metric: metric.into(),
            value: v,
        }
    }

    #[test]
    fn one_accuracy_figure_per_task_one_heatmap_per_family_and_sd_bars_with_several_seeds() {
        let mut rows = Vec::new();
        for (m, base) in [("a-1", 0.6), ("a-2", 0.62), ("b-1", 0.7)] {
            for t in ["t1", "t2"] {
                for l in 0..3 {
                    let v = base + 0.01 * l as f64;
                    rows.push((m.to_string(), rec(t, l, "0", "test_acc", v - 0.01)));
                    rows.push((m.to_string(), rec(t, l, "1", "test_acc", v + 0.01)));
                    rows.push((m.to_string(), rec(t, l, "mean", "test_acc", v)));
                    rows.push((m.to_string(), rec(t, l, "std", "test_acc", 0.014)));
                }
            }
        }
        let mut inp = Inputs::default();
        for (m, f) in [("a-1", "a"), ("a-2", "a"), ("b-1", "b")] {
            inp.families.insert(m.into(), f.into());
        }
        let p = ProbeInput {
            path: "run/probes.csv".into(),
            rows,
            chance: [("t1".to_string(), 0.5)].into_iter().collect(),
        };
        assert_eq!(seed_count(&p.rows), 2);
        let c = curves(&p, "test_acc", "logreg");
        let models: Vec<String> = vec!["a-1".into(), "a-2".into(), "b-1".into()];
        let ch = metric_chart(&inp, &c, &models, "t1", "cls", "acc", true);
        assert_eq!(ch.groups, vec!["a", "b"]);
        assert_eq!(ch.lines.len(), 3);
        assert_eq!(ch.lines[2].group, 1);
        let (x, y, e) = ch.lines[0].points[1];
        assert_eq!((x, e), (1.0, 0.014));
        assert!((y - 0.61).abs() < 1e-12);
        inp.probes.push(p);
        let mut figs = Vec::new();
        let html = section(&inp, &mut figs).unwrap().into_string();
        let names: Vec<&str> = figs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "probing-run-cls-t1",
                "probing-run-cls-t2",
                "heatmap-run-a",
                "heatmap-run-b"
            ]
        );
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(figs[0].svg.contains("chance 0.50"));
        assert!(!figs[1].svg.contains("chance"));
    }
}
