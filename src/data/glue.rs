//! GLUE tasks in their standard TSV layouts (`train.tsv`, `dev.tsv` per task directory):
//! single sentences (CoLA, SST-2) and sentence pairs (MRPC, RTE, WNLI, QNLI, QQP, MNLI, STS-B).
//! The task type and columns come from the directory name (or `--task-type`).

use std::path::{Path, PathBuf};

/// How a task is scored and what its labels are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// Classification into the listed labels.
    Classification,
    /// Real-valued target (STS-B).
    Regression,
}

/// The layout of one GLUE task.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskSpec {
    /// Canonical lower-case name (`cola`, `sst2`, `mrpc`, `stsb`, `rte`, `wnli`, `qnli`, `qqp`, `mnli`).
    pub name: &'static str,
    /// Whether the file has a header row (CoLA's does not).
    pub header: bool,
    /// Column of the first text: a header name, or an index when there is no header.
    pub text_a: &'static str,
    /// Column of the second text, for pair tasks.
    pub text_b: Option<&'static str>,
    /// Column of the label.
    pub label: &'static str,
    /// Label strings in class-index order (empty for regression).
    pub labels: &'static [&'static str],
    /// Classification or regression.
    pub kind: TaskKind,
    /// Name of the dev file.
    pub dev_file: &'static str,
}

