//! Best-k subset search for OLS with intercept.
//!
//! The search works on the Gram matrix of standardised (centred) training columns, computed
//! once: the residual sum of squares of the OLS fit on a subset `S` is
//! `RSS(S) = y'y - c_S' G_S^{-1} c_S` with `G = Z'Z`, `c = Z'y` (centred `y`). Subsets are
//! enumerated depth first in lexicographic order and each level adds one row to a Cholesky
//! factor held on the stack, so a leaf of the search costs O(k) flops. The first index is
//! spread over threads with rayon. Ties on RSS go to the lexicographically first subset, so
//! the result does not depend on the thread schedule.

use super::linalg::{dot, Mat};
use rayon::prelude::*;

/// Largest k searched exhaustively; larger k uses greedy forward selection.
pub const MAX_EXHAUSTIVE_K: usize = 4;

/// Relative pivot tolerance: a subset whose Cholesky pivot falls below this fraction of the
/// column's own sum of squares is numerically collinear and skipped.
const PIVOT_TOL: f64 = 1e-10;

/// Sufficient statistics of a least-squares problem on centred columns.
#[derive(Debug, Clone)]
pub struct Gram {
    /// Number of columns.
    pub p: usize,
    /// `Z'Z`, row-major `p x p`.
    pub g: Vec<f64>,
    /// `Z'y`.
    pub c: Vec<f64>,
    /// `y'y` (centred y).
    pub yy: f64,
    /// Columns that may enter a subset (non-constant on these rows).
    pub usable: Vec<bool>,
}

impl Gram {
    /// Statistics of centred (typically standardised) columns `z` and centred target `yc`.
    /// A column whose sum of squares is zero is marked unusable.
    pub fn new(z: &Mat, yc: &[f64]) -> Self {
        let g = z.gram();
        let c = z.t_mul_vec(yc);
        let p = z.cols;
        let usable = (0..p).map(|j| g.data[j * p + j] > 0.0).collect();
        Gram {
            p,
            g: g.data,
            c,
            yy: dot(yc, yc),
            usable,
        }
    }

    /// Number of usable columns.
    pub fn n_usable(&self) -> usize {
        self.usable.iter().filter(|&&u| u).count()
    }
}

/// The outcome of a subset search.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsetResult {
    /// Chosen column indices, ascending.
    pub features: Vec<usize>,
    /// Residual sum of squares of the OLS fit (with intercept) on those columns.
    pub rss: f64,
}

#[derive(Clone, Copy)]
struct Best {
    rss: f64,
    idx: [usize; MAX_EXHAUSTIVE_K],
}

impl Best {
    fn none() -> Self {
        Best {
            rss: f64::INFINITY,
            idx: [usize::MAX; MAX_EXHAUSTIVE_K],
        }
    }
    fn better(a: Best, b: Best) -> Best {
        if b.rss < a.rss || (b.rss == a.rss && b.idx < a.idx) {
            b
        } else {
            a
        }
    }
}

struct Dfs<'a> {
    gram: &'a Gram,
    cand: &'a [usize],
    k: usize,
    idx: [usize; MAX_EXHAUSTIVE_K],
    l: [[f64; MAX_EXHAUSTIVE_K]; MAX_EXHAUSTIVE_K],
    z: [f64; MAX_EXHAUSTIVE_K],
    best: Best,
    leaves: u64,
}

