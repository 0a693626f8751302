//! `probecast probe`: probe every layer of one or more checkpoints on a SentEval suite and
//! write `probes.csv`, `features.csv` and `manifest.json`.

use super::CliError;
use crate::probe::protocol::ProbeSettings;
use crate::probe::run;
use crate::transfer::columns::TargetFeatures;
use crate::transfer::Estimator;
use std::path::PathBuf;

/// Arguments of `probecast probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Checkpoints: Hugging Face model directories or model ids in the local HF cache (repeat
    /// the flag or separate with commas).
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',')]
    pub model: Vec<String>,
    /// SentEval probing files, or directories of them (every *.txt except README).
    #[arg(long, required = true, num_args = 1..)]
    pub tasks: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Training examples per class (validation: a quarter of it), drawn from tr/va lines.
    #[arg(long, default_value_t = 1200)]
    pub train_per_class: usize,
    /// Number of draws (seeds 0..N).
    #[arg(long, default_value_t = 5)]
    pub seeds: usize,
    /// Probe families, comma-separated: logreg, mlp.
    #[arg(long, default_value = "logreg", value_delimiter = ',')]
    pub probe: Vec<String>,
    /// Metrics, comma-separated: acc, selectivity, mdl (acc is always computed); with
    /// --target-task also the transferability estimators logme, hscore, knn, probe.
    #[arg(long, default_value = "acc,selectivity,mdl", value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// GLUE task directory whose training sample the transferability metrics score.
    #[arg(long)]
    pub target_task: Option<PathBuf>,
    /// Stratified sample size of the target task.
    #[arg(long, default_value_t = 1000)]
    pub target_max_examples: usize,
    /// Hidden states to probe, comma-separated (0 = embeddings); default: all.
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// Penalty grid (scikit-learn's C) of the logistic regression.
    #[arg(long, default_value = "0.01,0.1,1,10", value_delimiter = ',')]
    pub c_grid: Vec<f64>,
    /// Hidden sizes tried for the MLP.
    #[arg(long, default_value = "10,20,100", value_delimiter = ',')]
    pub mlp_hidden: Vec<usize>,
    /// Classes with fewer than train-per-class + a quarter examples use what they have (80/20)
    /// instead of failing.
    #[arg(long)]
    pub allow_fewer: bool,
    /// Encoder options.
    #[command(flatten)]
    pub encoder: super::EncoderArgs,
}

fn settings(a: &ProbeArgs) -> Result<ProbeSettings, CliError> {
    let mut s = ProbeSettings {
        train_per_class: a.train_per_class,
        seeds: a.seeds,
        mlp_hidden: a.mlp_hidden.clone(),
        allow_fewer: a.allow_fewer,
        ..Default::default()
    };
    s.set_probes(&a.probe)?;
    // the transferability estimators' names go to the transfer stage, the rest to probing
    let probing: Vec<String> = a
        .metrics
        .iter()
        .filter(|m| Estimator::parse(m.trim()).is_none())
        .cloned()
        .collect();
    s.set_metrics(&probing)?;
    s.set_c_grid(&a.c_grid);
    Ok(s)
}

/// Run the command.
pub fn run(a: ProbeArgs, argv: &[String]) -> Result<(), CliError> {
    let s = settings(&a)?;
    let embed = a.encoder.settings();
    let target = TargetFeatures::prepare(
        a.target_task.as_deref(),
        &a.metrics,
        Some(a.target_max_examples),
        0,
    )
    .map_err(CliError)?;
    let layers = a.layers.as_deref();
    let extra = target.as_ref().map(|t| run::ExtraColumns {
        settings: t.settings_json(),
        rows: Box::new(|spec: &str| t.records(spec, &embed, layers)),
    });
    let r = run::probe_to_dir(&a.model, &a.tasks, &a.out, &s, &embed, layers, argv, extra)?;
    println!(
        "probed {} model(s) x {} task(s) in {:.1} s -> {}",
        r.models.len(),
        r.tasks,
        r.seconds,
        a.out.display()
    );
    if !r.failed.is_empty() {
        let list: Vec<String> = r.failed.iter().map(|(m, w)| format!("{m} ({w})")).collect();
        return Err(CliError(format!(
            "{} of {} models failed: {}",
            r.failed.len(),
            a.model.len(),
            list.join("; ")
        )));
    }
    Ok(())
}
