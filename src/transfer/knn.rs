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
//! **Exact search, fast.** The inner products come from f32 matrix products (the `gemm`
//! crate) over blocks of rows (see [`neighbours`]: n²d/2 multiply-adds on one thread), never an n × n matrix. A
//! distance from them, `‖x_i‖² + ‖x_j‖² − 2 x_i·x_j`, is within `b_ij = 2 γ_d ‖x_i‖ ‖x_j‖`
//! (+ f64 rounding) of the true squared distance, γ_d = d u / (1 − d u), u = 2⁻²⁴ (the
//! worst-case error of an f32 dot product of length d, whatever the summation order). Each row
//! keeps the k smallest upper bounds `approx + b` seen so far and every row whose lower bound
//! `approx − b` is within the current k-th of them (a conservative f32 pre-test skips the
//! rest cheaply); when all pairs have been seen, every true k nearest neighbour has a lower
//! bound within the final k-th upper bound U. Those candidates (usually exactly k) are
//! re-ranked by their distances summed in f64 from the f32 features (differences and squares
//! exact), so the result is the exact k nearest neighbours, not an approximation.

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

/// Rows scored per block: the block's inner products with the earlier rows come from matrix
/// products of [`ROWS`] rows at a time, so no n × n matrix is ever held.
const BLOCK: usize = 512;

/// What one row has seen so far: the `k` smallest upper bounds on its squared distances
/// (ascending) and every row whose lower bound is within the current `k`-th. Its `f32`
/// pre-test threshold (`‖x_j‖² − 2 x_r·x_j` above it cannot reach the current `k`-th bound)
/// lives apart, in one slice for all rows, so that a chunk of products is tested against the
/// thresholds of as many rows in one vectorised pass ([`scan`]).
struct RowState {
    top: Vec<f64>,
    cand: Vec<(f64, usize)>,
}

/// Norms, bounds and the conservative `f32` cut-off shared by every row.
struct Geometry {
    sq: Vec<f64>,
    sqf: Vec<f32>,
    norm: Vec<f64>,
    gamma: f64,
    sq_max: f64,
    norm_max: f64,
}

impl Geometry {
    fn new(x: MatRef) -> Geometry {
        let sq: Vec<f64> = (0..x.n)
            .map(|i| x.row(i).iter().map(|&v| v as f64 * v as f64).sum())
            .collect();
        let norm: Vec<f64> = sq.iter().map(|s| s.sqrt()).collect();
        let u = f32::EPSILON as f64 / 2.0;
        let d = x.dim as f64;
        Geometry {
            sqf: sq.iter().map(|&s| s as f32).collect(),
            sq_max: sq.iter().cloned().fold(0.0, f64::max),
            norm_max: norm.iter().cloned().fold(0.0, f64::max),
            gamma: d * u / (1.0 - d * u),
            sq,
            norm,
        }
    }

    /// The error bound of `‖x_r‖² + ‖x_j‖² − 2 fl(x_r·x_j)` (the f32 product's worst case
    /// plus the f64 rounding of the sum).
    fn bound(&self, r: usize, j: usize) -> f64 {
        2.0 * self.gamma * self.norm[r] * self.norm[j]
            + 4.0 * f64::EPSILON * (self.sq[r] + self.sq[j])
    }

    /// The `f32` pre-test threshold of row `r` for its current `k`-th upper bound `thr`:
    /// every `j` whose lower bound is at most `thr` has `sqf[j] − 2 dot ≤` it, with room for
    /// the bound at its largest and for the `f32` rounding of both sides (1e-5 relative,
    /// far above it).
    fn cut(&self, r: usize, thr: f64) -> f32 {
        if !thr.is_finite() {
            return f32::INFINITY;
        }
        let bmax = 2.0 * self.gamma * self.norm[r] * self.norm_max
            + 4.0 * f64::EPSILON * (self.sq[r] + self.sq_max);
        let scale = self.sq_max + 2.0 * self.norm[r] * self.norm_max + self.sq[r] + thr.abs();
        (thr - self.sq[r] + bmax + 1e-5 * scale) as f32
    }
}

impl RowState {
    fn new(k: usize) -> RowState {
        RowState {
            top: vec![f64::INFINITY; k],
            cand: Vec::new(),
        }
    }

    /// Offer row `j` (inner product `dot` with row `r`) to row `r`, whose pre-test threshold
    /// is `cut` (lowered here when the `k`-th bound falls).
    #[inline]
    fn offer(&mut self, cut: &mut f32, g: &Geometry, r: usize, j: usize, dot: f32) {
        if j == r || g.sqf[j] - 2.0 * dot > *cut {
            return;
        }
        let approx = g.sq[r] + g.sq[j] - 2.0 * dot as f64;
        let b = g.bound(r, j);
        let k = self.top.len();
        let thr = self.top[k - 1];
        if approx - b > thr {
            return;
        }
        self.cand.push((approx - b, j));
        let ub = approx + b;
        if ub < thr {
            let mut p = k - 1;
            while p > 0 && self.top[p - 1] > ub {
                self.top[p] = self.top[p - 1];
                p -= 1;
            }
            self.top[p] = ub;
            let thr = self.top[k - 1];
            *cut = g.cut(r, thr);
            if self.cand.len() >= 8 * k + 32 {
                self.cand.retain(|c| c.0 <= thr);
            }
        }
    }

