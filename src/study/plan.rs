//! The study's units and where they live. A unit's hash is the SHA-256 of its kind, its
//! settings and its inputs' identities (a listed checkpoint's content hash; a variant's build
//! hash and name; the task files' content hashes), so a changed setting changes exactly the
//! hashes of the units it affects, and a unit directory (`<name>-<hash prefix>`) is reused on
//! rerun only when everything that made it is the same.
//!
//! The study directory (`--out`):
//!
//! ```text
//! study.json                 the study's name (another study's runs are refused)
//! probe/<ckpt>-<h>/          probes.csv, features.csv, manifest.json, done.json   (commit)
//! finetune/<ckpt>-<task>-seed<s>-<h>/  finetune.csv, targets.csv, manifest.json, done.json (commit)
//! results/                   merged tables, one fit per fold scheme, predictions   (commit)
//! work/                      variant checkpoints, corpora, feature cache, failures, Slurm logs
//!                            (rebuilt deterministically; holds a .gitignore of `*`)
//! ```

use super::file::{Source, Study};
use super::StudyError;
use crate::util::sha256_hex;
use std::path::{Path, PathBuf};

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Variant builds.
    Variants,
    /// One checkpoint's probing.
    Probe,
    /// One (checkpoint, task, seed) fine-tuning run.
    Finetune,
    /// Merge, fit and predict.
    Fit,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 4] = [Stage::Variants, Stage::Probe, Stage::Finetune, Stage::Fit];

    /// Its name (`--stage`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Variants => "variants",
            Stage::Probe => "probe",
            Stage::Finetune => "finetune",
            Stage::Fit => "fit",
        }
    }

    /// Parse a `--stage` value.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// What a unit does.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitKind {
    /// Build variant `build` (index into [`Study::builds`]).
    Variant(usize),
    /// Probe checkpoint `ckpt`.
    Probe(usize),
    /// Fine-tune checkpoint `ckpt` on task `task` with `seed`.
    Finetune {
        /// Checkpoint index.
        ckpt: usize,
        /// Task index.
        task: usize,
        /// Seed.
        seed: u64,
    },
}

/// One unit of work.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Its stage.
    pub stage: Stage,
    /// What it does.
    pub kind: UnitKind,
    /// Its key: the directory name, `<name>-<first 12 hex digits of the hash>`.
    pub key: String,
    /// Its content hash.
    pub hash: String,
    /// Its directory.
    pub dir: PathBuf,
}

/// Every unit of a study, with the directories.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The study directory.
    pub out: PathBuf,
    /// Units: variant builds, then probing per checkpoint (the order of the study file), then
    /// fine-tuning: every checkpoint's first seed, then the extra seeds, each family by family
    /// (in order of first appearance), then checkpoint, task and seed in the file's order.
    pub units: Vec<Unit>,
    /// Identity of each checkpoint (row-aligned with [`Study::checkpoints`]).
    pub identities: Vec<String>,
    /// The variant build of each checkpoint (`None` for a listed one).
    pub builds_of: Vec<Option<usize>>,
}

fn hash_json(v: &serde_json::Value) -> String {
    sha256_hex(v.to_string().as_bytes())
}

fn file_hash(p: &Path) -> Result<String, StudyError> {
    crate::util::sha256_file(p).map_err(|e| StudyError::input(p, format!("cannot read: {e}")))
}

