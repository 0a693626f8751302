//! The probing protocol of Zhu et al. (2022), configurable: per class `train_per_class`
//! training examples and a quarter of that for validation, drawn from the `tr` (and `va`) lines
//! with a seed; the test set is every `te` line. Per (task, layer, pooling, seed) each probe
//! family picks its hyper-parameter on validation accuracy; the family with the best validation
//! accuracy is reported as probe `best`. Control tasks (selectivity) and MDL are optional.

use super::mdl::{self, Mdl};
use super::mlp::{self, Mlp, MlpSettings};
use crate::data::senteval::{Dataset, Split};
pub use crate::features::table::Record;
use crate::learn::linalg::{column_stats, standardize, MatRef};
use crate::learn::logreg::{self, LogReg, LogRegSettings};
use crate::util::{at_least_one, SettingsError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Errors of the protocol: problems with the probing data or the settings. Each message names
/// the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtocolError {
    /// Only one label among the training lines.
    #[error(
        "{path}: only one class ({label:?}) among the tr/va lines; a probing task needs at least 2"
    )]
    SingleClass { path: String, label: String },
    /// No `te` lines.
    #[error("{path}: no test lines (split te); the probing protocol tests on them")]
    NoTest { path: String },
    /// A test label never appears in training.
    #[error("{path}: label {label:?} appears in te lines but not in tr/va lines")]
    UnseenTestLabel { path: String, label: String },
    /// A class has too few training examples for the requested sample.
    #[error("{path}: class {label:?} has {available} tr/va examples, fewer than the {needed} needed for --train-per-class {per_class} (plus a quarter for validation); use --train-per-class {suggest} or less, or --allow-fewer")]
    ClassTooSmall {
        path: String,
        label: String,
        available: usize,
        needed: usize,
        per_class: usize,
        suggest: usize,
    },
    /// Two tasks of a suite share a name.
    #[error("{path}: duplicate task name {task:?} (also {other}); task names are file stems and must be unique in a suite")]
    DuplicateTask {
        path: String,
        other: String,
        task: String,
    },
    /// Features do not match the dataset.
    #[error("{path}: {rows} feature rows for {examples} examples")]
    FeatureRows {
        path: String,
        rows: usize,
        examples: usize,
    },
    /// Invalid settings.
    #[error("invalid probe settings: {0}")]
    Settings(String),
    /// A classifier failed (should not happen on checked input).
    #[error("{path}: probe failed: {why}")]
    Probe { path: String, why: String },
}

/// A probing task prepared for sampling: labels mapped to class indices.
#[derive(Debug, Clone)]
pub struct TaskData {
    /// Task name (file stem).
    pub name: String,
    /// Source file, for messages.
    pub path: String,
    /// Class names; class `i` is `labels[i]` (numeric labels sorted numerically, others
    /// lexicographically).
    pub labels: Vec<String>,
    /// Class index of every example of the dataset, in file order.
    pub y: Vec<u32>,
    /// Per class, the indices of its `tr`/`va` examples in file order.
    pub pool: Vec<Vec<usize>>,
    /// Indices of the `te` examples in file order.
    pub test: Vec<usize>,
}

fn label_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// Check a dataset against the protocol and map its labels to classes.
pub fn prepare_task(ds: &Dataset) -> Result<TaskData, ProtocolError> {
    let path = ds.path.display().to_string();
    let train_labels: BTreeSet<&str> = ds
        .examples
        .iter()
        .filter(|e| e.split != Split::Test)
        .map(|e| e.label.as_str())
        .collect();
    let mut labels: Vec<String> = train_labels.iter().map(|s| s.to_string()).collect();
    labels.sort_by(|a, b| label_order(a, b));
    if let Some(e) = ds
        .examples
        .iter()
        .find(|e| e.split == Split::Test && !train_labels.contains(e.label.as_str()))
    {
        return Err(ProtocolError::UnseenTestLabel {
            path,
            label: e.label.clone(),
        });
    }
    if !ds.examples.iter().any(|e| e.split == Split::Test) {
        return Err(ProtocolError::NoTest { path });
    }
    if labels.len() < 2 {
        return Err(ProtocolError::SingleClass {
            path,
            label: labels.first().cloned().unwrap_or_default(),
        });
    }
    let index: BTreeMap<&str, u32> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u32))
        .collect();
    let mut pool = vec![Vec::new(); labels.len()];
    let mut test = Vec::new();
    let mut y = Vec::with_capacity(ds.examples.len());
    for (i, e) in ds.examples.iter().enumerate() {
        let c = index[e.label.as_str()];
        y.push(c);
        if e.split == Split::Test {
            test.push(i);
        } else {
            pool[c as usize].push(i);
        }
    }
    Ok(TaskData {
        name: ds.task.clone(),
        path,
        labels: labels.clone(),
        y,
        pool,
        test,
    })
}

