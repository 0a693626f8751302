//! Cross-validation schemes: leave one checkpoint out, repeated k-fold, leave one family out.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Errors in choosing or building folds.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CvError {
    /// The `--cv` value could not be parsed.
    #[error("bad --cv '{0}': expected loo, kfold:K, kfold:K:REPEATS or group")]
    Parse(String),
    /// More folds than rows, or fewer than 2.
    #[error("{scheme} needs between 2 and {rows} folds (one per row at most), got {folds}")]
    FoldCount {
        /// The scheme.
        scheme: String,
        /// Rows available.
        rows: usize,
        /// Folds requested.
        folds: usize,
    },
    /// Leave-one-out over too few rows to train on the rest.
    #[error("--cv loo needs at least 3 rows (each fold trains on all rows but one, and a fit needs 2), got {rows}")]
    TooFewRows {
        /// Rows available.
        rows: usize,
    },
    /// Grouped CV without a family column.
    #[error("--cv group needs families: give --family-column NAME or --family-regex REGEX (or a 'family' column)")]
    NoFamilies,
    /// Grouped CV with a single family.
    #[error("--cv group needs at least 2 families, found only '{0}'")]
    OneFamily(String),
}

/// A cross-validation scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum CvScheme {
    /// Leave one row (checkpoint) out.
    Loo,
    /// K folds, shuffled, repeated with seeds `seed, seed+1, ...`.
    Kfold {
        /// Folds per repeat.
        k: usize,
        /// Repeats.
        repeats: usize,
    },
    /// Leave one family out.
    Group,
}

impl CvScheme {
    /// Parse `loo`, `kfold:K`, `kfold:K:R` (R repeats, default 5) or `group`.
    pub fn parse(s: &str) -> Result<Self, CvError> {
        let bad = || CvError::Parse(s.to_string());
        match s {
            "loo" => Ok(CvScheme::Loo),
            "group" | "logo" => Ok(CvScheme::Group),
            _ => {
                let rest = s.strip_prefix("kfold:").ok_or_else(bad)?;
                let mut it = rest.split(':');
                let k = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
                let repeats = match it.next() {
                    Some(v) => v.parse().ok().filter(|&r| r >= 1).ok_or_else(bad)?,
                    None => 5,
                };
                if it.next().is_some() {
                    return Err(bad());
                }
                Ok(CvScheme::Kfold { k, repeats })
            }
        }
    }

    /// A short label (`loo`, `kfold:5x5`, `group`).
    pub fn label(&self) -> String {
        match self {
            CvScheme::Loo => "loo".into(),
            CvScheme::Kfold { k, repeats } => format!("kfold:{k}:{repeats}"),
            CvScheme::Group => "group".into(),
        }
    }
}

/// One test fold.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    /// Repeat number (0 unless repeated k-fold).
    pub repeat: usize,
    /// Fold number within the repeat.
    pub index: usize,
    /// Held-out rows, ascending.
    pub test: Vec<usize>,
}

impl Fold {
    /// The training rows: every row of `0..n` not in the test fold.
    pub fn train(&self, n: usize) -> Vec<usize> {
        (0..n)
            .filter(|i| self.test.binary_search(i).is_err())
            .collect()
    }
}

/// Build the folds of `scheme` over `n` rows. Every repeat covers each row exactly once.
pub fn folds(
    scheme: &CvScheme,
    n: usize,
    families: Option<&[String]>,
    seed: u64,
) -> Result<Vec<Fold>, CvError> {
    match scheme {
        CvScheme::Loo => {
            if n < 3 {
                return Err(CvError::TooFewRows { rows: n });
            }
            Ok((0..n)
                .map(|i| Fold {
                    repeat: 0,
                    index: i,
                    test: vec![i],
                })
                .collect())
        }
        CvScheme::Kfold { k, repeats } => {
            if *k < 2 || *k > n {
                return Err(CvError::FoldCount {
                    scheme: format!("kfold:{k}"),
                    rows: n,
                    folds: *k,
                });
            }
            let mut out = Vec::new();
            for r in 0..*repeats {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed.wrapping_add(r as u64)));
                for f in 0..*k {
                    let mut test: Vec<usize> = order.iter().copied().skip(f).step_by(*k).collect();
                    test.sort_unstable();
                    out.push(Fold {
                        repeat: r,
                        index: f,
                        test,
                    });
                }
            }
            Ok(out)
        }
        CvScheme::Group => {
            let fams = families.ok_or(CvError::NoFamilies)?;
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, f) in fams.iter().enumerate() {
                groups.entry(f.as_str()).or_default().push(i);
            }
            if groups.len() < 2 {
                return Err(CvError::OneFamily(
                    fams.first().cloned().unwrap_or_default(),
                ));
            }
            Ok(groups
                .into_values()
                .enumerate()
                .map(|(index, test)| Fold {
                    repeat: 0,
                    index,
                    test,
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfold_repeats_partition_the_rows_and_differ_between_repeats() {
        let f = folds(&CvScheme::Kfold { k: 3, repeats: 2 }, 10, None, 7).unwrap();
        assert_eq!(f.len(), 6);
        for r in 0..2 {
            let mut all: Vec<usize> = f
                .iter()
                .filter(|x| x.repeat == r)
                .flat_map(|x| x.test.clone())
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(f[0].test, f[3].test);
        assert_eq!(f[0].train(10).len() + f[0].test.len(), 10);
    }

    #[test]
    fn group_folds_hold_out_one_family_each_and_refuse_a_single_family() {
        let fams: Vec<String> = ["a", "b", "a", "c"].iter().map(|s| s.to_string()).collect();
        let f = folds(&CvScheme::Group, 4, Some(&fams), 0).unwrap();
        assert_eq!(
            f.iter().map(|x| x.test.clone()).collect::<Vec<_>>(),
            vec![vec![0, 2], vec![1], vec![3]]
        );
        let one: Vec<String> = vec!["a".into(); 4];
        assert_eq!(
            folds(&CvScheme::Group, 4, Some(&one), 0),
            Err(CvError::OneFamily("a".into()))
        );
    }

    #[test]
    fn cv_strings_parse() {
        assert_eq!(
            CvScheme::parse("kfold:5").unwrap(),
            CvScheme::Kfold { k: 5, repeats: 5 }
        );
        assert_eq!(
            CvScheme::parse("kfold:4:2").unwrap(),
            CvScheme::Kfold { k: 4, repeats: 2 }
        );
        assert!(CvScheme::parse("kfold:x").is_err());
        assert!(folds(&CvScheme::Kfold { k: 9, repeats: 1 }, 5, None, 0).is_err());
    }
}
