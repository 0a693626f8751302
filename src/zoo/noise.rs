//! Gaussian noise: every weight matrix W (see [`Checkpoint::weight_matrices`]: each 2-D
//! floating-point `*.weight` tensor, the embedding tables included, tied decoders rewritten as
//! copies of the noisy word embeddings) becomes W + sigma * std(W) * Z, Z ~ N(0, 1) element-wise,
//! with std(W) the population standard deviation of that tensor's elements. Biases and
//! LayerNorm parameters are left alone.

use super::checkpoint::Checkpoint;
use super::ZooError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Population standard deviation of `v` (computed in f64).
pub fn std_of(v: &[f32]) -> f64 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Add noise of relative scale `sigma` to every weight matrix of `ck` (tensors visited in name
/// order, one ChaCha8 stream seeded with `seed`). Returns the names of the modified tensors.
pub fn add_noise(ck: &mut Checkpoint, sigma: f64, seed: u64) -> Result<Vec<String>, ZooError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names = ck.weight_matrices();
    for name in &names {
        let i = ck.index(name).expect("listed tensor");
        let mut v = ck.values(i)?;
        let s = sigma * std_of(&v);
        for x in v.iter_mut() {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            *x = (*x as f64 + s * z) as f32;
        }
        ck.set_values(i, v)?;
    }
    ck.retie()?;
    Ok(names)
}
