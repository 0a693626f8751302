//! `probecast demo`: the whole loop on built-in data (see `demo`).

use super::CliError;
use crate::demo::{self, DemoSettings};
use std::path::PathBuf;

/// Arguments of `probecast demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output directory (every stage writes its own subdirectory with a manifest).
    #[arg(long, default_value = "probecast-demo")]
    pub out: PathBuf,
    /// Seed of every random choice (data, models, probes, fine-tuning, fits).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The reduced configuration (fewer checkpoints, steps and examples), for CI.
    #[arg(long)]
    pub quick: bool,
    /// Recompute every stage even when its outputs exist.
    #[arg(long)]
    pub force: bool,
}

/// Run the command.
pub fn run(a: DemoArgs, argv: &[String]) -> Result<(), CliError> {
    let s = DemoSettings::new(a.seed, a.quick);
    crate::util::ensure_writable_dir(&a.out).map_err(CliError)?;
    let t0 = std::time::Instant::now();
    let o = demo::run(&s, &a.out, a.force, argv, &|line| eprintln!("{line}"))?;
    print!("{}", o.table);
    println!(
        "{} checkpoints; total {:.1} s; outputs under {} (fit/results.csv holds this table)",
        o.checkpoints,
        t0.elapsed().as_secs_f64(),
        a.out.display()
    );
    let html = a.out.join("report.html");
    crate::report::run(std::slice::from_ref(&a.out), &html, None, argv)?;
    println!("report: {}", html.display());
    Ok(())
}
