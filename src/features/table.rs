//! The features tables, the contract between the stages that measure checkpoints (probing, the
//! transferability estimators) and the predictor: `probes.csv` (tidy, one [`Record`] a row) and
//! `features.csv` (wide, one row per model: the input of `probecast fit`). Both stages produce
//! records; this layer writes and reads the tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One value of the long results table (without the model column).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Task name.
    pub task: String,
    /// Layer index (0 = embedding output).
    pub layer: usize,
    /// Pooling name (`cls`, `mean`).
    pub pooling: String,
    /// Probe: `logreg`, `mlp` or `best`.
    pub probe: String,
    /// Seed, or `mean` / `std` for the aggregate over seeds.
    pub seed: String,
    /// Metric name (see docs/probe.md).
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// Errors writing result tables.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file cannot be written.
    #[error("{path}: cannot write: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A results table cannot be read back (unreadable, missing column, bad cell).
    #[error("{path}: {msg}")]
    Read {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

/// Format a value for CSV: shortest representation that reads back to the same `f64`.
fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

fn csv_bytes(header: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("in-memory write");
    for r in rows {
        w.write_record(r).expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    crate::util::write_atomic(path, bytes).map_err(|source| ResultsError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The tidy table: `model,task,layer,pooling,probe,seed,metric,value`.
pub fn probes_csv(rows: &[(String, Record)]) -> Vec<u8> {
    let header: Vec<String> = PROBES_COLUMNS.iter().map(|s| s.to_string()).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(m, r)| {
            vec![
                m.clone(),
                r.task.clone(),
                r.layer.to_string(),
                r.pooling.clone(),
                r.probe.clone(),
                r.seed.clone(),
                r.metric.clone(),
                fmt(r.value),
            ]
        })
        .collect();
    csv_bytes(&header, &body)
}

/// Write [`probes_csv`] to `path` atomically.
pub fn write_probes_csv(path: &Path, rows: &[(String, Record)]) -> Result<(), ResultsError> {
    write(path, &probes_csv(rows))
}

/// Name of a wide feature column: `<task>_layer_<k>` for the test accuracy with `cls` pooling,
/// with `__<pooling>` for other poolings and `__sel` / `__mdl` for selectivity / MDL
/// compression (e.g. `past_present_layer_3__mean__sel`). `None` for other metrics.
pub fn feature_column(task: &str, layer: usize, pooling: &str, metric: &str) -> Option<String> {
    let suffix = match metric {
        "test_acc" => "",
        "selectivity" => "__sel",
        "mdl_compression" => "__mdl",
        // transferability scores: the estimator is in the task name (the transfer stage's columns)
        "transfer" => "",
        _ => return None,
    };
    let pool = if pooling == "cls" {
        String::new()
    } else {
        format!("__{pooling}")
    };
    Some(format!("{task}_layer_{layer}{pool}{suffix}"))
}

/// The wide table from the `mean` rows of the reported probe: probe `best` when the run had
/// several probe families, else the only one. Columns: `model`, then per pooling (cls first),
/// per metric (accuracy, selectivity, MDL), per task (in first-seen order), per layer. Models
/// keep their order; a model without a value for a column gets an empty cell.
pub fn features_table(rows: &[(String, Record)]) -> (Vec<String>, Vec<Vec<String>>) {
    let has_best = rows.iter().any(|(_, r)| r.probe == "best");
    let mut models: Vec<String> = Vec::new();
    let mut tasks: Vec<String> = Vec::new();
    let mut cols: BTreeSet<(u8, String, u8, usize, usize)> = BTreeSet::new();
    let mut values: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (m, r) in rows {
        if !models.contains(m) {
            models.push(m.clone());
        }
        if r.seed != "mean" || (has_best && r.probe != "best" && r.metric != "transfer") {
            continue;
        }
        let Some(name) = feature_column(&r.task, r.layer, &r.pooling, &r.metric) else {
            continue;
        };
        if !tasks.contains(&r.task) {
            tasks.push(r.task.clone());
        }
        let t = tasks.iter().position(|t| t == &r.task).unwrap();
        let pool_rank = u8::from(r.pooling != "cls");
        let metric_rank = match r.metric.as_str() {
            "test_acc" => 0,
            "selectivity" => 1,
            "mdl_compression" => 2,
            _ => 3,
        };
        cols.insert((pool_rank, r.pooling.clone(), metric_rank, t, r.layer));
        values.insert((m.clone(), name), r.value);
    }
    let metric_name = |rank: u8| match rank {
        0 => "test_acc",
        1 => "selectivity",
        2 => "mdl_compression",
        _ => "transfer",
    };
    let names: Vec<String> = cols
        .iter()
        .map(|(_, pool, mr, t, l)| feature_column(&tasks[*t], *l, pool, metric_name(*mr)).unwrap())
        .collect();
    let mut header = vec!["model".to_string()];
    header.extend(names.iter().cloned());
    let body = models
        .iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(names.iter().map(|n| {
                values
                    .get(&(m.clone(), n.clone()))
                    .map(|&v| fmt(v))
                    .unwrap_or_default()
            }));
            row
        })
        .collect();
    (header, body)
}

/// Write [`features_table`] to `path` atomically.
pub fn write_features_csv(path: &Path, rows: &[(String, Record)]) -> Result<(), ResultsError> {
    let (h, b) = features_table(rows);
    write(path, &csv_bytes(&h, &b))
}

/// The columns of `probes.csv`, in order.
pub const PROBES_COLUMNS: [&str; 8] = [
    "model", "task", "layer", "pooling", "probe", "seed", "metric", "value",
];

/// Read a `probes.csv` written by [`write_probes_csv`] (columns found by name, so extra
/// columns are ignored). A missing column, a non-integer layer or a non-numeric value is an
/// error naming the file and the line.
pub fn read_probes_csv(path: &Path) -> Result<Vec<(String, Record)>, ResultsError> {
    let bad = |msg: String| ResultsError::Read {
        path: path.display().to_string(),
        msg,
    };
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let header: Vec<String> = rd
        .headers()
        .map_err(|e| bad(format!("bad CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut idx = [0usize; 8];
    for (k, name) in PROBES_COLUMNS.iter().enumerate() {
        idx[k] = header.iter().position(|h| h == name).ok_or_else(|| {
            bad(format!(
                "missing column '{name}' (a probes.csv has {})",
                PROBES_COLUMNS.join(",")
            ))
        })?;
    }
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| bad(format!("bad CSV: {e}")))?;
        let line = rec.position().map_or(0, |p| p.line());
        let f = |k: usize| rec.get(idx[k]).unwrap_or("");
        let layer = f(2)
            .parse()
            .map_err(|_| bad(format!("line {line}: layer '{}' is not an integer", f(2))))?;
        let value = match f(7) {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .map_err(|_| bad(format!("line {line}: value '{v}' is not a number")))?,
        };
        out.push((
            f(0).to_string(),
            Record {
                task: f(1).to_string(),
                layer,
                pooling: f(3).to_string(),
                probe: f(4).to_string(),
                seed: f(5).to_string(),
                metric: f(6).to_string(),
                value,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        task: &str,
        layer: usize,
        pooling: &str,
        probe: &str,
        seed: &str,
        metric: &str,
        v: f64,
    ) -> Record {
        Record {
            task: task.into(),
            layer,
            pooling: pooling.into(),
            probe: probe.into(),
            seed: seed.into(),
            metric: metric.into(),
            value: v,
        }
    }

    #[test]
    fn wide_table_has_one_row_per_model_and_suffixed_columns() {
        let rows = vec![
            (
                "m1".to_string(),
                rec("bs", 1, "cls", "logreg", "0", "test_acc", 0.5),
            ),
            (
                "m1".to_string(),
                rec("bs", 1, "cls", "logreg", "mean", "test_acc", 0.75),
            ),
            (
                "m1".to_string(),
                rec("bs", 0, "cls", "logreg", "mean", "test_acc", 0.5),
            ),
            (
                "m1".to_string(),
                rec("bs", 0, "mean", "logreg", "mean", "test_acc", 0.625),
            ),
            (
                "m1".to_string(),
                rec("bs", 0, "cls", "logreg", "mean", "selectivity", 0.25),
            ),
            (
                "m1".to_string(),
                rec("bs", 0, "cls", "logreg", "mean", "mdl_compression", 1.5),
            ),
            (
                "m2".to_string(),
                rec("bs", 0, "cls", "logreg", "mean", "test_acc", 0.125),
            ),
        ];
        let (h, b) = features_table(&rows);
        assert_eq!(
            h,
            vec![
                "model",
                "bs_layer_0",
                "bs_layer_1",
                "bs_layer_0__sel",
                "bs_layer_0__mdl",
                "bs_layer_0__mean"
            ]
        );
        assert_eq!(b[0], vec!["m1", "0.5", "0.75", "0.25", "1.5", "0.625"]);
        assert_eq!(b[1], vec!["m2", "0.125", "", "", "", ""]);
    }

    #[test]
    fn probes_csv_reads_back_what_was_written_and_names_a_missing_column() {
        let rows = vec![
            (
                "m1".to_string(),
                rec("bs", 2, "cls", "logreg", "0", "test_acc", 0.625),
            ),
            (
                "m,2".to_string(),
                rec("bs", 0, "mean", "best", "mean", "selectivity", f64::NAN),
            ),
        ];
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("probes.csv");
        write_probes_csv(&p, &rows).unwrap();
        let back = read_probes_csv(&p).unwrap();
        assert_eq!(back[0], rows[0]);
        assert_eq!(back[1].0, "m,2");
        assert!(back[1].1.value.is_nan());
        std::fs::write(&p, "model,task,pooling,probe,seed,metric,value\n").unwrap();
        let e = read_probes_csv(&p).unwrap_err().to_string();
        assert!(
            e.contains("probes.csv") && e.contains("missing column 'layer'"),
            "{e}"
        );
    }
}
