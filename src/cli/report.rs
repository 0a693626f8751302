//! `probecast report`: the HTML report (see `report`). Parsing and printing only.

use super::CliError;
use std::path::PathBuf;

/// Arguments of `probecast report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Output HTML file (its directory must exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write every figure as its own SVG file in this directory (created if needed).
    #[arg(long)]
    pub figures_dir: Option<PathBuf>,
    /// Inputs: probe, finetune, fit or demo output directories, or their files (probes.csv,
    /// finetune.csv, targets.csv, predictor.json, a predictions CSV, manifest.json).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Run the command.
pub fn run(a: ReportArgs, argv: &[String]) -> Result<(), CliError> {
    let r = crate::report::run(&a.inputs, &a.out, a.figures_dir.as_deref(), argv)?;
    let names: Vec<&str> = r.sections.iter().map(|s| s.heading()).collect();
    println!(
        "wrote {} ({} figures; sections: {})",
        a.out.display(),
        r.figures.len(),
        names.join(", ")
    );
    if let Some(d) = &a.figures_dir {
        println!("wrote {} SVG files to {}", r.figures.len(), d.display());
    }
    Ok(())
}
