//! The study file: TOML read with serde (`deny_unknown_fields` everywhere, so a misspelt key is
//! an error with its line and column), then resolved against the study file's directory and
//! checked as a whole before any unit runs ([`Study::load`]). Every field is documented in
//! docs/study.md.
//!
//! The stages' own settings types are read as they are: [`ProbeSettings`] and [`EmbedSettings`]
//! (`[probe.settings]`, `[probe.embed]`), [`TrainSettings`] (`[finetune.train]`, or a task's
//! own `train` table) and [`MlmSettings`] (`[[variants]]`' `mlm` table), each field optional
//! with the stage's defaults.

use super::StudyError;
use crate::data::glue;
use crate::features::EmbedSettings;
use crate::finetune::train::TrainSettings;
use crate::probe::protocol::ProbeSettings;
use crate::zoo::mlm::MlmSettings;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The study file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    /// The study's name: recorded in the study directory, which refuses another study's runs.
    pub name: String,
    /// The study directory, relative to the study file (default `out`; `--out` overrides it).
    pub out: Option<PathBuf>,
    /// Checkpoints given as directories or local Hugging Face cache ids.
    #[serde(default, rename = "checkpoint")]
    pub checkpoints: Vec<CheckpointEntry>,
    /// Variants built from a listed checkpoint, as `probecast variants` builds them.
    #[serde(default)]
    pub variants: Vec<VariantsEntry>,
    /// The probing suite and protocol.
    pub probe: ProbeSection,
    /// The target tasks and their fine-tuning.
    pub finetune: FinetuneSection,
    /// The predictor and its validation.
    #[serde(default)]
    pub fit: FitSection,
}

/// `[[checkpoint]]`: one checkpoint on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointEntry {
    /// Name of the checkpoint in every table (and the base name of its variants).
    pub name: String,
    /// A Hugging Face model directory, looked up relative to the study file, then in the
    /// directory `scripts/fetch-models.sh` fills ([`models_dir`]), then as an absolute path or
    /// a local HF cache id.
    pub path: String,
    /// Family label (default: the name).
    pub family: Option<String>,
    /// More grouping columns (`name = "value"`) usable as fold schemes `group:<name>`.
    #[serde(default)]
    pub groups: BTreeMap<String, String>,
}

/// `[[variants]]`: variants of one listed checkpoint, with `probecast variants`' operations and
/// parameters; one checkpoint per value, named `<base>-<operation><value>` as that command
/// names them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantsEntry {
    /// Name of a `[[checkpoint]]`.
    pub base: String,
    /// Family label of the variants (default: the base's family).
    pub family: Option<String>,
    /// Seed of the noise, the word shuffling and the masked-LM training.
    #[serde(default = "default_variant_seed")]
    pub seed: u64,
    /// Gaussian noise scales relative to each weight matrix's standard deviation.
    #[serde(default)]
    pub noise: Vec<f64>,
    /// Magnitude-pruning sparsities in [0, 1).
    #[serde(default)]
    pub prune: Vec<f64>,
    /// Layer counts to keep.
    #[serde(default)]
    pub truncate: Vec<usize>,
    /// Fake quantisations (`int8`, `int4`, ...).
    #[serde(default)]
    pub quantize: Vec<String>,
    /// Steps of continued masked-LM training on word-shuffled text at which to save (one
    /// training run for the whole list).
    #[serde(default)]
    pub corrupt_steps: Vec<usize>,
    /// Text file, one text per line, for `corrupt_steps`.
    pub corpus: Option<PathBuf>,
    /// Or: GLUE task directories whose training texts (both sentences of a pair) make the
    /// corpus, in the order given.
    #[serde(default)]
    pub corpus_tasks: Vec<PathBuf>,
    /// Masked-LM settings of the corruption (its `steps`, `save_at` and `seed` are set from
    /// `corrupt_steps` and `seed`).
    #[serde(default)]
    pub mlm: MlmSettings,
}

fn default_variant_seed() -> u64 {
    1
}

