//! Dense matrix products on row-major slices through the `gemm` crate (its AVX2/AVX-512 kernels
//! are picked at run time), shared by the probe classifiers and the fine-tuning ops.

/// Element types the products support.
pub trait Real: Copy + Send + Sync + 'static {
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
}
impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
}
impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
}

fn par(threads: usize) -> gemm::Parallelism {
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `c (m×n) = op(a) · op(b)`, or `c += op(a) · op(b)` with `accumulate`, where
/// `op(a)(r, d) = a[r * a_rs + d * a_cs]` and `op(b)(d, j) = b[d * b_rs + j * b_cs]`; `c`
/// row-major. The callers below fix the strides for plain and transposed row-major operands and
/// check the slice lengths.
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    (a_rs, a_cs): (usize, usize),
    b: &[T],
    (b_rs, b_cs): (usize, usize),
    c: &mut [T],
    accumulate: bool,
    threads: usize,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: every operand is an m×k, k×n or m×n matrix laid out in a slice whose length is
    // checked above, and the strides given by the callers address exactly those elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            if accumulate { T::ONE } else { T::ZERO },
            T::ONE,
            false,
            false,
            false,
            par(threads),
        )
    }
}

/// `c (m×n) = a (m×k) · b (k×n)`, all row-major.
pub fn matmul<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    threads: usize,
) {
    gemm_strided(m, k, n, a, (k, 1), b, (n, 1), c, false, threads)
}

/// `c (m×n) = aᵀ · b` where `a` is `k×m` and `b` is `k×n`, all row-major.
pub fn matmul_tn<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    threads: usize,
) {
    // aᵀ(r, d) = a[d * m + r]
    gemm_strided(m, k, n, a, (1, m), b, (n, 1), c, false, threads)
}

/// `c (m×n) = a (m×k) · bᵀ` where `b` is `n×k`, all row-major.
pub fn matmul_nt<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    threads: usize,
) {
    // bᵀ(d, j) = b[j * k + d]
    gemm_strided(m, k, n, a, (k, 1), b, (1, k), c, false, threads)
}

/// `c (m×n) += a (m×k) · bᵀ` where `b` is `n×k`, all row-major (a dense layer `x Wᵀ` added to
/// `c`, which holds e.g. the broadcast bias).
pub fn matmul_nt_acc<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    threads: usize,
) {
    gemm_strided(m, k, n, a, (k, 1), b, (1, k), c, true, threads)
}

/// `c (m×n) = a (m×k) · b[:, c0..c0 + n]` where `a` is row-major and `b` is a row-major
/// `k × ld` matrix of which only the `n` columns from `c0` are used (a panel of a transposed
/// matrix, read in place). Panics when the panel runs past `b`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_panel<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    b: &[T],
    ld: usize,
    c0: usize,
    c: &mut [T],
    threads: usize,
) {
    assert!(
        c0 + n <= ld && k * ld <= b.len(),
        "panel outside the matrix"
    );
    gemm_strided(m, k, n, a, (k, 1), &b[c0..], (ld, 1), c, false, threads)
}

/// Column-block width of [`gram_lower`]: the blocks below the diagonal cost
/// `d²/2 + d·GRAM_BLOCK/2` multiply-adds per row of `a`, against `d²` for the full product.
const GRAM_BLOCK: usize = 128;

