//! Probing tasks built from treebanks, following Conneau et al. 2018 ("What you can cram into a
//! single $&!#* vector"), written in SentEval format (`split<TAB>label<TAB>sentence`).
//!
//! The input is a list of source-independent [`Sentence`]s (words, optional POS tags, optional
//! constituency tree, optional dependency analysis), made by [`source::load`] from CoNLL-U,
//! Penn Treebank / SST bracketed trees or `word/tag` corpora, or by any other code (the demo
//! grammar). [`build`] derives the ten tasks (see [`Task::rule`] for each task's rule and how it
//! departs from the paper), [`write_suite`] writes `<task>.txt`, `report.csv` (label counts per
//! split) and `manifest.json`.
//!
//! Common rules (all tasks):
//! - sentences outside `min_words..=max_words` tokens (default 5..=28, as in the paper) are
//!   dropped, then duplicates (same token sequence) are dropped, so no sentence text can appear
//!   in two splits of a task;
//! - classes are balanced: `per_class` examples of every class (explicit, or automatically the
//!   largest count every class can give, at most 1000), split 80/10/10 into tr/va/te within each
//!   class;
//! - the three binary tasks that alter sentences (bigram_shift, odd_man_out,
//!   coordination_inversion) draw 2 x per_class distinct source sentences and alter half of them:
//!   the original and the altered version of one sentence are never both used;
//! - every random choice comes from a ChaCha8 generator seeded from `seed` and the task, so a
//!   task's file does not depend on which other tasks are built.

mod alter;
pub mod analysis;
mod labels;
mod select;
pub mod source;
mod write;

use crate::data::ptb::Tree;
use crate::data::senteval::Example;

pub use alter::{swappable, Lexicon};
pub use labels::{intrinsic_label, length_bin, word_content_targets, LENGTH_BINS};
pub use select::split_counts;
pub use write::{fingerprint, report_csv, task_text, write_suite, write_suite_with, WriteSettings};

/// One word's dependency attachment (Universal Dependencies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    /// Head position, 1-based; 0 for the root.
    pub head: usize,
    /// Relation with subtype (`nsubj:pass`).
    pub rel: String,
    /// Universal POS tag.
    pub upos: String,
    /// Morphological features (`Tense=Past`, `Number=Plur`, `VerbForm=Fin`, ...).
    pub feats: Vec<(String, String)>,
}

impl Dep {
    /// The value of a feature.
    pub fn feat(&self, name: &str) -> Option<&str> {
        self.feats
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A sentence from any source. Which tasks it can serve depends on what it carries:
/// words only (sentence_length, word_content, bigram_shift), Penn POS tags (odd_man_out),
/// a constituency tree (tree_depth; with POS tags, also top_constituents and the main-clause
/// tasks), a dependency analysis (the main-clause tasks).
///
/// A tree with categories must have `tags: Some(tree.tags())`; a tree without categories (the
/// Stanford Sentiment Treebank's numeric labels) comes with `tags: None` and only serves
/// tree_depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// Where it came from (file and line or sentence id), for messages.
    pub id: String,
    /// Tokens.
    pub words: Vec<String>,
    /// Penn Treebank POS tags, one per word.
    pub tags: Option<Vec<String>>,
    /// Constituency tree over exactly these words.
    pub tree: Option<Tree>,
    /// Dependency analysis, one per word.
    pub deps: Option<Vec<Dep>>,
}

impl Sentence {
    /// From a Penn Treebank tree with POS preterminals (words and tags taken from it).
    pub fn from_tree(id: impl Into<String>, tree: Tree) -> Sentence {
        Sentence {
            id: id.into(),
            words: tree.words(),
            tags: Some(tree.tags()),
            tree: Some(tree),
            deps: None,
        }
    }

    /// From a tree whose labels are not categories (SST sentiment trees): no tags.
    pub fn from_unlabelled_tree(id: impl Into<String>, tree: Tree) -> Sentence {
        Sentence {
            id: id.into(),
            words: tree.words(),
            tags: None,
            tree: Some(tree),
            deps: None,
        }
    }

