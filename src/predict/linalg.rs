//! Small dense linear algebra on row-major `Vec<f64>` matrices: Cholesky factorisation and
//! solves, Householder QR least squares with a rank check, and column standardisation.
//!
//! Everything here is sized for the prediction stage (tens of rows, up to a few hundred
//! columns), so plain loops are fast enough and keep the numerics easy to audit.

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Mat {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row-major entries, `rows * cols` long.
    pub data: Vec<f64>,
}

impl Mat {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Mat {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Build from row slices (all of the same length).
    pub fn from_rows(rows: &[Vec<f64>]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            assert_eq!(r.len(), cols, "ragged rows");
            data.extend_from_slice(r);
        }
        Mat {
            rows: rows.len(),
            cols,
            data,
        }
    }

    /// Entry (i, j).
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Mutable entry (i, j).
    #[inline]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.data[i * self.cols + j]
    }

    /// Row `i` as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows listed in `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Mat {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Mat {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }

    /// The columns listed in `idx`, in that order.
    pub fn select_cols(&self, idx: &[usize]) -> Mat {
        let mut data = Vec::with_capacity(self.rows * idx.len());
        for i in 0..self.rows {
            let r = self.row(i);
            data.extend(idx.iter().map(|&j| r[j]));
        }
        Mat {
            rows: self.rows,
            cols: idx.len(),
            data,
        }
    }

    /// Column `j` copied out.
    pub fn col(&self, j: usize) -> Vec<f64> {
        (0..self.rows).map(|i| self.at(i, j)).collect()
    }

    /// `A'A` (cols x cols, symmetric).
    pub fn gram(&self) -> Mat {
        let p = self.cols;
        let mut g = Mat::zeros(p, p);
        for i in 0..self.rows {
            let r = self.row(i);
            for a in 0..p {
                let ra = r[a];
                if ra == 0.0 {
                    continue;
                }
                let ga = &mut g.data[a * p..(a + 1) * p];
                for b in a..p {
                    ga[b] += ra * r[b];
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                g.data[a * p + b] = g.data[b * p + a];
            }
        }
        g
    }

    /// `A A'` (rows x rows, symmetric).
    pub fn outer_gram(&self) -> Mat {
        let n = self.rows;
        let mut k = Mat::zeros(n, n);
        for a in 0..n {
            for b in a..n {
                let v = dot(self.row(a), self.row(b));
                k.data[a * n + b] = v;
                k.data[b * n + a] = v;
            }
        }
        k
    }

    /// `A' v` for a vector of length `rows`.
    pub fn t_mul_vec(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.cols];
        for (i, &vi) in v.iter().enumerate() {
            for (o, &a) in out.iter_mut().zip(self.row(i)) {
                *o += a * vi;
            }
        }
        out
    }

    /// `A v` for a vector of length `cols`.
    pub fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        (0..self.rows).map(|i| dot(self.row(i), v)).collect()
    }
}

/// Dot product.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// In-place lower Cholesky factor of a symmetric positive definite `n x n` matrix stored
/// row-major in `a` (the upper triangle is left untouched). Returns `false` when a pivot is
/// not larger than `rel_tol` times the original diagonal entry (numerically rank deficient).
pub fn cholesky_in_place(a: &mut [f64], n: usize, rel_tol: f64) -> bool {
    for j in 0..n {
        let orig = a[j * n + j];
        let mut d = orig;
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > rel_tol * orig.abs().max(f64::MIN_POSITIVE)) {
            return false;
        }
        let ljj = d.sqrt();
        a[j * n + j] = ljj;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / ljj;
        }
    }
    true
}

