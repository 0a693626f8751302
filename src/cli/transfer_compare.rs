//! `probecast transfer-compare`: Kendall τ between fine-tuned scores and each estimator's
//! ranking, probecast's predictor and a parameter-count baseline (parsing and printing; the
//! work is [`crate::transfer::compare`]).

use super::rank::SampleArgs;
use super::CliError;
use crate::transfer::compare::{self, CompareSettings};
use crate::transfer::Estimator;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `probecast transfer-compare`.
#[derive(Debug, clap::Args)]
pub struct TransferCompareArgs {
    /// CSV with columns model,dir (checkpoint directories or cached model ids), e.g.
    /// probecast-demo/zoo/checkpoints.csv.
    #[arg(long)]
    pub checkpoints: PathBuf,
    /// CSV of fine-tuned scores: a model column and one column per task (targets.csv).
    #[arg(long)]
    pub targets: PathBuf,
    /// GLUE task directories (repeat or comma-separate); each name is a column of --targets.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',')]
    pub task: Vec<PathBuf>,
    /// NAME=TYPE for task directories whose name is not a GLUE task (e.g. acceptability=cola).
    #[arg(long, value_delimiter = ',')]
    pub task_type: Vec<String>,
    /// cv_predictions.csv files of `probecast fit` (out-of-sample predictions), labelled by
    /// their directory's name.
    #[arg(long, value_delimiter = ',')]
    pub predictions: Vec<PathBuf>,
    /// Estimators, comma-separated: logme, hscore, knn, probe.
    #[arg(long, default_value = "logme,hscore,knn,probe", value_delimiter = ',')]
    pub estimators: Vec<String>,
    /// Sampling (of each training file), pooling and extraction.
    #[command(flatten)]
    pub sample: SampleArgs,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

fn settings(a: &TransferCompareArgs) -> Result<CompareSettings, CliError> {
    let estimators = a
        .estimators
        .iter()
        .map(|s| {
            Estimator::parse(s).ok_or_else(|| {
                CliError(format!(
                    "--estimators: unknown estimator {s:?} (expected logme, hscore, knn, probe)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut task_types = BTreeMap::new();
    for t in &a.task_type {
        let (name, ty) = t
            .split_once('=')
            .ok_or_else(|| CliError(format!("--task-type {t:?}: expected NAME=TYPE")))?;
        task_types.insert(name.trim().to_string(), ty.trim().to_string());
    }
    let (pooling, embed) = a.sample.embed()?;
    Ok(CompareSettings {
        checkpoints: a.checkpoints.clone(),
        targets: a.targets.clone(),
        tasks: a.task.clone(),
        task_types,
        predictions: a.predictions.clone(),
        estimators,
        pooling,
        max_examples: a.sample.max_examples,
        seed: a.sample.seed,
        embed,
        out: a.out.clone(),
    })
}

/// Run the command.
pub fn run(a: TransferCompareArgs, argv: &[String]) -> Result<(), CliError> {
    let s = settings(&a)?;
    let checked = s.check()?;
    let out = compare::compare(&s, checked, argv, true)?;
    let mut task = "";
    for r in &out.rows {
        if r.task != task {
            task = &r.task;
            println!(
                "{}: Kendall tau-b with the fine-tuned scores ({} checkpoints; chance sd {:.2})",
                r.task, r.n, r.null_sd
            );
            println!(
                "  {:<22} {:>3} {:>8} {:>12} {:>12}",
                "method", "n", "tau", "method ties", "target ties"
            );
        }
        let tau = if r.tau.is_finite() {
            format!("{:.3}", r.tau)
        } else {
            "-".into()
        };
        println!(
            "  {:<22} {:>3} {:>8} {:>12} {:>12}",
            r.method, r.n, tau, r.method_ties, r.target_ties
        );
    }
    println!("-> {}", s.out.display());
    Ok(())
}