/// Reject suites in which two files have the same task name.
pub fn check_unique_names(datasets: &[Dataset]) -> Result<(), ProtocolError> {
    let mut seen: BTreeMap<&str, &Dataset> = BTreeMap::new();
    for d in datasets {
        if let Some(o) = seen.insert(d.task.as_str(), d) {
            return Err(ProtocolError::DuplicateTask {
                path: d.path.display().to_string(),
                other: o.path.display().to_string(),
                task: d.task.clone(),
            });
        }
    }
    Ok(())
}

/// Validation examples per class for `per_class` training examples: a quarter, at least 1.
pub fn val_per_class(per_class: usize) -> usize {
    (per_class / 4).max(1)
}

/// Per class, how many training and validation examples a draw takes.
pub fn class_sizes(
    task: &TaskData,
    per_class: usize,
    allow_fewer: bool,
) -> Result<Vec<(usize, usize)>, ProtocolError> {
    if per_class == 0 {
        return Err(ProtocolError::Settings(
            "--train-per-class must be at least 1".into(),
        ));
    }
    let nv = val_per_class(per_class);
    let needed = per_class + nv;
    let mut out = Vec::new();
    for (c, pool) in task.pool.iter().enumerate() {
        let avail = pool.len();
        if avail >= needed {
            out.push((per_class, nv));
        } else if allow_fewer && avail >= 2 {
            let nt = ((avail as f64) * 0.8).floor().max(1.0) as usize;
            out.push((nt, avail - nt));
        } else {
            let min_avail = task.pool.iter().map(Vec::len).min().unwrap_or(0);
            // largest p with p + max(p/4, 1) <= min_avail
            let mut suggest = (min_avail * 4) / 5;
            while suggest > 0 && suggest + val_per_class(suggest) > min_avail {
                suggest -= 1;
            }
            return Err(ProtocolError::ClassTooSmall {
                path: task.path.clone(),
                label: task.labels[c].clone(),
                available: avail,
                needed,
                per_class,
                suggest,
            });
        }
    }
    Ok(out)
}

/// One draw of training and validation examples (dataset row indices), each shuffled.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub val: Vec<usize>,
}

/// Draw training and validation rows for `seed` (deterministic).
pub fn draw(
    task: &TaskData,
    per_class: usize,
    seed: u64,
    allow_fewer: bool,
) -> Result<Draw, ProtocolError> {
    let sizes = class_sizes(task, per_class, allow_fewer)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (pool, &(nt, nv)) in task.pool.iter().zip(&sizes) {
        let mut p = pool.clone();
        p.shuffle(&mut rng);
        train.extend_from_slice(&p[..nt]);
        val.extend_from_slice(&p[nt..nt + nv]);
    }
    train.shuffle(&mut rng);
    val.shuffle(&mut rng);
    Ok(Draw { train, val })
}

/// A probe family.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// L2 logistic regression, penalty chosen from [`ProbeSettings::c_grid`].
    LogReg,
    /// One-hidden-layer MLP, width chosen from [`ProbeSettings::mlp_hidden`].
    Mlp,
}

impl ProbeKind {
    /// Name used in the outputs (`logreg`, `mlp`).
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::LogReg => "logreg",
            ProbeKind::Mlp => "mlp",
        }
    }

    /// Parse `logreg` / `mlp`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "logreg" => Some(ProbeKind::LogReg),
            "mlp" => Some(ProbeKind::Mlp),
            _ => None,
        }
    }
}

/// Settings of the protocol (a study file's `[probe.settings]` table: serde, every field
/// optional with the defaults below).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSettings {
    /// Training examples per class (validation: a quarter of it).
    pub train_per_class: usize,
    /// Number of draws (seeds `0..seeds`).
    pub seeds: usize,
    /// Probe families to train.
    pub probes: Vec<ProbeKind>,
    /// Compute control-task selectivity.
    pub selectivity: bool,
    /// Compute MDL online codelength.
    pub mdl: bool,
    /// Penalty grid of the logistic regression (ascending; fitted along a warm-started path).
    pub c_grid: Vec<f64>,
    /// Hidden sizes tried for the MLP.
    pub mlp_hidden: Vec<usize>,
    /// Other MLP settings (its `hidden` and `seed` are set per fit).
    pub mlp: MlpSettings,
    /// Logistic-regression optimiser settings (its `c` is set per fit).
    pub logreg: LogRegSettings,
    /// Use what there is (80/20) for classes smaller than `train_per_class` + a quarter.
    pub allow_fewer: bool,
}

