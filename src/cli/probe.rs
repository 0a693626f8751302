//! `probecast probe` (placeholder until its stage lands).
use super::CliError;

/// Arguments of `probecast probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {}

/// Run the command.
pub fn run(_args: ProbeArgs, _argv: &[String]) -> Result<(), CliError> {
    Err(CliError("probecast probe is not built yet".into()))
}
