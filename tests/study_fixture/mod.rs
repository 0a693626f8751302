//! A tiny study for tests/study.rs and tests/slurm.rs: the tiny BERT fixture and two variants
//! of it (noise, truncation), two tiny SentEval probing tasks and a tiny RTE-like task written
//! here, one checkpoint left to be predicted, and two fold schemes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Words the tiny BERT fixture's vocabulary knows.
const WORDS: &[&str] = &[
    "the", "cat", "every", "were", "will", "boo", "bar", "foo", "car", "he", "you", "it", "do",
    "com", "bea", "hea",
];

fn sentence(i: usize, len: usize) -> String {
    (0..len)
        .map(|k| WORDS[(i * 7 + k * 3 + k * k) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Write the tiny probing tasks into `dir` (SentEval layout: `split<TAB>label<TAB>sentence`).
pub fn write_probing(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    // length: short vs long; start: whether the sentence starts with "the"
    let mut len = String::new();
    let mut start = String::new();
    for i in 0..48 {
        let split = match i % 6 {
            0 => "va",
            1 => "te",
            2 => "te",
            _ => "tr",
        };
        let long = i % 2 == 0;
        let s = sentence(i, if long { 7 } else { 3 });
        len.push_str(&format!(
            "{split}\t{}\t{s} .\n",
            if long { "L" } else { "S" }
        ));
        let the = (i / 2) % 2 == 0;
        let s2 = if the {
            format!("the {}", sentence(i, 4))
        } else {
            format!("bar {}", sentence(i, 4))
        };
        start.push_str(&format!(
            "{split}\t{}\t{s2} .\n",
            if the { "T" } else { "N" }
        ));
    }
    std::fs::write(dir.join("length.txt"), len).unwrap();
    std::fs::write(dir.join("start.txt"), start).unwrap();
}

/// Write a tiny RTE-like task directory `dir/RTE` (train.tsv and dev.tsv).
pub fn write_task(dir: &Path) -> PathBuf {
    let t = dir.join("RTE");
    std::fs::create_dir_all(&t).unwrap();
    let mut s = String::from("index\tsentence1\tsentence2\tlabel\n");
    // learnable in a few epochs: the label is in the first words of sentence1
    for i in 0..40 {
        let ent = i % 2 == 0;
        let lab = if ent { "entailment" } else { "not_entailment" };
        let a = if ent { "the cat" } else { "bar foo" };
        s.push_str(&format!(
            "{i}\t{a} {} .\t{} .\t{lab}\n",
            sentence(i, 3),
            sentence(i + 3, 3)
        ));
    }
    std::fs::write(t.join("train.tsv"), &s).unwrap();
    std::fs::write(t.join("dev.tsv"), &s).unwrap();
    t
}

/// The study file's text; `lr` is the fine-tuning learning rate (changed by a test).
pub fn study_text(model: &Path, lr: f64) -> String {
    format!(
        r#"name = "tiny"

[[checkpoint]]
name = "tiny"
path = "{model}"

[[variants]]
base = "tiny"
seed = 0
noise = [0.5, 2.0]
truncate = [1]

[probe]
tasks = ["probing"]

[probe.settings]
train_per_class = 6
seeds = 1
selectivity = false
mdl = false
allow_fewer = true

[probe.embed]
max_length = 32

[finetune]
checkpoints = ["tiny", "tiny-noise0.5", "tiny-trunc1"]
seeds = [1]
extra_seeds = {{ tiny = [2] }}

[[finetune.task]]
path = "RTE"

[finetune.train]
epochs = 6
lr = {lr}
batch_size = 8
max_length = 32

[fit]
folds = ["loo", "group:operation"]
permutations = 5
noise_draws = 2
impute = true
"#,
        model = model.display()
    )
}

/// Write the whole tiny study into `dir`; returns the study file.
pub fn write_study(dir: &Path, model: &Path, lr: f64) -> PathBuf {
    write_probing(&dir.join("probing"));
    write_task(dir);
    let f = dir.join("study.toml");
    std::fs::write(&f, study_text(model, lr)).unwrap();
    f
}

/// Every file below `dir` (relative path -> bytes), except manifests (timings, command
/// lines), completion markers (which hold the manifests' checksums), the Slurm script and
/// `work/` (variant weights, feature cache, logs).
/// Every result file but the ones that record time (manifests, unit markers, cost.csv).
pub fn result_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            if rel == "work" || rel == "study.sbatch" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if !rel.ends_with("manifest.json")
                && !rel.ends_with("done.json")
                && !rel.ends_with("cost.csv")
            {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
