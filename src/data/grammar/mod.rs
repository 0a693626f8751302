//! The built-in probabilistic grammar of English-like sentences used by `probecast demo`: a
//! lexicon written for the project ([`lexicon`]), abstract sentences realized as PTB-style trees
//! with their meaning ([`syntax`]), a seeded generator ([`generate`]), an independent
//! grammaticality check ([`check`]) and two downstream tasks with exact labels
//! ([`downstream`]): acceptability (CoLA layout) and paraphrase (MRPC layout).
//! Nothing is downloaded: all data is generated from a seed.

pub mod check;
pub mod downstream;
pub mod generate;
pub mod lexicon;
pub mod syntax;

pub use generate::{Generator, GrammarSettings};
pub use syntax::{Sentence, Tree};

use crate::util;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::Path;

/// Errors of the grammar's writers.
#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    /// A file could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Seed streams, one per use, so that changing one count does not change the other data.
mod stream {
    pub const CORPUS: u64 = 1;
    pub const PROBING: u64 = 2;
    pub const ACCEPT_TRAIN: u64 = 3;
    pub const ACCEPT_DEV: u64 = 4;
    pub const PARA_TRAIN: u64 = 5;
    pub const PARA_DEV: u64 = 6;
}

/// `n` sentences from the grammar with the default rule probabilities.
pub fn sentences(seed: u64, stream_id: u64, n: usize) -> Vec<Sentence> {
    let params = GrammarSettings::default();
    let mut rng = rng_for(seed, stream_id);
    let mut g = Generator {
        params: &params,
        rng: &mut rng,
    };
    (0..n).map(|_| g.sentence()).collect()
}

/// The pretraining corpus: `n` sentences, one per line of text.
pub fn corpus(seed: u64, n: usize) -> Vec<String> {
    sentences(seed, stream::CORPUS, n)
        .iter()
        .map(Sentence::text)
        .collect()
}

/// `n` sentences with their trees for the probing tasks (a stream separate from the corpus).
pub fn probing_trees(seed: u64, n: usize) -> Vec<Tree> {
    sentences(seed, stream::PROBING, n)
        .iter()
        .map(Sentence::tree)
        .collect()
}

/// Sizes of the downstream tasks.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TaskSizes {
    /// Training examples per task.
    pub train: usize,
    /// Dev examples per task.
    pub dev: usize,
}

fn write(path: &Path, s: &str) -> Result<(), GrammarError> {
    util::write_atomic_str(path, s).map_err(|source| GrammarError::Write {
        path: path.display().to_string(),
        source,
    })
}

fn mkdir(dir: &Path) -> Result<(), GrammarError> {
    std::fs::create_dir_all(dir).map_err(|source| GrammarError::Write {
        path: dir.display().to_string(),
        source,
    })
}

/// Rule probabilities of the downstream tasks: embedding depth 1 (shorter sentences, so that
/// fine-tuning stays cheap), otherwise the defaults.
pub fn downstream_params() -> GrammarSettings {
    GrammarSettings {
        max_depth: 1,
        ..Default::default()
    }
}

/// The acceptability task: (train, dev), dev sentences never in train.
pub fn acceptability_splits(
    seed: u64,
    sizes: TaskSizes,
) -> (
    Vec<downstream::AcceptExample>,
    Vec<downstream::AcceptExample>,
) {
    let params = downstream_params();
    let mut rng = rng_for(seed, stream::ACCEPT_TRAIN);
    let train = downstream::acceptability(
        &mut Generator {
            params: &params,
            rng: &mut rng,
        },
        sizes.train,
    );
    let seen: HashSet<&str> = train.iter().map(|e| e.text.as_str()).collect();
    let mut rng = rng_for(seed, stream::ACCEPT_DEV);
    let mut g = Generator {
        params: &params,
        rng: &mut rng,
    };
    let mut dev = Vec::new();
    // keep the first unseen examples of each label (half of each)
    let mut count = [0usize; 2];
    let half = [sizes.dev / 2, sizes.dev - sizes.dev / 2];
    while dev.len() < sizes.dev {
        for e in downstream::acceptability(&mut g, sizes.dev.max(2)) {
            let l = usize::from(e.label);
            if count[l] < half[l] && !seen.contains(e.text.as_str()) {
                count[l] += 1;
                dev.push(e);
            }
        }
    }
    (train, dev)
}

/// The paraphrase task: (train, dev), dev pairs never in train.
pub fn paraphrase_splits(
    seed: u64,
    sizes: TaskSizes,
) -> (Vec<downstream::PairExample>, Vec<downstream::PairExample>) {
    let params = downstream_params();
    let mut rng = rng_for(seed, stream::PARA_TRAIN);
    let train = downstream::paraphrase(
        &mut Generator {
            params: &params,
            rng: &mut rng,
        },
        sizes.train,
    );
    let seen: HashSet<(String, String)> = train.iter().map(|e| (e.a.text(), e.b.text())).collect();
    let mut rng = rng_for(seed, stream::PARA_DEV);
    let mut g = Generator {
        params: &params,
        rng: &mut rng,
    };
    let mut dev = Vec::new();
    while dev.len() < sizes.dev {
        let want = dev.len() % 2 == 0;
        if let Some(p) = downstream::pair(&mut g, want) {
            if !seen.contains(&(p.a.text(), p.b.text())) {
                dev.push(p);
            }
        }
    }
    (train, dev)
}

fn cola_tsv(ex: &[downstream::AcceptExample]) -> String {
    ex.iter()
        .map(|e| {
            let mark = if e.label == 0 { "*" } else { "" };
            format!("grammar-{}\t{}\t{mark}\t{}\n", e.kind, e.label, e.text)
        })
        .collect()
}

fn mrpc_tsv(ex: &[downstream::PairExample]) -> String {
    let mut s = String::from("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n");
    for (i, e) in ex.iter().enumerate() {
        s.push_str(&format!(
            "{}\t{i}\t{}\t{}\t{}\n",
            e.label,
            e.ops,
            e.a.text(),
            e.b.text()
        ));
    }
    s
}

/// Write `acceptability/` (CoLA layout, no header: source, label, mark, sentence; the source
/// column names the corruption) and `paraphrase/` (MRPC layout; `#2 ID` holds the rewrites)
/// under `dir`, each with train.tsv and dev.tsv. Returns the two task directories.
pub fn write_glue_tasks(
    dir: &Path,
    seed: u64,
    sizes: TaskSizes,
) -> Result<[std::path::PathBuf; 2], GrammarError> {
    let acc = dir.join("acceptability");
    let para = dir.join("paraphrase");
    mkdir(&acc)?;
    mkdir(&para)?;
    let (tr, dv) = acceptability_splits(seed, sizes);
    write(&acc.join("train.tsv"), &cola_tsv(&tr))?;
    write(&acc.join("dev.tsv"), &cola_tsv(&dv))?;
    let (tr, dv) = paraphrase_splits(seed, sizes);
    write(&para.join("train.tsv"), &mrpc_tsv(&tr))?;
    write(&para.join("dev.tsv"), &mrpc_tsv(&dv))?;
    Ok([acc, para])
}

#[cfg(test)]
mod tests;
