//! `probecast probe`: probe every layer of one or more checkpoints on a SentEval suite and
//! write `probes.csv`, `features.csv` and `manifest.json`.

use super::CliError;
use crate::data::senteval;
use crate::probe::pipeline::{self, PipelineError};
use crate::probe::protocol::{self, ProbeKind, ProbeSettings, Record};
use crate::probe::results;
use crate::util;
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
    let mut probes = Vec::new();
    for p in &a.probe {
        let k = ProbeKind::parse(p.trim()).ok_or_else(|| {
            CliError(format!(
                "--probe: unknown probe {p:?} (expected logreg, mlp)"
            ))
        })?;
        if !probes.contains(&k) {
            probes.push(k);
        }
    }
    let (mut sel, mut mdl) = (false, false);
    for m in &a.metrics {
        match m.trim() {
            "acc" => {}
            "selectivity" | "sel" => sel = true,
            "mdl" => mdl = true,
            t if crate::transfer::Estimator::parse(t).is_some() => {}
            other => {
                return Err(CliError(format!(
                    "--metrics: unknown metric {other:?} (expected acc, selectivity, mdl, logme, hscore, knn, probe)"
                )))
            }
        }
    }
    if a.train_per_class == 0 || a.seeds == 0 || a.encoder.batch_size == 0 {
        return Err(CliError(
            "--train-per-class, --seeds and --batch-size must be at least 1".into(),
        ));
    }
    if a.c_grid.is_empty()
        || a.c_grid
            .iter()
            .any(|&c| c.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return Err(CliError("--c-grid: every C must be positive".into()));
    }
    if a.mlp_hidden.is_empty() || a.mlp_hidden.contains(&0) {
        return Err(CliError("--mlp-hidden: sizes must be at least 1".into()));
    }
    let mut c_grid = a.c_grid.clone();
    c_grid.sort_by(|x, y| x.partial_cmp(y).unwrap());
    c_grid.dedup();
    Ok(ProbeSettings {
        train_per_class: a.train_per_class,
        seeds: a.seeds,
        probes,
        selectivity: sel,
        mdl,
        c_grid,
        mlp_hidden: a.mlp_hidden.clone(),
        allow_fewer: a.allow_fewer,
        ..Default::default()
    })
}

