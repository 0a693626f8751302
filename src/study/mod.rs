//! `probecast study`: the whole loop (variants, probing, fine-tuning, fit, predict) declared in
//! one TOML file ([`file`]), run as independent content-addressed units ([`plan`]) that are
//! written atomically with a completion marker ([`store`]) and reused on rerun, sharded
//! deterministically (`--shard I/N`) or over Slurm job arrays ([`slurm`]), then merged, fitted
//! and predicted ([`results`]).
//!
//! A failing unit is reported (and noted under `work/failed/<stage>/`) and does not stop the
//! others; the run ends with the list of failed units.

pub mod file;
pub mod plan;
pub mod results;
pub mod slurm;
pub mod store;

use file::{Source, Study};
use plan::{Plan, Stage, Unit, UnitKind};
use std::path::{Path, PathBuf};

/// Errors that stop a study command (bad input: exit code 2, one line).
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A problem with a file, naming it.
    #[error("{file}: {msg}")]
    Input {
        /// The file or directory.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// Units that failed (the others ran).
    #[error("{} unit(s) failed: {}", .0.len(), .0.join("; "))]
    Failed(Vec<String>),
}

impl StudyError {
    /// A problem with `file`.
    pub fn input(file: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        StudyError::Input {
            file: file.as_ref().display().to_string(),
            msg: msg.into(),
        }
    }
}

/// A share of the units: `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parse `I/N` with 1 <= I <= N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: expected I/N with 1 <= I <= N (e.g. 2/8)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the unit at position `pos` of its stage belongs to this shard.
    pub fn owns(&self, pos: usize) -> bool {
        pos % self.count == self.index - 1
    }
}

/// Options of `probecast study run`.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The study directory.
    pub out: PathBuf,
    /// Only this share of each stage's units.
    pub shard: Option<Shard>,
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Use a study directory made by another study.
    pub force: bool,
    /// With `stage: Some(Stage::Fit)`: fit on the complete checkpoints only, into
    /// `results-partial/` (see [`results::fit`]), while other units are still pending.
    pub partial: bool,
    /// Only the units of checkpoints in these families (empty: all): a variant build belongs
    /// to the family of the checkpoints it writes.
    pub families: Vec<String>,
    /// Only the units of these checkpoints (empty: all): a variant build belongs to every
    /// checkpoint it writes (so naming one of a corruption run's outputs runs the whole build).
    pub checkpoints: Vec<String>,
}

/// The default study directory: the study file's `out` key (relative to the file), else `out/`
/// beside the file. An unreadable or invalid file gives `out/` here; loading it reports why.
pub fn default_out(study_file: &Path) -> PathBuf {
    let named = std::fs::read_to_string(study_file)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("out").and_then(|v| v.as_str()).map(PathBuf::from));
    study_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(named.unwrap_or_else(|| PathBuf::from("out")))
}

/// Load the study and plan its units in `out` without creating or writing anything (for
/// `status`): a directory made by another study is refused unless `force`, and one that does
/// not exist yet simply has every unit pending.
pub fn inspect(study_file: &Path, out: &Path, force: bool) -> Result<(Study, Plan), StudyError> {
    let study = Study::load(study_file)?;
    let marker = out.join("study.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let name = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from));
        if name.as_deref() != Some(study.spec.name.as_str()) && !force {
            return Err(StudyError::input(
                out,
                format!(
                    "this study directory belongs to study {:?}, not {:?} ({}): use another --out, or --force",
                    name.unwrap_or_default(),
                    study.spec.name,
                    study_file.display()
                ),
            ));
        }
    } else if out.exists() && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) && !force
    {
        return Err(StudyError::input(
            out,
            "exists, is not empty and is not a study directory (no study.json): use another --out, or --force",
        ));
    }
    let plan = Plan::new(&study, out)?;
    Ok((study, plan))
}

