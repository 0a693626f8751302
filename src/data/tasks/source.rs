//! Reading `--treebank` inputs into [`Sentence`]s: a file, a directory (walked recursively) or a
//! `.zip`, in one of four formats detected from the name and content:
//! - CoNLL-U (`.conllu`, or tab-separated lines starting with a token id): words, Penn tags
//!   from XPOS (when every word has one), dependencies;
//! - Penn Treebank bracketed trees (`.mrg`, or text starting with `(` whose labels are
//!   categories): words, tags, tree;
//! - Stanford Sentiment Treebank trees (bracketed, every label a number): words and an
//!   uncategorised tree (tree_depth only);
//! - `word/tag` corpora (Brown): words and tags.
//!
//! In a directory or zip, files of no known format (README, CONTENTS, raw text) are ignored, and
//! if several formats are present only the richest is used, in the order CoNLL-U, `.mrg`,
//! other bracketed files, tagged files (so the NLTK `treebank.zip` gives its `combined/*.mrg`
//! trees, not the tag-only or tree-only copies of the same sentences).

use super::{Dep, Sentence, TasksError};
use crate::data::{conllu, ptb, tagged};
use std::io::Read;
use std::path::Path;

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Format {
    /// Universal Dependencies CoNLL-U.
    #[serde(rename = "conllu")]
    Conllu,
    /// Penn Treebank trees in a `.mrg` file.
    #[serde(rename = "ptb")]
    PtbMrg,
    /// Other bracketed trees: Penn Treebank style or SST (decided per file).
    #[serde(rename = "bracketed")]
    Bracketed,
    /// `word/tag` lines.
    #[serde(rename = "tagged")]
    Tagged,
}

/// What [`load`] read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The sentences, in file order.
    pub sentences: Vec<Sentence>,
    /// Files used: (name, format description, sentences).
    pub files: Vec<(String, String, usize)>,
    /// Files ignored (unknown format or a poorer format than the one used).
    pub ignored: usize,
}

fn input_err(path: &str, msg: impl std::fmt::Display) -> TasksError {
    TasksError::Input {
        path: path.to_string(),
        msg: msg.to_string(),
    }
}

/// The format of a file, from its name and its first lines; `None` if unknown.
pub fn detect(name: &str, text: &str) -> Option<Format> {
    let lower = name.to_lowercase();
    if lower.ends_with(".conllu") || lower.ends_with(".conllx") {
        return Some(Format::Conllu);
    }
    if lower.ends_with(".mrg") {
        return Some(Format::PtbMrg);
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    if first.starts_with('(') {
        return Some(Format::Bracketed);
    }
    let cols: Vec<&str> = first.split('\t').collect();
    if cols.len() >= 8
        && cols[0]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Some(Format::Conllu);
    }
    if tagged::looks_tagged(text) {
        return Some(Format::Tagged);
    }
    None
}

/// Parse one text of a known format into sentences; returns a format description too.
pub fn parse_text(
    name: &str,
    format: Format,
    text: &str,
) -> Result<(String, Vec<Sentence>), TasksError> {
    match format {
        Format::Conllu => {
            let sents = conllu::parse(text).map_err(|e| input_err(name, e))?;
            Ok((
                "conllu".into(),
                sents.into_iter().map(from_conllu).collect(),
            ))
        }
        Format::PtbMrg | Format::Bracketed => {
            let trees = ptb::parse_trees(text).map_err(|e| input_err(name, e))?;
            let sst = !trees.is_empty() && trees.iter().all(all_numeric);
            let sents = trees
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let id = format!("{name}#{}", i + 1);
                    if sst {
                        Sentence::from_unlabelled_tree(id, t)
                    } else {
                        Sentence::from_tree(id, t)
                    }
                })
                .collect();
            Ok((if sst { "sst" } else { "ptb" }.into(), sents))
        }
        Format::Tagged => {
            let sents = tagged::parse(text).map_err(|e| input_err(name, e))?;
            Ok((
                "tagged".into(),
                sents
                    .into_iter()
                    .map(|s| Sentence::from_tagged(format!("{name}:{}", s.line), s.words, s.tags))
                    .collect(),
            ))
        }
    }
}