impl Dfs<'_> {
    /// Try to append candidate column `j` at `depth`; returns the new `sum z^2` on success.
    #[inline(always)]
    fn push(&mut self, depth: usize, j: usize, acc: f64) -> Option<f64> {
        let p = self.gram.p;
        let g = &self.gram.g;
        let gjj = g[j * p + j];
        let mut d = gjj;
        let mut zs = self.gram.c[j];
        for m in 0..depth {
            let mut s = g[j * p + self.idx[m]];
            for q in 0..m {
                s -= self.l[depth][q] * self.l[m][q];
            }
            let v = s / self.l[m][m];
            self.l[depth][m] = v;
            d -= v * v;
            zs -= v * self.z[m];
        }
        if !(d > PIVOT_TOL * gjj) {
            return None;
        }
        let ljj = d.sqrt();
        self.l[depth][depth] = ljj;
        let zj = zs / ljj;
        self.z[depth] = zj;
        self.idx[depth] = j;
        Some(acc + zj * zj)
    }

    /// The RSS reduction `z_j^2` of appending column `j` at `depth`, without storing the row.
    #[inline(always)]
    fn leaf_gain(&self, depth: usize, j: usize) -> Option<f64> {
        let p = self.gram.p;
        let g = &self.gram.g;
        let gjj = g[j * p + j];
        let mut row = [0.0f64; MAX_EXHAUSTIVE_K];
        let mut d = gjj;
        let mut zs = self.gram.c[j];
        for m in 0..depth {
            let mut s = g[j * p + self.idx[m]];
            for q in 0..m {
                s -= row[q] * self.l[m][q];
            }
            let v = s / self.l[m][m];
            row[m] = v;
            d -= v * v;
            zs -= v * self.z[m];
        }
        if !(d > PIVOT_TOL * gjj) {
            return None;
        }
        Some(zs * zs / d)
    }

    fn run(&mut self, start: usize, depth: usize, acc: f64) {
        let last = self.cand.len() + depth + 1 - self.k;
        for t in start..last {
            let j = self.cand[t];
            if depth + 1 == self.k {
                // Leaf: only the RSS is needed, and z_j^2 = zs^2 / d needs no square root.
                let Some(gain) = self.leaf_gain(depth, j) else {
                    continue;
                };
                self.leaves += 1;
                let rss = self.gram.yy - (acc + gain);
                if rss < self.best.rss {
                    self.idx[depth] = j;
                    self.best = Best { rss, idx: self.idx };
                }
            } else {
                let Some(acc2) = self.push(depth, j, acc) else {
                    continue;
                };
                self.run(t + 1, depth + 1, acc2);
            }
        }
    }
}

/// Exhaustive search over all `k`-subsets of the usable columns (`1 <= k <= 4`).
/// Returns `None` when no subset of size `k` is full rank (or `k` is out of range).
pub fn exhaustive(gram: &Gram, k: usize) -> Option<SubsetResult> {
    exhaustive_counted(gram, k).map(|(r, _)| r)
}

/// [`exhaustive`], also returning the number of full-rank subsets evaluated.
pub fn exhaustive_counted(gram: &Gram, k: usize) -> Option<(SubsetResult, u64)> {
    if k == 0 || k > MAX_EXHAUSTIVE_K {
        return None;
    }
    let cand: Vec<usize> = (0..gram.p).filter(|&j| gram.usable[j]).collect();
    if cand.len() < k {
        return None;
    }
    let firsts = cand.len() + 1 - k;
    let (best, leaves) = (0..firsts)
        .into_par_iter()
        .map(|t| {
            let mut d = Dfs {
                gram,
                cand: &cand,
                k,
                idx: [usize::MAX; MAX_EXHAUSTIVE_K],
                l: [[0.0; MAX_EXHAUSTIVE_K]; MAX_EXHAUSTIVE_K],
                z: [0.0; MAX_EXHAUSTIVE_K],
                best: Best::none(),
                leaves: 0,
            };
            if let Some(acc) = d.push(0, cand[t], 0.0) {
                if k == 1 {
                    d.leaves = 1;
                    d.best = Best {
                        rss: gram.yy - acc,
                        idx: d.idx,
                    };
                } else {
                    d.run(t + 1, 1, acc);
                }
            }
            (d.best, d.leaves)
        })
        .reduce(
            || (Best::none(), 0),
            |a, b| (Best::better(a.0, b.0), a.1 + b.1),
        );
    if !best.rss.is_finite() {
        return None;
    }
    Some((
        SubsetResult {
            features: best.idx[..k].to_vec(),
            rss: best.rss.max(0.0),
        },
        leaves,
    ))
}

/// Greedy forward selection: add, `k` times, the column that lowers the RSS most.
/// Returns `None` when fewer than `k` columns can be added without collinearity.
pub fn forward(gram: &Gram, k: usize) -> Option<SubsetResult> {
    let p = gram.p;
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    // Cholesky factor of G_chosen (row-major, grown one row at a time) and z = L^{-1} c.
    let mut l: Vec<Vec<f64>> = Vec::new();
    let mut z: Vec<f64> = Vec::new();
    let mut acc = 0.0;
    for _ in 0..k {
        let mut best: Option<(f64, usize, Vec<f64>, f64)> = None;
        for j in 0..p {
            if !gram.usable[j] || chosen.contains(&j) {
                continue;
            }
            let gjj = gram.g[j * p + j];
            let depth = chosen.len();
            let mut row = vec![0.0; depth + 1];
            let mut d = gjj;
            let mut zs = gram.c[j];
            for m in 0..depth {
                let mut s = gram.g[j * p + chosen[m]];
                for q in 0..m {
                    s -= row[q] * l[m][q];
                }
                let v = s / l[m][m];
                row[m] = v;
                d -= v * v;
                zs -= v * z[m];
            }
            if !(d > PIVOT_TOL * gjj) {
                continue;
            }
            row[depth] = d.sqrt();
            let zj = zs / row[depth];
            let a2 = acc + zj * zj;
            if best.as_ref().is_none_or(|b| a2 > b.0) {
                best = Some((a2, j, row, zj));
            }
        }
        let (a2, j, row, zj) = best?;
        acc = a2;
        chosen.push(j);
        l.push(row);
        z.push(zj);
    }
    chosen.sort_unstable();
    Some(SubsetResult {
        features: chosen,
        rss: (gram.yy - acc).max(0.0),
    })
}

