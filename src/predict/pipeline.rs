//! `fit` end to end: validate the data set against the settings, run the chosen protocol for
//! every target, and collect the per-target results.

use super::cv::{self, CvError, CvScheme};
use super::honest::{self, HonestResult, HonestSettings};
use super::linalg::Scaler;
use super::model::{Method, ModelError};
use super::paper::{self, PaperResult};
use super::table::Dataset;
use serde::Serialize;

/// Errors of a fit run (settings that do not suit the data).
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// Too few rows for the subset size.
    #[error("{file}: {rows} rows, but k = {k} needs at least k + 2 = {need} rows")]
    TooFewRowsForK {
        /// Input file.
        file: String,
        /// Rows present.
        rows: usize,
        /// Subset size.
        k: usize,
        /// Rows needed.
        need: usize,
    },
    /// k exceeds the usable features.
    #[error("{file}: k = {k} is larger than the {usable} usable (non-constant) feature columns")]
    KTooLarge {
        /// Input file.
        file: String,
        /// Subset size.
        k: usize,
        /// Non-constant features.
        usable: usize,
    },
    /// Every feature constant.
    #[error("{file}: all {cols} feature columns are constant; nothing to learn from")]
    AllConstant {
        /// Input file.
        file: String,
        /// Feature columns.
        cols: usize,
    },
    /// A bad setting.
    #[error("{0}")]
    Setting(String),
    /// CV problem.
    #[error("{file}: {source}")]
    Cv {
        /// Input file.
        file: String,
        /// Cause.
        source: CvError,
    },
    /// Model failure on a target.
    #[error("target '{target}': {source}")]
    Model {
        /// Target name.
        target: String,
        /// Cause.
        source: ModelError,
    },
}

/// Which protocol to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The seed paper's in-sample protocol.
    Paper,
    /// Nested cross-validation with baselines (default).
    Honest,
}

/// Settings of a fit run.
#[derive(Debug, Clone, Serialize)]
pub struct FitSettings {
    /// Protocol.
    pub protocol: Protocol,
    /// Method (honest protocol; the paper protocol always uses OLS on the best k-subset).
    pub method: Method,
    /// Subset size for `ols-subset` and the paper protocol.
    pub k: usize,
    /// Cross-validation scheme (honest protocol).
    pub cv: CvScheme,
    /// Nominal interval coverage.
    pub coverage: f64,
    /// Permutations for the p-value.
    pub permutations: usize,
    /// Noise draws (paper: random-column baseline; honest: search-matched control).
    pub noise_draws: usize,
    /// Seed.
    pub seed: u64,
}

/// The outcome for one target.
#[derive(Debug, Clone)]
pub enum TargetResult {
    /// Paper protocol.
    Paper(Box<PaperResult>),
    /// Honest protocol (with the folds used).
    Honest(Box<HonestResult>),
}

/// The outcome of a fit run.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// Per target, in the order of `Dataset::target_names`.
    pub results: Vec<(String, TargetResult)>,
    /// Number of folds used (honest protocol).
    pub n_folds: usize,
}

/// Check the settings against the data; one clear message per problem.
pub fn validate(ds: &Dataset, cfg: &FitSettings) -> Result<Vec<cv::Fold>, FitError> {
    let file = ds.files[0].clone();
    let n = ds.ids.len();
    if !(cfg.coverage > 0.0 && cfg.coverage < 1.0) {
        return Err(FitError::Setting(format!(
            "--coverage must be between 0 and 1, got {}",
            cfg.coverage
        )));
    }
    let scaler = Scaler::fit(&ds.x, true);
    let usable = (0..ds.x.cols).filter(|&j| scaler.usable(j)).count();
    if usable == 0 {
        return Err(FitError::AllConstant {
            file,
            cols: ds.x.cols,
        });
    }
    let uses_k = cfg.protocol == Protocol::Paper || matches!(cfg.method, Method::OlsSubset { .. });
    if uses_k {
        if cfg.k == 0 {
            return Err(FitError::Setting("--k must be at least 1".into()));
        }
        if n < cfg.k + 2 {
            return Err(FitError::TooFewRowsForK {
                file,
                rows: n,
                k: cfg.k,
                need: cfg.k + 2,
            });
        }
        if cfg.k > usable {
            return Err(FitError::KTooLarge {
                file,
                k: cfg.k,
                usable,
            });
        }
    }
    if cfg.protocol == Protocol::Paper {
        return Ok(vec![]);
    }
    let folds = cv::folds(&cfg.cv, n, ds.cv_groups(), cfg.seed).map_err(|source| FitError::Cv {
        file: file.clone(),
        source,
    })?;
    // every training fold must still have k + 2 rows for a subset fit
    let min_train = folds.iter().map(|f| n - f.test.len()).min().unwrap_or(0);
    if uses_k && min_train < cfg.k + 2 {
        return Err(FitError::TooFewRowsForK {
            file,
            rows: min_train,
            k: cfg.k,
            need: cfg.k + 2,
        });
    }
    if min_train < 2 {
        return Err(FitError::Setting(format!(
            "{file}: a training fold would have {min_train} rows; use more rows or fewer folds"
        )));
    }
    Ok(folds)
}

/// Run the configured protocol on every target.
pub fn run(ds: &Dataset, cfg: &FitSettings) -> Result<FitOutcome, FitError> {
    let folds = validate(ds, cfg)?;
    let mut results = Vec::new();
    let per_target = if cfg.method == Method::Mean {
        0
    } else {
        cfg.noise_draws
    } + cfg.permutations;
    let progress = (cfg.protocol == Protocol::Honest && per_target > 0).then(|| {
        let pb = indicatif::ProgressBar::new((per_target * ds.target_names.len()) as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {pos}/{len} permutations+noise draws ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    for (t, name) in ds.target_names.iter().enumerate() {
        let y = &ds.y[t];
        let wrap = |source| FitError::Model {
            target: name.clone(),
            source,
        };
        let r = match cfg.protocol {
            Protocol::Paper => TargetResult::Paper(Box::new(
                paper::evaluate(&ds.x, y, cfg.k, cfg.noise_draws, cfg.seed).map_err(wrap)?,
            )),
            Protocol::Honest => {
                if let Some(pb) = &progress {
                    pb.set_message(name.clone());
                }
                let hc = HonestSettings {
                    method: cfg.method,
                    coverage: cfg.coverage,
                    permutations: cfg.permutations,
                    noise_draws: cfg.noise_draws,
                    seed: cfg.seed,
                    progress: progress.clone(),
                    inner_cv: match cfg.cv {
                        CvScheme::Kfold { k, .. } => CvScheme::Kfold { k, repeats: 1 },
                        ref other => other.clone(),
                    },
                };
                TargetResult::Honest(Box::new(
                    honest::evaluate(
                        &hc,
                        &ds.x,
                        y,
                        ds.families.as_deref(),
                        ds.cv_groups(),
                        &folds,
                    )
                    .map_err(wrap)?,
                ))
            }
        };
        results.push((name.clone(), r));
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    Ok(FitOutcome {
        results,
        n_folds: folds.len(),
    })
}
