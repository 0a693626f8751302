//! Inner products of rows quantised to 16-bit integers, summed exactly in 32-bit integers
//! with AVX-512 VNNI (`vpdpwssd`: 32 multiply-adds per instruction, twice an f32 FMA's 16).
//!
//! A row-major `n × d` f32 matrix `x` becomes `x ≈ Δ q` with one scale `Δ = max|x| / qmax`
//! and `q = round(x / Δ)`, where `qmax = ⌊√((2³¹ − 1) / d)⌋` (at most 32,767) so that no sum
//! of `d` products `|q_i q_j| ≤ qmax²` can overflow: the integer inner products are exact.
//! What is lost is only the rounding of `x` to `Δ q`; the caller bounds it (e.g. `knn`, which
//! re-ranks the few pairs that the bound cannot separate). [`Quantized::available`] says
//! whether this CPU has the instructions; without them there is no product here (the caller
//! keeps its f32 route). [`row_stats`] gives the norms that the caller's bound needs.

/// Columns per packed strip: two 16-lane vectors of 32-bit sums.
pub const STRIP: usize = 32;

/// Rows of `x` quantised to `i16`, with the rows also packed as column strips for the
/// products.
#[derive(Debug, Clone)]
pub struct Quantized {
    n: usize,
    dim: usize,
    /// Pairs of coordinates per row (`⌈d / 2⌉`; an odd `d` is padded with a zero).
    pairs: usize,
    scale: f64,
    /// `n × 2·pairs`, row-major.
    q: Vec<i16>,
    /// Strip `s` (rows `32 s .. 32 s + 32`, zero rows past `n`): for each pair `p`, the 32
    /// rows' coordinates `2p, 2p + 1` as one `i32` each (`pairs × 32` per strip).
    packed: Vec<i32>,
}

/// Two `i16` as the `i32` that `vpdpwssd` reads (low half first).
fn pair(a: i16, b: i16) -> i32 {
    (a as u16 as u32 | ((b as u16 as u32) << 16)) as i32
}

impl Quantized {
    /// Whether this CPU runs the products (AVX-512 F, BW and VNNI).
    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// The largest `|q|` for width `d`: `d · qmax² < 2³¹`.
    pub fn qmax(d: usize) -> i32 {
        let q = (((i32::MAX as f64) / d.max(1) as f64).sqrt()).floor() as i64;
        q.clamp(1, i16::MAX as i64) as i32
    }

    /// Quantise the `n × d` row-major `x` (finite values).
    pub fn new(x: &[f32], n: usize, d: usize) -> Quantized {
        assert!(x.len() >= n * d && d > 0);
        let qmax = Self::qmax(d);
        let amax = abs_max(&x[..n * d]) as f64;
        let scale = if amax > 0.0 { amax / qmax as f64 } else { 1.0 };
        let pairs = d.div_ceil(2);
        let w = 2 * pairs;
        let mut q = vec![0i16; n * w];
        let inv = (1.0 / scale) as f32;
        for (row, out) in x[..n * d].chunks_exact(d).zip(q.chunks_exact_mut(w)) {
            quantize_row(row, inv, qmax, out);
        }
        let strips = n.div_ceil(STRIP);
        let mut packed = vec![0i32; strips * pairs * STRIP];
        for s in 0..strips {
            let base = s * pairs * STRIP;
            let rows: Vec<&[i16]> = (s * STRIP..((s + 1) * STRIP).min(n))
                .map(|r| &q[r * w..(r + 1) * w])
                .collect();
            for (p, out) in packed[base..base + pairs * STRIP]
                .chunks_exact_mut(STRIP)
                .enumerate()
            {
                for (o, row) in out.iter_mut().zip(&rows) {
                    *o = pair(row[2 * p], row[2 * p + 1]);
                }
            }
        }
        Quantized {
            n,
            dim: d,
            pairs,
            scale,
            q,
            packed,
        }
    }

    /// The scale `Δ` (`x ≈ Δ q`).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Row `i` of `q` (`d` values).
    pub fn row(&self, i: usize) -> &[i16] {
        let w = 2 * self.pairs;
        &self.q[i * w..i * w + self.dim]
    }

    /// `c[t · cols.len() + u] = fl32(fl32(Δ²) · fl32(q_{rows.start + t} · q_{cols.start + u}))`
    /// for every row `t` of `rows` and column `u` of `cols`: the exact integer inner products,
    /// converted to f32 and scaled (two f32 roundings). `cols.start` must be a multiple of
    /// [`STRIP`]. Panics unless [`Quantized::available`].
    pub fn products(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        c: &mut [f32],
    ) {
        assert!(Self::available(), "no AVX-512 VNNI on this CPU");
        assert!(rows.end <= self.n && cols.end <= self.n && cols.start.is_multiple_of(STRIP));
        assert!(c.len() >= rows.len() * cols.len());
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (checked above); the ranges are within the
        // matrices and `c` holds rows.len() × cols.len() values (checked above).
        unsafe {
            products_vnni(self, rows, cols, c, (self.scale * self.scale) as f32)
        }
    }
}

