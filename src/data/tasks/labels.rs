//! The label rule of every task, and the builders of the tasks that label sentences as they
//! are (the altering tasks are in `alter.rs`).

use super::analysis::{self, MainClause};
use super::select::{self, balanced};
use super::{
    BuildSettings, BuiltTask, Sentence, Task, TasksError, AUTO_PER_CLASS_MAX, MIN_PER_CLASS,
};
use std::collections::{BTreeMap, HashMap};

/// Sentence-length bins of the paper, in tokens: labels 0..5.
pub const LENGTH_BINS: [(usize, usize); 6] =
    [(5, 8), (9, 12), (13, 16), (17, 20), (21, 25), (26, 28)];

/// Most frequent top-constituent sequences kept as classes (the rest is `OTHER`).
pub const TOP_SEQUENCES: usize = 19;

pub(super) fn rule(task: Task) -> &'static str {
    match task {
        Task::SentenceLength => {
            "label = length bin in tokens: 0 = 5-8, 1 = 9-12, 2 = 13-16, 3 = 17-20, 4 = 21-25, \
             5 = 26-28 (the paper's bins); sentences outside 5-28 tokens are not used. \
             Any source."
        }
        Task::WordContent => {
            "label = the one target word the sentence contains (lower-cased). Targets: \
             --word-content-words words (default 20) taken in frequency order after skipping the \
             --word-content-skip (default 100) most frequent alphabetic words, counted as the \
             number of sentences containing them; a sentence is used only if exactly one target \
             occurs in it, once. The paper uses 1,000 words of frequency rank 2,000-3,000 of a \
             large corpus; the numbers are scaled to small treebanks. Any source."
        }
        Task::TreeDepth => {
            "label = depth of the constituency tree: the longest path, in edges, from ROOT to a \
             word (a preterminal under ROOT has depth 2). Classes = the depths present with \
             per-class examples each (automatic per-class: the depths with at least 50 \
             sentences, per-class = the smallest of them, at most 1000). Deviation: the paper also decorrelates depth from length; \
             this is not done. SST trees are binarised, so their depths are larger than Penn \
             Treebank ones. Needs constituency trees (PTB or SST)."
        }
        Task::TopConstituents => {
            "label = the labels of the children of the top node (below ROOT), joined with '_' \
             (NP_VP_.), function tags removed. Classes = the 19 most frequent sequences + OTHER \
             in the paper; here at most 19, those with per-class examples (automatic \
             per-class: those with at least 50, per-class = the smallest of them and of OTHER, \
             at most 1000), + OTHER for every other sequence. \
             Needs Penn Treebank trees."
        }
        Task::BigramShift => {
            "label = I if two adjacent tokens were swapped, O if not. Half the sentences are \
             altered at a random adjacent pair of different tokens, never the final punctuation. \
             Any source."
        }
        Task::PastPresent => {
            "label = PAST / PRES, the tense of the main clause's finite verb: VBD is PAST, \
             VBZ/VBP PRES; modals and sentences without a finite main verb are not used. The \
             finite verb is the auxiliary when there is one (had been charged -> PAST). \
             Trees: top node S, its first VP, that VP's first verb. Dependencies: leftmost of the \
             root and its aux/aux:pass/cop dependents with VerbForm=Fin (Tense feature if the \
             tag is not VBD/VBZ/VBP). Needs trees with categories or UD with tags."
        }
        Task::SubjNumber => {
            "label = NN / NNS, the number of the main clause's subject head noun (NN, NNP \
             singular; NNS, NNPS plural; pronouns and coordinated subjects are not used). \
             Trees: top node S, its NP-SBJ child or first NP before the VP, head = last noun \
             child (else the first NP child's head). Dependencies: the root's first nsubj / \
             nsubj:pass / nsubj:outer. Needs trees with categories or UD with tags."
        }
        Task::ObjNumber => {
            "label = NN / NNS, the number of the main clause's direct object head noun (as for \
             subj_number). Trees: the first NP child without function tag of the main VP, \
             after descending auxiliary chains (will (VP join (NP the board)) -> board). \
             Dependencies: the root's obj. Needs trees with categories or UD with tags."
        }
        Task::OddManOut => {
            "label = C if a noun or verb was replaced, O if not. Half the sentences get one \
             lower-case common noun or lexical verb (NN, NNS, VB, VBD, VBG, VBN, VBP, VBZ) \
             replaced by a word with the same tag and the nearest corpus frequency (one of the \
             10 nearest in the tag's frequency ranking). Deviation: the paper also controls the \
             frequency of the bigrams the new word forms; small corpora are too sparse for \
             that. Needs POS tags (PTB, UD, Brown)."
        }
        Task::CoordinationInversion => {
            "label = I if the two coordinated clauses were swapped, O if not. Only sentences \
             made of two coordinated clauses are used (trees: top S with children S [,] CC S \
             [punctuation]; dependencies: the root's single conj with its own subject and a \
             leading cc). Inversion: second clause, then the separator (', but'), then the first \
             clause, then the final punctuation; case is not changed, as in SentEval. Needs \
             trees with categories or UD with tags."
        }
    }
}

