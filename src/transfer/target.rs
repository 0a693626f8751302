//! The target task: a GLUE task folder's training split (src/data/glue.rs reads it), a
//! stratified sample of it ([`crate::data::glue::stratified_subsample`], the one fine-tuning
//! uses), and every hidden state's pooled features of the sample, sentence pairs encoded with
//! the tokenizer's own pair template ([`Embedder::embed_pairs`]).

use super::{Target, TransferError};
use crate::data::glue::{self, GlueExample, TaskKind};
use crate::features::{EmbedOutput, EmbedSettings, Embedder};
use rand::SeedableRng;
use std::path::{Path, PathBuf};

/// A sampled target task.
#[derive(Debug, Clone)]
pub struct TargetTask {
    /// Canonical task name (`rte`, `mrpc`, `stsb`, ...).
    pub name: String,
    /// The task directory.
    pub dir: PathBuf,
    /// The file read (`train.tsv`).
    pub file: PathBuf,
    /// Classification or regression.
    pub kind: TaskKind,
    /// Class names (empty for regression).
    pub class_names: Vec<String>,
    /// Examples in the file.
    pub file_examples: usize,
    /// The sampled examples, in file order.
    pub examples: Vec<GlueExample>,
}

/// Errors loading a target task: each names the directory or file.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Reading the GLUE files failed.
    #[error(transparent)]
    Glue(#[from] glue::GlueError),
    /// The sample is not a usable target.
    #[error("{path}: {source}")]
    Target {
        /// The file.
        path: String,
        /// Why.
        source: TransferError,
    },
}

impl TargetTask {
    /// Read `dir/train.tsv` (the task type from the directory name, or `task_type`) and draw
    /// a stratified sample of `max_examples` (all when `None` or larger) with `seed`; check
    /// the sample is a usable target ([`Target::check`]).
    pub fn load(
        dir: &Path,
        task_type: Option<&str>,
        max_examples: Option<usize>,
        seed: u64,
    ) -> Result<TargetTask, TargetError> {
        let name = task_type.map(str::to_string).unwrap_or_else(|| {
            dir.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let spec = glue::task_spec(&name).ok_or_else(|| glue::GlueError::UnknownTask {
            path: dir.display().to_string(),
            name,
        })?;
        let file = dir.join("train.tsv");
        let split = glue::read_split(spec, &file)?;
        let n = split.examples.len();
        let idx = match max_examples {
            Some(m) if m < n => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                glue::stratified_subsample(&split.examples, spec.kind, m, &mut rng)
            }
            _ => (0..n).collect(),
        };
        let t = TargetTask {
            name: spec.name.to_string(),
            dir: dir.to_path_buf(),
            file: file.clone(),
            kind: spec.kind,
            class_names: spec.labels.iter().map(|s| s.to_string()).collect(),
            file_examples: n,
            examples: idx.iter().map(|&i| split.examples[i].clone()).collect(),
        };
        t.target().check().map_err(|source| TargetError::Target {
            path: file.display().to_string(),
            source,
        })?;
        Ok(t)
    }

    /// The labels (or regression values) of the sample.
    pub fn target(&self) -> Target {
        match self.kind {
            TaskKind::Classification => Target::Classes {
                labels: self.examples.iter().map(|e| e.target as u32).collect(),
                classes: self.class_names.len(),
            },
            TaskKind::Regression => {
                Target::Regression(self.examples.iter().map(|e| e.target as f64).collect())
            }
        }
    }

    /// Whether the task's examples are sentence pairs.
    pub fn is_pairs(&self) -> bool {
        self.examples.iter().all(|e| e.b.is_some())
    }

    /// Pooled features of the sample with `embedder` (through its feature cache): pairs with
    /// the pair template, single sentences as `probecast embed` does.
    pub fn embed(
        &self,
        embedder: &Embedder,
        pb: &indicatif::ProgressBar,
    ) -> Result<EmbedOutput, crate::encoder::EncoderError> {
        if self.is_pairs() {
            let pairs: Vec<(String, String)> = self
                .examples
                .iter()
                .map(|e| (e.a.clone(), e.b.clone().unwrap_or_default()))
                .collect();
            embedder.embed_pairs(&pairs, pb)
        } else {
            let data = crate::data::senteval::Dataset {
                task: self.name.clone(),
                path: self.file.clone(),
                examples: self
                    .examples
                    .iter()
                    .map(|e| crate::data::senteval::Example {
                        split: crate::data::senteval::Split::Train,
                        label: String::new(),
                        sentence: e.a.clone(),
                    })
                    .collect(),
            };
            embedder.embed(&data, pb)
        }
    }
}

/// Embed a target task with the checkpoint `model` (directory or cached model id).
pub fn embed_target(
    model: &str,
    task: &TargetTask,
    settings: &EmbedSettings,
    pb: &indicatif::ProgressBar,
) -> Result<EmbedOutput, crate::encoder::EncoderError> {
    let e = Embedder::new(model, settings)?;
    task.embed(&e, pb)
}