impl ProbeSettings {
    /// Validate before any work: counts of at least one, a non-empty grid of positive finite
    /// penalties, MLP sizes of at least one.
    pub fn check(&self) -> Result<(), SettingsError> {
        at_least_one("train_per_class", self.train_per_class)?;
        at_least_one("seeds", self.seeds)?;
        if self.probes.is_empty() {
            return Err(SettingsError::new("probe", "needs at least one probe"));
        }
        if self.c_grid.is_empty() || self.c_grid.iter().any(|&c| !(c > 0.0 && c.is_finite())) {
            return Err(SettingsError::new(
                "c_grid",
                "every C must be positive and finite",
            ));
        }
        if self.mlp_hidden.is_empty() || self.mlp_hidden.contains(&0) {
            return Err(SettingsError::new("mlp_hidden", "sizes must be at least 1"));
        }
        Ok(())
    }

    /// Set the probe families from names (`logreg`, `mlp`; duplicates ignored).
    pub fn set_probes(&mut self, names: &[String]) -> Result<(), SettingsError> {
        let mut probes = Vec::new();
        for p in names {
            let k = ProbeKind::parse(p.trim()).ok_or_else(|| {
                SettingsError::new(
                    "probe",
                    format!("unknown probe {p:?} (expected logreg, mlp)"),
                )
            })?;
            if !probes.contains(&k) {
                probes.push(k);
            }
        }
        self.probes = probes;
        Ok(())
    }

    /// Set the metrics from names (`acc` is always computed; `selectivity` or `sel`, `mdl`).
    pub fn set_metrics(&mut self, names: &[String]) -> Result<(), SettingsError> {
        let (mut sel, mut mdl) = (false, false);
        for m in names {
            match m.trim() {
                "acc" => {}
                "selectivity" | "sel" => sel = true,
                "mdl" => mdl = true,
                other => {
                    return Err(SettingsError::new(
                        "metrics",
                        format!("unknown metric {other:?} (expected acc, selectivity, mdl)"),
                    ))
                }
            }
        }
        (self.selectivity, self.mdl) = (sel, mdl);
        Ok(())
    }

    /// Set the penalty grid, sorted ascending and deduplicated (the path is fitted in order).
    pub fn set_c_grid(&mut self, grid: &[f64]) {
        let mut c = grid.to_vec();
        c.sort_by(|x, y| x.total_cmp(y));
        c.dedup();
        self.c_grid = c;
    }
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            train_per_class: 1200,
            seeds: 5,
            probes: vec![ProbeKind::LogReg],
            selectivity: true,
            mdl: true,
            c_grid: vec![0.01, 0.1, 1.0, 10.0],
            mlp_hidden: vec![10, 20, 100],
            mlp: MlpSettings::default(),
            logreg: LogRegSettings {
                lbfgs: crate::learn::lbfgs::LbfgsSettings {
                    gtol: 1e-4,
                    ..Default::default()
                },
                ..Default::default()
            },
            allow_fewer: false,
        }
    }
}

/// `(probe, metric, value)` rows of one (layer, seed).
type UnitRows = Vec<(String, String, f64)>;

/// A fitted probe of either family.
enum Fitted {
    LogReg(LogReg),
    Mlp(Mlp),
}

impl Fitted {
    fn accuracy(&self, x: MatRef, y: &[u32]) -> f64 {
        match self {
            Fitted::LogReg(m) => m.accuracy(x, y),
            Fitted::Mlp(m) => m.accuracy(x, y),
        }
    }
}

/// Matrices of one draw, standardised with the training statistics.
struct Split3 {
    xtr: Vec<f32>,
    ytr: Vec<u32>,
    xva: Vec<f32>,
    yva: Vec<u32>,
    xte: Vec<f32>,
    yte: Vec<u32>,
    dim: usize,
}

impl Split3 {
    fn tr(&self) -> MatRef<'_> {
        MatRef::new(&self.xtr, self.ytr.len(), self.dim)
    }
    fn va(&self) -> MatRef<'_> {
        MatRef::new(&self.xva, self.yva.len(), self.dim)
    }
    fn te(&self) -> MatRef<'_> {
        MatRef::new(&self.xte, self.yte.len(), self.dim)
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_family(
    kind: ProbeKind,
    hp: f64,
    xtr: MatRef,
    ytr: &[u32],
    xva: MatRef,
    yva: &[u32],
    k: usize,
    s: &ProbeSettings,
    seed: u64,
) -> Result<Fitted, String> {
    match kind {
        ProbeKind::LogReg => {
            let o = LogRegSettings { c: hp, ..s.logreg };
            logreg::fit(xtr, ytr, k, &o, None)
                .map(|(m, _)| Fitted::LogReg(m))
                .map_err(|e| e.to_string())
        }
        ProbeKind::Mlp => {
            let o = MlpSettings {
                hidden: hp as usize,
                seed,
                ..s.mlp
            };
            mlp::train(xtr, ytr, xva, yva, k, &o)
                .map(|(m, _)| Fitted::Mlp(m))
                .map_err(|e| e.to_string())
        }
    }
}

