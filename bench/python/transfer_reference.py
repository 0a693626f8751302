#!/usr/bin/env python3
"""Reference transferability estimators (numpy + scikit-learn) for probecast's src/transfer.

    python3 bench/python/transfer_reference.py fixtures [OUT_DIR]
        writes OUT_DIR/reference.json (default tests/fixtures/transfer/): small float32
        feature matrices with labels and, for each, LogME (the reference algorithm and the
        n < d corrected variant), the regularised H-score with sklearn.covariance.LedoitWolf and
        leave-one-out 3-NN accuracy with KNeighborsClassifier.

    python3 bench/python/transfer_reference.py bench [--layers 13 --n 5000 --d 768 --rounds 3]
        times the three estimators here on LAYERS random float32 matrices n x d (3 classes),
        for every (OpenBLAS, OpenMP) thread count in {1, 2}, then runs probecast's bench
        (`cargo bench --bench transfer` with TRANSFER_BENCH_NPY, median of 3) on the same
        features; ROUNDS such rounds alternate the two sides, and the ratios use each side's
        fastest time (interference on a shared machine only adds time). Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in that
        command (see /work/shared/notes/tooling.md).

LogME below is `_fit_fixed_point` of LogME.py (thuml/LogME) written out line by line, with
`corrected=True` padding the singular values with zeros to d (the log-determinant over all d
eigenvalues of alpha I + beta F^T F). H-score follows Ibrahim et al. (2022)'s shrinkage form:
trace(pinv(Sigma_LW, rcond=1e-15) (1 - alpha) Cov(g)), Cov with n - 1, g the class means.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np


# ---------------------------------------------------------------- LogME (thuml/LogME LogME.py)
def truncated_svd(x):
    u, s, vh = np.linalg.svd(x.transpose() @ x)
    s = np.sqrt(s)
    u_times_sigma = x @ vh.transpose()
    k = np.sum((s > 1e-10) * 1)  # rank of f
    s = s.reshape(-1, 1)
    s = s[:k]
    vh = vh[:k]
    u = u_times_sigma[:, :k] / s.reshape(1, -1)
    return u, s, vh


def logme(f, y, regression=False, corrected=False):
    """LogME.fit with _fit = _fit_fixed_point; corrected=True pads sigma to d with zeros."""
    f = f.astype(np.float64)
    if regression:
        y = y.astype(np.float64)
        if len(y.shape) == 1:
            y = y.reshape(-1, 1)
    N, D = f.shape
    if N > D:
        u, s, vh = truncated_svd(f)
    else:
        u, s, vh = np.linalg.svd(f, full_matrices=False)
    s = s.reshape(-1, 1)
    sigma = s ** 2
    if corrected:
        sigma_det = np.concatenate([sigma, np.zeros((D - sigma.shape[0], 1))])
    else:
        sigma_det = sigma
    evidences = []
    num_dim = y.shape[1] if regression else int(y.max() + 1)
    for i in range(num_dim):
        y_ = y[:, i] if regression else (y == i).astype(np.float64)
        y_ = y_.reshape(-1, 1)
        x = u.T @ y_
        x2 = x ** 2
        res_x2 = (y_ ** 2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / ((t + sigma) ** 2)).sum()
            res2 = (x2 / ((1 + sigma / t) ** 2)).sum() + res_x2
            alpha = gamma / (m2 + 1e-5)
            beta = (N - gamma) / (res2 + 1e-5)
            t_ = alpha / beta
            if abs(t_ - t) / t <= 1e-3:
                break
        evidence = D / 2.0 * np.log(alpha) \
            + N / 2.0 * np.log(beta) \
            - 0.5 * np.sum(np.log(alpha + beta * sigma_det)) \
            - beta / 2.0 * res2 \
            - alpha / 2.0 * m2 \
            - N / 2.0 * np.log(2 * np.pi)
        evidence /= N
        evidences.append(evidence)
    return float(np.mean(evidences))


# ------------------------------------------------------------------- regularised H-score
def get_cov(x):
    xm = x - np.mean(x, axis=0, keepdims=True)
    return np.matmul(xm.T, xm) / (len(x) - 1)


def hscore(f, y):
    from sklearn.covariance import LedoitWolf
    f = f.astype(np.float64)
    f = f - np.mean(f, axis=0, keepdims=True)
    lw = LedoitWolf(assume_centered=False).fit(f)
    alpha = lw.shrinkage_
    cov_alpha = lw.covariance_
    g = np.zeros_like(f)
    for c in np.unique(y):
        g[y == c] = np.mean(f[y == c], axis=0)
    cov_g = get_cov(g)
    return float(np.trace(np.linalg.pinv(cov_alpha, rcond=1e-15) @ ((1 - alpha) * cov_g)))


# ------------------------------------------------------------------- leave-one-out kNN
def knn_loo(f, y, k=3):
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.neighbors import KNeighborsClassifier
    knn = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(f.astype(np.float64), y)
    neigh = knn.kneighbors(return_distance=False)  # X=None: each point's neighbours exclude it
    votes = y[neigh]
    classes = int(y.max()) + 1
    counts = np.stack([(votes == c).sum(axis=1) for c in range(classes)], axis=1)
    pred = counts.argmax(axis=1)  # ties: smallest class, as KNeighborsClassifier.predict
    return float((pred == y).mean()), float(balanced_accuracy_score(y, pred))


# ------------------------------------------------------------------- fixtures
def case(rng, name, n, d, classes, sep, regression=False):
    if regression:
        y = rng.normal(size=n)
        w = rng.normal(size=d)
        f = rng.normal(size=(n, d)) + 0.3 * np.outer(y, w)
    else:
        y = np.arange(n) % classes
        rng.shuffle(y)
        means = rng.normal(scale=sep, size=(classes, d))
        f = rng.normal(size=(n, d)) + means[y] + 0.5
    f = f.astype(np.float32)
    out = {"name": name, "n": n, "d": d, "regression": regression,
           "x": [float(v) for v in f.ravel()],
           "y": [float(v) for v in y] if regression else [int(v) for v in y]}
    f64 = f.astype(np.float64)
    out["logme_reference"] = logme(f64, y, regression=regression, corrected=False)
    out["logme_corrected"] = logme(f64, y, regression=regression, corrected=True)
    if not regression:
        out["classes"] = classes
        out["hscore"] = hscore(f64, y)
        micro, macro = knn_loo(f64, y)
        out["knn_micro"], out["knn_macro"] = micro, macro
    return out


def fixtures(out_dir):
    rng = np.random.default_rng(20261207)
    cases = [
        case(rng, "n_above_d_3_classes", 150, 12, 3, 0.6),
        case(rng, "n_below_d_2_classes", 30, 48, 2, 0.5),
        case(rng, "n_above_d_4_classes_overlapping", 200, 24, 4, 0.25),
        case(rng, "regression_n_above_d", 80, 10, 0, 0, regression=True),
        case(rng, "regression_n_below_d", 20, 32, 0, 0, regression=True),
    ]
    f0 = np.array(cases[0]["x"], dtype=np.float32).reshape(150, 12)
    print("first case: LogME %.6f (corrected %.6f), H-score %.6f, kNN %.4f/%.4f" % (
        cases[0]["logme_reference"], cases[0]["logme_corrected"], cases[0]["hscore"],
        cases[0]["knn_micro"], cases[0]["knn_macro"]), "features", f0[0, :3])
    b = cases[1]
    print("n < d case: reference %.6f vs corrected %.6f" % (b["logme_reference"], b["logme_corrected"]))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "reference.json")
    with open(path, "w") as fh:
        json.dump({"script": "bench/python/transfer_reference.py fixtures",
                   "numpy": np.__version__, "cases": cases}, fh)
    print("wrote", path, os.path.getsize(path), "bytes")


# ------------------------------------------------------------------- benchmark
def bench(args):
    import argparse
    from threadpoolctl import threadpool_info, threadpool_limits
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=13)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--dir", default="/tmp/transfer-bench")
    p.add_argument("--skip-rust", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(args)
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(7)
    y = np.arange(a.n) % 3
    rng.shuffle(y)
    means = rng.normal(scale=0.2, size=(3, a.d))
    layers = [(rng.normal(size=(a.n, a.d)) + means[y]).astype(np.float32) for _ in range(a.layers)]
    for k, f in enumerate(layers):
        np.save(os.path.join(a.dir, f"layer_{k}.npy"), f)
    np.save(os.path.join(a.dir, "labels.npy"), y.astype(np.int64))
    print("BLAS:", [(i["internal_api"], i.get("num_threads")) for i in threadpool_info()])
    fns = [("logme", lambda f: logme(f.astype(np.float64), y, corrected=True)),
           ("hscore", lambda f: hscore(f.astype(np.float64), y)),
           ("knn", lambda f: knn_loo(f.astype(np.float64), y))]
    # rounds alternate the two sides; each side's time is its fastest round (the timeit
    # convention: interference on a shared VM only ever adds time)
    best_py, best_rs = {}, {}
    for rnd in range(1, a.rounds + 1):
        for name, fn in fns:
            for threads in (1, 2):
                with threadpool_limits(limits=threads):
                    t0 = time.perf_counter()
                    for f in layers:
                        fn(f)
                    dt = time.perf_counter() - t0
                print(f"round {rnd}: numpy/sklearn {name}: {threads} BLAS/OpenMP thread(s): "
                      f"{dt:.2f} s for {a.layers} layers")
                if name not in best_py or dt < best_py[name][0]:
                    best_py[name] = (dt, threads)
        if a.skip_rust:
            continue
        env = dict(os.environ, TRANSFER_BENCH_NPY=a.dir, TRANSFER_BENCH_JSON="1")
        out = subprocess.run(["cargo", "bench", "--bench", "transfer"], env=env,
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            print(f"round {rnd}: probecast {r['name']}: {r['seconds']:.2f} s for {a.layers} layers")
            if r["name"] not in best_rs or r["seconds"] < best_rs[r["name"]]:
                best_rs[r["name"]] = r["seconds"]
    for name, _ in fns:
        if name not in best_rs:
            continue
        py, th = best_py[name]
        rs = best_rs[name]
        print(f"{name}: probecast {rs:.2f} s, numpy/sklearn {py:.2f} s ({th} thread(s)), "
              f"fastest of {a.rounds} round(s) each -> {py / rs:.1f}x")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    if cmd == "fixtures":
        here = os.path.dirname(os.path.abspath(__file__))
        default = os.path.join(here, "..", "..", "tests", "fixtures", "transfer")
        fixtures(sys.argv[2] if len(sys.argv) > 2 else default)
    elif cmd == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(__doc__)