/// Solve `L L' x = b` given the lower Cholesky factor `l` (row-major `n x n`).
pub fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = b.to_vec();
    for i in 0..n {
        let mut s = z[i];
        for k in 0..i {
            s -= l[i * n + k] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= l[k * n + i] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
    z
}

/// Inverse of `L L'` from its lower Cholesky factor (row-major `n x n`, dense symmetric result).
pub fn cholesky_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    let mut e = vec![0.0; n];
    for j in 0..n {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        let col = cholesky_solve(l, n, &e);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    inv
}

/// Eigendecomposition of a symmetric `n x n` matrix (row-major) by cyclic Jacobi rotations.
/// Returns `(eigenvalues, eigenvectors)` with eigenvector `k` in column `k` of the row-major
/// `n x n` matrix. Accurate to a few ulps of the largest eigenvalue.
pub fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..n {
            for q in p + 1..n {
                off += a[p * n + q] * a[p * n + q];
            }
        }
        if off.sqrt() <= 1e-15 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The result of a Householder QR least-squares solve.
#[derive(Debug, Clone)]
pub struct LstsqResult {
    /// Coefficients, one per column of the design.
    pub coef: Vec<f64>,
    /// Diagonal of the hat matrix `Q Q'` (leverages), one per row.
    pub leverage: Vec<f64>,
}

/// Least squares `min ||A x - b||` by Householder QR. Fails (returns `None`) when `A` has
/// fewer rows than columns or is numerically rank deficient: some `|R_jj|` is at most
/// `1e-10` times the norm of column `j`.
pub fn lstsq_qr(a: &Mat, b: &[f64]) -> Option<LstsqResult> {
    let (n, p) = (a.rows, a.cols);
    if n < p {
        return None;
    }
    // Column-major working copy for cache-friendly Householder sweeps.
    let mut r: Vec<Vec<f64>> = (0..p).map(|j| a.col(j)).collect();
    let col_norms: Vec<f64> = r.iter().map(|c| dot(c, c).sqrt()).collect();
    let mut qtb = b.to_vec();
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(p);
    for j in 0..p {
        let x = &r[j][j..];
        let alpha = dot(x, x).sqrt();
        if !(alpha > 1e-10 * col_norms[j].max(f64::MIN_POSITIVE)) {
            return None;
        }
        let sign = if x[0] >= 0.0 { 1.0 } else { -1.0 };
        let mut v = x.to_vec();
        v[0] += sign * alpha;
        let vnorm2 = dot(&v, &v);
        // Apply H = I - 2 v v' / (v'v) to the remaining columns and to b.
        for col in r.iter_mut().skip(j) {
            let s = 2.0 * dot(&v, &col[j..]) / vnorm2;
            for (c, vi) in col[j..].iter_mut().zip(&v) {
                *c -= s * vi;
            }
        }
        let s = 2.0 * dot(&v, &qtb[j..]) / vnorm2;
        for (c, vi) in qtb[j..].iter_mut().zip(&v) {
            *c -= s * vi;
        }
        if !(r[j][j].abs() > 1e-10 * col_norms[j].max(f64::MIN_POSITIVE)) {
            return None;
        }
        vs.push(v);
    }
    // Back substitution R x = Q'b.
    let mut coef = vec![0.0; p];
    for i in (0..p).rev() {
        let mut s = qtb[i];
        for (k, rk) in r.iter().enumerate().skip(i + 1) {
            s -= rk[i] * coef[k];
        }
        coef[i] = s / r[i][i];
    }
    // Leverages: rows of the thin Q, formed by applying the reflectors to e_1..e_p.
    let mut leverage = vec![0.0; n];
    for k in 0..p {
        let mut q = vec![0.0; n];
        q[k] = 1.0;
        for (j, v) in vs.iter().enumerate().rev() {
            let vnorm2 = dot(v, v);
            let s = 2.0 * dot(v, &q[j..]) / vnorm2;
            for (c, vi) in q[j..].iter_mut().zip(v) {
                *c -= s * vi;
            }
        }
        for (l, qi) in leverage.iter_mut().zip(&q) {
            *l += qi * qi;
        }
    }
    Some(LstsqResult { coef, leverage })
}

/// Per-column centring and scaling learned on one set of rows (a training fold).
///
/// Missing values (NaN) are ignored when learning and map to the column mean (0 after
/// standardising) when applied: mean imputation that only ever sees the training rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scaler {
    /// Column means.
    pub means: Vec<f64>,
    /// Column scales (population standard deviation, or 1 when not scaling).
    pub scales: Vec<f64>,
}

impl Scaler {
    /// Learn means and (if `scale`) population standard deviations of each column of `x`.
    pub fn fit(x: &Mat, scale: bool) -> Self {
        let mut means = Vec::with_capacity(x.cols);
        let mut scales = Vec::with_capacity(x.cols);
        for j in 0..x.cols {
            let (mut s, mut c) = (0.0, 0usize);
            for i in 0..x.rows {
                let v = x.at(i, j);
                if !v.is_nan() {
                    s += v;
                    c += 1;
                }
            }
            let m = if c > 0 { s / c as f64 } else { 0.0 };
            let mut ss = 0.0;
            for i in 0..x.rows {
                let v = x.at(i, j);
                if !v.is_nan() {
                    ss += (v - m) * (v - m);
                }
            }
            let sd = if c > 0 { (ss / c as f64).sqrt() } else { 0.0 };
            means.push(m);
            scales.push(if scale { sd } else { 1.0 });
        }
        Scaler { means, scales }
    }

