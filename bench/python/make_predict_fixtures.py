#!/usr/bin/env python3
"""Write the numeric fixtures of probecast's prediction stage (tests/fixtures/predict/).

* linear_models.json: OLS (sklearn LinearRegression), ridge (sklearn Ridge, raw and on
  StandardScaler'd columns, primal p < n and dual p > n), elastic net (sklearn ElasticNet,
  tight tolerance) and leave-one-out residuals by explicit refits, on small random data;
* small_features.csv / small_targets.csv: a paper-shaped table (25 checkpoints in 5 families,
  3 probing tasks x layers 0..4, targets rte and cola) for the CLI tests, and
  small_paper_expected.json: the paper protocol's best 3-subset and in-sample RMSE on it
  (features = layers >= 1), computed with numpy's lstsq loop.

Run from the repository root: python3 bench/python/make_predict_fixtures.py
"""
import itertools
import json
import os

import numpy as np
from sklearn.linear_model import ElasticNet, LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

OUT = "tests/fixtures/predict"


def r6(a):
    return np.round(a, 6)


def linear_models(rng):
    cases = []
    for n, p in [(20, 5), (8, 15)]:
        X = r6(rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p) + rng.normal(size=p))
        y = r6(X @ rng.normal(size=p) + rng.normal(size=n))
        case = {"x": X.tolist(), "y": y.tolist()}
        if n > p + 1:
            ols = LinearRegression().fit(X, y)
            case["ols"] = {"coef": ols.coef_.tolist(), "intercept": float(ols.intercept_)}
            loo = []
            for i in range(n):
                m = np.arange(n) != i
                f = LinearRegression().fit(X[m], y[m])
                loo.append(float(y[i] - f.predict(X[i : i + 1])[0]))
            case["ols_loo_residuals"] = loo
        case["ridge"] = []
        for alpha in (0.1, 2.5):
            r = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
            Z = StandardScaler().fit_transform(X)
            rs = Ridge(alpha=alpha, solver="cholesky").fit(Z, y)
            case["ridge"].append({
                "alpha": alpha,
                "coef": r.coef_.tolist(), "intercept": float(r.intercept_),
                "std_coef": rs.coef_.tolist(), "std_intercept": float(rs.intercept_),
            })
        Z = StandardScaler().fit_transform(X)
        case["enet"] = []
        for alpha, l1 in ((0.05, 0.5), (0.2, 0.9)):
            e = ElasticNet(alpha=alpha, l1_ratio=l1, tol=1e-14, max_iter=1_000_000).fit(Z, y)
            case["enet"].append({"alpha": alpha, "l1_ratio": l1, "coef": e.coef_.tolist(),
                                 "intercept": float(e.intercept_)})
        cases.append(case)
    return {"generator": "bench/python/make_predict_fixtures.py", "cases": cases}


def small_table(rng):
    fams = ["roberta", "xlmr", "albert", "deberta", "xlnet"]
    ids, famv = [], []
    for f in fams:
        for c in range(5):
            ids.append(f if c == 0 else f"{f}_corr_{c}")
            famv.append(f)
    tasks = ["bigram_shift", "obj_number", "tree_depth"]
    cols = [f"{t}_layer_{k}" for t in tasks for k in range(5)]
    n = len(ids)
    fe = np.array([fams.index(f) for f in famv], dtype=float)
    X = r6(rng.normal(0.7, 0.06, size=(n, len(cols))) + 0.01 * fe[:, None])
    X[:, cols.index("obj_number_layer_0")] = 0.5  # constant column: dropped by the paper protocol
    rte = r6(0.6 + 0.8 * (X[:, 2] - 0.7) - 0.5 * (X[:, 8] - 0.7) + rng.normal(0, 0.015, n))
    cola = r6(0.5 + 0.02 * fe + rng.normal(0, 0.01, n))
    with open(f"{OUT}/small_features.csv", "w") as f:
        f.write("model,family," + ",".join(cols) + "\n")
        for i in range(n):
            f.write(f"{ids[i]},{famv[i]}," + ",".join(f"{v:.6f}" for v in X[i]) + "\n")
    with open(f"{OUT}/small_targets.csv", "w") as f:
        f.write("model,rte,cola\n")
        for i in reversed(range(n)):  # another order on purpose: joined on ids
            f.write(f"{ids[i]},{rte[i]:.6f},{cola[i]:.6f}\n")
    # paper protocol on layers >= 1 (k = 3), by an explicit lstsq loop
    feat = [j for j, c in enumerate(cols) if not c.endswith("_layer_0")]
    expected = {}
    for name, y in (("rte", rte), ("cola", cola)):
        Xr = np.round(X, 6)
        best = (None, np.inf)
        for S in itertools.combinations(feat, 3):
            A = np.column_stack([np.ones(n), Xr[:, S]])
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            rss = float(np.sum((y - A @ coef) ** 2))
            if rss < best[1]:
                best = ([cols[j] for j in S], rss, coef.tolist())
        expected[name] = {"features": best[0], "rmse": float(np.sqrt(best[1] / n)),
                          "raw_intercept": best[2][0], "raw_coefficients": best[2][1:]}
    with open(f"{OUT}/small_paper_expected.json", "w") as f:
        json.dump(expected, f, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20221)
    with open(f"{OUT}/linear_models.json", "w") as f:
        json.dump(linear_models(rng), f)
    small_table(rng)


if __name__ == "__main__":
    main()
