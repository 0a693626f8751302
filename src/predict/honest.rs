//! The honest protocol: nested cross-validation in which every choice (scaling, feature subset,
//! penalty) is made on the training part of each fold, scored out of fold, next to baselines
//! evaluated on the same folds (training mean, family mean, the same method on noise columns of
//! the same shape) and a permutation test; intervals from out-of-fold residuals, with their
//! coverage checked by a nested (inner) cross-validation.

use super::conformal;
use super::cv::{self, CvScheme, Fold};
use super::linalg::Mat;
use super::model::{self, LinearModel, Method, ModelError};
use crate::stats as metrics;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Settings of one honest evaluation.
#[derive(Debug, Clone)]
pub struct HonestSettings {
    /// The method under test.
    pub method: Method,
    /// Nominal coverage of the prediction intervals, e.g. 0.9.
    pub coverage: f64,
    /// Number of target permutations for the p-value (0 = skip).
    pub permutations: usize,
    /// Number of noise-feature draws for the search-matched control (0 = skip).
    pub noise_draws: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Progress bar ticked once per permutation and noise draw (hidden when stderr is not a
    /// terminal); `None` for no progress display.
    pub progress: Option<indicatif::ProgressBar>,
    /// Scheme of the inner cross-validation, run on each outer training fold, whose
    /// residuals set that fold's interval width (see [`evaluate`]).
    pub inner_cv: CvScheme,
}

/// One out-of-fold prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct CvPrediction {
    /// Row of the data set.
    pub row: usize,
    /// Repeat (k-fold repeats), else 0.
    pub repeat: usize,
    /// Fold index within the repeat.
    pub fold: usize,
    /// True value.
    pub truth: f64,
    /// Out-of-fold prediction.
    pub pred: f64,
    /// Lower interval bound (from the other rows' residuals).
    pub lower: f64,
    /// Upper interval bound.
    pub upper: f64,
}

/// Out-of-fold scores (averaged over repeats).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Out-of-sample R^2 (against the mean of the true values).
    pub r2: f64,
    /// Kendall tau-b between predicted and true.
    pub kendall_tau: f64,
    /// Spearman correlation between predicted and true.
    pub spearman: f64,
}

/// Baseline RMSEs on the same folds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Baselines {
    /// Predict the training-fold mean.
    pub mean: f64,
    /// Predict the training-fold mean of the row's family (training mean when the family is
    /// absent from the training fold, as always under leave-one-family-out).
    pub family_mean: Option<f64>,
    /// The same method on standard-normal noise columns of the same shape (mean over draws).
    pub noise: Option<f64>,
}

/// The result of the honest protocol for one target.
#[derive(Debug, Clone)]
pub struct HonestResult {
    /// The method's out-of-fold scores.
    pub scores: Scores,
    /// Baselines.
    pub baselines: Baselines,
    /// `(mean baseline - rmse) / mean baseline * 100`.
    pub reduction_pct: f64,
    /// Permutation p-value of the RMSE, `(1 + #{perm rmse <= rmse}) / (1 + permutations)`.
    pub p_value: Option<f64>,
    /// Empirical coverage of the intervals under cross-validation.
    pub coverage: f64,
    /// Half-width of the interval for new predictions (`inf` if too few rows).
    pub half_width: f64,
    /// Out-of-fold predictions.
    pub predictions: Vec<CvPrediction>,
    /// Final model fitted on all rows (with the same inner selection).
    pub model: LinearModel,
    /// For each feature used by any fold model: fraction of folds that used it (descending).
    pub selection_frequency: Vec<(usize, f64)>,
}

