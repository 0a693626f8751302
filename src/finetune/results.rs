//! The fine-tuning stage's tables, written by `probecast finetune` and by the demo alike:
//! `finetune.csv` (tidy: `model,task,seed,epoch,metric,value`, one value a row, the training loss
//! of each epoch included) and `targets.csv` (wide: `model` + one column per task, the best
//! epoch's primary dev metric averaged over seeds: the targets `probecast fit` reads), and their
//! readers (which also take the seedless finetune.csv of demo runs made before this layout).

use super::train::RunResult;
use std::path::Path;

/// The columns of finetune.csv.
pub const FINETUNE_HEADER: &str = "model,task,seed,epoch,metric,value";

/// One finished run, with what it was.
#[derive(Debug, Clone)]
pub struct RunRow<'a> {
    /// Checkpoint name.
    pub model: &'a str,
    /// Task name (a column of targets.csv).
    pub task: &'a str,
    /// Training seed.
    pub seed: u64,
    /// The result.
    pub result: &'a RunResult,
}

/// finetune.csv's text: per run and epoch the training loss, then every dev metric.
pub fn finetune_csv(runs: &[RunRow]) -> String {
    let mut out = format!("{FINETUNE_HEADER}\n");
    for r in runs {
        for e in &r.result.epochs {
            out.push_str(&format!(
                "{},{},{},{},train_loss,{}\n",
                r.model, r.task, r.seed, e.epoch, e.train_loss
            ));
            for (m, v) in &e.metrics {
                out.push_str(&format!(
                    "{},{},{},{},{m},{v}\n",
                    r.model, r.task, r.seed, e.epoch
                ));
            }
        }
    }
    out
}

