//! `probecast fit` (placeholder until its stage lands).
use super::CliError;

/// Arguments of `probecast fit`.
#[derive(Debug, clap::Args)]
pub struct FitArgs {}

/// Run the command.
pub fn run(_args: FitArgs, _argv: &[String]) -> Result<(), CliError> {
    Err(CliError("probecast fit is not built yet".into()))
}
