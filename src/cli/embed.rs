//! `probecast embed` (placeholder until its stage lands).
use super::CliError;

/// Arguments of `probecast embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {}

/// Run the command.
pub fn run(_args: EmbedArgs, _argv: &[String]) -> Result<(), CliError> {
    Err(CliError("probecast embed is not built yet".into()))
}