    /// Whether column `j` varies on the rows the scaler was learned on (scaled columns only).
    pub fn usable(&self, j: usize) -> bool {
        let s = self.scales[j];
        s.is_finite() && s > 1e-12 * self.means[j].abs().max(1e-300)
    }

    /// Transform `x`: subtract means, divide by scales; NaN and unusable columns become 0.
    pub fn transform(&self, x: &Mat) -> Mat {
        let mut out = x.clone();
        for i in 0..x.rows {
            for j in 0..x.cols {
                let v = x.at(i, j);
                let z = if v.is_nan() || !self.usable(j) {
                    0.0
                } else {
                    (v - self.means[j]) / self.scales[j]
                };
                *out.at_mut(i, j) = z;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_3x3_system() {
        // A = [[4,2,0],[2,5,1],[0,1,3]], x = [1,-1,2] -> b = A x.
        let a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let b = [2.0, -1.0, 5.0];
        let mut l = a;
        assert!(cholesky_in_place(&mut l, 3, 1e-12));
        let x = cholesky_solve(&l, 3, &b);
        for (xi, ei) in x.iter().zip([1.0, -1.0, 2.0]) {
            assert!((xi - ei).abs() < 1e-12);
        }
        let inv = cholesky_inverse(&l, 3);
        // A * inv = I
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn jacobi_eigen_reconstructs_a_symmetric_matrix() {
        let a = [4.0, 1.0, -2.0, 1.0, 3.0, 0.5, -2.0, 0.5, 5.0];
        let (d, v) = sym_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| v[i * 3 + k] * d[k] * v[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!((d.iter().sum::<f64>() - 12.0).abs() < 1e-12);
    }

    #[test]
    fn jacobi_eigen_is_accurate_on_a_rank_deficient_24x24_gram_matrix() {
        // ZZ' of a 24 x 10 matrix: rank 10, 14 zero eigenvalues (the dual ridge case)
        let mut s = 99u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let rows: Vec<Vec<f64>> = (0..24).map(|_| (0..10).map(|_| next()).collect()).collect();
        let k = Mat::from_rows(&rows).outer_gram();
        let (d, v) = sym_eigen(&k.data, 24);
        let scale = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for i in 0..24 {
            for j in 0..24 {
                let r: f64 = (0..24).map(|q| v[i * 24 + q] * d[q] * v[j * 24 + q]).sum();
                assert!((r - k.at(i, j)).abs() < 1e-12 * scale);
                let o: f64 = (0..24).map(|q| v[q * 24 + i] * v[q * 24 + j]).sum();
                assert!((o - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert_eq!(d.iter().filter(|&&x| x.abs() < 1e-12 * scale).count(), 14);
    }

    #[test]
    fn cholesky_reports_a_singular_matrix() {
        let mut a = [1.0, 1.0, 1.0, 1.0];
        assert!(!cholesky_in_place(&mut a, 2, 1e-10));
    }

    #[test]
    fn qr_fits_a_line_through_two_points() {
        let a = Mat::from_rows(&[vec![1.0, 0.0], vec![1.0, 2.0]]);
        let r = lstsq_qr(&a, &[1.0, 5.0]).unwrap();
        assert!((r.coef[0] - 1.0).abs() < 1e-12 && (r.coef[1] - 2.0).abs() < 1e-12);
        assert!(r.leverage.iter().all(|h| (h - 1.0).abs() < 1e-12));
    }

    #[test]
    fn qr_refuses_collinear_columns() {
        let a = Mat::from_rows(&[vec![1.0, 2.0], vec![2.0, 4.0], vec![3.0, 6.0]]);
        assert!(lstsq_qr(&a, &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn scaler_standardises_and_imputes_missing_values_with_the_training_mean() {
        let x = Mat::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0], vec![f64::NAN, 5.0]]);
        let s = Scaler::fit(&x, true);
        assert_eq!(s.means, vec![2.0, 5.0]);
        assert!((s.scales[0] - 1.0).abs() < 1e-15);
        assert!(!s.usable(1));
        let z = s.transform(&x);
        assert_eq!(z.data, vec![-1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
