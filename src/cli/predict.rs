//! `probecast predict`: apply a saved predictor to a features table.
use super::CliError;
use crate::predict::run::predict_to_file;
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
pub fn run(args: PredictArgs, argv: &[String]) -> Result<(), CliError> {
    let r = predict_to_file(
        &args.predictor,
        &args.data,
        args.id_column.as_deref(),
        args.impute.is_some(),
        args.out.as_deref(),
        argv,
    )?;
    match &args.out {
        Some(out) => eprintln!(
            "wrote {} predictions ({} checkpoints x {} targets) to {}",
            r.predictions.len(),
            r.predictions.len() / r.predictor.targets.len().max(1),
            r.predictor.targets.len(),
            out.display()
        ),
        None => print!("{}", String::from_utf8_lossy(&r.csv)),
    }
    Ok(())
}
