//! Small dense helpers on row-major slices: a borrowed matrix view, vectorisable exp/log and
//! column standardisation; the matrix products live in [`crate::kernels::dense`] (re-exported here).

/// A borrowed row-major `n × dim` matrix of `f32` (one example per row).
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Row-major values, `n * dim` of them.
    pub data: &'a [f32],
    /// Number of rows (examples).
    pub n: usize,
    /// Number of columns (feature dimension).
    pub dim: usize,
}

impl<'a> MatRef<'a> {
    /// Wrap `data` as an `n × dim` matrix. Panics if the length does not match.
    pub fn new(data: &'a [f32], n: usize, dim: usize) -> Self {
        assert_eq!(data.len(), n * dim, "matrix data length must be n * dim");
        MatRef { data, n, dim }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Copy the rows `idx` (in that order) into a new row-major buffer.
    pub fn gather(&self, idx: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            out.extend_from_slice(self.row(i));
        }
        out
    }
}

pub use crate::kernels::dense::{matmul, matmul_nt, matmul_tn, Real};

/// e^x for x ≤ 0 in `f64` (clamped below at -708), branch-free and without `f64 → i64`
/// conversions, so that a loop over it vectorises with AVX2 (4 lanes). Cody–Waite reduction
/// x = n ln2 + r with |r| ≤ ln2/2 (fdlibm's split of ln2), a degree-12 Taylor polynomial for e^r
/// (truncation error < 2e-16 relative), and 2^n assembled from the exponent bits. Relative
/// error about 1e-15: the objective is as exact as with libm's `exp`.
#[inline(always)]
pub fn exp_nonpos_f64(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let x = if x > -708.0 { x } else { -708.0 };
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 479_001_600.0; // 1/12!
    for d in [
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    // The low bits of t hold n (two's complement): 2^n = bits (n + 1023) << 52.
    let nb = t.to_bits().wrapping_sub(MAGIC.to_bits());
    p * f64::from_bits(nb.wrapping_add(1023) << 52)
}

/// Natural logarithm of a positive normal `f64`, branch-free and vectorisable like
/// [`exp_nonpos_f64`]: x = 2^e m with m in [√½, √2), ln m = 2 atanh(s), s = (m-1)/(m+1),
/// |s| ≤ 0.172, by its series to s²³ (truncation < 1e-17). Relative error about 1e-15 away
/// from x = 1 (absolute about 1e-16 near it).
#[inline(always)]
pub fn ln_pos_f64(x: f64) -> f64 {
    const MANT: u64 = (1 << 52) - 1;
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let bits = x.to_bits();
    let m1 = f64::from_bits((bits & MANT) | ONE); // [1, 2)
    let big = m1 > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m1 } else { m1 };
    // unbiased exponent as f64 without an i64 -> f64 conversion
    let ebits = (bits >> 52) + u64::from(big);
    let e = f64::from_bits(ebits | TWO52.to_bits()) - TWO52 - 1023.0;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 23.0;
    for d in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = p * s2 + 1.0 / d;
    }
    e * std::f64::consts::LN_2 + 2.0 * s * p
}

/// Column means and standard deviations (population, as numpy's default) of `x`.
/// Constant columns get a standard deviation of 1 so that standardising leaves them at 0.
pub fn column_stats(x: MatRef) -> (Vec<f32>, Vec<f32>) {
    let mut mean = vec![0f64; x.dim];
    for i in 0..x.n {
        for (m, &v) in mean.iter_mut().zip(x.row(i)) {
            *m += v as f64;
        }
    }
    let n = x.n.max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; x.dim];
    for i in 0..x.n {
        for ((s, &v), m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
            let d = v as f64 - m;
            *s += d * d;
        }
    }
    let sd = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-12 {
                sd as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), sd)
}

/// Standardise the rows of `data` (row-major, `dim` wide) in place: `(v - mean) / sd`.
pub fn standardize(data: &mut [f32], dim: usize, mean: &[f32], sd: &[f32]) {
    for row in data.chunks_mut(dim) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(sd) {
            *v = (*v - m) / s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectorisable_exp_and_log_match_libm() {
        use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};
        for i in 0..=70_800 {
            let x = (-(i as f64) / 100.0 - 1e-3 * (i % 7) as f64).max(-708.0);
            let (a, e) = (exp_nonpos_f64(x), x.exp());
            assert!(((a - e) / e).abs() < 4e-15, "exp({x}): {a} vs {e}");
        }
        assert_eq!(exp_nonpos_f64(0.0), 1.0);
        for i in 0..=20_000 {
            let x = 1.0 + i as f64 * 3.1e-3 + 1e-9 * i as f64;
            let (a, l) = (ln_pos_f64(x), x.ln());
            assert!(
                (a - l).abs() <= 4e-16 + 2e-15 * l.abs(),
                "ln({x}): {a} vs {l}"
            );
        }
        for x in [
            1e-300,
            1e-20,
            0.3,
            FRAC_1_SQRT_2 - 1e-9,
            FRAC_1_SQRT_2 + 1e-9,
            1.0,
            SQRT_2 - 1e-9,
            SQRT_2 + 1e-9,
            2.0,
            1e10,
        ] {
            let (a, l) = (ln_pos_f64(x), f64::ln(x));
            assert!(
                (a - l).abs() <= 4e-16 + 2e-15 * l.abs(),
                "ln({x}): {a} vs {l}"
            );
        }
    }
}