    /// The `k` nearest among the candidates, by the exact distance then the index.
    fn finish(mut self, x: MatRef, r: usize) -> Vec<usize> {
        let k = self.top.len();
        let thr = self.top[k - 1];
        self.cand.retain(|c| c.0 <= thr);
        let mut exact: Vec<(f64, usize)> = self
            .cand
            .iter()
            .map(|&(_, j)| (dist2(x.row(r), x.row(j)), j))
            .collect();
        exact.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
        exact.iter().take(k).map(|&(_, j)| j).collect()
    }
}

/// `c = x[block] · x[rows]ᵀ`, row-major `block.len() × rows.len()`: row `t` holds the inner
/// products of row `block.start + t` with the rows `rows` (the `gemm` crate's f32 kernels).
fn dots(x: MatRef, block: std::ops::Range<usize>, rows: std::ops::Range<usize>, c: &mut Vec<f32>) {
    let (w, m, d) = (block.len(), rows.len(), x.dim);
    c.clear();
    c.resize(w * m, 0.0);
    crate::kernels::dense::matmul_nt(
        w,
        d,
        m,
        &x.data[block.start * d..block.end * d],
        &x.data[rows.start * d..rows.end * d],
        c,
        1,
    );
}

/// Rows of the products taken at once against a block: `BLOCK × ROWS` f32 products (1 MiB)
/// stay in the L2 cache while they are offered.
const ROWS: usize = 512;

/// Chunk of products tested at once by [`may_enter`].
const CHUNK: usize = 32;

/// Whether any product in the chunk passes row `i`'s pre-test (threshold `cut_i`) or, with
/// `cuts` (the thresholds of the chunk's rows), the pre-test of its own row for `i`: the first
/// test of [`RowState::offer`], both ways, on a whole chunk without branches.
#[inline(always)]
fn may_enter(dots: &[f32], sqf: &[f32], cuts: Option<&[f32]>, sqf_i: f32, cut_i: f32) -> bool {
    let mut hit = false;
    match cuts {
        Some(cuts) => {
            for ((&c, &q), &k) in dots.iter().zip(sqf).zip(cuts) {
                let t = 2.0 * c;
                hit |= (q - t <= cut_i) | (sqf_i - t <= k);
            }
        }
        None => {
            for (&c, &q) in dots.iter().zip(sqf) {
                hit |= q - 2.0 * c <= cut_i;
            }
        }
    }
    hit
}