/// `[probe]`: the probing suite and protocol, as `probecast probe`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSection {
    /// SentEval probing files, or directories of them.
    pub tasks: Vec<PathBuf>,
    /// Hidden states to probe (0 = embeddings); default: all.
    pub layers: Option<Vec<usize>>,
    /// The protocol (`probecast probe`'s settings).
    #[serde(default)]
    pub settings: ProbeSettings,
    /// Poolings, batch size and truncation length of the embedding.
    #[serde(default)]
    pub embed: EmbedSettings,
}

/// `[finetune]`: the target tasks, which checkpoints are fine-tuned, with which seeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSection {
    /// The target tasks.
    #[serde(rename = "task")]
    pub tasks: Vec<TaskEntry>,
    /// Seeds of every fine-tuned checkpoint.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// The fine-tuned (reference) checkpoints; default: all. The others are only predicted.
    pub checkpoints: Option<Vec<String>>,
    /// More seeds for some checkpoints (`name = [2, 3]`), e.g. to measure the seed noise.
    #[serde(default)]
    pub extra_seeds: BTreeMap<String, Vec<u64>>,
    /// Training settings of every task without its own `train` table.
    #[serde(default)]
    pub train: TrainSettings,
}

fn default_seeds() -> Vec<u64> {
    vec![1]
}

/// `[[finetune.task]]`: one GLUE task directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskEntry {
    /// Directory with train.tsv and the dev file (labelled).
    pub path: PathBuf,
    /// Task type when the directory name is not a GLUE task name.
    pub task_type: Option<String>,
    /// This task's training settings (replaces `[finetune.train]` as a whole).
    pub train: Option<TrainSettings>,
}

/// `[fit]`: the predictor and its fold schemes, as `probecast fit`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitSection {
    /// `honest` (nested cross-validation with baselines) or `paper` (in-sample).
    pub protocol: String,
    /// ridge, ols-subset, enet or mean.
    pub method: String,
    /// Subset size of ols-subset and the paper protocol.
    pub k: usize,
    /// Elastic-net mix.
    pub l1_ratio: f64,
    /// Fold schemes, one fit each: `loo` (leave one checkpoint out), `kfold:K[:R]`,
    /// `group:<column>` (leave one group out: `family`, `operation` or a checkpoint's
    /// `groups` key).
    pub folds: Vec<String>,
    /// Nominal coverage of the prediction intervals.
    pub coverage: f64,
    /// Target permutations of the permutation p-value.
    pub permutations: usize,
    /// Noise draws (default: the protocol's).
    pub noise_draws: Option<usize>,
    /// Seed of every random choice of the fit.
    pub seed: u64,
    /// Fill missing feature cells with the training-fold mean (checkpoints with different
    /// layer counts).
    pub impute: bool,
    /// Only feature columns matching this regex (default: all).
    pub features: Option<String>,
}

impl Default for FitSection {
    fn default() -> Self {
        FitSection {
            protocol: "honest".into(),
            method: "ridge".into(),
            k: 3,
            l1_ratio: 0.5,
            folds: vec!["loo".into()],
            coverage: 0.9,
            permutations: 200,
            noise_draws: None,
            seed: 0,
            impute: false,
            features: None,
        }
    }
}

/// Where a checkpoint comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A directory on disk.
    Dir(PathBuf),
    /// Built by the variant build with this index in [`Study::builds`].
    Variant(usize),
}

/// One checkpoint of the study.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its name in every table.
    pub name: String,
    /// Family label.
    pub family: String,
    /// `none` for a listed checkpoint, else the variant's operation.
    pub operation: String,
    /// More grouping columns.
    pub groups: BTreeMap<String, String>,
    /// Where it comes from.
    pub source: Source,
    /// Whether it is fine-tuned (else only predicted).
    pub finetuned: bool,
    /// Its fine-tuning seeds (empty when not fine-tuned).
    pub seeds: Vec<u64>,
}

impl Checkpoint {
    /// The value of grouping column `col` (`family`, `operation` or a `groups` key).
    pub fn group(&self, col: &str) -> Option<&str> {
        match col {
            "family" => Some(&self.family),
            "operation" => Some(&self.operation),
            _ => self.groups.get(col).map(String::as_str),
        }
    }
}