    /// From words and Penn tags.
    pub fn from_tagged(id: impl Into<String>, words: Vec<String>, tags: Vec<String>) -> Sentence {
        Sentence {
            id: id.into(),
            words,
            tags: Some(tags),
            tree: None,
            deps: None,
        }
    }

    /// Words only.
    pub fn from_words(id: impl Into<String>, words: Vec<String>) -> Sentence {
        Sentence {
            id: id.into(),
            words,
            tags: None,
            tree: None,
            deps: None,
        }
    }

    /// The sentence as SentEval writes it: tokens joined by single spaces.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// Check that tags, tree and dependencies cover exactly the words and that every head is
    /// inside the sentence.
    pub fn check(&self) -> Result<(), TasksError> {
        let n = self.words.len();
        let bad = |msg: String| TasksError::Input {
            path: self.id.clone(),
            msg,
        };
        if let Some(t) = &self.tags {
            if t.len() != n {
                return Err(bad(format!("{} tags for {n} words", t.len())));
            }
        }
        if let Some(t) = &self.tree {
            if t.len() != n {
                return Err(bad(format!("a tree over {} words for {n} words", t.len())));
            }
        }
        if let Some(d) = &self.deps {
            if d.len() != n {
                return Err(bad(format!("{} dependencies for {n} words", d.len())));
            }
            if let Some(x) = d.iter().find(|x| x.head > n) {
                return Err(bad(format!(
                    "head {} outside the sentence ({n} words)",
                    x.head
                )));
            }
        }
        Ok(())
    }

    /// True when the tree (if any) has categories (it comes with POS tags).
    pub fn has_categorised_tree(&self) -> bool {
        self.tree.is_some() && self.tags.is_some()
    }
}

/// The ten SentEval probing tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Length bin of the sentence (6 classes).
    SentenceLength,
    /// Which of N mid-frequency words the sentence contains.
    WordContent,
    /// Depth of the constituency tree.
    TreeDepth,
    /// Sequence of constituents right below the top node.
    TopConstituents,
    /// Two adjacent words swapped or not.
    BigramShift,
    /// Tense of the main clause.
    PastPresent,
    /// Number of the main clause's subject.
    SubjNumber,
    /// Number of the main clause's direct object.
    ObjNumber,
    /// A noun or verb replaced or not.
    OddManOut,
    /// The two coordinated clauses swapped or not.
    CoordinationInversion,
}

/// What a task needs from a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Words only.
    Words,
    /// POS tags.
    Tags,
    /// Any constituency tree (also an uncategorised one).
    AnyTree,
    /// A constituency tree with categories.
    CategorisedTree,
    /// A categorised constituency tree or a dependency analysis (with POS tags).
    Syntax,
}

impl Task {
    /// All tasks in SentEval's order.
    pub const ALL: [Task; 10] = [
        Task::SentenceLength,
        Task::WordContent,
        Task::TreeDepth,
        Task::TopConstituents,
        Task::BigramShift,
        Task::PastPresent,
        Task::SubjNumber,
        Task::ObjNumber,
        Task::OddManOut,
        Task::CoordinationInversion,
    ];

