//! Layer aggregation: an estimator over every hidden state of an encoder (k = 0 is the
//! embedding output, k = 1..=L the transformer layers), as TransformerRanker does:
//!
//! - [`LayerAgg::Mean`] ("layermean"): the features averaged over all hidden states, element by
//!   element, then scored once;
//! - [`LayerAgg::Best`] ("bestlayer"): every hidden state scored, the highest score kept (ties
//!   to the lower layer);
//! - [`LayerAgg::Last`]: the last hidden state only.
//!
//! Several layers are scored in parallel, one per thread, each score's products on that thread.

use super::{check_finite, score, Estimator, EstimatorOptions, Score, Target, TransferError};
use crate::encoder::PooledFeatures;
use crate::learn::MatRef;
use rayon::prelude::*;

/// How the hidden states are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerAgg {
    /// Features averaged over the hidden states.
    Mean,
    /// The best-scoring hidden state.
    Best,
    /// The last hidden state.
    Last,
}

impl LayerAgg {
    /// Its name (`mean`, `best`, `last`).
    pub fn name(self) -> &'static str {
        match self {
            LayerAgg::Mean => "mean",
            LayerAgg::Best => "best",
            LayerAgg::Last => "last",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<LayerAgg> {
        [LayerAgg::Mean, LayerAgg::Best, LayerAgg::Last]
            .into_iter()
            .find(|a| a.name() == s.trim())
    }
}

/// The outcome of [`score_layers`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerResult {
    /// The aggregated score.
    pub score: Score,
    /// The hidden state it came from (`None` for the layer mean).
    pub best_layer: Option<usize>,
    /// Every hidden state's score (`Best` only; empty otherwise).
    pub per_layer: Vec<Score>,
}

/// Check every hidden state for NaN and infinities.
pub fn check_features(f: &PooledFeatures) -> Result<(), TransferError> {
    for (k, l) in f.layers.iter().enumerate() {
        check_finite(MatRef::new(l, f.n, f.dim), k)?;
    }
    Ok(())
}

/// The element-wise mean of the hidden states (summed in f64).
pub fn layer_mean(f: &PooledFeatures) -> Vec<f32> {
    let mut acc = vec![0f64; f.n * f.dim];
    for l in &f.layers {
        acc.iter_mut().zip(l).for_each(|(a, &v)| *a += v as f64);
    }
    let inv = 1.0 / f.layers.len() as f64;
    acc.iter().map(|&a| (a * inv) as f32).collect()
}

/// Score the hidden states `which` of `f`, in parallel over them. Each estimator keeps every
/// thread inside a layer as well (rayon nests the two), so an odd number of layers still
/// balances over the cores.
pub fn score_each(
    est: Estimator,
    f: &PooledFeatures,
    which: &[usize],
    target: &Target,
    opts: &EstimatorOptions,
) -> Result<Vec<Score>, TransferError> {
    let one = |&k: &usize| score(est, MatRef::new(&f.layers[k], f.n, f.dim), target, opts);
    if which.len() > 1 && opts.threads > 1 {
        which.par_iter().with_max_len(1).map(one).collect()
    } else {
        which.iter().map(one).collect()
    }
}

/// Score `f` against `target` with `est`, aggregating the hidden states by `agg`.
pub fn score_layers(
    est: Estimator,
    f: &PooledFeatures,
    target: &Target,
    agg: LayerAgg,
    opts: &EstimatorOptions,
) -> Result<LayerResult, TransferError> {
    check_features(f)?;
    let last = f.layers.len() - 1;
    match agg {
        LayerAgg::Mean => {
            let m = layer_mean(f);
            let s = score(est, MatRef::new(&m, f.n, f.dim), target, opts)?;
            Ok(LayerResult {
                score: s,
                best_layer: None,
                per_layer: Vec::new(),
            })
        }
        LayerAgg::Last => {
            let s = score_each(est, f, &[last], target, opts)?;
            Ok(LayerResult {
                score: s[0],
                best_layer: Some(last),
                per_layer: Vec::new(),
            })
        }
        LayerAgg::Best => {
            let all: Vec<usize> = (0..=last).collect();
            let per = score_each(est, f, &all, target, opts)?;
            let mut best = 0;
            for (k, s) in per.iter().enumerate() {
                if s.value > per[best].value {
                    best = k;
                }
            }
            Ok(LayerResult {
                score: per[best],
                best_layer: Some(best),
                per_layer: per,
            })
        }
    }
}