/// One variant operation with one value: the settings of `probecast variants` for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Build {
    /// Index of the base checkpoint.
    #[serde(skip)]
    pub base: usize,
    /// noise, prune, truncate, quantize or corrupt.
    pub operation: String,
    /// The value (`0.1`, `int4`, `3`; for corrupt the step list).
    pub value: String,
    /// Seed.
    pub seed: u64,
    /// The checkpoints it writes (names; one, or one per corruption step).
    pub outputs: Vec<String>,
    /// What `probecast variants` gets (its `model_dir`, `out` and `force` are set at run time).
    #[serde(skip)]
    pub settings: crate::zoo::run::VariantsSettings,
    /// GLUE task directories of the corpus (when no corpus file is given).
    #[serde(skip)]
    pub corpus_tasks: Vec<PathBuf>,
}

/// A target task.
#[derive(Debug, Clone)]
pub struct Task {
    /// The GLUE task name (the column of targets.csv).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Task type override.
    pub task_type: Option<String>,
    /// Its training settings.
    pub train: TrainSettings,
    /// The train and dev files read (for their hashes).
    pub files: Vec<PathBuf>,
}

/// A fold scheme of the fit.
#[derive(Debug, Clone)]
pub struct Folds {
    /// As written (`loo`, `group:operation`, ...).
    pub spec: String,
    /// Directory label under results/ (`fit-loo`, `fit-by-operation`, ...).
    pub label: String,
    /// The cross-validation scheme.
    pub cv: crate::predict::cv::CvScheme,
    /// The grouping column of a `group:` scheme.
    pub column: Option<String>,
}

/// A checked study, paths resolved.
#[derive(Debug, Clone)]
pub struct Study {
    /// The study file.
    pub file: PathBuf,
    /// SHA-256 of the study file.
    pub file_sha256: String,
    /// The file as read (paths resolved).
    pub spec: StudyFile,
    /// Checkpoints: the listed ones, then the variants in file order.
    pub checkpoints: Vec<Checkpoint>,
    /// Variant builds.
    pub builds: Vec<Build>,
    /// Target tasks.
    pub tasks: Vec<Task>,
    /// SentEval probing files (directories expanded).
    pub probe_files: Vec<PathBuf>,
    /// The fit's fold schemes.
    pub folds: Vec<Folds>,
    /// The fit settings of the first scheme (each scheme replaces `cv`).
    pub fit: crate::predict::pipeline::FitSettings,
}

/// Line and column (1-based) of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Parse a study file's text (`file` names it in errors): one-line errors with line and column.
pub fn parse(file: &Path, text: &str) -> Result<StudyFile, StudyError> {
    toml::from_str(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                StudyError::input(file, format!("line {l}, column {c}: {msg}"))
            }
            None => StudyError::input(file, msg),
        }
    })
}

/// Where `scripts/fetch-models.sh` puts models: `$PROBECAST_MODELS`, else
/// `~/.cache/probecast/models`.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("PROBECAST_MODELS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/probecast/models"),
    }
}

fn fmt_num(x: f64) -> String {
    format!("{x}")
}