/// Select the hyper-parameter of `kind` on validation accuracy. Returns (hyper-parameter,
/// fitted probe, validation accuracy).
fn select(
    kind: ProbeKind,
    d: &Split3,
    k: usize,
    s: &ProbeSettings,
    seed: u64,
) -> Result<(f64, Fitted, f64), String> {
    let mut best: Option<(f64, Fitted, f64)> = None;
    let mut consider = |hp: f64, f: Fitted| {
        let acc = f.accuracy(d.va(), &d.yva);
        if best.as_ref().is_none_or(|b| acc > b.2) {
            best = Some((hp, f, acc));
        }
    };
    match kind {
        ProbeKind::LogReg => {
            let path = logreg::fit_path(d.tr(), &d.ytr, k, &s.c_grid, &s.logreg)
                .map_err(|e| e.to_string())?;
            for (m, info) in path {
                consider(info.c, Fitted::LogReg(m));
            }
        }
        ProbeKind::Mlp => {
            for (j, &h) in s.mlp_hidden.iter().enumerate() {
                let f = fit_family(
                    kind,
                    h as f64,
                    d.tr(),
                    &d.ytr,
                    d.va(),
                    &d.yva,
                    k,
                    s,
                    seed * 1000 + j as u64,
                )?;
                consider(h as f64, f);
            }
        }
    }
    best.ok_or_else(|| "empty hyper-parameter grid".to_string())
}

fn probs(f: &Fitted, x: MatRef) -> Vec<f64> {
    match f {
        Fitted::LogReg(m) => m.predict_proba(x),
        Fitted::Mlp(m) => m.predict_proba(x),
    }
}