/// Build one task from the filtered, deduplicated pool.
pub(super) fn build_task(
    task: Task,
    pool: &[&Sentence],
    opts: &BuildSettings,
) -> Result<BuiltTask, TasksError> {
    let usable: Vec<&Sentence> = pool.iter().copied().filter(|s| task.can_use(s)).collect();
    match task {
        Task::BigramShift | Task::OddManOut | Task::CoordinationInversion => {
            return super::alter::build(task, &usable, pool, opts)
        }
        _ => {}
    }
    let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut candidates = 0;
    let labeller = Labeller::new(task, &usable, opts);
    if task == Task::WordContent && labeller.target_order.len() < opts.word_content_words {
        return Err(TasksError::TooFew {
            task,
            need: opts.per_class.unwrap_or(MIN_PER_CLASS),
            have: format!(
                "only {} distinct words after skipping the {} most frequent, {} targets wanted",
                labeller.target_order.len(),
                opts.word_content_skip,
                opts.word_content_words
            ),
        });
    }
    for s in &usable {
        if let Some(l) = labeller.label(s) {
            candidates += 1;
            by_label.entry(l).or_default().push(s.text());
        }
    }
    let (classes, per_class) = match task {
        Task::TreeDepth => data_driven(task, by_label, opts.per_class, usize::MAX, false)?,
        Task::TopConstituents => data_driven(task, by_label, opts.per_class, TOP_SEQUENCES, true)?,
        _ => {
            let fixed = labeller.fixed_classes();
            let counts: Vec<(String, usize)> = fixed
                .iter()
                .map(|l| (l.clone(), by_label.get(l).map_or(0, Vec::len)))
                .collect();
            let n = select::fixed_per_class(task, &counts, opts.per_class)?;
            let classes = fixed
                .into_iter()
                .map(|l| {
                    let v = by_label.remove(&l).unwrap_or_default();
                    (l, v)
                })
                .collect();
            (classes, n)
        }
    };
    let mut rng = select::rng(opts.seed, task);
    let examples = balanced(&classes, per_class, &mut rng);
    Ok(BuiltTask {
        task,
        classes: classes.into_iter().map(|(l, _)| l).collect(),
        per_class,
        examples,
        candidates,
    })
}

/// Smallest class kept by the automatic per-class count of tree_depth and top_constituents.
pub const AUTO_MIN_CLASS: usize = 50;

/// Classes and per-class count for tasks whose classes come from the data (tree_depth,
/// top_constituents): the most frequent classes that have `per_class` examples (at most
/// `max_classes`, the rest merged into OTHER when `other`, which must have that many too);
/// automatic per-class keeps the classes with at least [`AUTO_MIN_CLASS`] examples and uses
/// the smallest one's count (at most 1000).
/// Classes with their sentence texts.
type Classes = Vec<(String, Vec<String>)>;

fn data_driven(
    task: Task,
    by_label: BTreeMap<String, Vec<String>>,
    explicit: Option<usize>,
    max_classes: usize,
    other: bool,
) -> Result<(Classes, usize), TasksError> {
    let mut sorted: Vec<(String, Vec<String>)> = by_label.into_iter().collect();
    sorted.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let total: usize = sorted.iter().map(|(_, v)| v.len()).sum();
    let mut best: Option<(usize, usize)> = None; // (k, per_class)
    let mut prefix = 0;
    for k in 1..=sorted.len().min(max_classes) {
        prefix += sorted[k - 1].1.len();
        let rest = total - prefix;
        let n_classes = k + usize::from(other);
        let cap = if other {
            sorted[k - 1].1.len().min(rest)
        } else {
            sorted[k - 1].1.len()
        };
        if n_classes < 2 {
            continue;
        }
        match explicit {
            Some(n) if cap >= n => best = Some((k, n)),
            None if cap >= AUTO_MIN_CLASS => best = Some((k, cap.min(AUTO_PER_CLASS_MAX))),
            _ => {}
        }
    }
    let Some((k, n)) = best else {
        let counts: Vec<String> = sorted
            .iter()
            .take(6)
            .map(|(l, v)| format!("{l} {}", v.len()))
            .collect();
        return Err(TasksError::TooFew {
            task,
            need: explicit.unwrap_or(AUTO_MIN_CLASS),
            have: format!(
                "fewer than 2 classes have that many ({} labelled sentences; largest classes: {})",
                total,
                counts.join(", ")
            ),
        });
    };
    let mut classes: Vec<(String, Vec<String>)> = sorted.drain(..k).collect();
    if other {
        let rest: Vec<String> = sorted.into_iter().flat_map(|(_, v)| v).collect();
        classes.push(("OTHER".to_string(), rest));
    } else {
        classes.sort_by_key(|a| natural(&a.0));
    }
    Ok((classes, n))
}

