//! Leave-one-out k-nearest-neighbour accuracy (k = 3, Euclidean, exact search over all n
//! points).
//!
//! Each example is classified by the majority class of its k nearest other examples; the
//! score is the fraction classified correctly (micro) and the mean over the classes present of
//! the per-class recall (macro, scikit-learn's `balanced_accuracy_score`).
//!
//! **Ties** (the rule scikit-learn's `KNeighborsClassifier` applies, stated exactly):
//! neighbours are ordered by distance, equal distances by lower example index; a vote tie
//! (e.g. three classes with one vote each) goes to the smallest class index, as scikit-learn's
//! `predict` (the mode of the neighbour labels) does. The query point itself is never its own
//! neighbour (`kneighbors()` without `X`), duplicates of it are.
//!
//! **Exact search, fast.** All n² inner products come from one symmetric f32 matrix product
//! (only the lower triangle: n² d multiply-adds). A distance from it,
//! `‖x_i‖² + ‖x_j‖² − 2 x_i·x_j`, is within `b_ij = 2 γ_d ‖x_i‖ ‖x_j‖` (+ f64 rounding) of the
//! true squared distance, γ_d = d u / (1 − d u), u = 2⁻²⁴ (the worst-case error of an f32 dot
//! product of length d, whatever the summation order). Let U be the k-th smallest upper bound
//! `approx + b` over j ≠ i: every true k nearest neighbour has `approx − b ≤ U`. Those
//! candidates (usually exactly k) are re-ranked by their distances summed in f64 from the f32
//! features (differences and squares exact), so the result is the exact k nearest
//! neighbours, not an approximation.

use crate::learn::MatRef;
use rayon::prelude::*;

/// The number of neighbours.
pub const K: usize = 3;

/// Leave-one-out kNN accuracies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnScore {
    /// Fraction of examples classified correctly.
    pub micro: f64,
    /// Mean over the classes present of the fraction of that class classified correctly.
    pub macro_: f64,
}

/// Exact squared Euclidean distance, summed in f64.
fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| {
            let t = p as f64 - q as f64;
            t * t
        })
        .sum()
}

/// The `k` nearest other rows of every row of `x` (row-major `n × k` indices, nearest first;
/// see the module docs for ties). Needs `n > k`.
pub fn neighbours(x: MatRef, k: usize, threads: usize) -> Vec<usize> {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    let (n, d) = (x.n, x.dim);
    assert!(n > k, "kNN needs more than k rows");
    let xm = faer::MatRef::from_row_major_slice(x.data, n, d);
    // Lower triangle of X Xᵀ (column-major: column j holds rows j..n contiguously).
    let mut g = faer::Mat::<f32>::zeros(n, n);
    matmul(
        g.as_mut(),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        xm,
        BlockStructure::Rectangular,
        xm.transpose(),
        BlockStructure::Rectangular,
        1.0f32,
        super::par(threads),
    );
    // Mirror the lower triangle into the upper one in 64 × 64 tiles, so that column i holds
    // every x_i · x_j contiguously.
    const T: usize = 64;
    for jb in (0..n).step_by(T) {
        for ib in (jb..n).step_by(T) {
            for j in jb..(jb + T).min(n) {
                for i in ib.max(j + 1)..(ib + T).min(n) {
                    g[(j, i)] = g[(i, j)];
                }
            }
        }
    }
    let sq: Vec<f64> = (0..n)
        .map(|i| x.row(i).iter().map(|&v| v as f64 * v as f64).sum())
        .collect();
    let norm: Vec<f64> = sq.iter().map(|s| s.sqrt()).collect();
    let u = f32::EPSILON as f64 / 2.0;
    let gamma = d as f64 * u / (1.0 - d as f64 * u);
    let g = &g;
    let row = |i: usize| -> Vec<usize> {
        let dots = g.col(i).try_as_col_major().unwrap().as_slice();
        let bound =
            |j: usize| 2.0 * gamma * norm[i] * norm[j] + 4.0 * f64::EPSILON * (sq[i] + sq[j]);
        // pass 1: the k smallest upper bounds (insertion into a sorted list of k)
        let mut top = vec![f64::INFINITY; k];
        let mut upper = vec![0f64; n];
        for j in 0..n {
            let ub = sq[i] + sq[j] - 2.0 * dots[j] as f64 + bound(j);
            upper[j] = ub;
            if j != i && ub < top[k - 1] {
                let mut p = k - 1;
                while p > 0 && top[p - 1] > ub {
                    top[p] = top[p - 1];
                    p -= 1;
                }
                top[p] = ub;
            }
        }
        let ub = top[k - 1];
        // pass 2: candidates whose lower bound is within it, re-ranked exactly
        let mut cand: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i && upper[j] - 2.0 * bound(j) <= ub)
            .map(|j| (dist2(x.row(i), x.row(j)), j))
            .collect();
        cand.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
        cand.iter().take(k).map(|&(_, j)| j).collect()
    };
    let rows: Vec<Vec<usize>> = if threads > 1 {
        (0..n).into_par_iter().map(row).collect()
    } else {
        (0..n).map(row).collect()
    };
    rows.concat()
}

/// The majority class among `labels` (ties to the smallest class).
fn vote(labels: impl Iterator<Item = u32>, classes: usize) -> u32 {
    let mut count = vec![0usize; classes];
    for l in labels {
        count[l as usize] += 1;
    }
    let mut best = 0;
    for c in 1..classes {
        if count[c] > count[best] {
            best = c;
        }
    }
    best as u32
}

/// Leave-one-out `k`-NN accuracy of `x` for labels in `0..classes`.
pub fn loo_knn(x: MatRef, labels: &[u32], classes: usize, k: usize, threads: usize) -> KnnScore {
    let nb = neighbours(x, k, threads);
    let mut right = vec![0usize; classes];
    let counts = super::class_counts(labels, classes);
    for (i, &y) in labels.iter().enumerate() {
        let p = vote(nb[i * k..(i + 1) * k].iter().map(|&j| labels[j]), classes);
        if p == y {
            right[y as usize] += 1;
        }
    }
    let micro = right.iter().sum::<usize>() as f64 / labels.len() as f64;
    let present: Vec<usize> = (0..classes).filter(|&c| counts[c] > 0).collect();
    let macro_ = present
        .iter()
        .map(|&c| right[c] as f64 / counts[c] as f64)
        .sum::<f64>()
        / present.len() as f64;
    KnnScore { micro, macro_ }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_a_line_find_their_neighbours_and_break_ties_by_index_and_smallest_class() {
        // 0, 1, 2, 3, 10: the neighbours of 1 are 0 and 2 (equal distance, index order), then 3.
        let x = [0.0f32, 1.0, 2.0, 3.0, 10.0];
        let nb = neighbours(MatRef::new(&x, 5, 1), 3, 1);
        assert_eq!(&nb[3..6], &[0, 2, 3]);
        assert_eq!(&nb[12..15], &[3, 2, 1]);
        // three classes, one vote each: the smallest class wins.
        assert_eq!(vote([2u32, 0, 1].into_iter(), 3), 0);
        let y = [0u32, 0, 1, 1, 1];
        let s = loo_knn(MatRef::new(&x, 5, 1), &y, 2, 3, 1);
        // predictions: 0 -> {1,2,3} = 1; 1 -> {0,2,3} = 1; 2 -> {1,3,0} = 0; 3 -> {2,1,0} = 0;
        // 4 -> {3,2,1} = 1: only 4 is right.
        assert_eq!(s.micro, 1.0 / 5.0);
        assert_eq!(s.macro_, (0.0 + 1.0 / 3.0) / 2.0);
    }
}