/// Load the study and open (create) its directory: `study.json` must name this study unless
/// `force`; `work/` gets a `.gitignore` so the directory can be committed as it is.
pub fn open(study_file: &Path, out: &Path, force: bool) -> Result<(Study, Plan), StudyError> {
    let (study, plan) = inspect(study_file, out, force)?;
    let marker = out.join("study.json");
    let work = out.join("work");
    std::fs::create_dir_all(&work).map_err(|e| StudyError::input(&work, e.to_string()))?;
    let want = serde_json::json!({ "name": study.spec.name });
    if std::fs::read_to_string(&marker)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        != Some(want.clone())
    {
        crate::util::write_json(&marker, &want).map_err(|e| StudyError::input(&marker, e))?;
    }
    let gi = work.join(".gitignore");
    if !gi.exists() {
        crate::util::write_atomic_str(&gi, "# rebuilt deterministically from the study file\n*\n")
            .map_err(|e| StudyError::input(&gi, e.to_string()))?;
    }
    Ok((study, plan))
}

/// A unit's state.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Finished and intact.
    Done,
    /// A variant build that is not there but that no pending unit needs.
    NotNeeded,
    /// To run (why).
    Pending(String),
    /// Failed on its last run (the error), not finished since.
    Failed(String),
}

fn failure_note(plan: &Plan, u: &Unit) -> PathBuf {
    plan.failed_dir(u.stage).join(format!("{}.txt", u.key))
}

/// The state of every unit, in plan order.
pub fn states(plan: &Plan) -> Vec<State> {
    let mut out: Vec<State> = plan
        .units
        .iter()
        .map(|u| match store::verify(&u.dir, &u.hash) {
            None => State::Done,
            Some(why) => match std::fs::read_to_string(failure_note(plan, u)) {
                Ok(e) => State::Failed(e.trim().to_string()),
                Err(_) => State::Pending(why),
            },
        })
        .collect();
    // a missing variant build is needed only by pending probing or fine-tuning units
    for (b, u) in plan.units.iter().enumerate() {
        let UnitKind::Variant(build) = u.kind else {
            continue;
        };
        if out[b] == State::Done {
            continue;
        }
        let needed = plan.units.iter().zip(&out).any(|(d, s)| {
            *s != State::Done
                && match d.kind {
                    UnitKind::Probe(c) | UnitKind::Finetune { ckpt: c, .. } => {
                        plan.variant_of(c) == Some(build)
                    }
                    UnitKind::Variant(_) => false,
                }
        });
        if !needed {
            out[b] = State::NotNeeded;
        }
    }
    out
}

/// Counts per stage for `study status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageCounts {
    /// Finished units.
    pub done: usize,
    /// Variant builds not needed (every unit that reads them is done).
    pub not_needed: usize,
    /// Units to run.
    pub pending: usize,
    /// Units whose last run failed.
    pub failed: usize,
}

/// Per stage (variants, probe, finetune) the counts, and the fit stage's state.
pub fn status(study: &Study, plan: &Plan) -> (Vec<(Stage, StageCounts)>, bool) {
    let st = states(plan);
    let mut out = Vec::new();
    for s in [Stage::Variants, Stage::Probe, Stage::Finetune] {
        let mut c = StageCounts::default();
        for (u, x) in plan.units.iter().zip(&st) {
            if u.stage != s {
                continue;
            }
            match x {
                State::Done => c.done += 1,
                State::NotNeeded => c.not_needed += 1,
                State::Pending(_) => c.pending += 1,
                State::Failed(_) => c.failed += 1,
            }
        }
        out.push((s, c));
    }
    (out, results::fit_done(study, plan))
}

/// What [`run`] did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Units run successfully: (stage, key, seconds).
    pub ran: Vec<(Stage, String, f64)>,
    /// Units that failed: (key, error).
    pub failed: Vec<(String, String)>,
    /// The fit, if it ran.
    pub fit: Option<results::FitReport>,
    /// Why the fit did not run, if it was asked for and did not.
    pub fit_skipped: Option<String>,
}