fn natural(s: &str) -> (usize, String) {
    (s.parse().unwrap_or(usize::MAX), s.to_string())
}

/// Labels sentences for the non-altering tasks.
struct Labeller {
    task: Task,
    targets: HashMap<String, ()>,
    target_order: Vec<String>,
}

impl Labeller {
    fn new(task: Task, usable: &[&Sentence], opts: &BuildSettings) -> Labeller {
        let target_order = if task == Task::WordContent {
            word_content_targets(usable, opts.word_content_skip, opts.word_content_words)
        } else {
            Vec::new()
        };
        Labeller {
            task,
            targets: target_order.iter().map(|w| (w.clone(), ())).collect(),
            target_order,
        }
    }

    fn fixed_classes(&self) -> Vec<String> {
        match self.task {
            Task::SentenceLength => (0..LENGTH_BINS.len()).map(|i| i.to_string()).collect(),
            Task::WordContent => self.target_order.clone(),
            Task::PastPresent => vec!["PAST".into(), "PRES".into()],
            _ => vec!["NN".into(), "NNS".into()],
        }
    }

    fn label(&self, s: &Sentence) -> Option<String> {
        match self.task {
            Task::SentenceLength => length_bin(s.words.len()).map(|b| b.to_string()),
            Task::WordContent => {
                let hits: Vec<String> = s
                    .words
                    .iter()
                    .map(|w| w.to_lowercase())
                    .filter(|w| self.targets.contains_key(w))
                    .collect();
                (hits.len() == 1).then(|| hits[0].clone())
            }
            Task::TreeDepth => s.tree.as_ref().map(|t| t.depth().to_string()),
            Task::TopConstituents => s.tree.as_ref().and_then(|t| {
                (!t.is_preterminal()).then(|| {
                    t.children
                        .iter()
                        .map(|c| c.label.as_str())
                        .collect::<Vec<_>>()
                        .join("_")
                })
            }),
            Task::PastPresent => clause(s).and_then(|m| m.tense).map(str::to_string),
            Task::SubjNumber => clause(s).and_then(|m| m.subj_number).map(str::to_string),
            Task::ObjNumber => clause(s).and_then(|m| m.obj_number).map(str::to_string),
            _ => None,
        }
    }
}

fn clause(s: &Sentence) -> Option<MainClause> {
    analysis::main_clause(s)
}

/// The paper's length bin (0..5) of a sentence of `n` tokens.
pub fn length_bin(n: usize) -> Option<usize> {
    LENGTH_BINS.iter().position(|&(a, b)| (a..=b).contains(&n))
}

fn is_alpha_word(w: &str) -> bool {
    w.len() >= 2 && w.chars().all(|c| c.is_alphabetic())
}

/// word_content targets: alphabetic lower-cased words ranked by the number of sentences that
/// contain them (ties alphabetical), ranks `skip..skip + n`.
pub fn word_content_targets(sentences: &[&Sentence], skip: usize, n: usize) -> Vec<String> {
    let mut df: HashMap<String, usize> = HashMap::new();
    for s in sentences {
        let mut seen: Vec<String> = s
            .words
            .iter()
            .filter(|w| is_alpha_word(w))
            .map(|w| w.to_lowercase())
            .collect();
        seen.sort();
        seen.dedup();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = df.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .skip(skip)
        .take(n)
        .map(|(w, _)| w)
        .collect()
}

/// The label a sentence gets in a task whose label depends on the sentence alone
/// (sentence_length, tree_depth, top_constituents, past_present, subj_number, obj_number);
/// `None` when the sentence does not qualify or the task's label depends on the corpus
/// (word_content) or on an alteration (bigram_shift, odd_man_out, coordination_inversion).
pub fn intrinsic_label(task: Task, s: &Sentence) -> Option<String> {
    match task {
        Task::WordContent | Task::BigramShift | Task::OddManOut | Task::CoordinationInversion => {
            None
        }
        _ if !task.can_use(s) => None,
        _ => Labeller {
            task,
            targets: HashMap::new(),
            target_order: Vec::new(),
        }
        .label(s),
    }
}