fn fold_seed(seed: u64, fold: usize) -> u64 {
    seed ^ (fold as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Out-of-fold predictions (in fold order: one entry per test row of each fold) and the
/// fitted fold models.
pub fn cross_predict(
    method: &Method,
    x: &Mat,
    y: &[f64],
    folds: &[Fold],
    seed: u64,
) -> Result<(Vec<f64>, Vec<LinearModel>), ModelError> {
    let n = y.len();
    let fitted: Vec<Result<(Vec<f64>, LinearModel), ModelError>> = folds
        .par_iter()
        .enumerate()
        .map(|(f, fold)| {
            let train = fold.train(n);
            let ytr: Vec<f64> = train.iter().map(|&i| y[i]).collect();
            let m = model::fit(method, &x.select_rows(&train), &ytr, fold_seed(seed, f))?;
            let preds = fold.test.iter().map(|&i| m.predict_row(x.row(i))).collect();
            Ok((preds, m))
        })
        .collect();
    let mut preds = Vec::with_capacity(n);
    let mut models = Vec::with_capacity(folds.len());
    for r in fitted {
        let (p, m) = r?;
        preds.extend(p);
        models.push(m);
    }
    Ok((preds, models))
}

/// Scores averaged over repeats, from predictions laid out like [`cross_predict`]'s.
pub fn scores(y: &[f64], folds: &[Fold], preds: &[f64]) -> Scores {
    let repeats = folds.iter().map(|f| f.repeat).max().unwrap_or(0) + 1;
    let mut per: Vec<Vec<f64>> = vec![vec![f64::NAN; y.len()]; repeats];
    let mut t = 0;
    for f in folds {
        for &i in &f.test {
            per[f.repeat][i] = preds[t];
            t += 1;
        }
    }
    let mut acc = [0.0f64; 5];
    for p in &per {
        acc[0] += metrics::rmse(y, p);
        acc[1] += metrics::mae(y, p);
        acc[2] += metrics::r2(y, p);
        acc[3] += metrics::kendall_tau(y, p);
        acc[4] += metrics::spearman(y, p);
    }
    let r = repeats as f64;
    Scores {
        rmse: acc[0] / r,
        mae: acc[1] / r,
        r2: acc[2] / r,
        kendall_tau: acc[3] / r,
        spearman: acc[4] / r,
    }
}

/// Out-of-fold RMSE (averaged over repeats) of `method`.
pub fn cv_rmse(
    method: &Method,
    x: &Mat,
    y: &[f64],
    folds: &[Fold],
    seed: u64,
) -> Result<f64, ModelError> {
    let (p, _) = cross_predict(method, x, y, folds, seed)?;
    Ok(scores(y, folds, &p).rmse)
}

fn baseline_rmse(y: &[f64], folds: &[Fold], families: Option<&[String]>) -> f64 {
    let n = y.len();
    let mut preds = Vec::with_capacity(n);
    for f in folds {
        let train = f.train(n);
        let mean = train.iter().map(|&i| y[i]).sum::<f64>() / train.len() as f64;
        for &i in &f.test {
            let p = match families {
                None => mean,
                Some(fam) => {
                    let same: Vec<f64> = train
                        .iter()
                        .filter(|&&j| fam[j] == fam[i])
                        .map(|&j| y[j])
                        .collect();
                    if same.is_empty() {
                        mean
                    } else {
                        same.iter().sum::<f64>() / same.len() as f64
                    }
                }
            };
            preds.push(p);
        }
    }
    scores(y, folds, &preds).rmse
}

/// Standard-normal noise matrix of the given shape from a seed.
pub fn noise_matrix(rows: usize, cols: usize, sd: f64, seed: u64) -> Mat {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..rows * cols)
        .map(|_| {
            let v: f64 = StandardNormal.sample(&mut rng);
            v * sd
        })
        .collect();
    Mat { rows, cols, data }
}

fn predictions_len(p: &[CvPrediction]) -> f64 {
    p.len().max(1) as f64
}

/// Interval half-width for one outer fold: the conformal quantile of the out-of-fold residuals
/// of an inner cross-validation (`cfg.inner_cv`, falling back to 5-fold) on the training rows
/// `train` only. `inf` when the inner CV cannot run or has too few residuals.
fn nested_width(
    cfg: &HonestSettings,
    x: &Mat,
    y: &[f64],
    families: Option<&[String]>,
    train: &[usize],
    seed: u64,
) -> f64 {
    let nt = train.len();
    let xt = x.select_rows(train);
    let yt: Vec<f64> = train.iter().map(|&i| y[i]).collect();
    let ft: Option<Vec<String>> = families.map(|f| train.iter().map(|&i| f[i].clone()).collect());
    let inner = cv::folds(&cfg.inner_cv, nt, ft.as_deref(), seed).or_else(|_| {
        cv::folds(
            &CvScheme::Kfold {
                k: 5.min(nt),
                repeats: 1,
            },
            nt,
            None,
            seed,
        )
    });
    let Ok(inner) = inner else {
        return f64::INFINITY;
    };
    match cross_predict(&cfg.method, &xt, &yt, &inner, seed) {
        Ok((p, _)) => {
            let abs: Vec<f64> = inner
                .iter()
                .flat_map(|f| f.test.iter())
                .zip(&p)
                .map(|(&i, pi)| (yt[i] - pi).abs())
                .collect();
            conformal::half_width(&abs, cfg.coverage)
        }
        Err(_) => f64::INFINITY,
    }
}

/// Run the honest protocol for one target.
/// `families` gives the family-mean baseline; `groups` the grouping of the inner
/// cross-validation when it is grouped (the outer folds' own grouping, e.g. the variant
/// operation under leave-one-operation-out, which need not be the family).
pub fn evaluate(
    cfg: &HonestSettings,
    x: &Mat,
    y: &[f64],
    families: Option<&[String]>,
    groups: Option<&[String]>,
    folds: &[Fold],
) -> Result<HonestResult, ModelError> {
    let n = y.len();
    let (preds, models) = cross_predict(&cfg.method, x, y, folds, cfg.seed)?;
    let sc = scores(y, folds, &preds);
    let mean = baseline_rmse(y, folds, None);
    let family_mean = families.map(|f| baseline_rmse(y, folds, Some(f)));

    // Search-matched noise control: the same method, same folds, noise columns of x's shape.
    let noise = if cfg.noise_draws > 0 && cfg.method != Method::Mean {
        let r: Result<Vec<f64>, ModelError> = (0..cfg.noise_draws)
            .into_par_iter()
            .map(|d| {
                let s = cfg.seed.wrapping_add(0x5EED_0000 + d as u64);
                let xn = noise_matrix(n, x.cols, 1.0, s);
                let r = cv_rmse(&cfg.method, &xn, y, folds, cfg.seed);
                if let Some(pb) = &cfg.progress {
                    pb.inc(1);
                }
                r
            })
            .collect();
        let r = r?;
        Some(r.iter().sum::<f64>() / r.len() as f64)
    } else {
        None
    };

    // Permutation test: shuffle the targets, redo the whole cross-validation.
    let p_value = if cfg.permutations > 0 {
        let r: Result<Vec<f64>, ModelError> = (0..cfg.permutations)
            .into_par_iter()
            .map(|b| {
                let mut rng =
                    ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(0xBEEF_0000 + b as u64));
                let mut yp = y.to_vec();
                yp.shuffle(&mut rng);
                let r = cv_rmse(&cfg.method, x, &yp, folds, cfg.seed);
                if let Some(pb) = &cfg.progress {
                    pb.inc(1);
                }
                r
            })
            .collect();
        let r = r?;
        let hits = r.iter().filter(|&&v| v <= sc.rmse).count();
        Some((1 + hits) as f64 / (1 + cfg.permutations) as f64)
    } else {
        None
    };

    // Intervals: each outer fold's width comes from an inner cross-validation on its own
    // training rows only (nested), so the held-out row never influences its interval; the
    // empirical coverage is then an honest check of the nominal one.
    let widths: Vec<f64> = folds
        .par_iter()
        .enumerate()
        .map(|(f, fold)| nested_width(cfg, x, y, groups, &fold.train(n), fold_seed(cfg.seed, f)))
        .collect();
    let mut predictions = Vec::with_capacity(preds.len());
    let mut inside = 0usize;
    let mut all_abs = Vec::with_capacity(preds.len());
    let mut t = 0;
    for (f, fold) in folds.iter().enumerate() {
        let w = widths[f];
        for &i in &fold.test {
            let p = preds[t];
            t += 1;
            all_abs.push((y[i] - p).abs());
            if (y[i] - p).abs() <= w {
                inside += 1;
            }
            predictions.push(CvPrediction {
                row: i,
                repeat: fold.repeat,
                fold: fold.index,
                truth: y[i],
                pred: p,
                lower: p - w,
                upper: p + w,
            });
        }
    }
    let half_width = conformal::half_width(&all_abs, cfg.coverage);

    let mut freq: std::collections::BTreeMap<usize, usize> = Default::default();
    for m in &models {
        for &j in &m.features {
            *freq.entry(j).or_default() += 1;
        }
    }
    let mut selection_frequency: Vec<(usize, f64)> = freq
        .into_iter()
        .map(|(j, c)| (j, c as f64 / models.len() as f64))
        .collect();
    selection_frequency.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    let model = model::fit(&cfg.method, x, y, cfg.seed)?;
    Ok(HonestResult {
        scores: sc,
        baselines: Baselines {
            mean,
            family_mean,
            noise,
        },
        reduction_pct: (mean - sc.rmse) / mean * 100.0,
        p_value,
        coverage: inside as f64 / predictions_len(&predictions),
        half_width,
        predictions,
        model,
        selection_frequency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::cv::{folds, CvScheme};

    fn synthetic(n: usize, p: usize, noise: f64, seed: u64) -> (Mat, Vec<f64>) {
        let x = noise_matrix(n, p, 1.0, seed);
        let e = noise_matrix(n, 1, noise, seed + 1000);
        let y = (0..n)
            .map(|i| 1.0 + 2.0 * x.at(i, 0) - 1.0 * x.at(i, 1) + e.data[i])
            .collect();
        (x, y)
    }

    #[test]
    fn a_planted_feature_that_only_fits_the_held_out_row_is_never_chosen() {
        let n = 20;
        let mut x = noise_matrix(n, 6, 1.0, 5);
        let e = noise_matrix(n, 1, 1.0, 6);
        let mut y: Vec<f64> = (0..n).map(|i| x.at(i, 0) + e.data[i]).collect();
        // Row h is an outlier; column 5 is small noise plus a spike on row h in the direction of
        // y_h, so over all rows it explains y best; without row h it is pure noise.
        let h = 7;
        y[h] += 20.0;
        let ym = y.iter().sum::<f64>() / n as f64;
        for i in 0..n {
            *x.at_mut(i, 5) = 0.01 * x.at(i, 5);
        }
        *x.at_mut(h, 5) = 100.0 * (y[h] - ym);
        // In-sample (leaky) selection picks it: the plant works.
        let leaky = model::fit(&Method::OlsSubset { k: 1 }, &x, &y, 0).unwrap();
        assert_eq!(leaky.features, vec![5]);
        // Inside the cross-validation, the fold holding out row h never selects it.
        let f = folds(&CvScheme::Loo, n, None, 0).unwrap();
        let (_, models) = cross_predict(&Method::OlsSubset { k: 1 }, &x, &y, &f, 0).unwrap();
        assert!(
            !models[h].features.contains(&5),
            "fold {h} chose {:?}",
            models[h].features
        );
        assert_eq!(models[h].features, vec![0]);
        // every other fold sees the spike row in training and does pick the plant
        assert!(models
            .iter()
            .enumerate()
            .all(|(f, m)| f == h || m.features == vec![5]));
    }

    #[test]
    fn conformal_intervals_cover_near_nominal_under_loo_and_kfold_on_synthetic_data() {
        for (scheme, coverage) in [
            (CvScheme::Loo, 0.9),
            (CvScheme::Kfold { k: 5, repeats: 2 }, 0.8),
        ] {
            let mut covered = 0.0;
            let reps = 10;
            for r in 0..reps {
                let (x, y) = synthetic(60, 5, 0.5, 100 + r);
                let f = folds(&scheme, 60, None, r).unwrap();
                let cfg = HonestSettings {
                    method: Method::OlsSubset { k: 2 },
                    coverage,
                    permutations: 0,
                    noise_draws: 0,
                    seed: r,
                    progress: None,
                    inner_cv: match scheme {
                        CvScheme::Kfold { k, .. } => CvScheme::Kfold { k, repeats: 1 },
                        ref s => s.clone(),
                    },
                };
                let res = evaluate(&cfg, &x, &y, None, None, &f).unwrap();
                // the reported coverage is the fraction of rows inside their interval
                let inside = res
                    .predictions
                    .iter()
                    .filter(|p| p.lower <= p.truth && p.truth <= p.upper)
                    .count() as f64
                    / res.predictions.len() as f64;
                assert!((inside - res.coverage).abs() < 1e-12);
                covered += res.coverage;
            }
            let mean_cov = covered / reps as f64;
            println!("{scheme:?}: nested coverage {mean_cov:.3} for nominal {coverage}");
            assert!(
                (mean_cov - coverage).abs() <= 0.05,
                "{scheme:?}: coverage {mean_cov} vs nominal {coverage}"
            );
        }
    }

    #[test]
    fn signal_beats_the_mean_baseline_with_a_small_p_value_and_noise_does_not() {
        let n = 25;
        let (x, y) = synthetic(n, 8, 0.3, 9);
        let f = folds(&CvScheme::Loo, n, None, 0).unwrap();
        let cfg = HonestSettings {
            method: Method::Ridge,
            coverage: 0.9,
            permutations: 99,
            noise_draws: 5,
            seed: 1,
            progress: None,
            inner_cv: CvScheme::Loo,
        };
        let res = evaluate(&cfg, &x, &y, None, None, &f).unwrap();
        assert!(res.reduction_pct > 50.0, "{}", res.reduction_pct);
        assert!(res.p_value.unwrap() <= 0.02);
        assert!(res.baselines.noise.unwrap() > res.scores.rmse);
        assert!(res.scores.kendall_tau > 0.6);
        // pure-noise target: no reduction, large p
        let yn: Vec<f64> = noise_matrix(n, 1, 1.0, 77).data;
        let res = evaluate(&cfg, &x, &yn, None, None, &f).unwrap();
        assert!(res.p_value.unwrap() > 0.1, "{:?}", res.p_value);
        assert!(res.reduction_pct < 10.0);
    }

    #[test]
    fn family_mean_baseline_uses_only_training_rows_of_the_same_family() {
        // two families with different levels; LOO family mean predicts the other members' mean
        let y = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0];
        let fam: Vec<String> = ["a", "a", "a", "b", "b", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = folds(&CvScheme::Loo, 6, None, 0).unwrap();
        // LOO family-mean residuals: 1-2.5, 2-2, 3-1.5, 10-11.5, 11-11, 12-10.5 -> squares 2.25,0,2.25 x2
        let expect = (9.0f64 / 6.0).sqrt();
        assert!((baseline_rmse(&y, &f, Some(&fam)) - expect).abs() < 1e-12);
        // under leave-one-family-out the family is never in training: falls back to the mean
        let g = folds(&CvScheme::Group, 6, Some(&fam), 0).unwrap();
        assert_eq!(
            baseline_rmse(&y, &g, Some(&fam)),
            baseline_rmse(&y, &g, None)
        );
    }
}
