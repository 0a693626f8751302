//! The seed paper's protocol (Zhu et al., EMNLP 2022), reproduced exactly: drop constant
//! columns, search all k-subsets for the OLS fit (with intercept) of lowest **in-sample** RMSE
//! (`sqrt(mean squared residual)`), and compare with OLS on k columns drawn from N(0, 0.1).
//! These errors are measured on the rows that chose the subset: they are not estimates of
//! error on new checkpoints.

use super::honest::noise_matrix;
use super::linalg::{Mat, Scaler};
use super::model::{self, LinearModel, Method, ModelError};
use super::ols;

/// The result of the paper protocol for one target.
#[derive(Debug, Clone)]
pub struct PaperResult {
    /// Chosen column indices (into the full feature matrix).
    pub features: Vec<usize>,
    /// In-sample RMSE of the chosen subset.
    pub rmse: f64,
    /// Mean in-sample RMSE of OLS on k N(0, 0.1) columns over the draws.
    pub noise_mean: f64,
    /// In-sample RMSE of the single noise draw made with the seed itself.
    pub noise_seed: f64,
    /// `(noise_mean - rmse) / noise_mean * 100`.
    pub reduction_pct: f64,
    /// The same against the single seeded draw.
    pub reduction_pct_seed: f64,
    /// The OLS model on the chosen subset (all rows).
    pub model: LinearModel,
    /// In-sample fitted values.
    pub fitted: Vec<f64>,
    /// Number of constant columns dropped before the search.
    pub dropped_constant: usize,
    /// Number of non-constant columns searched.
    pub searched_columns: usize,
}

/// Run the paper protocol with subset size `k`, `noise_draws` draws (seeds `seed`,
/// `seed + 1`, ...; the first one is "the single draw for the seed").
pub fn evaluate(
    x: &Mat,
    y: &[f64],
    k: usize,
    noise_draws: usize,
    seed: u64,
) -> Result<PaperResult, ModelError> {
    let n = y.len();
    let scaler = Scaler::fit(x, true);
    let usable = (0..x.cols).filter(|&j| scaler.usable(j)).count();
    let model = model::fit(&Method::OlsSubset { k }, x, y, seed)?;
    let fitted: Vec<f64> = (0..n).map(|i| model.predict_row(x.row(i))).collect();
    let rmse = crate::stats::rmse(y, &fitted);
    let draws = noise_draws.max(1);
    let mut noise = Vec::with_capacity(draws);
    for d in 0..draws {
        let xn = noise_matrix(n, k, 0.1, seed.wrapping_add(d as u64));
        noise.push(ols::fit(&xn, y)?.rmse());
    }
    let noise_mean = noise.iter().sum::<f64>() / draws as f64;
    Ok(PaperResult {
        features: model.features.clone(),
        rmse,
        noise_mean,
        noise_seed: noise[0],
        reduction_pct: (noise_mean - rmse) / noise_mean * 100.0,
        reduction_pct_seed: (noise[0] - rmse) / noise[0] * 100.0,
        model,
        fitted,
        dropped_constant: x.cols - usable,
        searched_columns: usable,
    })
}
