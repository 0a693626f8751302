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
//! **Exact search, fast.** The inner products come in tiles of 512 × 512 from the lower
//! triangle only (each pair once, about n²d/2 multiply-adds; see [`neighbours`]), never an
//! n × n matrix, either as f32 matrix products (the `gemm` crate) or, on a CPU with AVX-512
//! VNNI, as exact integer products of the rows quantised to 16 bits
//! ([`crate::kernels::qdot`]: twice the multiply-adds per instruction), used when the layer
//! quantises finely (mean relative error at most 0.4 %; a layer with a few huge values does
//! not, and keeps f32). A distance from them, `‖x_i‖² + ‖x_j‖² − 2 p_ij`, is within a bound
//! `b_ij` of the true squared distance: `2 γ_d ‖x_i‖ ‖x_j‖` for f32 products, γ_d = d u /
//! (1 − d u), u = 2⁻²⁴ (the worst case of an f32 dot product of length d, whatever the
//! summation order); for the quantised ones twice `‖x_i‖ e_j + e_i ‖x_j‖` with e the norm of
//! each row's rounding (and the norms' own f32 and f64 rounding in both). Each row keeps the k
//! smallest upper bounds `approx + b` seen so far and every row whose lower bound `approx − b`
//! is within the current k-th of them (a conservative f32 pre-test, vectorised over 32
//! products at a time, skips the rest); when all pairs have been seen, every true k nearest
//! neighbour has a lower bound within the final k-th upper bound U. Of those candidates
//! (usually k, or a few more), the ones that fewer than k others could beat are in; the rest
//! are re-ranked by their distances summed in f64 from the f32 features (differences and
//! squares exact), so the result is the exact k nearest neighbours, not an approximation. The
//! tiles are shared out between the threads in runs of equal work, each run with its own
//! per-row state, merged at the end (see [`neighbours`]).

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

/// Squared Euclidean distance, summed in f64 from the f32 features (each difference and its
/// square exact; the sum in eight interleaved partial sums, then added up).
fn dist2(a: &[f32], b: &[f32]) -> f64 {
    crate::util::avx2_or!(dist2_avx2, dist2_impl; a, b)
}

