//! `probecast predict`: apply a saved predictor to a features table.
use super::CliError;
use crate::predict::{persist, report};
use crate::util;
use std::path::PathBuf;

/// Arguments of `probecast predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// predictor.json written by `probecast fit`.
    #[arg(long)]
    pub predictor: PathBuf,
    /// Features table (CSV) with the columns the predictor needs.
    #[arg(long)]
    pub data: PathBuf,
    /// Output CSV (id, target, predicted, lower, upper, rank); default: print to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Id column (default: the one the predictor was trained with).
    #[arg(long)]
    pub id_column: Option<String>,
    /// Fill missing feature cells with the training mean (`mean`); default: refuse them.
    #[arg(long, value_parser = ["mean"])]
    pub impute: Option<String>,
}

/// Run the command.
pub fn run(args: PredictArgs, _argv: &[String]) -> Result<(), CliError> {
    let p = persist::load(&args.predictor)?;
    let preds = persist::apply(
        &p,
        &args.data,
        args.id_column.as_deref(),
        args.impute.is_some(),
    )?;
    let id_col = args.id_column.as_deref().unwrap_or(&p.id_column);
    let bytes = report::predictions_csv(&preds, id_col);
    match &args.out {
        Some(out) => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                util::ensure_writable_dir(dir).map_err(CliError)?;
            }
            util::write_atomic(out, &bytes)
                .map_err(|e| CliError(format!("{}: {e}", out.display())))?;
            eprintln!(
                "wrote {} predictions ({} checkpoints x {} targets) to {}",
                preds.len(),
                preds.len() / p.targets.len().max(1),
                p.targets.len(),
                out.display()
            );
        }
        None => print!("{}", String::from_utf8_lossy(&bytes)),
    }
    Ok(())
}