/// Probe one (layer, seed): returns `(probe, metric, value)` triples.
fn probe_unit(
    x: MatRef,
    task: &TaskData,
    draw: &Draw,
    seed: u64,
    s: &ProbeSettings,
) -> Result<UnitRows, String> {
    let k = task.labels.len();
    let mut xtr = x.gather(&draw.train);
    let (mean, sd) = column_stats(MatRef::new(&xtr, draw.train.len(), x.dim));
    standardize(&mut xtr, x.dim, &mean, &sd);
    let mut xva = x.gather(&draw.val);
    standardize(&mut xva, x.dim, &mean, &sd);
    let mut xte = x.gather(&task.test);
    standardize(&mut xte, x.dim, &mean, &sd);
    let pick = |idx: &[usize]| idx.iter().map(|&i| task.y[i]).collect::<Vec<u32>>();
    let d = Split3 {
        xtr,
        ytr: pick(&draw.train),
        xva,
        yva: pick(&draw.val),
        xte,
        yte: pick(&task.test),
        dim: x.dim,
    };
    let mut out: Vec<(String, String, f64)> = Vec::new();
    let mut best: Option<(f64, String, usize)> = None; // (val acc, probe, first row of its block)
    for &kind in &s.probes {
        let name = kind.name().to_string();
        let start = out.len();
        let (hp, fitted, val_acc) = select(kind, &d, k, s, seed)?;
        let test_acc = fitted.accuracy(d.te(), &d.yte);
        let push = |out: &mut Vec<(String, String, f64)>, m: &str, v: f64| {
            out.push((name.clone(), m.to_string(), v))
        };
        push(&mut out, "test_acc", test_acc);
        push(&mut out, "val_acc", val_acc);
        push(&mut out, "train_acc", fitted.accuracy(d.tr(), &d.ytr));
        push(
            &mut out,
            if kind == ProbeKind::LogReg {
                "c"
            } else {
                "hidden"
            },
            hp,
        );
        if s.selectivity {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e1e_c71f_1e5e_ed00);
            let mut ctr = d.ytr.clone();
            ctr.shuffle(&mut rng);
            let mut cva = d.yva.clone();
            cva.shuffle(&mut rng);
            let mut cte = d.yte.clone();
            cte.shuffle(&mut rng);
            let f = fit_family(
                kind,
                hp,
                d.tr(),
                &ctr,
                d.va(),
                &cva,
                k,
                s,
                seed * 1000 + 999,
            )?;
            let c_train = f.accuracy(d.tr(), &ctr);
            push(&mut out, "control_train_acc", c_train);
            push(&mut out, "control_test_acc", f.accuracy(d.te(), &cte));
            push(&mut out, "selectivity", test_acc - c_train);
        }
        if s.mdl {
            let ends = mdl::block_ends(d.ytr.len(), &mdl::VOITA_TITOV_PERCENTS);
            let mut err = None;
            let r: Mdl = mdl::online_codelength(&d.ytr, k, &ends, |prefix, block| {
                let xp = MatRef::new(&d.xtr[..prefix * d.dim], prefix, d.dim);
                let xb = MatRef::new(
                    &d.xtr[block.start * d.dim..block.end * d.dim],
                    block.len(),
                    d.dim,
                );
                match fit_family(
                    kind,
                    hp,
                    xp,
                    &d.ytr[..prefix],
                    d.va(),
                    &d.yva,
                    k,
                    s,
                    seed * 1000 + 998,
                ) {
                    Ok(f) => probs(&f, xb),
                    Err(e) => {
                        err = Some(e);
                        vec![1.0 / k as f64; block.len() * k]
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            push(&mut out, "mdl_bits", r.codelength_bits);
            push(&mut out, "uniform_bits", r.uniform_bits);
            push(&mut out, "mdl_compression", r.compression);
        }
        if best.as_ref().is_none_or(|b| val_acc > b.0) {
            best = Some((val_acc, name.clone(), start));
        }
    }
    if s.probes.len() > 1 {
        if let Some((_, name, start)) = best {
            let rows: Vec<_> = out[start..]
                .iter()
                .filter(|r| r.0 == name && r.1 != "c" && r.1 != "hidden")
                .map(|r| ("best".to_string(), r.1.clone(), r.2))
                .collect();
            out.extend(rows);
        }
    }
    Ok(out)
}

/// Probe every layer of one pooling of one task over all seeds, in parallel. `layers[l]` holds
/// the features of every example of the dataset (file order) at layer `l`. Returns per-seed
/// records followed by `mean` and `std` (sample standard deviation) over seeds. `progress` is
/// called after each (layer, seed).
pub fn probe_task(
    task: &TaskData,
    layers: &[MatRef],
    pooling: &str,
    s: &ProbeSettings,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Record>, ProtocolError> {
    if s.probes.is_empty() || s.seeds == 0 || s.c_grid.is_empty() || s.mlp_hidden.is_empty() {
        return Err(ProtocolError::Settings(
            "need at least one probe, one seed, one C and one hidden size".into(),
        ));
    }
    for l in layers {
        if l.n != task.y.len() {
            return Err(ProtocolError::FeatureRows {
                path: task.path.clone(),
                rows: l.n,
                examples: task.y.len(),
            });
        }
    }
    let draws: Vec<Draw> = (0..s.seeds as u64)
        .map(|seed| draw(task, s.train_per_class, seed, s.allow_fewer))
        .collect::<Result<_, _>>()?;
    let units: Vec<(usize, u64)> = (0..layers.len())
        .flat_map(|l| (0..s.seeds as u64).map(move |seed| (l, seed)))
        .collect();
    let results: Vec<Result<UnitRows, String>> = units
        .par_iter()
        .map(|&(l, seed)| {
            let r = probe_unit(layers[l], task, &draws[seed as usize], seed, s);
            progress();
            r
        })
        .collect();
    let mut records = Vec::new();
    let mut groups: BTreeMap<(usize, String, String), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<(usize, String, String)> = Vec::new();
    for (&(l, seed), r) in units.iter().zip(results) {
        let rows = r.map_err(|why| ProtocolError::Probe {
            path: task.path.clone(),
            why,
        })?;
        for (probe, metric, value) in rows {
            let key = (l, probe.clone(), metric.clone());
            let e = groups.entry(key.clone()).or_default();
            if e.is_empty() {
                order.push(key);
            }
            e.push(value);
            records.push(Record {
                task: task.name.clone(),
                layer: l,
                pooling: pooling.to_string(),
                probe,
                seed: seed.to_string(),
                metric,
                value,
            });
        }
    }
    for key in order {
        let v = &groups[&key];
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = if v.len() > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        for (tag, value) in [("mean", mean), ("std", sd)] {
            records.push(Record {
                task: task.name.clone(),
                layer: key.0,
                pooling: pooling.to_string(),
                probe: key.1.clone(),
                seed: tag.to_string(),
                metric: key.2.clone(),
                value,
            });
        }
    }
    Ok(records)
}
