//! The predictor methods behind one interface: each fits a [`LinearModel`] on the training rows
//! it is given, making every data-dependent choice (scaling, feature subset, penalty) on those
//! rows only.

use super::enet;
use super::linalg::{Mat, Scaler};
use super::ols;
use super::ridge;
use super::subset::{self, Gram};
use serde::{Deserialize, Serialize};

/// Errors of fitting a method.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// Fewer usable (non-constant) features than the subset size.
    #[error("k = {k} but only {usable} features vary on the training rows")]
    TooFewFeatures {
        /// Requested subset size.
        k: usize,
        /// Non-constant features.
        usable: usize,
    },
    /// No full-rank subset (all candidate subsets collinear).
    #[error("no {0}-subset of the features gives a full-rank OLS fit")]
    NoFullRankSubset(usize),
    /// OLS failure.
    #[error(transparent)]
    Ols(#[from] ols::OlsError),
    /// Ridge failure.
    #[error(transparent)]
    Ridge(#[from] ridge::RidgeError),
    /// Elastic-net failure.
    #[error(transparent)]
    Enet(#[from] enet::EnetError),
    /// A method name that is not known.
    #[error("unknown method '{0}' (expected ols-subset, ridge, enet or mean)")]
    UnknownMethod(String),
}

/// A prediction method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Method {
    /// Predict the training mean.
    Mean,
    /// OLS on the best `k`-subset of standardised features (exhaustive for k <= 4, greedy
    /// forward beyond).
    OlsSubset {
        /// Subset size.
        k: usize,
    },
    /// Ridge on all standardised features, penalty by exact leave-one-out error on the
    /// training rows.
    Ridge,
    /// Elastic net on all standardised features, penalty by inner 5-fold CV.
    Enet {
        /// Mix of L1 and L2 (1 = lasso).
        l1_ratio: f64,
    },
}

impl Method {
    /// Parse a method name (`ols-subset`, `ridge`, `enet`, `mean`).
    pub fn parse(name: &str, k: usize, l1_ratio: f64) -> Result<Self, ModelError> {
        match name {
            "ols-subset" | "subset" | "ols" => Ok(Method::OlsSubset { k }),
            "ridge" => Ok(Method::Ridge),
            "enet" | "elastic-net" => Ok(Method::Enet { l1_ratio }),
            "mean" => Ok(Method::Mean),
            other => Err(ModelError::UnknownMethod(other.to_string())),
        }
    }

    /// A short label such as `ols-subset(k=3)`.
    pub fn label(&self) -> String {
        match self {
            Method::Mean => "mean".into(),
            Method::OlsSubset { k } => format!("ols-subset(k={k})"),
            Method::Ridge => "ridge(loo)".into(),
            Method::Enet { l1_ratio } => format!("enet(l1_ratio={l1_ratio})"),
        }
    }
}

/// A fitted linear model: `intercept + sum_j coef_j * (x_j - mean_j) / scale_j` over the listed
/// feature columns. Missing inputs (NaN) contribute 0 (the training mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Column indices (into the feature matrix it was fitted on) that the model uses.
    pub features: Vec<usize>,
    /// Training means of those columns.
    pub means: Vec<f64>,
    /// Training scales (population standard deviations) of those columns.
    pub scales: Vec<f64>,
    /// Coefficients on the standardised columns.
    pub coef: Vec<f64>,
    /// Intercept (the training mean of the target for centred fits).
    pub intercept: f64,
    /// The chosen penalty (ridge lambda or elastic-net alpha), if any.
    pub penalty: Option<f64>,
}

impl LinearModel {
    /// Predict from a full feature row (indexed like the training matrix).
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        self.predict_with(|j| row[j])
    }

    /// Predict from a lookup `feature index -> value`.
    pub fn predict_with(&self, get: impl Fn(usize) -> f64) -> f64 {
        let mut s = self.intercept;
        for (t, &j) in self.features.iter().enumerate() {
            let v = get(j);
            if !v.is_nan() {
                s += self.coef[t] * (v - self.means[t]) / self.scales[t];
            }
        }
        s
    }

    /// Coefficients on the original (unstandardised) feature scale, and the matching intercept.
    pub fn raw_coefficients(&self) -> (Vec<f64>, f64) {
        let raw: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.scales)
            .map(|(c, s)| c / s)
            .collect();
        let b0 = self.intercept - raw.iter().zip(&self.means).map(|(c, m)| c * m).sum::<f64>();
        (raw, b0)
    }
}