#[inline(always)]
fn dist2_impl(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&p, &q)| (p as f64 - q as f64).powi(2))
        .sum();
    for (p, q) in ca.zip(cb) {
        for l in 0..8 {
            let t = p[l] as f64 - q[l] as f64;
            acc[l] += t * t;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dist2_avx2(a: &[f32], b: &[f32]) -> f64 {
    dist2_impl(a, b)
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
    cand: Vec<(f64, f64, usize)>,
}

/// Where the inner products come from: f32 matrix products over a transposed copy, or exact
/// integer products of the rows quantised to 16 bits (AVX-512 VNNI, about twice the
/// multiply-adds per instruction; used when the CPU has it and the rows quantise well, see
/// [`Products::new`]).
enum Products {
    F32 {
        xt: Vec<f32>,
    },
    /// The quantised rows and, per row, `‖x_i‖²`, `‖x_i − Δq_i‖²` and `‖q_i‖²`.
    Int16(crate::kernels::qdot::Quantized, Vec<[f64; 3]>),
}

/// The largest mean over the rows of the relative quantisation error `‖x_i − Δq_i‖ / ‖x_i‖`
/// at which the 16-bit products are used: above it the looser bound would leave many
/// candidates to re-rank (a layer with a few huge values quantises the rest coarsely), and the
/// f32 products are used.
const MAX_QUANT_ERROR: f64 = 4e-3;

impl Products {
    /// The integer products when the CPU has them and they quantise `x` finely enough (with
    /// the per-row error norms), otherwise the f32 ones. `int16: false` forces f32.
    fn new(x: MatRef, int16: bool) -> Products {
        use crate::kernels::qdot::{row_stats, Quantized};
        let d = x.dim;
        if int16 && Quantized::available() && Quantized::qmax(d) >= 1024 {
            let qz = Quantized::new(x.data, x.n, d);
            let stats = row_stats(x.data, &qz);
            // the mean over the rows of ‖x_i − Δq_i‖ / ‖x_i‖ (a zero row quantises exactly)
            let rel: f64 = stats
                .iter()
                .map(|&[sq, e2, _]| if sq > 0.0 { (e2 / sq).sqrt() } else { 0.0 })
                .sum::<f64>()
                / x.n.max(1) as f64;
            if rel <= MAX_QUANT_ERROR {
                return Products::Int16(qz, stats);
            }
        }
        Products::F32 { xt: transpose(x) }
    }
}

/// Norms, bounds and the conservative `f32` cut-off shared by every row.
///
/// A computed product `p_ij` is within `γ N_i N_j + N_i e_j + e_i N_j` of `x_i·x_j`, where
/// `N_i` bounds both `‖x_i‖` and the norm of the row the product was taken from, and `e_i` is
/// the norm of the difference: for f32 products `N = ‖x‖`, `e = 0` and `γ = γ_d`; for the
/// 16-bit ones `e_i = ‖x_i − Δq_i‖`, `N_i = max(‖x_i‖, ‖Δq_i‖)` (so that
/// `x_i·x_j − Δq_i·Δq_j = x_i·(x_j − Δq_j) + (x_i − Δq_i)·Δq_j`), and `γ = 2⁻²²` covers the two
/// f32 roundings of `fl(Δ²)·fl(q_i·q_j)`.
struct Geometry {
    sq: Vec<f64>,
    sqf: Vec<f32>,
    big: Vec<f64>,
    err: Vec<f64>,
    gamma: f64,
    sq_max: f64,
    big_max: f64,
    err_max: f64,
    /// The relative rounding of `‖x_r‖² + ‖x_j‖²` (each a sum of `d` squares) and of the
    /// distance formed from them: `(d + 4) ε`.
    rounding: f64,
}

impl Geometry {
    fn new(x: MatRef, products: &Products) -> Geometry {
        let d = x.dim as f64;
        let (sq, big, err, gamma): (Vec<f64>, Vec<f64>, Vec<f64>, f64) = match products {
            Products::Int16(qz, stats) => {
                let s = qz.scale();
                // room for the rounding of the sums (d ulps) and of s·q
                let up = 1.0 + (d + 4.0) * f64::EPSILON;
                let sq = stats.iter().map(|st| st[0]).collect();
                let big = stats
                    .iter()
                    .map(|st| (st[0] * up).sqrt().max(s * (st[2] * up).sqrt()))
                    .collect();
                let err = stats
                    .iter()
                    .map(|st| (st[1] * up).sqrt() * (1.0 + 1e-9) + s * 1e-12)
                    .collect();
                (sq, big, err, 2f64.powi(-22))
            }
            Products::F32 { .. } => {
                let sq: Vec<f64> = (0..x.n)
                    .map(|i| x.row(i).iter().map(|&v| v as f64 * v as f64).sum())
                    .collect();
                let u = f32::EPSILON as f64 / 2.0;
                let big = sq.iter().map(|s| s.sqrt()).collect();
                (sq, big, vec![0.0; x.n], d * u / (1.0 - d * u))
            }
        };
        Geometry {
            sqf: sq.iter().map(|&s| s as f32).collect(),
            sq_max: sq.iter().cloned().fold(0.0, f64::max),
            big_max: big.iter().cloned().fold(0.0, f64::max),
            err_max: err.iter().cloned().fold(0.0, f64::max),
            rounding: (d + 4.0) * f64::EPSILON,
            gamma,
            sq,
            big,
            err,
        }
    }

    /// The error bound of `‖x_r‖² + ‖x_j‖² − 2 p_rj` (twice the product's, plus the f64
    /// rounding of the squared norms and of the sum).
    fn bound(&self, r: usize, j: usize) -> f64 {
        2.0 * (self.gamma * self.big[r] * self.big[j]
            + self.big[r] * self.err[j]
            + self.err[r] * self.big[j])
            + self.rounding * (self.sq[r] + self.sq[j])
    }

    /// The `f32` pre-test threshold of row `r` for its current `k`-th upper bound `thr`:
    /// every `j` whose lower bound is at most `thr` has `sqf[j] − 2 p_rj ≤` it, with room for
    /// the bound at its largest and for the `f32` rounding of both sides (1e-5 relative,
    /// far above it).
    fn cut(&self, r: usize, thr: f64) -> f32 {
        if !thr.is_finite() {
            return f32::INFINITY;
        }
        let bmax = 2.0
            * (self.gamma * self.big[r] * self.big_max
                + self.big[r] * self.err_max
                + self.err[r] * self.big_max)
            + self.rounding * (self.sq[r] + self.sq_max);
        let scale = self.sq_max + 2.0 * self.big[r] * self.big_max + self.sq[r] + thr.abs();
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
        let ub = approx + b;
        self.cand.push((approx - b, ub, j));
        if ub < thr {
            self.insert_top(ub);
            let thr = self.top[k - 1];
            *cut = g.cut(r, thr);
            if self.cand.len() >= 8 * k + 32 {
                self.cand.retain(|c| c.0 <= thr);
            }
        }
    }

    /// Put `ub` (below the current `k`-th) into the ascending `k` smallest upper bounds.
    fn insert_top(&mut self, ub: f64) {
        let mut p = self.top.len() - 1;
        while p > 0 && self.top[p - 1] > ub {
            self.top[p] = self.top[p - 1];
            p -= 1;
        }
        self.top[p] = ub;
    }

    /// Take in what another run of the search saw for the same row: its `k` smallest upper
    /// bounds (keeping the `k` smallest of both) and its candidates.
    fn merge(&mut self, other: RowState) {
        for ub in other.top {
            if ub < self.top[self.top.len() - 1] {
                self.insert_top(ub);
            }
        }
        self.cand.extend(other.cand);
    }

    /// The `k` nearest among the candidates (those whose lower bound is within the final
    /// `k`-th upper bound): by the exact distance then the index when `ordered`; otherwise a
    /// candidate whose upper bound is below the lower bounds of all but fewer than `k` others is
    /// in for certain, and only the rest are re-ranked by their exact distances for the places
    /// left.
    fn finish(mut self, x: MatRef, r: usize, ordered: bool) -> Vec<usize> {
        let k = self.top.len();
        let thr = self.top[k - 1];
        self.cand.retain(|c| c.0 <= thr);
        let exact_rank = |c: &[(f64, f64, usize)], take: usize| -> Vec<usize> {
            let mut exact: Vec<(f64, usize)> = c
                .iter()
                .map(|&(_, _, j)| (dist2(x.row(r), x.row(j)), j))
                .collect();
            exact.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
            exact.iter().take(take).map(|&(_, j)| j).collect()
        };
        if ordered {
            return exact_rank(&self.cand, k);
        }
        if self.cand.len() == k {
            return self.cand.iter().map(|&(_, _, j)| j).collect();
        }
        // c is in when fewer than k others could be as near (lower bound <= c's upper bound;
        // equal distances are decided by the index, so "as near" counts them)
        let (sure, open): (Vec<(f64, f64, usize)>, Vec<_>) = self.cand.iter().partition(|c| {
            self.cand
                .iter()
                .filter(|o| o.2 != c.2 && o.0 <= c.1)
                .count()
                < k
        });
        let mut out: Vec<usize> = sure.iter().map(|c| c.2).collect();
        out.extend(exact_rank(&open, k - out.len()));
        out
    }
}

/// `c = x[block] · x[rows]ᵀ`, row-major `block.len() × rows.len()`: row `t` holds the inner
/// products of row `block.start + t` with the rows `rows`, from `products` (the f32 ones read
/// `x` transposed as a panel, which the `gemm` crate's kernels take without repacking it).
fn dots(
    x: MatRef,
    products: &Products,
    block: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    c: &mut Vec<f32>,
) {
    let (w, m, d) = (block.len(), rows.len(), x.dim);
    // every element is overwritten by the product (never read): no need to zero it
    c.resize(w * m, 0.0);
    match products {
        Products::F32 { xt } => crate::kernels::dense::matmul_panel(
            w,
            d,
            m,
            &x.data[block.start * d..block.end * d],
            xt,
            x.n,
            rows.start,
            c,
            1,
        ),
        Products::Int16(qz, _) => qz.products(block, rows, c),
    }
}

/// Rows of the products taken at once against a block: `BLOCK × ROWS` f32 products (1 MiB)
/// stay in the L2 cache while they are offered.
const ROWS: usize = 512;

/// Chunk of products tested at once by [`may_enter`].
const CHUNK: usize = 32;

/// Which products in the chunk (at most 32) pass row `i`'s pre-test (threshold `cut_i`), and,
/// with `cuts` (the thresholds of the chunk's rows), which pass the pre-test of their own row
/// for `i`: the first test of [`RowState::offer`], both ways, as two bit masks computed
/// without branches.
#[inline(always)]
fn may_enter(
    dots: &[f32],
    sqf: &[f32],
    cuts: Option<&[f32]>,
    sqf_i: f32,
    cut_i: f32,
) -> (u32, u32) {
    let (mut mine, mut theirs) = (0u32, 0u32);
    match cuts {
        Some(cuts) => {
            for (l, ((&c, &q), &k)) in dots.iter().zip(sqf).zip(cuts).enumerate() {
                let t = 2.0 * c;
                mine |= ((q - t <= cut_i) as u32) << l;
                theirs |= ((sqf_i - t <= k) as u32) << l;
            }
        }
        None => {
            for (l, (&c, &q)) in dots.iter().zip(sqf).enumerate() {
                mine |= ((q - 2.0 * c <= cut_i) as u32) << l;
            }
        }
    }
    (mine, theirs)
}

/// Offer row `i` the products `p` with rows `j0..j0 + p.len()`, and, when `both`, offer `i`
/// to each of those rows (`others`, with thresholds `cuts`, all earlier than `i`'s block).
/// Each chunk of 32 is pre-tested in one vectorised pass, and only the products whose bit is
/// set are offered (the offer tests again against the threshold as it has fallen since).
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
        let (mut mine, mut theirs) = may_enter(chunk, &g.sqf[js.clone()], their, sqf_i, *cut_i);
        while mine != 0 {
            let t = mine.trailing_zeros() as usize;
            mine &= mine - 1;
            st.offer(cut_i, g, i, js.start + t, chunk[t]);
        }
        while theirs != 0 {
            let t = theirs.trailing_zeros() as usize;
            theirs &= theirs - 1;
            others[c0 + t].offer(&mut cuts[c0 + t], g, js.start + t, i, chunk[t]);
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

/// `x` transposed (`d × n`, row-major), in 32 × 32 squares so that reads and writes both
/// stay within a few cache lines.
fn transpose(x: MatRef) -> Vec<f32> {
    const SQ: usize = 32;
    let (n, d) = (x.n, x.dim);
    let mut xt = vec![0f32; n * d];
    for i0 in (0..n).step_by(SQ) {
        for j0 in (0..d).step_by(SQ) {
            for i in i0..(i0 + SQ).min(n) {
                let row = x.row(i);
                for j in j0..(j0 + SQ).min(d) {
                    xt[j * n + i] = row[j];
                }
            }
        }
    }
    xt
}

/// One product of the search: the rows `s..e` (a block of [`BLOCK`]) against the rows
/// `r0..r1` (at most [`ROWS`], all before `e`).
#[derive(Debug, Clone, Copy)]
struct Tile {
    s: usize,
    e: usize,
    r0: usize,
    r1: usize,
}

/// Every tile of the lower triangle, block by block: block `[s, e)` against rows `0..e`, so
/// each pair from different blocks is multiplied once and a pair inside a block twice, about
/// `(n² + n·BLOCK)d/2` multiply-adds in all.
fn tiles(n: usize) -> Vec<Tile> {
    let mut all = Vec::new();
    for s in (0..n).step_by(BLOCK) {
        let e = (s + BLOCK).min(n);
        for r0 in (0..e).step_by(ROWS) {
            all.push(Tile {
                s,
                e,
                r0,
                r1: (r0 + ROWS).min(e),
            });
        }
    }
    all
}

/// `tiles` cut into at most `parts` consecutive runs of about equal work: each cut goes at
/// the tile boundary nearest to its share of the total.
fn split(tiles: &[Tile], parts: usize) -> Vec<&[Tile]> {
    let work = |t: &Tile| (t.e - t.s) * (t.r1 - t.r0);
    let total: usize = tiles.iter().map(work).sum();
    // the cumulative work at each boundary (0 before the first tile)
    let mut cum = vec![0usize];
    for t in tiles {
        cum.push(cum[cum.len() - 1] + work(t));
    }
    let mut out = Vec::new();
    let mut from = 0;
    for p in 1..=parts {
        let goal = total * p / parts;
        let mut to = if p == parts {
            tiles.len()
        } else {
            (from..=tiles.len())
                .min_by_key(|&b| cum[b].abs_diff(goal))
                .unwrap_or(from)
        };
        to = to.max(from);
        if to > from {
            out.push(&tiles[from..to]);
            from = to;
        }
    }
    out
}

/// Every row's state after the products of `tiles`, taken in order on one thread: in tile
/// (block `[s, e)`, rows `r0..r1`) row `i` of the block is offered every `j` of `r0..r1`,
/// and each row `j < s` among them is offered `i` (so every pair is seen both ways once).
fn search(x: MatRef, products: &Products, g: &Geometry, tiles: &[Tile], k: usize) -> Vec<RowState> {
    let n = x.n;
    let mut states: Vec<RowState> = (0..n).map(|_| RowState::new(k)).collect();
    let mut cuts = vec![f32::INFINITY; n];
    let mut c = Vec::new();
    for &Tile { s, e, r0, r1 } in tiles {
        let (earlier, rest) = states.split_at_mut(s);
        let (earlier_cuts, rest_cuts) = cuts.split_at_mut(s);
        let block = &mut rest[..e - s];
        let block_cuts = &mut rest_cuts[..e - s];
        dots(x, products, s..e, r0..r1, &mut c);
        // rows r0..r1 split at s: the earlier ones are offered the block's rows too
        let mid = s.clamp(r0, r1);
        for (t, (st, ct)) in block.iter_mut().zip(block_cuts.iter_mut()).enumerate() {
            let p = &c[t * (r1 - r0)..(t + 1) * (r1 - r0)];
            let (pe, pb) = p.split_at(mid - r0);
            let (oe, ce) = (&mut earlier[r0..mid], &mut earlier_cuts[r0..mid]);
            scan(g, s + t, st, ct, r0, pe, oe, ce, true);
            scan(g, s + t, st, ct, mid, pb, &mut [], &mut [], false);
        }
    }
    states
}

/// The `k` nearest other rows of every row of `x` (row-major `n × k` indices), nearest first
/// when `ordered`, otherwise in any order (the vote needs only the set, and the exact
/// distances are then computed only for the candidates the bounds leave undecided). Needs
/// `n > k`.
///
/// The lower triangle of products is cut into tiles (see [`tiles`]) and the tiles into
/// `threads` runs of about equal work; each run searches with its own state for every row
/// ([`search`]), and the states are merged: the `k` smallest upper bounds of a row over all
/// runs, and the union of its candidates. Every true neighbour is a candidate in the run that
/// saw its pair, since a run's `k`-th bound is never below the true `k`-th distance; so the
/// result is the same for any number of threads.
fn neighbour_sets(x: MatRef, k: usize, threads: usize, ordered: bool, int16: bool) -> Vec<usize> {
    let n = x.n;
    assert!(n > k, "kNN needs more than k rows");
    let products = Products::new(x, int16);
    let g = Geometry::new(x, &products);
    let all = tiles(n);
    let runs = split(&all, threads.max(1));
    let mut parts: Vec<Vec<RowState>> = if runs.len() > 1 {
        runs.par_iter()
            .with_max_len(1)
            .map(|t| search(x, &products, &g, t, k))
            .collect()
    } else {
        vec![search(x, &products, &g, &all, k)]
    };
    let mut states = parts.remove(0);
    for part in parts {
        for (st, other) in states.iter_mut().zip(part) {
            st.merge(other);
        }
    }
    states
        .into_iter()
        .enumerate()
        .flat_map(|(r, st)| st.finish(x, r, ordered))
        .collect()
}

/// The `k` nearest other rows of every row of `x` (row-major `n × k` indices, nearest first;
/// see the module docs for ties), searched on `threads` threads. Needs `n > k`.
pub fn neighbours(x: MatRef, k: usize, threads: usize) -> Vec<usize> {
    neighbour_sets(x, k, threads, true, true)
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
    let nb = neighbour_sets(x, k, threads, false, true);
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

    /// The search on 1-4 threads, with f32 and (where the CPU has them) 16-bit products, both
    /// ordered and as the vote's unordered sets, against brute force.
    fn check_search(x: MatRef) {
        let want = brute(x, 3);
        for int16 in [false, true] {
            for threads in 1..=4 {
                let got = neighbour_sets(x, 3, threads, true, int16);
                assert_eq!(got, want, "{threads} threads, int16 {int16}");
                let sets = neighbour_sets(x, 3, threads, false, int16);
                for (got, want) in sets.chunks(3).zip(want.chunks(3)) {
                    let (mut got, mut want) = (got.to_vec(), want.to_vec());
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "{threads} threads, int16 {int16}");
                }
            }
        }
    }

    #[test]
    fn blocked_search_on_any_threads_and_either_product_equals_brute_force() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // 700 rows (two blocks, the last partial) of small integers in 6 dimensions: many
        // exactly equal distances; rows 600.. duplicate rows 0..100.
        let (n, d) = (700, 6);
        let mut x: Vec<f32> = (0..n * d)
            .map(|_| rng.gen_range(-3i32..=3) as f32)
            .collect();
        x.copy_within(0..100 * d, 600 * d);
        check_search(MatRef::new(&x, n, d));
        // continuous features, 64 wide: the bound-and-re-rank path with few candidates
        let x: Vec<f32> = (0..n * 64).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        check_search(MatRef::new(&x, n, 64));
        // 384 wide, Gaussian-like, with one coordinate 8 times the others (as the outlier
        // dimensions of BERT's hidden states) and a close pair of rows
        let mut x: Vec<f32> = (0..n * 384)
            .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum())
            .collect();
        for i in 0..n {
            x[i * 384 + 7] *= 8.0;
        }
        for j in 0..384 {
            x[5 * 384 + j] = x[300 * 384 + j] + 1e-4;
        }
        let m = MatRef::new(&x, n, 384);
        if crate::kernels::qdot::Quantized::available() {
            // the outlier coordinate still quantises finely enough for the 16-bit products
            assert!(matches!(Products::new(m, true), Products::Int16(..)));
        }
        check_search(m);
    }

    #[test]
    fn a_layer_with_one_huge_value_falls_back_to_f32_products() {
        let n = 40;
        let mut x: Vec<f32> = (0..n * 8).map(|i| (i % 7) as f32 * 0.1).collect();
        x[3] = 1e6;
        let p = Products::new(MatRef::new(&x, n, 8), true);
        assert!(matches!(p, Products::F32 { .. }));
        check_search(MatRef::new(&x, n, 8));
        if crate::kernels::qdot::Quantized::available() {
            let x: Vec<f32> = (0..n * 8).map(|i| (i % 7) as f32 * 0.1).collect();
            let p = Products::new(MatRef::new(&x, n, 8), true);
            assert!(matches!(p, Products::Int16(..)));
        }
    }

    #[test]
    fn tiles_cover_the_lower_triangle_once_and_split_into_runs_of_similar_work() {
        for n in [4, 511, 512, 513, 1500, 5000] {
            let all = tiles(n);
            // every ordered pair (i, j), j < i, from different blocks in exactly one tile
            let mut seen = 0usize;
            for t in &all {
                assert!(t.r1 <= t.e && t.e - t.s <= BLOCK && t.r1 - t.r0 <= ROWS);
                seen += (t.e - t.s) * (t.r1 - t.r0);
            }
            let blocks = n.div_ceil(BLOCK);
            let inside: usize = (0..blocks)
                .map(|b| ((b + 1) * BLOCK).min(n) - b * BLOCK)
                .map(|w| w * w)
                .sum();
            assert_eq!(seen, (n * n - inside) / 2 + inside, "n = {n}");
            for parts in 1..=5 {
                let runs = split(&all, parts);
                assert!(runs.len() <= parts && !runs.is_empty());
                assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), all.len());
            }
        }
        // 5,000 rows on 2 threads: the two runs' work within one tile of each other
        let all = tiles(5000);
        let runs = split(&all, 2);
        let work = |r: &[Tile]| r.iter().map(|t| (t.e - t.s) * (t.r1 - t.r0)).sum::<usize>();
        let (a, b) = (work(runs[0]), work(runs[1]));
        assert!(a.abs_diff(b) <= BLOCK * ROWS, "{a} vs {b}");
        assert_eq!(a + b, work(&all));
    }
}
