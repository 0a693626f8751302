//! The linear probe on the target task: probecast's L2 logistic regression
//! ([`crate::learn::logreg`], scikit-learn's `LogisticRegression(C=1)`) trained on a stratified
//! 80 % of the sample and scored by accuracy on the held-out 20 %. Per class, the examples are
//! shuffled with the seed and `round(0.2 n_c)` of them (at least one when the class has two or
//! more) are held out; the features are standardised with the training part's mean and
//! standard deviation, as the probing protocol does. Classification only.

use super::{EstimatorOptions, TransferError};
use crate::learn::linalg::{column_stats, standardize};
use crate::learn::logreg::{self, LogRegSettings};
use crate::learn::MatRef;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Fraction of each class held out for testing.
pub const TEST_FRACTION: f64 = 0.2;

/// Stratified train/test indices (each sorted) for labels in `0..classes`.
pub fn split(labels: &[u32], classes: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for c in 0..classes {
        let mut idx: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == c)
            .collect();
        idx.shuffle(&mut rng);
        let held = if idx.len() >= 2 {
            ((idx.len() as f64 * TEST_FRACTION).round() as usize).clamp(1, idx.len() - 1)
        } else {
            0
        };
        test.extend_from_slice(&idx[..held]);
        train.extend_from_slice(&idx[held..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Held-out accuracy of the logistic-regression probe (see the module docs).
pub fn probe_accuracy(
    x: MatRef,
    labels: &[u32],
    classes: usize,
    opts: &EstimatorOptions,
) -> Result<f64, TransferError> {
    let (train, test) = split(labels, classes, opts.seed);
    if test.is_empty() {
        return Err(TransferError::Invalid(
            "no class has two examples to hold one out".into(),
        ));
    }
    let mut xtr = x.gather(&train);
    let (mean, sd) = column_stats(MatRef::new(&xtr, train.len(), x.dim));
    standardize(&mut xtr, x.dim, &mean, &sd);
    let mut xte = x.gather(&test);
    standardize(&mut xte, x.dim, &mean, &sd);
    let pick = |idx: &[usize]| idx.iter().map(|&i| labels[i]).collect::<Vec<u32>>();
    let o = LogRegSettings {
        threads: opts.threads,
        ..LogRegSettings::default()
    };
    let (m, _) = logreg::fit(
        MatRef::new(&xtr, train.len(), x.dim),
        &pick(&train),
        classes,
        &o,
        None,
    )
    .map_err(|e| TransferError::Invalid(e.to_string()))?;
    Ok(m.accuracy(MatRef::new(&xte, test.len(), x.dim), &pick(&test)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_holds_out_a_fifth_of_each_class_and_separable_classes_score_one() {
        let labels: Vec<u32> = (0..50).map(|i| u32::from(i >= 20)).collect();
        let (tr, te) = split(&labels, 2, 7);
        assert_eq!((tr.len(), te.len()), (40, 10));
        assert_eq!(te.iter().filter(|&&i| labels[i] == 0).count(), 4);
        let x: Vec<f32> = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| [l as f32 * 4.0 + (i % 5) as f32 * 0.1, (i % 3) as f32])
            .collect();
        let acc = probe_accuracy(
            MatRef::new(&x, 50, 2),
            &labels,
            2,
            &EstimatorOptions::default(),
        )
        .unwrap();
        assert_eq!(acc, 1.0);
    }
}
