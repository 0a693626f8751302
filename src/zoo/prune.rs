//! Global magnitude pruning of the transformer blocks' linear layers (query, key, value,
//! attention output, feed-forward in and out of every layer; embeddings, pooler, heads, biases
//! and LayerNorms are kept): the `round(sparsity * N)` weights of smallest magnitude over all of
//! them together are set to zero. Ties at the threshold are broken by position (layer order,
//! then the order of [`Checkpoint::block_linear_weights`], then row-major element order), so the
//! count is exact to the element.

use super::checkpoint::Checkpoint;
use super::ZooError;

/// What pruning did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PruneStats {
    /// Weights in the pruned set.
    pub total: usize,
    /// Weights zeroed (the target count).
    pub zeroed: usize,
    /// Magnitude threshold: every weight with a smaller magnitude is zero.
    pub threshold: f32,
}

/// Prune `ck` to `sparsity` (in [0, 1)).
pub fn prune(ck: &mut Checkpoint, sparsity: f64) -> Result<PruneStats, ZooError> {
    let names = ck.block_linear_weights();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            ck.index(n)
                .ok_or_else(|| ZooError::input(&ck.weights_path, format!("missing weight {n}")))
        })
        .collect::<Result<_, _>>()?;
    let mut values: Vec<Vec<f32>> = idx
        .iter()
        .map(|&i| ck.values(i))
        .collect::<Result<_, _>>()?;
    let total: usize = values.iter().map(Vec::len).sum();
    let k = ((sparsity * total as f64).round() as usize).min(total);
    if k == 0 {
        return Ok(PruneStats {
            total,
            zeroed: 0,
            threshold: 0.0,
        });
    }
    let mut mags: Vec<f32> = values.iter().flatten().map(|x| x.abs()).collect();
    let (_, &mut t, _) = mags.select_nth_unstable_by(k - 1, |a, b| a.total_cmp(b));
    drop(mags);
    let below: usize = values.iter().flatten().filter(|x| x.abs() < t).count();
    let mut ties_left = k - below;
    for v in values.iter_mut() {
        for x in v.iter_mut() {
            let a = x.abs();
            if a < t {
                *x = 0.0;
            } else if a == t && ties_left > 0 {
                *x = 0.0;
                ties_left -= 1;
            }
        }
    }
    for (&i, v) in idx.iter().zip(values) {
        ck.set_values(i, v)?;
    }
    Ok(PruneStats {
        total,
        zeroed: k,
        threshold: t,
    })
}