/// targets.csv's text: one row per model in the order given (each model once), one column per
/// task in the order given; a cell is the mean over seeds of the runs' best primary metric.
pub fn targets_csv(models: &[&str], tasks: &[&str], runs: &[RunRow]) -> String {
    let mut out = format!("model,{}\n", tasks.join(","));
    for m in models {
        let cells: Vec<String> = tasks
            .iter()
            .map(|t| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.model == *m && r.task == *t)
                    .map(|r| r.result.best)
                    .collect();
                format!("{}", v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        out.push_str(&format!("{m},{}\n", cells.join(",")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finetune::train::EpochResult;

    fn run(best: f64) -> RunResult {
        RunResult {
            epochs: vec![EpochResult {
                epoch: 1,
                train_loss: 0.5,
                metrics: vec![("accuracy".into(), best)],
            }],
            best_epoch: 1,
            primary: "accuracy".into(),
            best,
            train_examples: 10,
            steps: 1,
            seconds: 0.1,
        }
    }

    #[test]
    fn targets_average_the_seeds_and_keep_the_given_order() {
        let (a, b, c) = (run(0.5), run(0.75), run(0.25));
        let rows = [
            RunRow {
                model: "z",
                task: "rte",
                seed: 1,
                result: &a,
            },
            RunRow {
                model: "z",
                task: "rte",
                seed: 2,
                result: &b,
            },
            RunRow {
                model: "a",
                task: "rte",
                seed: 1,
                result: &c,
            },
        ];
        assert_eq!(
            targets_csv(&["z", "a"], &["rte"], &rows),
            "model,rte\nz,0.625\na,0.25\n"
        );
        assert_eq!(
            finetune_csv(&rows[..1]),
            "model,task,seed,epoch,metric,value\nz,rte,1,1,train_loss,0.5\nz,rte,1,1,accuracy,0.5\n"
        );
    }
}

/// Errors of reading a fine-tuning output.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneResultsError {
    /// Unreadable file, missing column or malformed cell.
    #[error("{file}: {msg}")]
    Bad {
        /// The file.
        file: String,
        /// What is wrong.
        msg: String,
    },
}

/// One row of `finetune.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetric {
    /// Checkpoint name.
    pub model: String,
    /// Task name.
    pub task: String,
    /// Fine-tuning seed (0 when the file has no seed column).
    pub seed: u64,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Metric name (`train_loss`, `accuracy`, `mcc`, ...).
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// The targets table: checkpoint names, task names, and `values[model][task]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Checkpoints, in file order.
    pub models: Vec<String>,
    /// Tasks (the columns after `model`, except `family`).
    pub tasks: Vec<String>,
    /// One row per model, one value per task (NaN for an empty cell).
    pub values: Vec<Vec<f64>>,
}

fn reader(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>), FinetuneResultsError> {
    let bad = |msg: String| FinetuneResultsError::Bad {
        file: path.display().to_string(),
        msg,
    };
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let header = rd
        .headers()
        .map_err(|e| bad(format!("bad CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((rd, header))
}

fn col(path: &Path, header: &[String], name: &str) -> Result<usize, FinetuneResultsError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| FinetuneResultsError::Bad {
            file: path.display().to_string(),
            msg: format!("missing column '{name}' (header: {})", header.join(",")),
        })
}

/// Read `finetune.csv`.
pub fn read_finetune_csv(path: &Path) -> Result<Vec<EpochMetric>, FinetuneResultsError> {
    let (mut rd, header) = reader(path)?;
    let c: Vec<usize> = ["model", "task", "epoch", "metric", "value"]
        .iter()
        .map(|n| col(path, &header, n))
        .collect::<Result<_, _>>()?;
    let seed_c = header.iter().position(|h| h == "seed");
    let bad = |line: u64, msg: String| FinetuneResultsError::Bad {
        file: path.display().to_string(),
        msg: format!("line {line}: {msg}"),
    };
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| bad(0, format!("bad CSV: {e}")))?;
        let line = rec.position().map_or(0, |p| p.line());
        let g = |i: usize| rec.get(i).unwrap_or("");
        let epoch = g(c[2])
            .parse()
            .map_err(|_| bad(line, format!("epoch '{}' is not an integer", g(c[2]))))?;
        let value = g(c[4])
            .parse()
            .map_err(|_| bad(line, format!("value '{}' is not a number", g(c[4]))))?;
        let seed = match seed_c {
            Some(i) => g(i)
                .parse()
                .map_err(|_| bad(line, format!("seed '{}' is not an integer", g(i))))?,
            None => 0,
        };
        out.push(EpochMetric {
            model: g(c[0]).to_string(),
            task: g(c[1]).to_string(),
            seed,
            epoch,
            metric: g(c[3]).to_string(),
            value,
        });
    }
    Ok(out)
}

/// Read `targets.csv`.
pub fn read_targets_csv(path: &Path) -> Result<Targets, FinetuneResultsError> {
    let (mut rd, header) = reader(path)?;
    let mc = col(path, &header, "model")?;
    let task_cols: Vec<usize> = (0..header.len())
        .filter(|&i| i != mc && header[i] != "family")
        .collect();
    let mut t = Targets {
        models: Vec::new(),
        tasks: task_cols.iter().map(|&i| header[i].clone()).collect(),
        values: Vec::new(),
    };
    for rec in rd.records() {
        let rec = rec.map_err(|e| FinetuneResultsError::Bad {
            file: path.display().to_string(),
            msg: format!("bad CSV: {e}"),
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        t.models.push(rec.get(mc).unwrap_or("").to_string());
        let mut row = Vec::new();
        for &i in &task_cols {
            let s = rec.get(i).unwrap_or("");
            row.push(if s.is_empty() {
                f64::NAN
            } else {
                s.parse().map_err(|_| FinetuneResultsError::Bad {
                    file: path.display().to_string(),
                    msg: format!("line {line}, column '{}': '{s}' is not a number", header[i]),
                })?
            });
        }
        t.values.push(row);
    }
    Ok(t)
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn finetune_csv_reads_with_and_without_a_seed_column() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        std::fs::write(
            &a,
            "model,task,seed,epoch,metric,value\nm,rte,3,2,accuracy,0.5\n",
        )
        .unwrap();
        let b = d.path().join("b.csv");
        std::fs::write(&b, "model,task,epoch,metric,value\nm,rte,1,mcc,0.25\n").unwrap();
        let ra = read_finetune_csv(&a).unwrap();
        assert_eq!((ra[0].seed, ra[0].epoch, ra[0].value), (3, 2, 0.5));
        let rb = read_finetune_csv(&b).unwrap();
        assert_eq!((rb[0].seed, rb[0].metric.as_str()), (0, "mcc"));
        std::fs::write(&b, "model,task,metric,value\n").unwrap();
        let e = read_finetune_csv(&b).unwrap_err().to_string();
        assert!(e.contains("b.csv") && e.contains("'epoch'"), "{e}");
    }

    #[test]
    fn targets_csv_has_one_column_per_task() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, "model,rte,cola\nx,0.5,\ny,0.25,0.75\n").unwrap();
        let t = read_targets_csv(&p).unwrap();
        assert_eq!(t.tasks, vec!["rte", "cola"]);
        assert_eq!(t.models, vec!["x", "y"]);
        assert!(t.values[0][1].is_nan());
        assert_eq!(t.values[1], vec![0.25, 0.75]);
    }
}
