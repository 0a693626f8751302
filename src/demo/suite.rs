//! The probing suite of the demo: generated trees, converted to `data::tasks` sentences through
//! the PTB reader, and the ten SentEval tasks built by `data::tasks::build` (the builders of
//! `probecast tasks build`), written in SentEval format by `data::tasks::write_suite`.

use super::{DemoError, DemoSettings};
use crate::data::grammar;
use crate::data::ptb;
use crate::data::tasks::{self, BuildSettings, Sentence, Task};
use std::path::Path;

/// Build and write the ten probing tasks into `dir`; returns the task names.
pub fn write_probing_suite(s: &DemoSettings, dir: &Path) -> Result<Vec<String>, DemoError> {
    let trees = grammar::probing_trees(s.seed, s.probing_sentences);
    let text: String = trees.iter().map(|t| t.to_ptb() + "\n").collect();
    let parsed = ptb::parse_trees(&text).map_err(|e| DemoError::Tasks(e.to_string()))?;
    let sentences: Vec<Sentence> = parsed
        .into_iter()
        .enumerate()
        .map(|(i, t)| Sentence::from_tree(format!("grammar:{}", i + 1), t))
        .collect();
    let opts = BuildSettings {
        tasks: Some(Task::ALL.to_vec()),
        per_class: Some(s.probe_per_class),
        seed: s.seed,
        ..Default::default()
    };
    let suite = tasks::build(&sentences, &opts).map_err(|e| DemoError::Tasks(e.to_string()))?;
    tasks::write_suite(dir, &suite).map_err(|e| DemoError::Tasks(e.to_string()))?;
    Ok(suite
        .tasks
        .iter()
        .map(|t| t.task.name().to_string())
        .collect())
}
