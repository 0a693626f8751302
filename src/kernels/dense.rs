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
}