/// Best `k`-subset: exhaustive for `k <= 4`, greedy forward selection beyond.
pub fn best_subset(gram: &Gram, k: usize) -> Option<SubsetResult> {
    if k <= MAX_EXHAUSTIVE_K {
        exhaustive(gram, k)
    } else {
        forward(gram, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::linalg::{lstsq_qr, Scaler};

    fn rss_by_qr(x: &Mat, y: &[f64], cols: &[usize]) -> f64 {
        let mut rows = Vec::new();
        for i in 0..x.rows {
            let mut r = vec![1.0];
            r.extend(cols.iter().map(|&j| x.at(i, j)));
            rows.push(r);
        }
        let a = Mat::from_rows(&rows);
        let fit = lstsq_qr(&a, y).unwrap();
        let pred = a.mul_vec(&fit.coef);
        y.iter().zip(&pred).map(|(a, b)| (a - b) * (a - b)).sum()
    }

    fn lcg_data(n: usize, p: usize, seed: u64) -> (Mat, Vec<f64>) {
        let mut s = seed;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..p).map(|_| next()).collect()).collect();
        let y = (0..n).map(|_| next()).collect();
        (Mat::from_rows(&rows), y)
    }

    fn brute(x: &Mat, y: &[f64], k: usize) -> (Vec<usize>, f64) {
        let p = x.cols;
        let mut best = (vec![], f64::INFINITY);
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            let r = rss_by_qr(x, y, &idx);
            if r < best.1 {
                best = (idx.clone(), r);
            }
            // next combination
            let mut i = k;
            while i > 0 && idx[i - 1] == p - k + i - 1 {
                i -= 1;
            }
            if i == 0 {
                break;
            }
            idx[i - 1] += 1;
            for j in i..k {
                idx[j] = idx[j - 1] + 1;
            }
        }
        best
    }

    fn gram_of(x: &Mat, y: &[f64]) -> Gram {
        let z = Scaler::fit(x, true).transform(x);
        let m = y.iter().sum::<f64>() / y.len() as f64;
        let yc: Vec<f64> = y.iter().map(|v| v - m).collect();
        Gram::new(&z, &yc)
    }

    #[test]
    fn exhaustive_search_matches_brute_force_qr_for_k_1_to_4() {
        let (x, y) = lcg_data(15, 9, 7);
        let g = gram_of(&x, &y);
        for k in 1..=4 {
            let (bi, br) = brute(&x, &y, k);
            let (r, leaves) = exhaustive_counted(&g, k).unwrap();
            assert_eq!(r.features, bi, "k={k}");
            assert!((r.rss - br).abs() <= 1e-10 * br, "k={k}: {} vs {br}", r.rss);
            let expect = [9u64, 36, 84, 126][k - 1];
            assert_eq!(leaves, expect);
        }
    }

    #[test]
    fn collinear_subsets_are_skipped_and_constant_columns_never_chosen() {
        let (mut x, y) = lcg_data(12, 4, 3);
        // column 4 duplicates column 0, column 5 is constant
        let mut rows = Vec::new();
        for i in 0..x.rows {
            let mut r = x.row(i).to_vec();
            r.push(r[0]);
            r.push(2.0);
            rows.push(r);
        }
        x = Mat::from_rows(&rows);
        let g = gram_of(&x, &y);
        assert!(!g.usable[5]);
        let (_, leaves) = exhaustive_counted(&g, 2).unwrap();
        // C(5,2) = 10 pairs of usable columns, minus the collinear pair (0,4)
        assert_eq!(leaves, 9);
    }

    #[test]
    fn forward_selection_finds_the_planted_columns() {
        let (x, mut y) = lcg_data(30, 8, 11);
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = 3.0 * x.at(i, 2) - 2.0 * x.at(i, 6) + 0.01 * *yi;
        }
        let g = gram_of(&x, &y);
        let r = forward(&g, 2).unwrap();
        assert_eq!(r.features, vec![2, 6]);
        assert!((r.rss - rss_by_qr(&x, &y, &[2, 6])).abs() < 1e-12);
    }
}
