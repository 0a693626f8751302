//! Small dense helpers on row-major slices: matrix products through the `gemm` crate (AVX-512
//! kernels where the CPU has them) and a borrowed matrix view.

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

/// `c (m×n) = op(a) · op(b)` with `op(a)(r, d) = a[r * a_rs + d * a_cs]` and
/// `op(b)(d, j) = b[d * b_rs + j * b_cs]`; `c` row-major. The callers below fix the strides for
/// plain and transposed row-major operands and check the slice lengths.
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
            false,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            T::ZERO,
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
    gemm_strided(m, k, n, a, (k, 1), b, (n, 1), c, threads)
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
    gemm_strided(m, k, n, a, (1, m), b, (n, 1), c, threads)
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
    gemm_strided(m, k, n, a, (k, 1), b, (1, k), c, threads)
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
}