/// All known tasks.
pub const TASKS: &[TaskSpec] = &[
    TaskSpec {
        name: "cola",
        header: false,
        text_a: "3",
        text_b: None,
        label: "1",
        labels: &["0", "1"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "sst2",
        header: true,
        text_a: "sentence",
        text_b: None,
        label: "label",
        labels: &["0", "1"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "mrpc",
        header: true,
        text_a: "#1 String",
        text_b: Some("#2 String"),
        label: "Quality",
        labels: &["0", "1"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "stsb",
        header: true,
        text_a: "sentence1",
        text_b: Some("sentence2"),
        label: "score",
        labels: &[],
        kind: TaskKind::Regression,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "rte",
        header: true,
        text_a: "sentence1",
        text_b: Some("sentence2"),
        label: "label",
        labels: &["entailment", "not_entailment"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "wnli",
        header: true,
        text_a: "sentence1",
        text_b: Some("sentence2"),
        label: "label",
        labels: &["0", "1"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "qnli",
        header: true,
        text_a: "question",
        text_b: Some("sentence"),
        label: "label",
        labels: &["entailment", "not_entailment"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "qqp",
        header: true,
        text_a: "question1",
        text_b: Some("question2"),
        label: "is_duplicate",
        labels: &["0", "1"],
        kind: TaskKind::Classification,
        dev_file: "dev.tsv",
    },
    TaskSpec {
        name: "mnli",
        header: true,
        text_a: "sentence1",
        text_b: Some("sentence2"),
        label: "gold_label",
        labels: &["entailment", "neutral", "contradiction"],
        kind: TaskKind::Classification,
        dev_file: "dev_matched.tsv",
    },
];

/// Find a task by name, ignoring case, `-` and `_` (`SST-2`, `sst2`, `STS-B` all work).
pub fn task_spec(name: &str) -> Option<&'static TaskSpec> {
    let norm: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    TASKS.iter().find(|t| t.name == norm)
}

/// One example: text(s) and target (class index as f32, or the regression value).
#[derive(Debug, Clone, PartialEq)]
pub struct GlueExample {
    /// First text.
    pub a: String,
    /// Second text (pair tasks).
    pub b: Option<String>,
    /// Class index, or the real-valued score.
    pub target: f32,
}

/// A task's split.
#[derive(Debug, Clone)]
pub struct GlueSplit {
    /// The task.
    pub spec: &'static TaskSpec,
    /// The file read.
    pub path: PathBuf,
    /// Examples in file order.
    pub examples: Vec<GlueExample>,
}

/// Errors reading GLUE files: each names the file (and line) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    /// Unknown task name.
    #[error("{path}: unknown GLUE task {name:?} (known: cola, sst2, mrpc, stsb, rte, wnli, qnli, qqp, mnli; or pass --task-type)")]
    UnknownTask {
        /// The directory.
        path: String,
        /// The name tried.
        name: String,
    },
    /// A problem in a file.
    #[error("{path}: {msg}")]
    Bad {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

fn bad(path: &Path, msg: impl Into<String>) -> GlueError {
    GlueError::Bad {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Read `file` of a task with layout `spec`.
pub fn read_split(spec: &'static TaskSpec, file: &Path) -> Result<GlueSplit, GlueError> {
    let bytes = std::fs::read(file).map_err(|e| bad(file, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        bad(
            file,
            format!(
                "not valid UTF-8 (byte offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(bad(
            file,
            format!(
                "empty file ({} bytes, no header and no examples)",
                text.len()
            ),
        ));
    }
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let col = |header: &[&str], name: &str| -> Result<usize, GlueError> {
        if spec.header {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| bad(file, format!("header lacks the column {name:?}")))
        } else {
            Ok(name.parse().expect("index column"))
        }
    };
    let header: Vec<&str> = if spec.header {
        lines
            .next()
            .ok_or_else(|| bad(file, "empty file"))?
            .split('\t')
            .collect()
    } else {
        Vec::new()
    };
    let ia = col(&header, spec.text_a)?;
    let ib = spec.text_b.map(|b| col(&header, b)).transpose()?;
    let il = col(&header, spec.label)?;
    let mut examples = Vec::new();
    let first_line = if spec.header { 2 } else { 1 };
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let lineno = i + first_line;
        let f: Vec<&str> = line.split('\t').collect();
        let need = ia.max(ib.unwrap_or(0)).max(il) + 1;
        if f.len() < need {
            return Err(bad(
                file,
                format!(
                    "line {lineno}: {} tab-separated fields, expected at least {need}",
                    f.len()
                ),
            ));
        }
        let raw = f[il].trim();
        let target = match spec.kind {
            TaskKind::Regression => raw
                .parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    bad(
                        file,
                        format!("line {lineno}: label {raw:?} is not a number"),
                    )
                })?,
            TaskKind::Classification => {
                spec.labels.iter().position(|l| *l == raw).ok_or_else(|| {
                    bad(
                        file,
                        format!(
                            "line {lineno}: label {raw:?} is not one of {:?}",
                            spec.labels
                        ),
                    )
                })? as f32
            }
        };
        examples.push(GlueExample {
            a: f[ia].to_string(),
            b: ib.map(|j| f[j].to_string()),
            target,
        });
    }
    if examples.is_empty() {
        return Err(bad(file, "no examples"));
    }
    Ok(GlueSplit {
        spec,
        path: file.to_path_buf(),
        examples,
    })
}

/// A task directory's train and dev splits. `task_type` overrides the name-based detection.
pub fn read_task(dir: &Path, task_type: Option<&str>) -> Result<(GlueSplit, GlueSplit), GlueError> {
    let name = task_type.map(str::to_string).unwrap_or_else(|| {
        dir.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let spec = task_spec(&name).ok_or_else(|| GlueError::UnknownTask {
        path: dir.display().to_string(),
        name,
    })?;
    let train = read_split(spec, &dir.join("train.tsv"))?;
    let dev = read_split(spec, &dir.join(spec.dev_file))?;
    Ok((train, dev))
}

/// Stratified subsample of `n` example indices (per class in proportion, at least one per
/// class), or a plain random sample for regression; sorted back to file order.
pub fn stratified_subsample(
    ex: &[GlueExample],
    kind: TaskKind,
    n: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<usize> {
    if n >= ex.len() {
        return (0..ex.len()).collect();
    }
    use rand::seq::SliceRandom;
    let mut out = Vec::new();
    if kind == TaskKind::Regression {
        let mut idx: Vec<usize> = (0..ex.len()).collect();
        idx.shuffle(rng);
        out.extend_from_slice(&idx[..n]);
    } else {
        let k = ex.iter().map(|e| e.target as usize).max().unwrap_or(0) + 1;
        for c in 0..k {
            let mut idx: Vec<usize> = (0..ex.len())
                .filter(|&i| ex[i].target as usize == c)
                .collect();
            if idx.is_empty() {
                continue;
            }
            idx.shuffle(rng);
            let take = ((idx.len() as f64 * n as f64 / ex.len() as f64).round() as usize)
                .clamp(1, idx.len());
            out.extend_from_slice(&idx[..take]);
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, s: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, s).unwrap();
        p
    }

    #[test]
    fn reads_headerless_cola_and_bom_prefixed_mrpc() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "c.tsv", "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more we study verbs.\n");
        let s = read_split(task_spec("CoLA").unwrap(), &p).unwrap();
        assert_eq!(s.examples.len(), 2);
        assert_eq!(
            (s.examples[1].target, s.examples[1].a.as_str()),
            (0.0, "The more we study verbs.")
        );
        let p = write(
            d.path(),
            "m.tsv",
            "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA b .\tC d .\n",
        );
        let s = read_split(task_spec("MRPC").unwrap(), &p).unwrap();
        assert_eq!(
            s.examples[0],
            GlueExample {
                a: "A b .".into(),
                b: Some("C d .".into()),
                target: 1.0
            }
        );
    }

    #[test]
    fn names_normalise_and_bad_labels_are_reported_with_line() {
        assert_eq!(task_spec("STS-B").unwrap().kind, TaskKind::Regression);
        assert_eq!(task_spec("sst-2").unwrap().name, "sst2");
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "r.tsv",
            "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n",
        );
        let e = read_split(task_spec("rte").unwrap(), &p)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "line 2: label \"maybe\" is not one of [\"entailment\", \"not_entailment\"]"
            ),
            "{e}"
        );
    }
}
