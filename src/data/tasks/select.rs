//! Filtering, deduplication, per-class counts, balancing and splits shared by the task builders.

use super::{Sentence, Task, TasksError, AUTO_PER_CLASS_MAX, MIN_PER_CLASS};
use crate::data::senteval::{Example, Split};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Sentences of `min..=max` tokens, first occurrence of each text only.
pub(super) fn filter_and_dedup(sentences: &[Sentence], min: usize, max: usize) -> Vec<&Sentence> {
    let mut seen = HashSet::new();
    sentences
        .iter()
        .filter(|s| (min..=max).contains(&s.words.len()))
        .filter(|s| seen.insert(s.text()))
        .collect()
}

/// The task's random generator: independent of the other tasks.
pub(super) fn rng(seed: u64, task: Task) -> ChaCha8Rng {
    let idx = Task::ALL.iter().position(|t| *t == task).unwrap_or(0) as u64;
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(idx + 1))
}

/// (tr, va, te) sizes of `n` examples of one class: 80/10/10, at least one va and te.
pub fn split_counts(n: usize) -> (usize, usize, usize) {
    let va = ((n as f64) * 0.1).round().max(1.0) as usize;
    let te = va;
    (n - va - te, va, te)
}

fn describe(counts: &[(String, usize)]) -> String {
    counts
        .iter()
        .map(|(l, c)| format!("{l} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per-class count for a task with fixed classes: the explicit one if every class has it,
/// else the automatic one (smallest class, at most the cap).
pub(super) fn fixed_per_class(
    task: Task,
    counts: &[(String, usize)],
    explicit: Option<usize>,
) -> Result<usize, TasksError> {
    let (min_label, min) = counts
        .iter()
        .min_by_key(|(_, c)| *c)
        .map(|(l, c)| (l.clone(), *c))
        .unwrap_or_default();
    let need = explicit.unwrap_or(MIN_PER_CLASS);
    if min < need {
        return Err(TasksError::TooFew {
            task,
            need,
            have: format!(
                "class {min_label} has only {min} (counts: {})",
                describe(counts)
            ),
        });
    }
    Ok(explicit.unwrap_or(min.min(AUTO_PER_CLASS_MAX)))
}

/// For an altering binary task: per-class count from the number of eligible sentences
/// (each example uses its own sentence, so 2 x per_class are needed).
pub(super) fn binary_per_class(
    task: Task,
    eligible: usize,
    explicit: Option<usize>,
) -> Result<usize, TasksError> {
    let need = explicit.unwrap_or(MIN_PER_CLASS);
    if eligible < 2 * need {
        return Err(TasksError::TooFew {
            task,
            need,
            have: format!(
                "only {eligible} sentences qualify, and 2 x per-class ({}) are needed",
                2 * need
            ),
        });
    }
    Ok(explicit.unwrap_or((eligible / 2).min(AUTO_PER_CLASS_MAX)))
}

/// Draw `per_class` texts of every class and split each class 80/10/10. Returns the examples,
/// every tr line first, then va, then te, shuffled within each split.
pub(super) fn balanced(
    classes: &[(String, Vec<String>)],
    per_class: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Example> {
    let (n_tr, n_va, _) = split_counts(per_class);
    let mut by_split: [Vec<Example>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (label, texts) in classes {
        let mut texts = texts.clone();
        texts.shuffle(rng);
        for (i, t) in texts.into_iter().take(per_class).enumerate() {
            let (k, split) = if i < n_tr {
                (0, Split::Train)
            } else if i < n_tr + n_va {
                (1, Split::Valid)
            } else {
                (2, Split::Test)
            };
            by_split[k].push(Example {
                split,
                label: label.clone(),
                sentence: t,
            });
        }
    }
    let mut out = Vec::new();
    for mut v in by_split {
        v.shuffle(rng);
        out.extend(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_80_10_10_with_at_least_one_va_and_te() {
        assert_eq!(split_counts(1000), (800, 100, 100));
        assert_eq!(split_counts(10), (8, 1, 1));
        assert_eq!(split_counts(13), (11, 1, 1));
        assert_eq!(split_counts(25), (19, 3, 3));
    }

    #[test]
    fn balanced_takes_per_class_of_each_and_orders_splits() {
        let classes = vec![
            ("A".to_string(), (0..30).map(|i| format!("a{i}")).collect()),
            ("B".to_string(), (0..12).map(|i| format!("b{i}")).collect()),
        ];
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let ex = balanced(&classes, 10, &mut r);
        assert_eq!(ex.len(), 20);
        let codes: String = ex
            .iter()
            .map(|e| e.split.code().chars().nth(1).unwrap())
            .collect();
        assert_eq!(codes, "rrrrrrrrrrrrrrrraaee");
        assert_eq!(ex.iter().filter(|e| e.label == "A").count(), 10);
    }
}