/// The lower triangle of the Gram matrix `g = aᵀa` (d × d), or `g += aᵀa` with `accumulate`,
/// where `a` is `k × d` with `a(r, j) = a[r * a_rs + j * a_cs]` and `g(i, j) = g[i * g_rs +
/// j * g_cs]`. Column block `[c, c + B)` of the lower triangle is one product `a[:, c..]ᵀ ·
/// a[:, c..c + B]` through the `gemm` crate, so about half the multiply-adds of the full
/// product are done; the diagonal blocks are computed whole, and the strict upper triangle
/// outside them is left untouched. Panics when a stride addresses past a slice.
#[allow(clippy::too_many_arguments)]
pub fn gram_lower(
    k: usize,
    d: usize,
    a: &[f64],
    (a_rs, a_cs): (usize, usize),
    g: &mut [f64],
    (g_rs, g_cs): (usize, usize),
    accumulate: bool,
    threads: usize,
) {
    if k == 0 || d == 0 {
        if !accumulate {
            for i in 0..d {
                for j in 0..=i {
                    g[i * g_rs + j * g_cs] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        (k - 1) * a_rs + (d - 1) * a_cs < a.len(),
        "gram_lower: a too short"
    );
    assert!((d - 1) * (g_rs + g_cs) < g.len(), "gram_lower: g too short");
    for c in (0..d).step_by(GRAM_BLOCK) {
        let w = GRAM_BLOCK.min(d - c);
        let m = d - c;
        // SAFETY: rows c..d and columns c..c + w of g, columns c..d of a and all k rows: every
        // address is at most the largest one checked above.
        unsafe {
            gemm::gemm(
                m,
                w,
                k,
                g.as_mut_ptr().add(c * g_rs + c * g_cs),
                g_cs as isize,
                g_rs as isize,
                accumulate,
                a.as_ptr().add(c * a_cs),
                a_rs as isize,
                a_cs as isize,
                a.as_ptr().add(c * a_cs),
                a_cs as isize,
                a_rs as isize,
                if accumulate { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                par(threads),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schoolbook product, the reference.
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        a: impl Fn(usize, usize) -> f64,
        b: impl Fn(usize, usize) -> f64,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|d| a(i, d) * b(d, j)).sum();
            }
        }
        c
    }

    #[test]
    fn products_match_the_schoolbook_definition() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2×3
        let b: Vec<f32> = (0..12).map(|v| (v as f32) * 0.5).collect(); // 3×4
        let mut c = vec![0f32; 8];
        matmul(2, 3, 4, &a, &b, &mut c, 1);
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 = (0..3).map(|d| a[i * 3 + d] * b[d * 4 + j]).sum();
                assert_eq!(c[i * 4 + j], want);
            }
        }
        // aᵀ·a' with a (3×2) viewed from the same data
        let mut t = vec![0f32; 4 * 4];
        matmul_tn(4, 3, 4, &b, &b, &mut t, 1);
        for i in 0..4 {
            for j in 0..4 {
                let want: f32 = (0..3).map(|d| b[d * 4 + i] * b[d * 4 + j]).sum();
                assert_eq!(t[i * 4 + j], want);
            }
        }
        let mut u = vec![0f32; 4];
        matmul_nt(2, 3, 2, &a, &a, &mut u, 1);
        assert_eq!(u, vec![5.0, 14.0, 14.0, 50.0]);
    }

    #[test]
    fn the_four_products_match_the_schoolbook_product() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let bt: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let ab = naive(m, k, n, |i, d| a[i * k + d], |d, j| bt[d * n + j]);
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-12);
        let mut c = vec![0.0; m * n];
        matmul(m, k, n, &a, &bt, &mut c, 1);
        assert!(close(&c, &ab));
        // b stored transposed (n×k)
        let b_nk: Vec<f64> = (0..n * k).map(|i| bt[(i % k) * n + i / k]).collect();
        matmul_nt(m, k, n, &a, &b_nk, &mut c, 2);
        assert!(close(&c, &ab));
        let mut acc = vec![1.0; m * n];
        matmul_nt_acc(m, k, n, &a, &b_nk, &mut acc, 1);
        let plus_one: Vec<f64> = ab.iter().map(|v| v + 1.0).collect();
        assert!(close(&acc, &plus_one));
        // a stored transposed (k×m)
        let a_km: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        matmul_tn(m, k, n, &a_km, &bt, &mut c, 1);
        assert!(close(&c, &ab));
    }

    #[test]
    fn gram_lower_matches_the_schoolbook_product_in_both_layouts_and_accumulates() {
        let (k, d) = (13, 2 * GRAM_BLOCK + 5);
        let x: Vec<f64> = (0..k * d).map(|i| (i as f64 * 0.37).sin()).collect();
        let want = naive(d, k, d, |i, r| x[r * d + i], |r, j| x[r * d + j]);
        for threads in [1, 2] {
            // a = x (k × d row-major) into a row-major g
            let mut g = vec![f64::NAN; d * d];
            gram_lower(k, d, &x, (d, 1), &mut g, (d, 1), false, threads);
            for i in 0..d {
                for j in 0..=i {
                    assert!((g[i * d + j] - want[i * d + j]).abs() < 1e-12, "{i} {j}");
                }
            }
            // a stored transposed (d × k, a(r, j) = xt[j * k + r]) into a column-major g, added
            let xt: Vec<f64> = (0..d * k).map(|i| x[(i % k) * d + i / k]).collect();
            let mut h = vec![1.0; d * d];
            gram_lower(k, d, &xt, (1, k), &mut h, (1, d), true, threads);
            for i in 0..d {
                for j in 0..=i {
                    assert!((h[j * d + i] - 1.0 - want[i * d + j]).abs() < 1e-12);
                }
            }
        }
    }
}
