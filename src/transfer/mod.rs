//! Transferability estimators: how well a checkpoint's frozen features fit a labelled target
//! task, without fine-tuning. Each estimator scores one matrix of features `X` (n × d, one row
//! per example) against the target's labels `y`:
//!
//! - [`logme`]: LogME (You et al. 2021), the log marginal evidence of a Bayesian linear
//!   regression of each one-hot class column (or the regression target) on `X`, maximised over
//!   the prior and noise precisions by fixed-point updates; higher is better;
//! - [`hscore`]: the regularised H-score (Bao et al. 2019; Ibrahim et al. 2022), the
//!   between-class covariance measured against a Ledoit–Wolf-shrunk feature covariance;
//!   classification only;
//! - [`knn`]: leave-one-out k-nearest-neighbour accuracy (k = 3, Euclidean, exact search),
//!   micro and macro; classification only;
//! - [`linear`]: probecast's logistic-regression probe ([`crate::learn::logreg`]) trained on a
//!   stratified 80 % of the sample and scored on the other 20 %; classification only.
//!
//! [`layers`] applies an estimator across an encoder's hidden states (per layer, the mean of
//! the layers, the best layer, the last layer); [`target`] samples a GLUE task and embeds it;
//! [`rank`] is `probecast rank`; [`columns`] turns the scores into `features.csv` columns for
//! `probecast probe --target-task`; [`compare`] measures how well each estimator (and
//! probecast's predictor, and a parameter-count baseline) orders fine-tuned scores
//! (`probecast transfer-compare`). The maths, and where the reference implementations differ,
//! are in each module and in docs/transfer.md.

pub mod columns;
pub mod compare;
pub mod hscore;
pub mod knn;
pub mod layers;
pub mod linear;
pub mod logme;
pub mod rank;
pub mod target;

use crate::learn::MatRef;

/// Errors of the transferability estimators.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TransferError {
    /// The target has fewer than two classes.
    #[error("the target task has {classes} class(es) in the sample; at least 2 are needed")]
    OneClass {
        /// Classes present.
        classes: usize,
    },
    /// Too few examples for the number of classes.
    #[error("{n} examples for {classes} classes: at least 2 per class ({need}) are needed")]
    TooFew {
        /// Examples.
        n: usize,
        /// Classes.
        classes: usize,
        /// Examples needed.
        need: usize,
    },
    /// A feature is NaN or infinite.
    #[error(
        "feature value {value} at row {row}, column {col} (hidden state {layer}) is not finite"
    )]
    NonFinite {
        /// Hidden state.
        layer: usize,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f32,
    },
    /// The estimator is not defined for this kind of target.
    #[error("{0}")]
    NotDefined(String),
    /// Labels and rows disagree, or another malformed problem.
    #[error("invalid problem: {0}")]
    Invalid(String),
}

/// What the features are scored against.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Class indices in `0..classes`.
    Classes {
        /// One label per row.
        labels: Vec<u32>,
        /// Number of classes (labels are below it).
        classes: usize,
    },
    /// A real-valued target (STS-B).
    Regression(Vec<f64>),
}

impl Target {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { labels, .. } => labels.len(),
            Target::Regression(v) => v.len(),
        }
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check the target on its own: labels in range, at least two classes present and at least
    /// twice as many examples as classes present; a regression target needs two finite values.
    pub fn check(&self) -> Result<(), TransferError> {
        match self {
            Target::Classes { labels, classes } => {
                if let Some(&l) = labels.iter().find(|&&l| l as usize >= *classes) {
                    return Err(TransferError::Invalid(format!(
                        "label {l} out of range for {classes} classes"
                    )));
                }
                let present = class_counts(labels, *classes)
                    .iter()
                    .filter(|&&c| c > 0)
                    .count();
                if present < 2 {
                    return Err(TransferError::OneClass { classes: present });
                }
                if labels.len() < 2 * present {
                    return Err(TransferError::TooFew {
                        n: labels.len(),
                        classes: present,
                        need: 2 * present,
                    });
                }
            }
            Target::Regression(v) => {
                if v.len() < 2 {
                    return Err(TransferError::TooFew {
                        n: v.len(),
                        classes: 1,
                        need: 2,
                    });
                }
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(TransferError::Invalid(
                        "a regression target is not finite".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Examples per class.
pub fn class_counts(labels: &[u32], classes: usize) -> Vec<usize> {
    let mut c = vec![0usize; classes];
    for &l in labels {
        c[l as usize] += 1;
    }
    c
}

/// The estimators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// LogME (n < d handled with the full log-determinant).
    LogMe,
    /// Regularised H-score.
    HScore,
    /// Leave-one-out 3-NN accuracy (micro).
    Knn,
    /// Logistic-regression probe accuracy on a held-out 20 %.
    Probe,
}

impl Estimator {
    /// All of them, in the order of their names.
    pub const ALL: [Estimator; 4] = [
        Estimator::LogMe,
        Estimator::HScore,
        Estimator::Knn,
        Estimator::Probe,
    ];

    /// Its name on the command line and in column names.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::LogMe => "logme",
            Estimator::HScore => "hscore",
            Estimator::Knn => "knn",
            Estimator::Probe => "probe",
        }
    }

    /// Parse a name (`logme`, `hscore`, `knn`, `probe`).
    pub fn parse(s: &str) -> Option<Estimator> {
        Estimator::ALL.into_iter().find(|e| e.name() == s.trim())
    }

    /// Whether it is defined for regression targets (only LogME is).
    pub fn supports_regression(self) -> bool {
        self == Estimator::LogMe
    }
}

/// One estimator's score on one feature matrix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Score {
    /// The score (LogME evidence per example, H-score, kNN micro accuracy, probe accuracy).
    pub value: f64,
    /// kNN only: the macro (class-balanced) accuracy.
    pub knn_macro: Option<f64>,
}

/// Settings shared by the estimators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatorOptions {
    /// Seed of the probe's train/test split.
    pub seed: u64,
    /// Threads for the products inside one score (1 inside an outer parallel loop).
    pub threads: usize,
}