impl Study {
    /// Read, resolve and check a study file: every path exists, names are unique, every task
    /// has dev labels, every setting passes its stage's `check()`.
    pub fn load(file: &Path) -> Result<Study, StudyError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| StudyError::input(file, format!("cannot read: {e}")))?;
        let spec = parse(file, &text)?;
        let base_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let bad = |msg: String| StudyError::input(file, msg);
        let rel = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base_dir.join(p)
            }
        };
        if spec.name.trim().is_empty() || spec.name.contains(['/', '\\']) {
            return Err(bad(format!(
                "name {:?}: must be non-empty, without '/'",
                spec.name
            )));
        }
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        let mut add_name = |n: &str| -> Result<(), StudyError> {
            if n.is_empty() || n.contains(['/', '\\', ',']) {
                return Err(bad(format!(
                    "checkpoint name {n:?}: must be non-empty, without '/' or ','"
                )));
            }
            if !names.insert(n.to_string()) {
                return Err(bad(format!("two checkpoints are named '{n}'")));
            }
            Ok(())
        };
        for c in &spec.checkpoints {
            add_name(&c.name)?;
            let local = rel(Path::new(&c.path));
            let fetched = models_dir().join(&c.path);
            let dir = if local.is_dir() {
                local
            } else if !c.path.is_empty() && fetched.join("config.json").is_file() {
                fetched
            } else {
                crate::encoder::resolve::resolve_model(&c.path).map_err(|e| {
                    bad(format!(
                        "checkpoint '{}': path '{}' does not exist ({e})",
                        c.name, c.path
                    ))
                })?
            };
            if !dir.join("config.json").is_file() {
                return Err(bad(format!(
                    "checkpoint '{}': {} has no config.json",
                    c.name,
                    dir.display()
                )));
            }
            checkpoints.push(Checkpoint {
                name: c.name.clone(),
                family: c.family.clone().unwrap_or_else(|| c.name.clone()),
                operation: "none".into(),
                groups: c.groups.clone(),
                source: Source::Dir(dir),
                finetuned: false,
                seeds: Vec::new(),
            });
        }
        let mut builds = Vec::new();
        for (vi, v) in spec.variants.iter().enumerate() {
            let Some(base) = checkpoints
                .iter()
                .position(|c| c.name == v.base && matches!(c.source, Source::Dir(_)))
            else {
                return Err(bad(format!(
                    "variants #{}: base '{}' is not a [[checkpoint]] of this study",
                    vi + 1,
                    v.base
                )));
            };
            let Source::Dir(base_dir_path) = checkpoints[base].source.clone() else {
                unreachable!("base is a directory checkpoint")
            };
            let family = v
                .family
                .clone()
                .unwrap_or_else(|| checkpoints[base].family.clone());
            let groups = checkpoints[base].groups.clone();
            let template = crate::zoo::run::VariantsSettings {
                family: v.base.clone(),
                model_dir: base_dir_path,
                out: PathBuf::new(),
                noise: vec![],
                prune: vec![],
                truncate: vec![],
                quantize: vec![],
                corrupt_steps: vec![],
                corpus: None,
                seed: v.seed,
                force: true,
                mlm: v.mlm.clone(),
            };
            let mut ops: Vec<(&str, String, String, crate::zoo::run::VariantsSettings)> =
                Vec::new();
            for &s in &v.noise {
                let mut t = template.clone();
                t.noise = vec![s];
                ops.push(("noise", fmt_num(s), format!("noise{}", fmt_num(s)), t));
            }
            for &s in &v.prune {
                let mut t = template.clone();
                t.prune = vec![s];
                ops.push(("prune", fmt_num(s), format!("prune{}", fmt_num(s)), t));
            }
            for &k in &v.truncate {
                let mut t = template.clone();
                t.truncate = vec![k];
                ops.push(("truncate", k.to_string(), format!("trunc{k}"), t));
            }
            for q in &v.quantize {
                let bits = crate::zoo::quantize::parse_bits(q)
                    .map_err(|e| bad(format!("variants #{}: {e}", vi + 1)))?;
                let mut t = template.clone();
                t.quantize = vec![q.clone()];
                ops.push(("quantize", q.clone(), format!("int{bits}"), t));
            }
            let mut corrupt_tasks = Vec::new();
            if !v.corrupt_steps.is_empty() {
                let mut t = template.clone();
                t.corrupt_steps = v.corrupt_steps.clone();
                match (&v.corpus, v.corpus_tasks.is_empty()) {
                    (Some(c), true) => {
                        let c = rel(c);
                        if !c.is_file() {
                            return Err(bad(format!(
                                "variants #{}: corpus {} does not exist",
                                vi + 1,
                                c.display()
                            )));
                        }
                        t.corpus = Some(c);
                    }
                    (None, false) => {
                        for d in &v.corpus_tasks {
                            let d = rel(d);
                            if !d.join("train.tsv").is_file() {
                                return Err(bad(format!(
                                    "variants #{}: corpus task {} has no train.tsv",
                                    vi + 1,
                                    d.display()
                                )));
                            }
                            corrupt_tasks.push(d);
                        }
                    }
                    _ => {
                        return Err(bad(format!(
                            "variants #{}: corrupt_steps needs exactly one of corpus (a text file) or corpus_tasks (GLUE directories)",
                            vi + 1
                        )))
                    }
                }
                let steps: Vec<String> = v.corrupt_steps.iter().map(|s| s.to_string()).collect();
                ops.push(("corrupt", steps.join(","), String::new(), t));
            }
            for (op, value, tag, settings) in ops {
                let outputs: Vec<String> = if op == "corrupt" {
                    v.corrupt_steps
                        .iter()
                        .map(|s| format!("{}-corrupt{s}", v.base))
                        .collect()
                } else {
                    vec![format!("{}-{tag}", v.base)]
                };
                let b = builds.len();
                for o in &outputs {
                    add_name(o)?;
                    checkpoints.push(Checkpoint {
                        name: o.clone(),
                        family: family.clone(),
                        operation: op.to_string(),
                        groups: groups.clone(),
                        source: Source::Variant(b),
                        finetuned: false,
                        seeds: Vec::new(),
                    });
                }
                builds.push(Build {
                    base,
                    operation: op.to_string(),
                    value,
                    seed: v.seed,
                    outputs,
                    settings,
                    corpus_tasks: if op == "corrupt" {
                        corrupt_tasks.clone()
                    } else {
                        vec![]
                    },
                });
            }
            let mut s = v.mlm.clone();
            s.steps = v.corrupt_steps.iter().copied().max().unwrap_or(1);
            s.save_at = v.corrupt_steps.clone();
            if v.corrupt_steps.contains(&0) {
                return Err(bad(format!(
                    "variants #{}: corrupt_steps must be at least 1",
                    vi + 1
                )));
            }
            s.check()
                .map_err(|e| bad(format!("variants #{}: mlm: {e}", vi + 1)))?;
        }
        // probing
        let mut probe = spec.probe.clone();
        probe.tasks = probe.tasks.iter().map(|p| rel(p)).collect();
        for p in &probe.tasks {
            if !p.exists() {
                return Err(bad(format!("probe.tasks: {} does not exist", p.display())));
            }
        }
        let mut ps = probe.settings.clone();
        ps.set_c_grid(&ps.c_grid.clone());
        ps.check()
            .map_err(|e| bad(format!("probe.settings: {e}")))?;
        probe.settings = ps;
        probe.embed.poolings.sort();
        probe.embed.poolings.dedup();
        probe
            .embed
            .check()
            .map_err(|e| bad(format!("probe.embed: {e}")))?;
        let probe_files = crate::data::senteval::expand_task_paths(&probe.tasks)
            .map_err(|e| bad(format!("probe.tasks: {e}")))?;
        // tasks
        let mut tasks = Vec::new();
        if spec.finetune.tasks.is_empty() {
            return Err(bad("finetune: needs at least one [[finetune.task]]".into()));
        }
        for t in &spec.finetune.tasks {
            let dir = rel(&t.path);
            if !dir.is_dir() {
                return Err(bad(format!(
                    "finetune.task: {} does not exist",
                    dir.display()
                )));
            }
            let (train, dev) = glue::read_task(&dir, t.task_type.as_deref())
                .map_err(|e| bad(format!("finetune.task {}: {e}", dir.display())))?;
            let s = t
                .train
                .clone()
                .unwrap_or_else(|| spec.finetune.train.clone());
            s.check()
                .map_err(|e| bad(format!("finetune.task {}: train.{e}", dir.display())))?;
            // the GLUE name; with an explicit task_type, the directory's (the task is not GLUE's)
            let name = match &t.task_type {
                Some(_) => dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| train.spec.name.to_string()),
                None => train.spec.name.to_string(),
            };
            if tasks.iter().any(|x: &Task| x.name == name) {
                return Err(bad(format!("finetune: task '{name}' is listed twice")));
            }
            tasks.push(Task {
                name,
                dir,
                task_type: t.task_type.clone(),
                train: s,
                files: vec![train.path, dev.path],
            });
        }
        // who is fine-tuned, with which seeds
        check_seeds("finetune.seeds", &spec.finetune.seeds).map_err(bad)?;
        if let Some(list) = &spec.finetune.checkpoints {
            for n in list {
                if !checkpoints.iter().any(|c| &c.name == n) {
                    return Err(bad(format!(
                        "finetune.checkpoints: '{n}' is not a checkpoint of this study"
                    )));
                }
            }
        }
        for c in checkpoints.iter_mut() {
            c.finetuned = spec
                .finetune
                .checkpoints
                .as_ref()
                .is_none_or(|l| l.contains(&c.name));
            if c.finetuned {
                c.seeds = spec.finetune.seeds.clone();
            }
        }
        for (n, extra) in &spec.finetune.extra_seeds {
            let Some(c) = checkpoints.iter_mut().find(|c| &c.name == n) else {
                return Err(bad(format!(
                    "finetune.extra_seeds: '{n}' is not a checkpoint of this study"
                )));
            };
            if !c.finetuned {
                return Err(bad(format!(
                    "finetune.extra_seeds: '{n}' is not fine-tuned (not in finetune.checkpoints)"
                )));
            }
            c.seeds.extend(extra);
            check_seeds(&format!("finetune.extra_seeds.{n}"), &c.seeds).map_err(bad)?;
        }
        // fit
        let f = &spec.fit;
        let protocol = crate::predict::pipeline::Protocol::parse(&f.protocol).ok_or_else(|| {
            bad(format!(
                "fit.protocol: {:?} (expected honest or paper)",
                f.protocol
            ))
        })?;
        let method = crate::predict::model::Method::parse(&f.method, f.k, f.l1_ratio)
            .map_err(|e| bad(format!("fit.method: {e}")))?;
        if let Some(r) = &f.features {
            crate::predict::run::compile_regex("fit.features", r).map_err(bad)?;
        }
        if f.folds.is_empty() {
            return Err(bad("fit.folds: needs at least one fold scheme".into()));
        }
        let mut folds = Vec::new();
        for s in &f.folds {
            let (cv, column, label) = match s.strip_prefix("group:") {
                Some(col) => {
                    if let Some(c) = checkpoints.iter().find(|c| c.group(col).is_none()) {
                        return Err(bad(format!(
                            "fit.folds: '{s}': checkpoint '{}' has no '{col}' (use family, operation or a groups key)",
                            c.name
                        )));
                    }
                    (
                        crate::predict::cv::CvScheme::Group,
                        Some(col.to_string()),
                        format!("fit-by-{col}"),
                    )
                }
                None => {
                    let cv = crate::predict::cv::CvScheme::parse(s)
                        .map_err(|e| bad(format!("fit.folds: '{s}': {e} (or group:<column>)")))?;
                    if cv == crate::predict::cv::CvScheme::Group {
                        return Err(bad(format!(
                            "fit.folds: '{s}': name the grouping column, e.g. group:family"
                        )));
                    }
                    let label = format!("fit-{}", s.replace(':', "-"));
                    (cv, None, label)
                }
            };
            if folds.iter().any(|x: &Folds| x.label == label) {
                return Err(bad(format!("fit.folds: '{s}' is listed twice")));
            }
            folds.push(Folds {
                spec: s.clone(),
                label,
                cv,
                column,
            });
        }
        let fit = crate::predict::pipeline::FitSettings {
            protocol,
            method,
            k: f.k,
            cv: folds[0].cv.clone(),
            coverage: f.coverage,
            permutations: f.permutations,
            noise_draws: f.noise_draws.unwrap_or(protocol.default_noise_draws()),
            seed: f.seed,
        };
        let mut spec = spec;
        spec.probe = probe;
        Ok(Study {
            file: file.to_path_buf(),
            file_sha256: crate::util::sha256_hex(text.as_bytes()),
            spec,
            checkpoints,
            builds,
            tasks,
            probe_files,
            folds,
            fit,
        })
    }
}

fn check_seeds(field: &str, seeds: &[u64]) -> Result<(), String> {
    if seeds.is_empty() {
        return Err(format!("{field}: needs at least one seed"));
    }
    for (i, s) in seeds.iter().enumerate() {
        if seeds[..i].contains(s) {
            return Err(format!("{field}: seed {s} is given twice"));
        }
    }
    Ok(())
}
