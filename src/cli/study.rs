//! `probecast study run|status|slurm`: run a study file's units (resumable, shardable), print
//! their states, or write an sbatch script for a Slurm cluster.

use super::CliError;
use crate::study::plan::Stage;
use crate::study::slurm::SlurmSettings;
use crate::study::{self, RunSettings, Shard};
use std::path::{Path, PathBuf};

/// Arguments of `probecast study`.
#[derive(Debug, clap::Args)]
pub struct StudyArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: StudyCommand,
}

/// The study subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StudyCommand {
    /// Run the pending units (variants, probing, fine-tuning), then merge, fit and predict.
    Run(RunArgs),
    /// Print done / pending / failed units per stage.
    Status(StatusArgs),
    /// Write an sbatch script: one job array per stage, afterok dependencies, a final fit job.
    Slurm(SlurmArgs),
}

/// The study file and its directory.
#[derive(Debug, clap::Args)]
pub struct StudyPath {
    /// The study file (TOML; docs/study.md).
    pub study: PathBuf,
    /// The study directory (default: out/ beside the study file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use a study directory that another study made.
    #[arg(long)]
    pub force: bool,
}

impl StudyPath {
    fn out(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| study::default_out(&self.study))
    }
}

/// Arguments of `probecast study run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Study file and directory.
    #[command(flatten)]
    pub path: StudyPath,
    /// Run only share I of N of each stage's units (1 <= I <= N); no fit unless --stage fit.
    #[arg(long)]
    pub shard: Option<String>,
    /// Run only this stage: variants, probe, finetune or fit.
    #[arg(long, value_parser = ["variants", "probe", "finetune", "fit"])]
    pub stage: Option<String>,
    /// With --stage fit: fit on the checkpoints whose units are all done, into
    /// <out>/results-partial/ (partial.json names who is in and who is missing), while the
    /// study is still running.
    #[arg(long)]
    pub partial: bool,
    /// Run only the units of this family's checkpoints (repeatable), e.g. the small family of
    /// a long study first; the fit still needs every unit (or --stage fit --partial).
    #[arg(long = "family", value_name = "NAME")]
    pub families: Vec<String>,
    /// Run only the units of this checkpoint (repeatable; a variant build runs when any
    /// checkpoint it writes is named), e.g. the cheap variants before a long corruption build;
    /// the fit still needs every unit (or --stage fit --partial).
    #[arg(long = "checkpoint", value_name = "NAME")]
    pub checkpoints: Vec<String>,
}

/// Arguments of `probecast study status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Study file and directory.
    #[command(flatten)]
    pub path: StudyPath,
}

/// Arguments of `probecast study slurm`.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// Study file and directory.
    #[command(flatten)]
    pub path: StudyPath,
    /// Where to write the script (default: <out>/study.sbatch).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Slurm partition of every job.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of every job (e.g. 04:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per task.
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// GPUs per task.
    #[arg(long)]
    pub gpus_per_task: Option<usize>,
    /// At most K tasks of one array at a time.
    #[arg(long)]
    pub array_limit: Option<usize>,
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| CliError(format!("{}: {e}", p.display())))
}

/// Run the command.
pub fn run(a: StudyArgs, argv: &[String]) -> Result<(), CliError> {
    match a.command {
        StudyCommand::Run(r) => run_cmd(r, argv),
        StudyCommand::Status(s) => status_cmd(s),
        StudyCommand::Slurm(s) => slurm_cmd(s),
    }
}

fn run_cmd(r: RunArgs, argv: &[String]) -> Result<(), CliError> {
    let shard = r.shard.as_deref().map(Shard::parse).transpose()?;
    let stage = r.stage.as_deref().and_then(Stage::parse);
    let out = r.path.out();
    let (study, plan) = study::open(&r.path.study, &out, r.path.force)?;
    let rs = RunSettings {
        out,
        shard,
        stage,
        force: r.path.force,
        partial: r.partial,
        families: r.families,
        checkpoints: r.checkpoints,
    };
    let rep = study::run(&study, &plan, &rs, argv, &mut |l| println!("{l}"))?;
    if let Some(f) = &rep.fit {
        for (scheme, table) in &f.fits {
            println!("fit ({scheme}):");
            print!("{table}");
        }
        if f.fits.is_empty() {
            println!(
                "fit: no fold scheme could run on the complete checkpoints yet ({} says why)",
                f.dir.join("partial.json").display()
            );
        }
        if f.predicted > 0 {
            println!(
                "predicted {} checkpoint(s) -> {}",
                f.predicted,
                f.dir.join("predictions.csv").display()
            );
        }
        println!("results -> {}", f.dir.display());
    }
    if let Some(why) = &rep.fit_skipped {
        println!("fit: not run: {why}");
    }
    if !rep.failed.is_empty() {
        let list: Vec<String> = rep
            .failed
            .iter()
            .map(|(k, e)| format!("{k} ({e})"))
            .collect();
        return Err(CliError(format!(
            "{} unit(s) failed: {}",
            rep.failed.len(),
            list.join("; ")
        )));
    }
    if rs.stage == Some(Stage::Fit) && rep.fit.is_none() {
        return Err(CliError(format!(
            "fit: not run: {}",
            rep.fit_skipped.unwrap_or_default()
        )));
    }
    Ok(())
}

fn status_cmd(s: StatusArgs) -> Result<(), CliError> {
    let out = s.path.out();
    let (study, plan) = study::inspect(&s.path.study, &out, s.path.force)?;
    let (counts, fit_done) = study::status(&study, &plan);
    println!(
        "{:<9} {:>5} {:>8} {:>7} {:>11}",
        "stage", "done", "pending", "failed", "not needed"
    );
    for (st, c) in &counts {
        let nn = if *st == Stage::Variants {
            c.not_needed.to_string()
        } else {
            "-".into()
        };
        println!(
            "{:<9} {:>5} {:>8} {:>7} {:>11}",
            st.name(),
            c.done,
            c.pending,
            c.failed,
            nn
        );
    }
    println!(
        "{:<9} {:>5} {:>8} {:>7} {:>11}",
        "fit",
        u8::from(fit_done),
        u8::from(!fit_done),
        0,
        "-"
    );
    Ok(())
}

fn slurm_cmd(s: SlurmArgs) -> Result<(), CliError> {
    let out = absolute(&s.path.out())?;
    let file = absolute(&s.path.study)?;
    let (study, plan) = study::open(&file, &out, s.path.force)?;
    let exe = std::env::current_exe().map_err(|e| CliError(format!("probecast binary: {e}")))?;
    let settings = SlurmSettings {
        partition: s.partition,
        time: s.time,
        cpus_per_task: s.cpus_per_task,
        gpus_per_task: s.gpus_per_task,
        array_limit: s.array_limit,
    };
    let path = s.script.unwrap_or_else(|| out.join("study.sbatch"));
    study::slurm::write(&path, &study.spec.name, &exe, &file, &out, &plan, &settings)?;
    let n = |st| plan.stage(st).len();
    println!(
        "wrote {} ({} variant, {} probing, {} fine-tuning unit(s), then fit): submit with `sbatch {}`",
        path.display(),
        n(Stage::Variants),
        n(Stage::Probe),
        n(Stage::Finetune),
        path.display()
    );
    Ok(())
}
