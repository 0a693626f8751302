//! `probecast demo`: the whole loop on built-in data, offline. Stages, each in its own directory
//! under `--out` with a manifest (skipped when its manifest records the same settings and its
//! outputs exist; `--force` reruns everything):
//!
//! 1. `data/`: the pretraining corpus, the ten SentEval probing tasks built from generated trees
//!    by `data::tasks`, and the two downstream tasks (GLUE layout) from `data::grammar`;
//! 2. `zoo/`: tiny BERT encoders pretrained with masked-LM from scratch (checkpoints along
//!    training, several sizes and seeds) plus noise and corruption variants ([`zoo`]);
//! 3. `study/`: the loop over the zoo as a study — `study.toml` (the built-in study file,
//!    [`study_file`]) run by [`crate::study`], the one orchestrator of probing, fine-tuning and
//!    fitting (resumable per unit: one checkpoint's probing, one fine-tuning run); its
//!    `results/` holds the merged `features.csv`, `targets.csv` and the honest fits;
//! 4. `fit/`: the demo's table from the study's merged tables: honest leave-one-checkpoint-out
//!    and leave-one-family-out validation beside the paper's in-sample protocol, and
//!    predictions ([`results`]).

pub mod results;
pub mod stage;
pub mod study_file;
pub mod suite;
pub mod zoo;

use crate::data::grammar::{self, TaskSizes};
use std::path::{Path, PathBuf};