/// Offer row `i` the products `p` with rows `j0..j0 + p.len()`, and, when `both`, offer `i`
/// to each of those rows (`others`, with thresholds `cuts`, all earlier than `i`'s block).
/// Chunks that no pre-test lets through are skipped after one vectorised pass.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn scan_impl(
    g: &Geometry,
    i: usize,
    st: &mut RowState,
    cut_i: &mut f32,
    j0: usize,
    p: &[f32],
    others: &mut [RowState],
    cuts: &mut [f32],
    both: bool,
) {
    let sqf_i = g.sqf[i];
    for (c0, chunk) in (0..p.len()).step_by(CHUNK).zip(p.chunks(CHUNK)) {
        let js = j0 + c0..j0 + c0 + chunk.len();
        let their = both.then(|| &cuts[c0..c0 + chunk.len()]);
        if !may_enter(chunk, &g.sqf[js.clone()], their, sqf_i, *cut_i) {
            continue;
        }
        for (t, &v) in chunk.iter().enumerate() {
            let j = js.start + t;
            let twice = 2.0 * v;
            if g.sqf[j] - twice <= *cut_i {
                st.offer(cut_i, g, i, j, v);
            }
            if both && sqf_i - twice <= cuts[c0 + t] {
                others[c0 + t].offer(&mut cuts[c0 + t], g, j, i, v);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scan_avx2(
    g: &Geometry,
    i: usize,
    st: &mut RowState,
    cut_i: &mut f32,
    j0: usize,
    p: &[f32],
    others: &mut [RowState],
    cuts: &mut [f32],
    both: bool,
) {
    scan_impl(g, i, st, cut_i, j0, p, others, cuts, both)
}

#[allow(clippy::too_many_arguments)]
fn scan(
    g: &Geometry,
    i: usize,
    st: &mut RowState,
    cut_i: &mut f32,
    j0: usize,
    p: &[f32],
    others: &mut [RowState],
    cuts: &mut [f32],
    both: bool,
) {
    crate::util::avx2_or!(scan_avx2, scan_impl; g, i, st, cut_i, j0, p, others, cuts, both)
}

/// The `k` nearest other rows of every row of `x` (row-major `n × k` indices, nearest first;
/// see the module docs for ties). Needs `n > k`.
///
/// Rows go in blocks of 512 (`BLOCK`), each against the other rows 512 at a time (`ROWS`: one
/// product, then `scan`). With one thread, block `[s, e)` takes the products of its rows
/// with rows `0..e` and offers them both ways (row `i` sees every `j < e`; every earlier row
/// `j < s` sees `i`): each pair from different blocks is multiplied once (a pair inside a
/// block twice), about (n² + n·`BLOCK`)d/2 multiply-adds in all. With more
/// threads, blocks run in parallel and each takes its rows' products with all n rows (n²d,
/// but no shared state).
pub fn neighbours(x: MatRef, k: usize, threads: usize) -> Vec<usize> {
    let n = x.n;
    assert!(n > k, "kNN needs more than k rows");
    let g = Geometry::new(x);
    let mut states: Vec<RowState> = (0..n).map(|_| RowState::new(k)).collect();
    let mut cuts = vec![f32::INFINITY; n];
    if threads > 1 {
        states
            .par_chunks_mut(BLOCK)
            .zip(cuts.par_chunks_mut(BLOCK))
            .enumerate()
            .for_each_init(Vec::new, |c, (b, (chunk, cut))| {
                let s = b * BLOCK;
                let e = s + chunk.len();
                for r0 in (0..n).step_by(ROWS) {
                    let r1 = (r0 + ROWS).min(n);
                    dots(x, s..e, r0..r1, c);
                    for (t, (st, ct)) in chunk.iter_mut().zip(cut.iter_mut()).enumerate() {
                        let p = &c[t * (r1 - r0)..(t + 1) * (r1 - r0)];
                        scan(&g, s + t, st, ct, r0, p, &mut [], &mut [], false);
                    }
                }
            });
    } else {
        let mut c = Vec::new();
        for s in (0..n).step_by(BLOCK) {
            let e = (s + BLOCK).min(n);
            let (earlier, rest) = states.split_at_mut(s);
            let (earlier_cuts, rest_cuts) = cuts.split_at_mut(s);
            let block = &mut rest[..e - s];
            let block_cuts = &mut rest_cuts[..e - s];
            for r0 in (0..e).step_by(ROWS) {
                let r1 = (r0 + ROWS).min(e);
                dots(x, s..e, r0..r1, &mut c);
                // rows r0..r1 split at s: the earlier ones are offered the block's rows too
                let mid = s.clamp(r0, r1);
                for (t, (st, ct)) in block.iter_mut().zip(block_cuts.iter_mut()).enumerate() {
                    let p = &c[t * (r1 - r0)..(t + 1) * (r1 - r0)];
                    let (pe, pb) = p.split_at(mid - r0);
                    let (oe, ce) = (&mut earlier[r0..mid], &mut earlier_cuts[r0..mid]);
                    scan(&g, s + t, st, ct, r0, pe, oe, ce, true);
                    scan(&g, s + t, st, ct, mid, pb, &mut [], &mut [], false);
                }
            }
        }
    }
    states
        .into_iter()
        .enumerate()
        .flat_map(|(r, st)| st.finish(x, r))
        .collect()
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

    /// The k nearest by brute force: every exact distance, sorted by (distance, index).
    fn brute(x: MatRef, k: usize) -> Vec<usize> {
        (0..x.n)
            .flat_map(|i| {
                let mut all: Vec<(f64, usize)> = (0..x.n)
                    .filter(|&j| j != i)
                    .map(|j| (dist2(x.row(i), x.row(j)), j))
                    .collect();
                all.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
                all.into_iter().take(k).map(|(_, j)| j).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn blocked_search_on_one_and_on_two_threads_equals_brute_force_with_duplicates_and_ties() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // 700 rows (two blocks, the last partial) of small integers in 6 dimensions: many
        // exactly equal distances; rows 600.. duplicate rows 0..100.
        let (n, d) = (700, 6);
        let mut x: Vec<f32> = (0..n * d)
            .map(|_| rng.gen_range(-3i32..=3) as f32)
            .collect();
        x.copy_within(0..100 * d, 600 * d);
        let m = MatRef::new(&x, n, d);
        let want = brute(m, 3);
        assert_eq!(neighbours(m, 3, 1), want);
        assert_eq!(neighbours(m, 3, 2), want);
        // continuous features, 64 wide: the bound-and-re-rank path with few candidates
        let x: Vec<f32> = (0..n * 64).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let m = MatRef::new(&x, n, 64);
        let want = brute(m, 3);
        assert_eq!(neighbours(m, 3, 1), want);
        assert_eq!(neighbours(m, 3, 2), want);
    }
}
