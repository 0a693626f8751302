//! The fine-tuning stage's tables, written by `probecast finetune` and by the demo alike:
//! `finetune.csv` (tidy: `model,task,seed,epoch,metric,value`, one value a row, the training loss
//! of each epoch included) and `targets.csv` (wide: `model` + one column per task, the best
//! epoch's primary dev metric averaged over seeds: the targets `probecast fit` reads).

use super::train::RunResult;

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