    /// SentEval's file name stem.
    pub fn name(self) -> &'static str {
        match self {
            Task::SentenceLength => "sentence_length",
            Task::WordContent => "word_content",
            Task::TreeDepth => "tree_depth",
            Task::TopConstituents => "top_constituents",
            Task::BigramShift => "bigram_shift",
            Task::PastPresent => "past_present",
            Task::SubjNumber => "subj_number",
            Task::ObjNumber => "obj_number",
            Task::OddManOut => "odd_man_out",
            Task::CoordinationInversion => "coordination_inversion",
        }
    }

    /// Parse a task name (as [`Task::name`]).
    pub fn parse(s: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.name() == s.trim())
    }

    /// What the task needs from a sentence.
    pub fn needs(self) -> Needs {
        match self {
            Task::SentenceLength | Task::WordContent | Task::BigramShift => Needs::Words,
            Task::OddManOut => Needs::Tags,
            Task::TreeDepth => Needs::AnyTree,
            Task::TopConstituents => Needs::CategorisedTree,
            Task::PastPresent
            | Task::SubjNumber
            | Task::ObjNumber
            | Task::CoordinationInversion => Needs::Syntax,
        }
    }

    /// True when the sentence carries what the task needs.
    pub fn can_use(self, s: &Sentence) -> bool {
        match self.needs() {
            Needs::Words => true,
            Needs::Tags => s.tags.is_some(),
            Needs::AnyTree => s.tree.is_some(),
            Needs::CategorisedTree => s.has_categorised_tree(),
            Needs::Syntax => s.has_categorised_tree() || (s.deps.is_some() && s.tags.is_some()),
        }
    }

    /// Why a source without it cannot serve the task.
    pub fn needs_text(self) -> &'static str {
        match self.needs() {
            Needs::Words => "words",
            Needs::Tags => "POS tags",
            Needs::AnyTree => "constituency trees",
            Needs::CategorisedTree => "constituency trees with categories (Penn Treebank style)",
            Needs::Syntax => "constituency trees with categories or dependency trees with POS tags",
        }
    }

    /// The label rule, and how it departs from Conneau et al. 2018 (printed by
    /// `probecast tasks list`).
    pub fn rule(self) -> &'static str {
        labels::rule(self)
    }
}

