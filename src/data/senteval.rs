//! SentEval probing files: one example a line, `split<TAB>label<TAB>sentence`, split in
//! {tr, va, te}. UTF-8, LF (CRLF tolerated).

use std::path::{Path, PathBuf};

/// The split an example belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Split {
    /// Training (`tr`).
    #[serde(rename = "tr")]
    Train,
    /// Validation (`va`).
    #[serde(rename = "va")]
    Valid,
    /// Test (`te`).
    #[serde(rename = "te")]
    Test,
}

impl Split {
    /// Parse the SentEval code (`tr`, `va`, `te`).
    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "tr" => Some(Split::Train),
            "va" => Some(Split::Valid),
            "te" => Some(Split::Test),
            _ => None,
        }
    }

    /// The SentEval code.
    pub fn code(self) -> &'static str {
        match self {
            Split::Train => "tr",
            Split::Valid => "va",
            Split::Test => "te",
        }
    }
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Its split.
    pub split: Split,
    /// Its label, as written in the file.
    pub label: String,
    /// The sentence.
    pub sentence: String,
}

/// A probing dataset read from one file.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Task name: the file stem (`bigram_shift.txt` -> `bigram_shift`).
    pub task: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Examples in file order.
    pub examples: Vec<Example>,
}

/// Errors reading SentEval files. Each names the file (and line) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum SentEvalError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The file is not valid UTF-8.
    #[error("{path}: not valid UTF-8 (byte offset {offset})")]
    NotUtf8 { path: String, offset: usize },
    /// The file has no examples.
    #[error("{path}: empty data file (no examples)")]
    Empty { path: String },
    /// A line does not have 3 tab-separated fields.
    #[error(
        "{path}:{line}: expected 3 tab-separated fields (split, label, sentence), found {found}"
    )]
    Fields {
        path: String,
        line: usize,
        found: usize,
    },
    /// Unknown split code.
    #[error("{path}:{line}: unknown split {split:?} (expected tr, va or te)")]
    Split {
        path: String,
        line: usize,
        split: String,
    },
    /// Empty label or sentence.
    #[error("{path}:{line}: empty {what}")]
    EmptyField {
        path: String,
        line: usize,
        what: &'static str,
    },
}

/// Parse SentEval text. `path` is used for messages and the task name only.
pub fn parse(path: &Path, text: &str) -> Result<Dataset, SentEvalError> {
    let p = path.display().to_string();
    let mut examples = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        if fields.len() != 3 {
            return Err(SentEvalError::Fields {
                path: p,
                line: i + 1,
                found: fields.len(),
            });
        }
        let split = Split::parse(fields[0]).ok_or_else(|| SentEvalError::Split {
            path: p.clone(),
            line: i + 1,
            split: fields[0].to_string(),
        })?;
        if fields[1].is_empty() {
            return Err(SentEvalError::EmptyField {
                path: p,
                line: i + 1,
                what: "label",
            });
        }
        if fields[2].trim().is_empty() {
            return Err(SentEvalError::EmptyField {
                path: p,
                line: i + 1,
                what: "sentence",
            });
        }
        examples.push(Example {
            split,
            label: fields[1].to_string(),
            sentence: fields[2].to_string(),
        });
    }
    if examples.is_empty() {
        return Err(SentEvalError::Empty { path: p });
    }
    let task = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "task".into());
    Ok(Dataset {
        task,
        path: path.to_path_buf(),
        examples,
    })
}

/// Read and parse a SentEval file.
pub fn read(path: &Path) -> Result<Dataset, SentEvalError> {
    let bytes = std::fs::read(path).map_err(|source| SentEvalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| SentEvalError::NotUtf8 {
        path: path.display().to_string(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    parse(path, &text)
}

/// Expand `--tasks` arguments: a directory means every `*.txt` file in it except README files
/// (sorted by name), a file means itself.
pub fn expand_task_paths(args: &[PathBuf]) -> Result<Vec<PathBuf>, SentEvalError> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let rd = std::fs::read_dir(a).map_err(|source| SentEvalError::Io {
                path: a.display().to_string(),
                source,
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().map(|x| x == "txt").unwrap_or(false)
                        && !p
                            .file_name()
                            .map(|n| n.to_string_lossy().to_lowercase().starts_with("readme"))
                            .unwrap_or(false)
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(SentEvalError::Empty {
                    path: a.display().to_string(),
                });
            }
            out.extend(files);
        } else {
            out.push(a.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_fields_and_keeps_tabs_inside_sentence_out() {
        let d = parse(
            Path::new("t/x.txt"),
            "tr\tA\tHello world .\nte\tB\tBye .\r\n\n",
        )
        .unwrap();
        assert_eq!(d.task, "x");
        assert_eq!(d.examples.len(), 2);
        assert_eq!(d.examples[1].split, Split::Test);
        assert_eq!(d.examples[1].sentence, "Bye .");
    }

    #[test]
    fn rejects_bad_lines_with_file_and_line() {
        let e = parse(Path::new("f.txt"), "tr\tA\tok\nxx\tB\tno\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.txt:2: unknown split \"xx\" (expected tr, va or te)"
        );
        let e = parse(Path::new("f.txt"), "tr\tA\n").unwrap_err();
        assert!(e.to_string().starts_with("f.txt:1: expected 3"));
        let e = parse(Path::new("f.txt"), "\n\n").unwrap_err();
        assert!(e.to_string().contains("empty data file"));
    }
}
