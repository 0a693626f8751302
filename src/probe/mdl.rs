//! MDL online codelength (Voita & Titov 2020): the training examples are sent in blocks; the
//! first block is coded with the uniform code, each later block with a probe trained on all the
//! examples before it. Codelengths are in bits.

use std::ops::Range;

/// Block boundaries of Voita & Titov, in percent of the training set.
pub const VOITA_TITOV_PERCENTS: [f64; 11] =
    [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25.0, 50.0, 100.0];

/// Online codelength of a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mdl {
    /// Online codelength in bits.
    pub codelength_bits: f64,
    /// Uniform codelength `n · log2 k` in bits.
    pub uniform_bits: f64,
    /// `uniform_bits / codelength_bits`.
    pub compression: f64,
}

/// End positions of the blocks for `n` examples: `ceil(n · p / 100)` for each percentage,
/// at least 1, strictly increasing (repeated positions are dropped), and the last one `n`.
pub fn block_ends(n: usize, percents: &[f64]) -> Vec<usize> {
    let mut ends: Vec<usize> = Vec::new();
    for &p in percents {
        let e = ((n as f64 * p / 100.0).ceil() as usize).clamp(1, n);
        if ends.last().is_none_or(|&l| e > l) {
            ends.push(e);
        }
    }
    if ends.last() != Some(&n) && n > 0 {
        ends.push(n);
    }
    ends
}

/// Online codelength of labels `y` (classes `0..k`) with block ends `ends` (see
/// [`block_ends`]). `fit_predict(prefix, block)` trains a probe on examples `0..prefix` and
/// returns its class probabilities for the examples in `block` (`block.len() × k`, row-major).
/// The first block is coded with the uniform code, `log2 k` bits per example.
pub fn online_codelength<F>(y: &[u32], k: usize, ends: &[usize], mut fit_predict: F) -> Mdl
where
    F: FnMut(usize, Range<usize>) -> Vec<f64>,
{
    let uniform = (k as f64).log2();
    let mut bits = 0.0;
    if let Some(&first) = ends.first() {
        bits += first as f64 * uniform;
    }
    for w in ends.windows(2) {
        let (start, end) = (w[0], w[1]);
        let p = fit_predict(start, start..end);
        assert_eq!(p.len(), (end - start) * k, "probabilities of the block");
        for (row, &yi) in p.chunks(k).zip(&y[start..end]) {
            bits -= row[yi as usize].max(f64::MIN_POSITIVE).log2();
        }
    }
    let uniform_bits = y.len() as f64 * uniform;
    Mdl {
        codelength_bits: bits,
        uniform_bits,
        compression: if bits > 0.0 {
            uniform_bits / bits
        } else {
            f64::INFINITY
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_a_small_set_start_at_one_example_and_end_at_all_of_them() {
        assert_eq!(
            block_ends(1000, &VOITA_TITOV_PERCENTS),
            vec![1, 2, 4, 8, 16, 32, 63, 125, 250, 500, 1000]
        );
        assert_eq!(block_ends(10, &VOITA_TITOV_PERCENTS), vec![1, 2, 3, 5, 10]);
    }
}