/// Run the command.
pub fn run(a: ProbeArgs, argv: &[String]) -> Result<(), CliError> {
    let s = settings(&a)?;
    // Read and check every task before any model is loaded.
    let paths = senteval::expand_task_paths(&a.tasks)?;
    let datasets: Vec<senteval::Dataset> = paths
        .iter()
        .map(|p| senteval::read(p))
        .collect::<Result<_, _>>()?;
    protocol::check_unique_names(&datasets)?;
    let tasks: Vec<protocol::TaskData> = datasets
        .iter()
        .map(protocol::prepare_task)
        .collect::<Result<_, _>>()?;
    for t in &tasks {
        protocol::class_sizes(t, s.train_per_class, s.allow_fewer)?;
    }
    let target = crate::transfer::columns::TargetFeatures::prepare(
        a.target_task.as_deref(),
        &a.metrics,
        Some(a.target_max_examples),
        0,
    )
    .map_err(CliError)?;
    util::ensure_writable_dir(&a.out).map_err(CliError)?;
    let embed = a.encoder.settings();
    let poolings = embed.poolings.clone();
    let t0 = std::time::Instant::now();
    let mut rows: Vec<(String, Record)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut model_info = Vec::new();
    let mut names_seen: Vec<String> = Vec::new();
    for spec in &a.model {
        let tm = std::time::Instant::now();
        let run = pipeline::embed_and_probe(
            spec,
            &datasets,
            &tasks,
            &embed,
            a.layers.as_deref(),
            &s,
            true,
        );
        match run {
            Err(PipelineError::Model(why)) => {
                eprintln!("error: model {spec} failed, continuing with the others: {why}");
                failed.push((spec.clone(), why.to_string()));
            }
            Err(PipelineError::Fatal(why)) => return Err(CliError(why)),
            Ok(run) => {
                // Two checkpoints with the same directory name: keep the rows apart.
                let mut label = run.name.clone();
                let mut i = 2;
                while names_seen.contains(&label) {
                    label = format!("{}_{i}", run.name);
                    i += 1;
                }
                names_seen.push(label.clone());
                rows.extend(run.records.into_iter().map(|r| (label.clone(), r)));
                if let Some(t) = &target {
                    let recs = t
                        .records(spec, &embed, a.layers.as_deref())
                        .map_err(CliError)?;
                    rows.extend(recs.into_iter().map(|r| (label.clone(), r)));
                }
                model_info.push(serde_json::json!({
                    "model": label, "spec": spec, "model_dir": run.dir, "model_hash": run.hash,
                    "embed_seconds": run.embed_seconds,
                    "total_seconds": tm.elapsed().as_secs_f64(),
                }));
            }
        }
    }
    results::write_probes_csv(&a.out.join("probes.csv"), &rows)?;
    results::write_features_csv(&a.out.join("features.csv"), &rows)?;
    let data_files: Vec<serde_json::Value> = datasets
        .iter()
        .zip(&tasks)
        .map(|(d, t)| {
            serde_json::json!({
                "task": t.name, "path": d.path, "sha256": util::sha256_file(&d.path).ok(),
                "classes": t.labels, "train_pool": t.pool.iter().map(Vec::len).collect::<Vec<_>>(),
                "test": t.test.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "probecast_version": env!("CARGO_PKG_VERSION"),
        "command": "probe",
        "command_line": argv,
        "inputs": { "models": model_info, "tasks": data_files },
        "failed_models": failed.iter().map(|(m, w)| serde_json::json!({"model": m, "error": w})).collect::<Vec<_>>(),
        "settings": {
            "pooling": poolings,
            "train_per_class": s.train_per_class,
            "val_per_class": protocol::val_per_class(s.train_per_class),
            "allow_fewer": s.allow_fewer,
            "seeds": (0..s.seeds).collect::<Vec<_>>(),
            "probes": s.probes.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "selectivity": s.selectivity,
            "mdl": s.mdl,
            "mdl_block_percents": crate::probe::mdl::VOITA_TITOV_PERCENTS,
            "c_grid": s.c_grid,
            "logreg_gtol": s.logreg.lbfgs.gtol,
            "mlp_hidden": s.mlp_hidden,
            "mlp": { "lr": s.mlp.lr, "weight_decay": s.mlp.weight_decay, "batch_size": s.mlp.batch_size,
                     "max_epochs": s.mlp.max_epochs, "patience": s.mlp.patience },
            "layers": a.layers,
            "target_task": a.target_task,
            "target_max_examples": target.as_ref().map(|_| a.target_max_examples),
            "target_estimators": target.as_ref().map(|t| t.estimators.iter().map(|e| e.name()).collect::<Vec<_>>()),
            "batch_size": embed.batch_size,
            "max_length": embed.max_length,
            "cache_dir": embed.cache_dir,
            "standardize": "per draw, training mean and standard deviation",
        },
        "timing": { "total_seconds": t0.elapsed().as_secs_f64() },
        "created_unix": util::unix_time(),
    });
    util::write_json(&a.out.join("manifest.json"), &manifest).map_err(CliError)?;
    println!(
        "probed {} model(s) x {} task(s) in {:.1} s -> {}",
        model_info.len(),
        tasks.len(),
        t0.elapsed().as_secs_f64(),
        a.out.display()
    );
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|(m, w)| format!("{m} ({w})")).collect();
        return Err(CliError(format!(
            "{} of {} models failed: {}",
            failed.len(),
            a.model.len(),
            list.join("; ")
        )));
    }
    Ok(())
}