/// Fit `method` on the rows of `x` (n x p) and `y`. `seed` drives any inner random split.
pub fn fit(method: &Method, x: &Mat, y: &[f64], seed: u64) -> Result<LinearModel, ModelError> {
    let n = y.len();
    let ym = y.iter().sum::<f64>() / n as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - ym).collect();
    if let Method::Mean = method {
        return Ok(LinearModel {
            features: vec![],
            means: vec![],
            scales: vec![],
            coef: vec![],
            intercept: ym,
            penalty: None,
        });
    }
    let scaler = Scaler::fit(x, true);
    let usable: Vec<usize> = (0..x.cols).filter(|&j| scaler.usable(j)).collect();
    // standardise with each column's own statistics, then keep the usable columns (the scaler
    // is indexed by the columns of `x`)
    let z = scaler.transform(x).select_cols(&usable);
    let pick = |idx: &[usize]| -> (Vec<usize>, Vec<f64>, Vec<f64>) {
        (
            idx.iter().map(|&t| usable[t]).collect(),
            idx.iter().map(|&t| scaler.means[usable[t]]).collect(),
            idx.iter().map(|&t| scaler.scales[usable[t]]).collect(),
        )
    };
    match *method {
        Method::Mean => unreachable!(),
        Method::OlsSubset { k } => {
            if usable.len() < k {
                return Err(ModelError::TooFewFeatures {
                    k,
                    usable: usable.len(),
                });
            }
            let gram = Gram::new(&z, &yc);
            let best = subset::best_subset(&gram, k).ok_or(ModelError::NoFullRankSubset(k))?;
            // Refit the chosen columns by QR for accuracy.
            let f = ols::fit(&z.select_cols(&best.features), y)?;
            let (features, means, scales) = pick(&best.features);
            Ok(LinearModel {
                features,
                means,
                scales,
                coef: f.coef,
                intercept: f.intercept,
                penalty: None,
            })
        }
        Method::Ridge => {
            let (lam, f) = ridge::choose_penalty(&z, &yc, &ridge::default_grid())?;
            let all: Vec<usize> = (0..usable.len()).collect();
            let (features, means, scales) = pick(&all);
            Ok(LinearModel {
                features,
                means,
                scales,
                coef: f.coef,
                intercept: ym,
                penalty: Some(lam),
            })
        }
        Method::Enet { l1_ratio } => {
            let (alpha, b) = enet::fit_cv(&z, &yc, l1_ratio, 5, seed)?;
            let nz: Vec<usize> = (0..b.len()).filter(|&t| b[t] != 0.0).collect();
            let (features, means, scales) = pick(&nz);
            Ok(LinearModel {
                features,
                means,
                scales,
                coef: nz.iter().map(|&t| b[t]).collect(),
                intercept: ym,
                penalty: Some(alpha),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_model_recovers_a_planted_linear_relation_on_the_raw_scale() {
        let rows: Vec<Vec<f64>> = (0..12)
            .map(|i| {
                let t = i as f64;
                vec![t, (t * 1.7).sin(), (t * 0.3).cos() * 5.0, 3.0]
            })
            .collect();
        let x = Mat::from_rows(&rows);
        let y: Vec<f64> = rows.iter().map(|r| 2.0 + 0.5 * r[0] - 1.5 * r[1]).collect();
        let m = fit(&Method::OlsSubset { k: 2 }, &x, &y, 0).unwrap();
        assert_eq!(m.features, vec![0, 1]);
        let (raw, b0) = m.raw_coefficients();
        assert!((raw[0] - 0.5).abs() < 1e-10 && (raw[1] + 1.5).abs() < 1e-10);
        assert!((b0 - 2.0).abs() < 1e-10);
        assert!((m.predict_row(&[20.0, 0.1, 0.0, 3.0]) - (2.0 + 10.0 - 0.15)).abs() < 1e-9);
    }

    /// A constant column before the varying ones changes nothing: every method fits and
    /// predicts as without it (each column is standardised with its own statistics; a
    /// regression test: the scaler was once applied to the selected columns by position).
    #[test]
    fn a_constant_column_before_the_others_changes_no_fit() {
        let rows: Vec<Vec<f64>> = (0..14)
            .map(|i| {
                let t = i as f64;
                vec![t, (t * 1.7).sin() * 3.0 + 10.0, (t * 0.3).cos() * 5.0 - 2.0]
            })
            .collect();
        let y: Vec<f64> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| 2.0 + 0.5 * r[0] - 1.5 * r[1] + 0.3 * ((i * 7) % 5) as f64)
            .collect();
        let with: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| std::iter::once(7.0).chain(r.iter().copied()).collect())
            .collect();
        let (x, xc) = (Mat::from_rows(&rows), Mat::from_rows(&with));
        for m in [
            Method::OlsSubset { k: 2 },
            Method::Ridge,
            Method::Enet { l1_ratio: 0.5 },
        ] {
            let (a, b) = (fit(&m, &x, &y, 0).unwrap(), fit(&m, &xc, &y, 0).unwrap());
            assert_eq!(
                a.features.iter().map(|j| j + 1).collect::<Vec<_>>(),
                b.features,
                "{m:?}"
            );
            for (r, rc) in rows.iter().zip(&with) {
                let (pa, pb) = (a.predict_row(r), b.predict_row(rc));
                assert!((pa - pb).abs() < 1e-9, "{m:?}: {pa} vs {pb}");
            }
        }
        // and the subset model's in-sample fit is the least-squares fit of its columns
        let m = fit(&Method::OlsSubset { k: 2 }, &xc, &y, 0).unwrap();
        let fitted: Vec<f64> = with.iter().map(|r| m.predict_row(r)).collect();
        let mean_res = y.iter().zip(&fitted).map(|(a, b)| a - b).sum::<f64>() / y.len() as f64;
        assert!(mean_res.abs() < 1e-9, "{mean_res}");
    }

    #[test]
    fn subset_model_refuses_k_above_the_number_of_varying_features() {
        let x = Mat::from_rows(&[
            vec![1.0, 5.0],
            vec![2.0, 5.0],
            vec![3.0, 5.0],
            vec![4.0, 5.0],
        ]);
        let e = fit(&Method::OlsSubset { k: 2 }, &x, &[1.0, 2.0, 3.0, 5.0], 0).unwrap_err();
        assert_eq!(e, ModelError::TooFewFeatures { k: 2, usable: 1 });
    }
}
