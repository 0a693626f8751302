#!/usr/bin/env python3
"""Reference implementation (numpy) of probecast's best-k subset OLS search.

Used two ways:
  * as the fixture source: `--fixture PATH` writes random problems with the best subset found
    by an explicit `np.linalg.lstsq` loop (the slow, obviously-correct reference) and by the
    batched Gram-matrix search below; probecast's unit tests must return the same subsets;
  * as the speed baseline: `--bench` times, on 25 rows x 84 features, (a) all 3-subsets, (b)
    all 4-subsets, (c) honest leave-one-out with the 3-subset search redone inside every fold,
    and prints one JSON line per measurement (seconds, best of `--repeat`).

The fast path standardises the columns, forms G = Z'Z and c = Z'y once, and evaluates every
subset S by RSS(S) = y'y - c_S' G_S^{-1} c_S with batched `np.linalg.solve` in chunks.
"""
import argparse
import itertools
import json
import math
import time

import numpy as np


def standardise(X, y):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    usable = sd > 1e-12 * np.maximum(np.abs(mu), 1e-300)
    Z = np.zeros_like(X)
    Z[:, usable] = (X[:, usable] - mu[usable]) / sd[usable]
    return Z, y - y.mean(), usable


def best_subset_gram(X, y, k, chunk=200_000):
    """Best k-subset by batched normal equations on the Gram matrix. Returns (indices, rss)."""
    Z, yc, usable = standardise(X, y)
    cand = np.flatnonzero(usable)
    G = Z.T @ Z
    c = Z.T @ yc
    yy = yc @ yc
    best = (None, math.inf)
    combos = itertools.combinations(cand, k)
    while True:
        idx = np.array(list(itertools.islice(combos, chunk)), dtype=np.intp)
        if idx.size == 0:
            break
        GS = G[idx[:, :, None], idx[:, None, :]]
        cS = c[idx]
        b = np.linalg.solve(GS, cS[:, :, None])[:, :, 0]
        rss = yy - np.einsum("ij,ij->i", cS, b)
        i = int(np.argmin(rss))
        if rss[i] < best[1]:
            best = (idx[i].tolist(), float(rss[i]))
    return best[0], max(best[1], 0.0)


def best_subset_lstsq(X, y, k):
    """Best k-subset by an explicit lstsq fit (with intercept) per subset. Slow; reference."""
    n = X.shape[0]
    best = (None, math.inf)
    for S in itertools.combinations(range(X.shape[1]), k):
        A = np.column_stack([np.ones(n), X[:, S]])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = y - A @ coef
        rss = float(r @ r)
        if rss < best[1]:
            best = (list(S), rss)
    return best


def honest_loo(X, y, k):
    """Leave-one-out with the k-subset search inside each fold; returns out-of-fold RMSE."""
    n = X.shape[0]
    preds = np.empty(n)
    for i in range(n):
        tr = np.arange(n) != i
        S, _ = best_subset_gram(X[tr], y[tr], k)
        A = np.column_stack([np.ones(tr.sum()), X[tr][:, S]])
        coef, *_ = np.linalg.lstsq(A, y[tr], rcond=None)
        preds[i] = coef[0] + X[i, S] @ coef[1:]
    return float(np.sqrt(np.mean((y - preds) ** 2)))


def paper_like(rows, cols, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.7, 0.08, size=(rows, cols))
    y = 0.3 * X[:, 3] - 0.2 * X[:, 10] + rng.normal(0, 0.02, size=rows)
    return X, y


def timed(f, repeat):
    best = math.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixture", help="write subset-search fixtures (JSON) to this path")
    ap.add_argument("--bench", action="store_true", help="time the searches on 25 x 84")
    ap.add_argument("--rows", type=int, default=25)
    ap.add_argument("--cols", type=int, default=84)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.fixture:
        rng = np.random.default_rng(a.seed)
        problems = []
        for p in range(3):
            n, m = 15 + p, 9 + p
            X = np.round(rng.normal(size=(n, m)), 6)
            y = np.round(rng.normal(size=n) + 0.5 * X[:, p], 6)
            best = []
            for k in (1, 2, 3, 4):
                S, rss = best_subset_lstsq(X, y, k)
                S2, rss2 = best_subset_gram(X, y, k)
                assert S == S2 and abs(rss - rss2) <= 1e-9 * rss, (S, S2, rss, rss2)
                best.append({"k": k, "subset": S, "rss": rss})
            problems.append({"x": X.tolist(), "y": y.tolist(), "best": best})
        with open(a.fixture, "w") as f:
            json.dump({"generator": "bench/python/subset_numpy.py --fixture", "seed": a.seed,
                       "problems": problems}, f)
    if a.bench:
        X, y = paper_like(a.rows, a.cols, a.seed)
        for name, f in [
            ("all_3_subsets", lambda: best_subset_gram(X, y, 3)),
            ("all_4_subsets", lambda: best_subset_gram(X, y, 4)),
            ("honest_loo_3_subsets", lambda: honest_loo(X, y, 3)),
        ]:
            sec, out = timed(f, a.repeat if name != "honest_loo_3_subsets" else 1)
            print(json.dumps({"impl": "numpy", "bench": name, "rows": a.rows, "cols": a.cols,
                              "seconds": sec, "result": out}))


if __name__ == "__main__":
    main()