fn corpus_file(study: &Study, plan: &Plan, b: usize) -> Result<Option<PathBuf>, String> {
    let build = &study.builds[b];
    if build.corpus_tasks.is_empty() {
        return Ok(build.settings.corpus.clone());
    }
    let mut text = String::new();
    for d in &build.corpus_tasks {
        let (train, _) = crate::data::glue::read_task(d, None).map_err(|e| e.to_string())?;
        for e in &train.examples {
            text.push_str(e.a.trim());
            text.push('\n');
            if let Some(b) = &e.b {
                text.push_str(b.trim());
                text.push('\n');
            }
        }
    }
    let p = plan.out.join("work").join("corpus").join(format!(
        "{}.txt",
        &crate::util::sha256_hex(text.as_bytes())[..16]
    ));
    if !p.is_file() {
        std::fs::create_dir_all(p.parent().expect("has a parent")).map_err(|e| e.to_string())?;
        crate::util::write_atomic_str(&p, &text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(Some(p))
}

fn run_unit(study: &Study, plan: &Plan, u: &Unit, argv: &[String]) -> Result<(), String> {
    match u.kind {
        UnitKind::Variant(b) => {
            let build = &study.builds[b];
            let corpus = corpus_file(study, plan, b)?;
            store::build(&u.dir, &u.key, &u.hash, |staging| {
                let mut s = build.settings.clone();
                s.out = staging.to_path_buf();
                s.corpus = corpus;
                let pb = indicatif::ProgressBar::hidden();
                crate::zoo::run::run_variants(s, argv, &pb).map_err(|e| e.to_string())?;
                Ok(())
            })
        }
        UnitKind::Probe(i) => {
            let dir = plan.checkpoint_dir(study, i);
            let p = &study.spec.probe;
            let mut embed = p.embed.clone();
            embed.cache_dir = plan.cache_dir();
            store::build(&u.dir, &u.key, &u.hash, |staging| {
                crate::probe::run::probe_to_dir(
                    &[dir.to_string_lossy().into_owned()],
                    &study.probe_files,
                    staging,
                    &p.settings,
                    &embed,
                    p.layers.as_deref(),
                    argv,
                    None,
                )
                .map_err(|e| e.to_string())?;
                Ok(())
            })
        }
        UnitKind::Finetune { ckpt, task, seed } => {
            let dir = plan.checkpoint_dir(study, ckpt);
            let t = &study.tasks[task];
            let job = crate::finetune::run::FinetuneJob {
                models: vec![dir.to_string_lossy().into_owned()],
                tasks: vec![t.dir.clone()],
                task_type: t.task_type.clone(),
                seeds: vec![seed],
                save_models: false,
            };
            store::build(&u.dir, &u.key, &u.hash, |staging| {
                crate::finetune::run::finetune_to_dir(&job, &t.train, staging, argv, &mut |_| {})
                    .map_err(|e| e.to_string())?;
                Ok(())
            })
        }
    }
}

/// The family of a unit: its checkpoint's, or for a variant build, its base's variants'.
fn unit_family<'a>(study: &'a Study, u: &Unit) -> &'a str {
    let c = match u.kind {
        UnitKind::Probe(c) | UnitKind::Finetune { ckpt: c, .. } => c,
        UnitKind::Variant(b) => study
            .checkpoints
            .iter()
            .position(|c| c.source == Source::Variant(b))
            .unwrap_or(study.builds[b].base),
    };
    &study.checkpoints[c].family
}

/// The checkpoints unit `u` works for: its own, or every checkpoint a variant build writes.
fn unit_checkpoints(study: &Study, u: &Unit) -> Vec<usize> {
    match u.kind {
        UnitKind::Probe(c) | UnitKind::Finetune { ckpt: c, .. } => vec![c],
        UnitKind::Variant(b) => (0..study.checkpoints.len())
            .filter(|&c| study.checkpoints[c].source == Source::Variant(b))
            .collect(),
    }
}