impl Default for EstimatorOptions {
    fn default() -> Self {
        EstimatorOptions {
            seed: 0,
            threads: rayon::current_num_threads(),
        }
    }
}

/// faer's parallelism for `threads` threads.
pub(crate) fn par(threads: usize) -> faer::Par {
    if threads > 1 {
        faer::Par::rayon(threads)
    } else {
        faer::Par::Seq
    }
}

/// Check that every value of `x` (hidden state `layer`) is finite.
pub fn check_finite(x: MatRef, layer: usize) -> Result<(), TransferError> {
    if let Some(p) = x.data.iter().position(|v| !v.is_finite()) {
        return Err(TransferError::NonFinite {
            layer,
            row: p / x.dim.max(1),
            col: p % x.dim.max(1),
            value: x.data[p],
        });
    }
    Ok(())
}

/// Score `x` against `target` with `est`. The target must pass [`Target::check`] and have one
/// entry per row; regression targets are only scored by LogME.
pub fn score(
    est: Estimator,
    x: MatRef,
    target: &Target,
    opts: &EstimatorOptions,
) -> Result<Score, TransferError> {
    if target.len() != x.n {
        return Err(TransferError::Invalid(format!(
            "{} targets for {} rows",
            target.len(),
            x.n
        )));
    }
    let plain = |value| Score {
        value,
        knn_macro: None,
    };
    match (est, target) {
        (Estimator::LogMe, t) => Ok(plain(logme::logme(x, t, logme::Variant::Corrected, opts))),
        (Estimator::HScore, Target::Classes { labels, classes }) => {
            Ok(plain(hscore::hscore(x, labels, *classes, opts)))
        }
        (Estimator::Knn, Target::Classes { labels, classes }) => {
            let s = knn::loo_knn(x, labels, *classes, knn::K, opts.threads);
            Ok(Score {
                value: s.micro,
                knn_macro: Some(s.macro_),
            })
        }
        (Estimator::Probe, Target::Classes { labels, classes }) => {
            Ok(plain(linear::probe_accuracy(x, labels, *classes, opts)?))
        }
        (e, Target::Regression(_)) => Err(TransferError::NotDefined(not_defined(e))),
    }
}

/// Why `est` cannot score a regression target.
pub fn not_defined(est: Estimator) -> String {
    match est {
        Estimator::HScore => "hscore is not defined for a regression task (it compares class-conditional means; use logme)".into(),
        Estimator::Knn => "knn is not defined for a regression task (it counts neighbours' class votes; use logme)".into(),
        _ => format!("{} is not defined for a regression task (use logme)", est.name()),
    }
}

/// Row-major f32 `x` (n × d) as row-major f64, optionally with the column (feature) means
/// removed.
pub(crate) fn to_f64_rows(x: MatRef, center: bool) -> Vec<f64> {
    let (n, d) = (x.n, x.dim);
    let mut m: Vec<f64> = x.data.iter().map(|&v| v as f64).collect();
    if center && n > 0 && d > 0 {
        let mut mean = vec![0.0f64; d];
        for row in m.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
        }
        mean.iter_mut().for_each(|s| *s /= n as f64);
        for row in m.chunks_exact_mut(d) {
            row.iter_mut().zip(&mean).for_each(|(c, &s)| *c -= s);
        }
    }
    m
}

/// Which Gram matrix of a row-major n × d matrix X: `XᵀX` (d × d) or `X Xᵀ` (n × n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gram {
    /// `XᵀX`, d × d.
    Features,
    /// `X Xᵀ`, n × n.
    Examples,
}

/// The Gram matrix `which` of the row-major `x` (n × d), both triangles filled, as a
/// column-major (equally, row-major) slice: [`crate::kernels::dense::gram_lower`] and a mirror.
pub(crate) fn gram(x: &[f64], n: usize, d: usize, which: Gram, threads: usize) -> Vec<f64> {
    use crate::kernels::dense::gram_lower;
    let (k, m, strides) = match which {
        Gram::Features => (n, d, (d, 1)),
        Gram::Examples => (d, n, (1, d)),
    };
    let mut g = vec![0.0f64; m * m];
    gram_lower(k, m, x, strides, &mut g, (m, 1), false, threads);
    mirror_lower(&mut g, m);
    g
}

/// Copy the lower triangle of the row-major m × m `g` onto its upper triangle.
pub(crate) fn mirror_lower(g: &mut [f64], m: usize) {
    for i in 0..m {
        for j in 0..i {
            g[j * m + i] = g[i * m + j];
        }
    }
}