/// Errors of the demo (each names the file or stage at fault).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Writing or reading an output failed.
    #[error("{0}")]
    Io(String),
    /// The grammar's writers.
    #[error(transparent)]
    Grammar(#[from] grammar::GrammarError),
    /// Building the probing tasks.
    #[error("probing tasks: {0}")]
    Tasks(String),
    /// Model zoo (pretraining, variants).
    #[error(transparent)]
    Zoo(#[from] crate::zoo::ZooError),
    /// Loading or running an encoder.
    #[error(transparent)]
    Encoder(#[from] crate::encoder::EncoderError),
    /// The study of the zoo (its file, a failed unit).
    #[error(transparent)]
    Study(#[from] crate::study::StudyError),
    /// Reading the fit tables.
    #[error(transparent)]
    Table(#[from] crate::predict::table::TableError),
    /// Fitting the predictor.
    #[error(transparent)]
    Fit(#[from] crate::predict::pipeline::FitError),
    /// Applying the predictor.
    #[error(transparent)]
    Persist(#[from] crate::predict::persist::PersistError),
}

/// Everything that determines the demo's outputs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoSettings {
    /// Seed of every random choice.
    pub seed: u64,
    /// The reduced configuration for CI.
    pub quick: bool,
    /// Pretraining corpus sentences.
    pub corpus_sentences: usize,
    /// Generated trees the probing tasks are built from.
    pub probing_sentences: usize,
    /// Examples per class of each probing task (tr + va + te).
    pub probe_per_class: usize,
    /// Downstream task sizes.
    pub task_sizes: TaskSizes,
    /// Encoder sizes, each with its pretraining seeds (one run per size and seed).
    pub sizes: Vec<zoo::ModelSize>,
    /// Masked-LM steps per run.
    pub mlm_steps: usize,
    /// Steps at which checkpoints are saved (the last is `mlm_steps`).
    pub save_at: Vec<usize>,
    /// Masked-LM batch size.
    pub mlm_batch: usize,
    /// Masked-LM peak learning rate.
    pub mlm_lr: f64,
    /// Relative noise scales of the noise variants (of each run's last checkpoint).
    pub noise: Vec<f64>,
    /// Steps of continued masked-LM on word-shuffled text (corruption variants).
    pub corrupt_steps: Vec<usize>,
    /// Token limit (and position embeddings) of the encoders.
    pub max_length: usize,
    /// Fine-tuning epochs.
    pub ft_epochs: usize,
    /// Fine-tuning peak learning rate.
    pub ft_lr: f64,
    /// Permutations of the permutation test in the fits.
    pub permutations: usize,
}

impl DemoSettings {
    /// The default configuration (`quick`: the reduced one for CI).
    pub fn new(seed: u64, quick: bool) -> Self {
        let size = |name: &str, hidden, layers, heads, seeds: &[u64]| zoo::ModelSize {
            name: name.into(),
            hidden,
            layers,
            heads,
            intermediate: 2 * hidden,
            seeds: seeds.to_vec(),
        };
        if quick {
            DemoSettings {
                seed,
                quick,
                corpus_sentences: 2000,
                probing_sentences: 6000,
                probe_per_class: 20,
                task_sizes: TaskSizes {
                    train: 160,
                    dev: 64,
                },
                sizes: vec![size("tiny", 32, 2, 2, &[1, 2])],
                mlm_steps: 30,
                save_at: vec![5, 30],
                mlm_batch: 64,
                mlm_lr: 2e-3,
                noise: vec![0.5],
                corrupt_steps: vec![10],
                max_length: 64,
                ft_epochs: 2,
                ft_lr: 3e-3,
                permutations: 10,
            }
        } else {
            DemoSettings {
                seed,
                quick,
                corpus_sentences: 10000,
                probing_sentences: 20000,
                probe_per_class: 200,
                task_sizes: TaskSizes {
                    train: 1000,
                    dev: 1000,
                },
                sizes: vec![
                    size("small", 64, 2, 4, &[1, 2]),
                    size("base", 128, 2, 4, &[1, 2]),
                ],
                mlm_steps: 400,
                save_at: vec![20, 80, 200, 400],
                mlm_batch: 64,
                mlm_lr: 3e-3,
                noise: vec![0.5],
                corrupt_steps: vec![30],
                max_length: 64,
                ft_epochs: 3,
                ft_lr: 2e-3,
                permutations: 100,
            }
        }
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, msg: &str) -> indicatif::ProgressBar {
    let pb = crate::util::progress_bar(len, "{msg} [{bar:25}] {pos}/{len} ({elapsed}, eta {eta})");
    pb.set_message(msg.to_string());
    pb
}

/// Timing of one stage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: String,
    /// Seconds spent now (0 when skipped).
    pub seconds: f64,
    /// Whether it was skipped because its outputs existed.
    pub skipped: bool,
}

/// What a demo run produced.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    /// The printed table (also `fit/table.txt`; its cells are `fit/results.csv`).
    pub table: String,
    /// Per-stage timings.
    pub timings: Vec<StageTiming>,
    /// Number of checkpoints in the zoo.
    pub checkpoints: usize,
}

fn stage_settings(s: &DemoSettings, name: &str) -> serde_json::Value {
    let all = serde_json::to_value(s).expect("json");
    serde_json::json!({ "stage": name, "demo": all })
}

/// Run (or resume) the demo under `out`; `log` receives one line per stage event.
pub fn run(
    s: &DemoSettings,
    out: &Path,
    force: bool,
    command_line: &[String],
    log: &dyn Fn(&str),
) -> Result<DemoOutcome, DemoError> {
    let t_all = std::time::Instant::now();
    stage::mkdir(out)?;
    let mut timings = Vec::new();
    let names = ["data", "zoo", "study", "fit"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| out.join(n)).collect();
    let zoo_entries = zoo::plan(s, &dirs[1]);
    let mut table = String::new();
    for (i, name) in names.iter().enumerate() {
        let dir = &dirs[i];
        let settings = stage_settings(s, name);
        if !force && stage::is_done(dir, &settings) {
            log(&format!(
                "[{}/4] {name}: done earlier ({:.1} s then), skipped",
                i + 1,
                stage::recorded_seconds(dir)
            ));
            timings.push(StageTiming {
                stage: name.to_string(),
                seconds: 0.0,
                skipped: true,
            });
            if *name == "fit" {
                table = std::fs::read_to_string(dir.join("table.txt")).map_err(|e| {
                    DemoError::Io(format!("{}: {e}", dir.join("table.txt").display()))
                })?;
            }
            continue;
        }
        stage::mkdir(dir)?;
        let t0 = std::time::Instant::now();
        log(&format!(
            "[{}/4] {name}: {}",
            i + 1,
            describe(s, name, zoo_entries.len())
        ));
        let (outputs, details): (Vec<String>, serde_json::Value) = match *name {
            "data" => {
                let corpus = grammar::corpus(s.seed, s.corpus_sentences);
                stage::write(&dir.join("corpus.txt"), &(corpus.join("\n") + "\n"))?;
                let tasks = suite::write_probing_suite(s, &dir.join("probing"))?;
                grammar::write_glue_tasks(dir, s.seed, s.task_sizes)?;
                log(&format!(
                    "  {} corpus sentences, probing tasks: {}, downstream: acceptability, paraphrase",
                    corpus.len(),
                    tasks.join(", ")
                ));
                (
                    vec![
                        "corpus.txt".into(),
                        "probing".into(),
                        "acceptability/train.tsv".into(),
                        "acceptability/dev.tsv".into(),
                        "paraphrase/train.tsv".into(),
                        "paraphrase/dev.tsv".into(),
                    ],
                    serde_json::json!({ "probing_tasks": tasks }),
                )
            }
            "zoo" => {
                let corpus_path = dirs[0].join("corpus.txt");
                let corpus: Vec<String> = std::fs::read_to_string(&corpus_path)
                    .map_err(|e| DemoError::Io(format!("{}: {e}", corpus_path.display())))?
                    .lines()
                    .map(str::to_string)
                    .collect();
                let entries = zoo::build(s, dir, &corpus_path, &corpus, log)?;
                let listed: Vec<crate::zoo::listing::Listed> = entries
                    .iter()
                    .map(|e| crate::zoo::listing::Listed {
                        model: &e.id,
                        family: &e.family,
                        kind: &e.kind,
                        dir: &e.dir,
                    })
                    .collect();
                let list = crate::zoo::listing::checkpoints_csv(&listed);
                stage::write(&dir.join("checkpoints.csv"), &list)?;
                let mut outs = vec!["checkpoints.csv".to_string()];
                outs.extend(entries.iter().map(|e| {
                    e.dir
                        .join("model.safetensors")
                        .strip_prefix(dir)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                }));
                (outs, serde_json::json!({ "checkpoints": entries }))
            }
            "study" => {
                let file = out.join("study.toml");
                stage::write(&file, &study_file::text(s, &zoo_entries, out))?;
                // --force recomputes every unit in a fresh directory that replaces the old
                // one only when the study succeeded (a failed run leaves the old one intact)
                let target = if force {
                    let t = out.join(".probecast-staging-study");
                    if t.exists() {
                        std::fs::remove_dir_all(&t)
                            .map_err(|e| DemoError::Io(format!("{}: {e}", t.display())))?;
                    }
                    t
                } else {
                    dir.clone()
                };
                let (study, plan) = crate::study::open(&file, &target, false)?;
                let rs = crate::study::RunSettings {
                    out: target.clone(),
                    shard: None,
                    stage: None,
                    force: false,
                    partial: false,
                    families: vec![],
                    checkpoints: vec![],
                };
                let rep = crate::study::run(&study, &plan, &rs, command_line, &mut |l: &str| {
                    log(&format!("  {l}"))
                })?;
                if let Some((key, e)) = rep.failed.first() {
                    return Err(DemoError::Io(format!("study unit {key} failed: {e}")));
                }
                if let Some(why) = rep.fit_skipped {
                    return Err(DemoError::Io(format!("the study did not fit: {why}")));
                }
                if force {
                    let io = |e: std::io::Error| DemoError::Io(format!("{}: {e}", dir.display()));
                    std::fs::remove_dir_all(dir).map_err(io)?;
                    std::fs::rename(&target, dir).map_err(io)?;
                }
                (
                    vec![
                        "results/features.csv".into(),
                        "results/targets.csv".into(),
                        "results/probes.csv".into(),
                        "results/finetune.csv".into(),
                    ],
                    serde_json::json!({ "study_file": "../study.toml" }),
                )
            }
            _ => {
                table = results::run(
                    s,
                    &dirs[2].join("results/features.csv"),
                    &dirs[2].join("results/targets.csv"),
                    dir,
                )?;
                (
                    vec![
                        "results.csv".into(),
                        "table.txt".into(),
                        "predictions.csv".into(),
                        "loo/cv_predictions.csv".into(),
                        "family/cv_predictions.csv".into(),
                        "paper/summary.csv".into(),
                    ],
                    serde_json::json!({ "family_regex": results::FAMILY_REGEX }),
                )
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        stage::finish(dir, command_line, name, &settings, &outputs, secs, details)?;
        log(&format!("  {name} done in {secs:.1} s"));
        timings.push(StageTiming {
            stage: name.to_string(),
            seconds: secs,
            skipped: false,
        });
    }
    let mut m = crate::manifest::Manifest::new("demo", command_line);
    m.set_settings(s);
    m.outputs = names.iter().map(|n| n.to_string()).collect();
    m.set_section(serde_json::json!({
        "stages": timings,
        "checkpoints": zoo_entries.len(),
    }));
    m.set_elapsed(t_all);
    m.write(out).map_err(DemoError::Io)?;
    Ok(DemoOutcome {
        table,
        timings,
        checkpoints: zoo_entries.len(),
    })
}

fn describe(s: &DemoSettings, stage: &str, n: usize) -> String {
    match stage {
        "data" => "generating the corpus, the probing tasks and the downstream tasks".into(),
        "zoo" => format!(
            "pretraining {} run(s) x {} checkpoints, plus variants ({n} checkpoints)",
            zoo::runs(s).len(),
            s.save_at.len()
        ),
        "study" => format!(
            "the study of {n} checkpoints (study.toml): probing them, fine-tuning them on 2 tasks, fitting"
        ),
        _ => "fitting the predictors (honest and paper protocols)".into(),
    }
}
