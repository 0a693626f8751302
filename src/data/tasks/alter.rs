//! The binary tasks that alter half of their sentences: bigram_shift (I/O), odd_man_out (C/O),
//! coordination_inversion (I/O). Every example uses its own source sentence, so a sentence's
//! original and altered versions never both appear.

use super::analysis;
use super::select::{self, balanced};
use super::{BuildSettings, BuiltTask, Sentence, Task, TasksError};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};

/// Tags whose words odd_man_out may replace.
pub const REPLACEABLE_TAGS: [&str; 8] = ["NN", "NNS", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ"];
/// odd_man_out draws the new word among this many neighbours in frequency rank.
pub const FREQUENCY_WINDOW: usize = 10;

/// Word frequencies per tag, for odd_man_out.
pub struct Lexicon {
    /// Per tag: words sorted by frequency (descending, ties alphabetical).
    ranked: HashMap<String, Vec<String>>,
    /// (word, tag) -> rank in `ranked[tag]`.
    rank: HashMap<(String, String), usize>,
}

fn replaceable(word: &str, tag: &str) -> bool {
    REPLACEABLE_TAGS.contains(&tag) && !word.is_empty() && word.chars().all(|c| c.is_lowercase())
}

impl Lexicon {
    /// Count the replaceable (lower-case alphabetic word, tag) pairs of the sentences.
    pub fn new(sentences: &[&Sentence]) -> Lexicon {
        let mut counts: HashMap<(String, String), usize> = HashMap::new();
        for s in sentences {
            let Some(tags) = &s.tags else { continue };
            for (w, t) in s.words.iter().zip(tags) {
                if replaceable(w, t) {
                    *counts.entry((w.clone(), t.clone())).or_default() += 1;
                }
            }
        }
        let mut per_tag: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for ((w, t), c) in counts {
            per_tag.entry(t).or_default().push((w, c));
        }
        let mut ranked = HashMap::new();
        let mut rank = HashMap::new();
        for (t, mut v) in per_tag {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (i, (w, _)) in v.iter().enumerate() {
                rank.insert((w.clone(), t.clone()), i);
            }
            ranked.insert(t, v.into_iter().map(|(w, _)| w).collect());
        }
        Lexicon { ranked, rank }
    }

    /// Words of the same tag nearest in frequency rank to `word` (at most
    /// [`FREQUENCY_WINDOW`], itself excluded).
    pub fn neighbours(&self, word: &str, tag: &str) -> Vec<&str> {
        let (Some(list), Some(&r)) = (
            self.ranked.get(tag),
            self.rank.get(&(word.to_string(), tag.to_string())),
        ) else {
            return Vec::new();
        };
        let window = r.saturating_sub(FREQUENCY_WINDOW)..list.len().min(r + FREQUENCY_WINDOW + 1);
        let mut idx: Vec<usize> = window.filter(|&j| j != r).collect();
        idx.sort_by_key(|&j| (j.abs_diff(r), j));
        idx.into_iter()
            .take(FREQUENCY_WINDOW)
            .map(|j| list[j].as_str())
            .collect()
    }

    fn positions(&self, s: &Sentence) -> Vec<usize> {
        let Some(tags) = &s.tags else {
            return Vec::new();
        };
        (0..s.words.len())
            .filter(|&i| {
                replaceable(&s.words[i], &tags[i])
                    && self.ranked.get(&tags[i]).is_some_and(|l| l.len() > 1)
            })
            .collect()
    }
}

/// Positions `i` where words i and i+1 may be swapped: different words, the final punctuation
/// excluded.
pub fn swappable(words: &[String], tags: Option<&[String]>) -> Vec<usize> {
    let n = words.len();
    let last_is_punct = n > 0 && {
        let w = &words[n - 1];
        let tag_punct = tags.is_some_and(|t| matches!(t[n - 1].as_str(), "." | ":" | "''"));
        tag_punct || (!w.is_empty() && w.chars().all(|c| c.is_ascii_punctuation()))
    };
    let m = if last_is_punct { n - 1 } else { n };
    (0..m.saturating_sub(1))
        .filter(|&i| words[i] != words[i + 1])
        .collect()
}

enum Alterer {
    Bigram,
    OddManOut(Lexicon),
    Coordination,
}

impl Alterer {
    fn eligible(&self, s: &Sentence) -> bool {
        match self {
            Alterer::Bigram => !swappable(&s.words, s.tags.as_deref()).is_empty(),
            Alterer::OddManOut(lex) => !lex.positions(s).is_empty(),
            Alterer::Coordination => {
                analysis::main_clause(s).is_some_and(|m| m.coordination.is_some())
            }
        }
    }

    fn alter(&self, s: &Sentence, rng: &mut ChaCha8Rng) -> Option<Vec<String>> {
        let mut w = s.words.clone();
        match self {
            Alterer::Bigram => {
                let pos = swappable(&s.words, s.tags.as_deref());
                let i = *pos.choose(rng)?;
                w.swap(i, i + 1);
            }
            Alterer::OddManOut(lex) => {
                let pos = lex.positions(s);
                let i = *pos.choose(rng)?;
                let tags = s.tags.as_ref()?;
                let nb = lex.neighbours(&s.words[i], &tags[i]);
                w[i] = nb[rng.gen_range(0..nb.len())].to_string();
            }
            Alterer::Coordination => {
                let c = analysis::main_clause(s)?.coordination?;
                w = c.invert(&s.words);
            }
        }
        (w != s.words).then_some(w)
    }
}

/// Build an altering task from the usable sentences (`pool`: every sentence, whose texts an
/// altered sentence must not repeat).
pub(super) fn build(
    task: Task,
    usable: &[&Sentence],
    pool: &[&Sentence],
    opts: &BuildSettings,
) -> Result<BuiltTask, TasksError> {
    let (alterer, altered_label) = match task {
        Task::BigramShift => (Alterer::Bigram, "I"),
        Task::OddManOut => (Alterer::OddManOut(Lexicon::new(usable)), "C"),
        Task::CoordinationInversion => (Alterer::Coordination, "I"),
        _ => unreachable!("not an altering task"),
    };
    let mut eligible: Vec<&Sentence> = usable
        .iter()
        .copied()
        .filter(|s| alterer.eligible(s))
        .collect();
    let per_class = select::binary_per_class(task, eligible.len(), opts.per_class)?;
    let mut rng = select::rng(opts.seed, task);
    eligible.shuffle(&mut rng);
    let existing: HashSet<String> = pool.iter().map(|s| s.text()).collect();
    let mut altered = Vec::new();
    let mut original = Vec::new();
    for s in eligible.iter() {
        if altered.len() < per_class {
            if let Some(w) = alterer.alter(s, &mut rng) {
                let t = w.join(" ");
                if !existing.contains(&t) && !altered.contains(&t) {
                    altered.push(t);
                }
            }
        } else if original.len() < per_class {
            original.push(s.text());
        } else {
            break;
        }
    }
    if original.len() < per_class {
        return Err(TasksError::TooFew {
            task,
            need: per_class,
            have: format!(
                "only {} sentences could be used ({} altered, {} kept)",
                altered.len() + original.len(),
                altered.len(),
                original.len()
            ),
        });
    }
    let classes = vec![
        (altered_label.to_string(), altered),
        ("O".to_string(), original),
    ];
    let examples = balanced(&classes, per_class, &mut rng);
    Ok(BuiltTask {
        task,
        classes: classes.into_iter().map(|(l, _)| l).collect(),
        per_class,
        examples,
        candidates: eligible.len(),
    })
}