fn all_numeric(t: &ptb::Tree) -> bool {
    !t.raw_label.is_empty()
        && t.raw_label.chars().all(|c| c.is_ascii_digit())
        && t.children.iter().all(all_numeric)
}

fn from_conllu(s: conllu::ConlluSentence) -> Sentence {
    let tags = s
        .tokens
        .iter()
        .all(|t| t.xpos != "_" && !t.xpos.is_empty())
        .then(|| s.tokens.iter().map(|t| t.xpos.clone()).collect());
    Sentence {
        id: s.id,
        words: s.tokens.iter().map(|t| t.form.clone()).collect(),
        tags,
        tree: None,
        deps: Some(
            s.tokens
                .into_iter()
                .map(|t| Dep {
                    head: t.head,
                    rel: t.deprel,
                    upos: t.upos,
                    feats: t.feats,
                })
                .collect(),
        ),
    }
}

/// Read a `--treebank`: a file, a directory or a `.zip` (see the module docs).
pub fn load(path: &Path) -> Result<Loaded, TasksError> {
    let p = path.display().to_string();
    if !path.exists() {
        return Err(input_err(&p, "no such file or directory"));
    }
    let is_zip = path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if path.is_file() && !is_zip {
        let bytes = std::fs::read(path).map_err(|e| input_err(&p, format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            input_err(
                &p,
                format!(
                    "not valid UTF-8 (byte offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        let format = detect(&p, &text).ok_or_else(|| {
            input_err(
                &p,
                "cannot tell the format (expected CoNLL-U, bracketed trees or word/tag lines)",
            )
        })?;
        let (desc, sentences) = parse_text(&p, format, &text)?;
        let n = sentences.len();
        return Ok(Loaded {
            sentences,
            files: vec![(p, desc, n)],
            ignored: 0,
        });
    }
    let mut texts = if is_zip {
        zip_texts(path)?
    } else {
        dir_texts(path)?
    };
    texts.sort_by(|a, b| a.0.cmp(&b.0));
    let detected: Vec<(String, Option<Format>, String)> = texts
        .into_iter()
        .map(|(n, t)| (n.clone(), detect(&n, &t), t))
        .collect();
    let Some(best) = detected.iter().filter_map(|d| d.1).min() else {
        return Err(input_err(
            &p,
            "no CoNLL-U, bracketed-tree or word/tag file found in it",
        ));
    };
    let mut loaded = Loaded {
        sentences: Vec::new(),
        files: Vec::new(),
        ignored: 0,
    };
    for (name, f, text) in detected {
        if f != Some(best) {
            loaded.ignored += 1;
            continue;
        }
        let (desc, sents) = parse_text(&name, best, &text)?;
        loaded.files.push((name, desc, sents.len()));
        loaded.sentences.extend(sents);
    }
    Ok(loaded)
}

fn dir_texts(dir: &Path) -> Result<Vec<(String, String)>, TasksError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d)
            .map_err(|e| input_err(&d.display().to_string(), format!("cannot read: {e}")))?;
        for e in rd.flatten() {
            let path = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if let Ok(text) = String::from_utf8(bytes) {
                    out.push((path.display().to_string(), text));
                }
            }
        }
    }
    Ok(out)
}

fn zip_texts(path: &Path) -> Result<Vec<(String, String)>, TasksError> {
    let p = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| input_err(&p, format!("cannot read: {e}")))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| input_err(&p, format!("not a zip: {e}")))?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut entry = z
            .by_index(i)
            .map_err(|e| input_err(&p, format!("bad zip entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let inner = entry
            .name()
            .map_err(|e| input_err(&p, format!("bad zip entry name {i}: {e}")))?
            .to_string();
        let name = format!("{p}:{inner}");
        let base = inner.rsplit('/').next().unwrap_or("");
        if base.starts_with('.') || inner.contains("__MACOSX") {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| input_err(&name, format!("cannot read from the zip: {e}")))?;
        if let Ok(text) = String::from_utf8(bytes) {
            out.push((name, text));
        }
    }
    Ok(out)
}