/// The largest `|v|` (0 for an empty slice), in sixteen lanes.
fn abs_max(x: &[f32]) -> f32 {
    crate::util::avx2_or!(abs_max_avx2, abs_max_impl; x)
}

#[inline(always)]
fn abs_max_impl(x: &[f32]) -> f32 {
    let mut m = [0f32; 16];
    let c = x.chunks_exact(16);
    let tail = c.remainder().iter().fold(0f32, |a, v| a.max(v.abs()));
    for v in c {
        for l in 0..16 {
            m[l] = m[l].max(v[l].abs());
        }
    }
    m.iter().fold(tail, |a, &v| a.max(v))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn abs_max_avx2(x: &[f32]) -> f32 {
    abs_max_impl(x)
}

/// `out[k] = clamp(round(row[k] · inv), ±qmax)` (rounded to nearest in f32; `out` may be
/// longer than `row`: the rest is left at zero).
fn quantize_row(row: &[f32], inv: f32, qmax: i32, out: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    if Quantized::available() {
        // SAFETY: the CPU has the features; the loop stays within `row` and `out`.
        unsafe { quantize_row_avx512(row, inv, qmax, out) };
        return;
    }
    for (&v, o) in row.iter().zip(out.iter_mut()) {
        *o = ((v * inv).round_ties_even() as i32).clamp(-qmax, qmax) as i16;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_avx512(row: &[f32], inv: f32, qmax: i32, out: &mut [i16]) {
    use std::arch::x86_64::*;
    let (vinv, hi, lo) = (
        _mm512_set1_ps(inv),
        _mm512_set1_epi32(qmax),
        _mm512_set1_epi32(-qmax),
    );
    let d = row.len();
    let mut k = 0;
    while k + 16 <= d {
        let v = _mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(k)), vinv);
        // the default rounding mode: to nearest, ties to even
        let t = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(v), hi), lo);
        _mm256_storeu_si256(
            out.as_mut_ptr().add(k) as *mut __m256i,
            _mm512_cvtepi32_epi16(t),
        );
        k += 16;
    }
    for j in k..d {
        out[j] = ((row[j] * inv).round_ties_even() as i32).clamp(-qmax, qmax) as i16;
    }
}

/// Per row of `x` and its quantisation `q` (scale `s`), summed in f64: `‖x_i‖²`,
/// `‖x_i − s q_i‖²` and `‖q_i‖²`.
pub fn row_stats(x: &[f32], qz: &Quantized) -> Vec<[f64; 3]> {
    let d = qz.dim;
    (0..qz.n)
        .map(|i| {
            let row = &x[i * d..(i + 1) * d];
            let q = qz.row(i);
            #[cfg(target_arch = "x86_64")]
            if Quantized::available() {
                // SAFETY: the CPU has the features; both rows hold d values.
                return unsafe { row_stats_avx512(row, q, qz.scale) };
            }
            row_stats_generic(row, q, qz.scale)
        })
        .collect()
}

