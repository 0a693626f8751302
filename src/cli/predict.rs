//! `probecast predict` (placeholder until its stage lands).
use super::CliError;

/// Arguments of `probecast predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {}

/// Run the command.
pub fn run(_args: PredictArgs, _argv: &[String]) -> Result<(), CliError> {
    Err(CliError("probecast predict is not built yet".into()))
}
