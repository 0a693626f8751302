//! Symmetric per-output-channel fake quantisation of the transformer blocks' linear layers (the
//! set that [`super::prune`] uses): each row r of a weight [out, in] gets the scale
//! s_r = max|W_r| / (2^(b-1) - 1), every weight becomes round(w / s_r) * s_r with the integer
//! clamped to ±(2^(b-1) - 1) (round half away from zero), and is stored back as a float in the
//! source dtype, so every loader reads it. A row's largest magnitude is preserved exactly; a row
//! of zeros stays zero. For f16/bf16 sources the stored values are the grid points rounded to
//! that dtype. XLNet's per-head projections are stored [hidden, heads, d]: `q`, `k`, `v` are
//! [in, out] and are quantised per output channel through their transpose
//! ([`Checkpoint::linear_layout`]), `o` is [out, in] as it is.

use super::checkpoint::Checkpoint;
use super::ZooError;

/// Bit widths accepted by `--quantize` (`int2` ... `int8`).
pub fn parse_bits(s: &str) -> Result<u32, ZooError> {
    let b = s
        .trim()
        .strip_prefix("int")
        .and_then(|b| b.parse::<u32>().ok())
        .filter(|b| (2..=8).contains(b));
    b.ok_or_else(|| {
        ZooError::option(
            "--quantize",
            format!("unknown quantisation {s:?} (expected int2 ... int8, e.g. int8,int4)"),
        )
    })
}

/// Quantise one row in place to `qmax = 2^(bits-1) - 1` levels each side.
pub fn quantize_row(row: &mut [f32], qmax: f64) {
    let m = row.iter().fold(0f32, |a, &x| a.max(x.abs())) as f64;
    if m == 0.0 {
        return;
    }
    let s = m / qmax;
    for x in row.iter_mut() {
        let q = (*x as f64 / s).round().clamp(-qmax, qmax);
        *x = (q * s) as f32;
    }
}

/// Fake-quantise `ck` to `bits` bits.
pub fn quantize(ck: &mut Checkpoint, bits: u32) -> Result<(), ZooError> {
    let qmax = ((1u32 << (bits - 1)) - 1) as f64;
    for n in ck.block_linear_weights() {
        let i = ck
            .index(&n)
            .ok_or_else(|| ZooError::input(&ck.weights_path, format!("missing weight {n}")))?;
        let (rows, cols, transposed) = ck.linear_layout(i);
        let mut v = ck.values(i)?;
        if transposed {
            v = transpose(&v, cols, rows);
        }
        for row in v.chunks_mut(cols) {
            quantize_row(row, qmax);
        }
        if transposed {
            v = transpose(&v, rows, cols);
        }
        ck.set_values(i, v)?;
    }
    Ok(())
}

/// The transpose of the row-major `rows × cols` matrix `v`.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = v[r * cols + c];
        }
    }
    t
}