fn row_stats_generic(row: &[f32], q: &[i16], s: f64) -> [f64; 3] {
    let mut acc = [0f64; 3];
    for (&v, &q) in row.iter().zip(q) {
        let (v, q) = (v as f64, q as f64);
        let e = v - s * q;
        acc[0] += v * v;
        acc[1] += e * e;
        acc[2] += q * q;
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn row_stats_avx512(row: &[f32], q: &[i16], s: f64) -> [f64; 3] {
    use std::arch::x86_64::*;
    let d = row.len();
    let vs = _mm512_set1_pd(s);
    let (mut a, mut b, mut c) = (
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
    );
    let mut k = 0;
    while k + 8 <= d {
        let v = _mm512_cvtps_pd(_mm256_loadu_ps(row.as_ptr().add(k)));
        let qi = _mm256_cvtepi16_epi32(_mm_loadu_si128(q.as_ptr().add(k) as *const __m128i));
        let qv = _mm512_cvtepi32_pd(qi);
        let e = _mm512_sub_pd(v, _mm512_mul_pd(vs, qv));
        a = _mm512_fmadd_pd(v, v, a);
        b = _mm512_fmadd_pd(e, e, b);
        c = _mm512_fmadd_pd(qv, qv, c);
        k += 8;
    }
    let mut acc = [
        _mm512_reduce_add_pd(a),
        _mm512_reduce_add_pd(b),
        _mm512_reduce_add_pd(c),
    ];
    let tail = row_stats_generic(&row[k..], &q[k..], s);
    for (x, t) in acc.iter_mut().zip(tail) {
        *x += t;
    }
    acc
}

/// Rows of `q` per micro-tile (each against one strip of 32 columns: 16 accumulators).
#[cfg(target_arch = "x86_64")]
const MR: usize = 8;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn products_vnni(
    qz: &Quantized,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    c: &mut [f32],
    s2: f32,
) {
    use std::arch::x86_64::*;
    let m = cols.len();
    let w = 2 * qz.pairs;
    let scale = _mm512_set1_ps(s2);
    for (u0, strip) in (cols.start..cols.end)
        .step_by(STRIP)
        .zip(cols.start / STRIP..)
    {
        let b = qz.packed.as_ptr().add(strip * qz.pairs * STRIP);
        let width = (cols.end - u0).min(STRIP);
        let mask_lo: __mmask16 = if width >= 16 {
            0xffff
        } else {
            (1u32 << width) as u16 - 1
        };
        let mask_hi: __mmask16 = if width >= 32 {
            0xffff
        } else if width > 16 {
            (1u32 << (width - 16)) as u16 - 1
        } else {
            0
        };
        let mut r0 = rows.start;
        while r0 < rows.end {
            let h = (rows.end - r0).min(MR);
            let mut acc = [_mm512_setzero_si512(); 2 * MR];
            // rows beyond h repeat row r0 (their sums are computed and dropped)
            let a: [*const i32; MR] =
                std::array::from_fn(|t| qz.q.as_ptr().add((r0 + t.min(h - 1)) * w) as *const i32);
            for p in 0..qz.pairs {
                let b0 = _mm512_loadu_si512(b.add(p * STRIP) as *const _);
                let b1 = _mm512_loadu_si512(b.add(p * STRIP + 16) as *const _);
                for t in 0..MR {
                    let av = _mm512_set1_epi32(a[t].add(p).read_unaligned());
                    acc[2 * t] = _mm512_dpwssd_epi32(acc[2 * t], av, b0);
                    acc[2 * t + 1] = _mm512_dpwssd_epi32(acc[2 * t + 1], av, b1);
                }
            }
            for t in 0..h {
                let out = c
                    .as_mut_ptr()
                    .add((r0 - rows.start + t) * m + (u0 - cols.start));
                let lo = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[2 * t]), scale);
                let hi = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[2 * t + 1]), scale);
                _mm512_mask_storeu_ps(out, mask_lo, lo);
                if mask_hi != 0 {
                    _mm512_mask_storeu_ps(out.add(16), mask_hi, hi);
                }
            }
            r0 += h;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn products_are_the_exact_integer_sums_scaled_in_f32() {
        if !Quantized::available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI (the products are not used here)");
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // odd width (a padded pair), rows not a multiple of the micro-tile, partial strips
        for (n, d) in [(75, 13), (40, 768), (33, 1)] {
            let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-3.0f32..3.0)).collect();
            let qz = Quantized::new(&x, n, d);
            let qmax = Quantized::qmax(d);
            assert!((d as i64) * (qmax as i64) * (qmax as i64) <= i32::MAX as i64);
            // |x - Δq| <= Δ/2 everywhere
            for i in 0..n {
                for (k, &q) in qz.row(i).iter().enumerate() {
                    let e = (x[i * d + k] as f64 - qz.scale() * q as f64).abs();
                    assert!(e <= qz.scale() * 0.5 * (1.0 + 1e-3), "{e}");
                }
            }
            // the row statistics against a plain f64 sum
            for (i, st) in row_stats(&x, &qz).iter().enumerate() {
                let want = row_stats_generic(&x[i * d..(i + 1) * d], qz.row(i), qz.scale());
                for (a, b) in st.iter().zip(want) {
                    assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{a} {b}");
                }
            }
            let s2 = (qz.scale() * qz.scale()) as f32;
            for (rows, cols) in [(0..n, 0..n), (3..n - 1, 32..n), (n - 1..n, 0..1)] {
                let mut c = vec![f32::NAN; rows.len() * cols.len()];
                qz.products(rows.clone(), cols.clone(), &mut c);
                for (t, i) in rows.clone().enumerate() {
                    for (u, j) in cols.clone().enumerate() {
                        let exact: i64 = qz
                            .row(i)
                            .iter()
                            .zip(qz.row(j))
                            .map(|(&a, &b)| a as i64 * b as i64)
                            .sum();
                        assert_eq!(c[t * cols.len() + u], s2 * exact as f32, "{i} {j}");
                    }
                }
            }
        }
        // the largest values at the widest width that keeps qmax: no overflow
        let d = 2048;
        let x = vec![-1.0f32; 2 * d];
        let qz = Quantized::new(&x, 2, d);
        let mut c = vec![0f32; 4];
        qz.products(0..2, 0..2, &mut c);
        let q = Quantized::qmax(d) as f32;
        assert_eq!(c[1], (qz.scale() * qz.scale()) as f32 * (d as f32 * q * q));
    }
}