impl serde::Serialize for Task {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Options of [`build`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildSettings {
    /// Tasks asked for explicitly (a task the source cannot serve is then an error); `None`:
    /// every task the source supports (the others are skipped with a reason).
    pub tasks: Option<Vec<Task>>,
    /// Examples per class (tr + va + te); `None`: the largest count every class can give,
    /// at most [`AUTO_PER_CLASS_MAX`]. A task that cannot give that many (or at least
    /// [`MIN_PER_CLASS`]) is skipped with the reason, or is an error if it was asked for
    /// explicitly.
    pub per_class: Option<usize>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Shortest sentence kept, in tokens.
    pub min_words: usize,
    /// Longest sentence kept, in tokens.
    pub max_words: usize,
    /// Number of target words (classes) of word_content.
    pub word_content_words: usize,
    /// Most frequent words skipped before word_content's targets are taken (the paper takes
    /// ranks 2,000-3,000 of a much larger corpus).
    pub word_content_skip: usize,
}

/// Default and cap of the automatic per-class count.
pub const AUTO_PER_CLASS_MAX: usize = 1000;
/// Fewest examples per class a task is built with (8 tr, 1 va, 1 te).
pub const MIN_PER_CLASS: usize = 10;

impl Default for BuildSettings {
    fn default() -> Self {
        BuildSettings {
            tasks: None,
            per_class: None,
            seed: 0,
            min_words: 5,
            max_words: 28,
            word_content_words: 20,
            word_content_skip: 100,
        }
    }
}

/// One built task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTask {
    /// The task.
    pub task: Task,
    /// Its classes, in report order.
    pub classes: Vec<String>,
    /// Examples per class.
    pub per_class: usize,
    /// Examples: every tr line, then va, then te.
    pub examples: Vec<Example>,
    /// Sentences that could be labelled (before balancing).
    pub candidates: usize,
}

/// The result of [`build`].
#[derive(Debug, Clone)]
pub struct BuiltSuite {
    /// Built tasks, in [`Task::ALL`] order.
    pub tasks: Vec<BuiltTask>,
    /// Tasks not built, with the reason.
    pub skipped: Vec<(Task, String)>,
    /// Sentences given.
    pub sentences_in: usize,
    /// Sentences left after the length filter and deduplication.
    pub sentences_used: usize,
    /// The options used.
    pub options: BuildSettings,
}

/// Errors of the task builders (the CLI prefixes the file when there is one).
#[derive(Debug, thiserror::Error)]
pub enum TasksError {
    /// A task asked for explicitly that the source cannot serve.
    #[error("task {task}: {reason}")]
    Unsupported { task: Task, reason: String },
    /// Fewer sentences than `--per-class` asks for.
    #[error("task {task}: too few sentences for --per-class {need}: {have}")]
    TooFew {
        task: Task,
        need: usize,
        have: String,
    },
    /// An unknown task name.
    #[error("unknown task {0:?} (expected one of: {1})")]
    UnknownTask(String, String),
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// No sentence left to build from.
    #[error("no sentence of {min}..={max} tokens in the input ({given} sentences given)")]
    NoSentences {
        min: usize,
        max: usize,
        given: usize,
    },
    /// An input file problem.
    #[error("{path}: {msg}")]
    Input { path: String, msg: String },
    /// A file could not be written (the message names it).
    #[error("{0}")]
    Write(String),
    /// The output directory holds another run.
    #[error("{path}: {msg}")]
    Output { path: String, msg: String },
}

/// Parse task names (comma lists already split).
pub fn parse_tasks(names: &[String]) -> Result<Vec<Task>, TasksError> {
    let mut out = Vec::new();
    for n in names {
        let t = Task::parse(n).ok_or_else(|| {
            let all: Vec<&str> = Task::ALL.iter().map(|t| t.name()).collect();
            TasksError::UnknownTask(n.clone(), all.join(", "))
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort();
    Ok(out)
}

/// Build the probing tasks from `sentences` (see the module docs for the common rules and
/// [`Task::rule`] for each task).
pub fn build(sentences: &[Sentence], opts: &BuildSettings) -> Result<BuiltSuite, TasksError> {
    if opts.min_words == 0 || opts.min_words > opts.max_words {
        return Err(TasksError::Options(format!(
            "--min-words {} / --max-words {}: need 1 <= min <= max",
            opts.min_words, opts.max_words
        )));
    }
    if let Some(n) = opts.per_class {
        if n < MIN_PER_CLASS {
            return Err(TasksError::Options(format!(
                "--per-class {n}: need at least {MIN_PER_CLASS} (8 tr, 1 va, 1 te)"
            )));
        }
    }
    if opts.word_content_words < 2 {
        return Err(TasksError::Options(
            "--word-content-words: need at least 2".into(),
        ));
    }
    for s in sentences {
        s.check()?;
    }
    let pool = select::filter_and_dedup(sentences, opts.min_words, opts.max_words);
    if pool.is_empty() {
        return Err(TasksError::NoSentences {
            min: opts.min_words,
            max: opts.max_words,
            given: sentences.len(),
        });
    }
    let explicit = opts.tasks.is_some();
    let wanted: Vec<Task> = opts.tasks.clone().unwrap_or_else(|| Task::ALL.to_vec());
    let mut built = Vec::new();
    let mut skipped = Vec::new();
    for task in Task::ALL.into_iter().filter(|t| wanted.contains(t)) {
        let usable = pool.iter().filter(|s| task.can_use(s)).count();
        if usable == 0 {
            let reason = format!(
                "the source cannot support it: it needs {}, which none of the {} sentences has",
                task.needs_text(),
                pool.len()
            );
            if explicit {
                return Err(TasksError::Unsupported { task, reason });
            }
            skipped.push((task, reason));
            continue;
        }
        match labels::build_task(task, &pool, opts) {
            Ok(t) => built.push(t),
            Err(TasksError::TooFew { have, need, .. }) if !explicit => skipped.push((
                task,
                format!("too few sentences for {need} per class: {have}"),
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(BuiltSuite {
        tasks: built,
        skipped,
        sentences_in: sentences.len(),
        sentences_used: pool.len(),
        options: opts.clone(),
    })
}