/// Run the pending units of the selected stage(s) and share, then (unsharded, or with
/// `--stage fit`) merge, fit and predict. `log` gets one line per unit.
pub fn run(
    study: &Study,
    plan: &Plan,
    rs: &RunSettings,
    argv: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<RunReport, StudyError> {
    if rs.partial && rs.stage != Some(Stage::Fit) {
        return Err(StudyError::input(
            &rs.out,
            "--partial is a kind of fit: use it with --stage fit",
        ));
    }
    for f in &rs.families {
        if !study.checkpoints.iter().any(|c| &c.family == f) {
            let mut known: Vec<&str> = Vec::new();
            for c in &study.checkpoints {
                if !known.contains(&c.family.as_str()) {
                    known.push(&c.family);
                }
            }
            return Err(StudyError::input(
                &rs.out,
                format!(
                    "--family {f}: no checkpoint of the study is in it (families: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    for n in &rs.checkpoints {
        if !study.checkpoints.iter().any(|c| &c.name == n) {
            let names: Vec<&str> = study.checkpoints.iter().map(|c| c.name.as_str()).collect();
            return Err(StudyError::input(
                &rs.out,
                format!(
                    "--checkpoint {n}: the study has no checkpoint of that name (checkpoints: {})",
                    names.join(", ")
                ),
            ));
        }
    }
    let mut report = RunReport::default();
    let mut failed_builds: Vec<usize> = Vec::new();
    for stage in [Stage::Variants, Stage::Probe, Stage::Finetune] {
        if rs.stage.is_some_and(|s| s != stage) {
            continue;
        }
        // states are computed per stage: a variant is needed only if its readers are pending
        let st = states(plan);
        let mut pos = 0;
        for (u, s) in plan.units.iter().zip(&st) {
            if u.stage != stage {
                continue;
            }
            let mine = rs.shard.is_none_or(|sh| sh.owns(pos));
            pos += 1;
            if !mine || matches!(s, State::Done | State::NotNeeded) {
                continue;
            }
            if !rs.families.is_empty() && !rs.families.iter().any(|f| f == unit_family(study, u)) {
                continue;
            }
            if !rs.checkpoints.is_empty()
                && !unit_checkpoints(study, u)
                    .iter()
                    .any(|&c| rs.checkpoints.contains(&study.checkpoints[c].name))
            {
                continue;
            }
            let t0 = std::time::Instant::now();
            let res = match u.kind {
                UnitKind::Probe(c) | UnitKind::Finetune { ckpt: c, .. } => {
                    match plan.variant_of(c) {
                        Some(b) if failed_builds.contains(&b) => {
                            Err(format!("its variant build failed in this run ({})", b + 1))
                        }
                        Some(b) if store::verify(&plan.build_unit(b).dir, &plan.build_unit(b).hash).is_some() => {
                            Err(format!(
                                "its checkpoint is not built: run the variants stage first (unit {})",
                                plan.build_unit(b).key
                            ))
                        }
                        _ => run_unit(study, plan, u, argv),
                    }
                }
                UnitKind::Variant(b) => {
                    let r = run_unit(study, plan, u, argv);
                    if r.is_err() {
                        failed_builds.push(b);
                    }
                    r
                }
            };
            let note = failure_note(plan, u);
            match res {
                Ok(()) => {
                    let _ = std::fs::remove_file(&note);
                    let secs = t0.elapsed().as_secs_f64();
                    log(&format!("{} {}: done in {secs:.1} s", stage.name(), u.key));
                    report.ran.push((stage, u.key.clone(), secs));
                }
                Err(e) => {
                    let e = e.replace('\n', " ");
                    log(&format!("{} {}: FAILED: {e}", stage.name(), u.key));
                    if let Some(d) = note.parent() {
                        let _ = std::fs::create_dir_all(d);
                    }
                    let _ = crate::util::write_atomic_str(&note, &format!("{e}\n"));
                    report.failed.push((u.key.clone(), e));
                }
            }
        }
    }
    let want_fit = match rs.stage {
        Some(s) => s == Stage::Fit,
        None => rs.shard.is_none(),
    };
    if want_fit {
        let st = states(plan);
        let open: Vec<&Unit> = plan
            .units
            .iter()
            .zip(&st)
            .filter(|(u, s)| u.stage != Stage::Variants && !matches!(s, State::Done))
            .map(|(u, _)| u)
            .collect();
        if rs.partial {
            report.fit = Some(results::fit(study, plan, argv, true)?);
        } else if !open.is_empty() {
            report.fit_skipped = Some(format!(
                "{} probing/fine-tuning unit(s) not done (first: {} {})",
                open.len(),
                open[0].stage.name(),
                open[0].key
            ));
        } else {
            report.fit = Some(results::fit(study, plan, argv, false)?);
        }
    }
    Ok(report)
}