impl Plan {
    /// The units of `study` in the study directory `out`. Reads (hashes) every listed
    /// checkpoint and input file; builds nothing.
    pub fn new(study: &Study, out: &Path) -> Result<Plan, StudyError> {
        let mut units = Vec::new();
        let work = out.join("work");
        // checkpoint identities: content hashes of the listed ones first
        let mut identities = vec![String::new(); study.checkpoints.len()];
        for (i, c) in study.checkpoints.iter().enumerate() {
            if let Source::Dir(d) = &c.source {
                identities[i] = crate::encoder::extract::model_hash(d)
                    .map_err(|e| StudyError::input(d, e.to_string()))?;
            }
        }
        for (b, build) in study.builds.iter().enumerate() {
            let mut corpus = serde_json::Value::Null;
            if let Some(c) = &build.settings.corpus {
                corpus = serde_json::json!({ "file": file_hash(c)? });
            } else if !build.corpus_tasks.is_empty() {
                let mut hs = Vec::new();
                for d in &build.corpus_tasks {
                    hs.push(file_hash(&d.join("train.tsv"))?);
                }
                corpus = serde_json::json!({ "glue_train": hs });
            }
            let mlm = if build.operation == "corrupt" {
                serde_json::to_value(&build.settings.mlm).expect("settings serialise")
            } else {
                serde_json::Value::Null
            };
            let hash = hash_json(&serde_json::json!({
                "kind": "variant",
                "base": identities[build.base],
                "operation": build.operation,
                "value": build.value,
                "seed": build.seed,
                "mlm": mlm,
                "corpus": corpus,
            }));
            let name = if build.operation == "corrupt" {
                format!("{}-corrupt", study.checkpoints[build.base].name)
            } else {
                build.outputs[0].clone()
            };
            let key = format!("{name}-{}", &hash[..12]);
            for (i, c) in study.checkpoints.iter().enumerate() {
                if c.source == Source::Variant(b) {
                    identities[i] = format!("variant:{hash}:{}", c.name);
                }
            }
            units.push(Unit {
                stage: Stage::Variants,
                kind: UnitKind::Variant(b),
                dir: work.join("variants").join(&key),
                key,
                hash,
            });
        }
        let mut probe_files = Vec::new();
        for f in &study.probe_files {
            probe_files.push(file_hash(f)?);
        }
        let p = &study.spec.probe;
        let probe_settings = serde_json::json!({
            "settings": p.settings,
            "poolings": p.embed.poolings,
            "max_length": p.embed.max_length,
            "layers": p.layers,
            "tasks": probe_files,
        });
        for (i, c) in study.checkpoints.iter().enumerate() {
            let hash = hash_json(&serde_json::json!({
                "kind": "probe", "checkpoint": identities[i], "probe": probe_settings,
            }));
            let key = format!("{}-{}", c.name, &hash[..12]);
            units.push(Unit {
                stage: Stage::Probe,
                kind: UnitKind::Probe(i),
                dir: out.join("probe").join(&key),
                key,
                hash,
            });
        }
        let mut task_ids = Vec::new();
        for t in &study.tasks {
            let mut hs = Vec::new();
            for f in &t.files {
                hs.push(file_hash(f)?);
            }
            task_ids.push(hs);
        }
        // Fine-tuning in the order that gives usable results soonest when a study is stopped
        // part-way: every checkpoint's first seed before any extra seed, one family after the
        // other (in order of first appearance), then the file's order.
        let mut families: Vec<&str> = Vec::new();
        for c in &study.checkpoints {
            if !families.contains(&c.family.as_str()) {
                families.push(&c.family);
            }
        }
        let mut order: Vec<(bool, usize, usize, usize, usize)> = Vec::new();
        for (i, c) in study.checkpoints.iter().enumerate() {
            let fam = families.iter().position(|f| *f == c.family).unwrap_or(0);
            for ti in 0..study.tasks.len() {
                for si in 0..c.seeds.len() {
                    order.push((si > 0, fam, i, ti, si));
                }
            }
        }
        order.sort();
        for (_, _, i, ti, si) in order {
            let (c, t) = (&study.checkpoints[i], &study.tasks[ti]);
            let seed = c.seeds[si];
            let hash = hash_json(&serde_json::json!({
                "kind": "finetune", "checkpoint": identities[i], "task": task_ids[ti],
                "task_type": t.task_type, "train": t.train, "seed": seed,
            }));
            let key = format!("{}-{}-seed{seed}-{}", c.name, t.name, &hash[..12]);
            units.push(Unit {
                stage: Stage::Finetune,
                kind: UnitKind::Finetune {
                    ckpt: i,
                    task: ti,
                    seed,
                },
                dir: out.join("finetune").join(&key),
                key,
                hash,
            });
        }
        let builds_of = study
            .checkpoints
            .iter()
            .map(|c| match c.source {
                Source::Variant(b) => Some(b),
                Source::Dir(_) => None,
            })
            .collect();
        Ok(Plan {
            out: out.to_path_buf(),
            units,
            identities,
            builds_of,
        })
    }

    /// The variant build that makes checkpoint `c`, if it is a variant.
    pub fn variant_of(&self, c: usize) -> Option<usize> {
        self.builds_of[c]
    }

    /// The unit of variant build `b`.
    pub fn build_unit(&self, b: usize) -> &Unit {
        self.units
            .iter()
            .find(|u| u.kind == UnitKind::Variant(b))
            .expect("every build has a unit")
    }

    /// The units of one stage, in plan order.
    pub fn stage(&self, s: Stage) -> Vec<&Unit> {
        self.units.iter().filter(|u| u.stage == s).collect()
    }

    /// The directory of checkpoint `i`: its own, or inside its variant build's unit.
    pub fn checkpoint_dir(&self, study: &Study, i: usize) -> PathBuf {
        let c = &study.checkpoints[i];
        match &c.source {
            Source::Dir(d) => d.clone(),
            Source::Variant(b) => self.build_unit(*b).dir.join(&c.name),
        }
    }

    /// The directory of failure notes (`<key>.txt`) of a stage.
    pub fn failed_dir(&self, s: Stage) -> PathBuf {
        self.out.join("work").join("failed").join(s.name())
    }

    /// The merged results' directory.
    pub fn results_dir(&self) -> PathBuf {
        self.out.join("results")
    }

    /// The study's feature cache.
    pub fn cache_dir(&self) -> PathBuf {
        self.out.join("work").join("cache")
    }

    /// A hash over every unit: the fit's input identity.
    pub fn fingerprint(&self, fit: &serde_json::Value) -> String {
        let hs: Vec<&str> = self
            .units
            .iter()
            .filter(|u| u.stage != Stage::Variants)
            .map(|u| u.hash.as_str())
            .collect();
        hash_json(&serde_json::json!({ "units": hs, "fit": fit }))
    }
}
