#!/usr/bin/env python3
"""scikit-learn reference for the logistic-regression probe: accuracy and speed, side by side
with probecast on identical features.

  # 1. features (once): all-MiniLM-L6-v2 layer 3 on two SentEval subsets, standardised with the
  #    training statistics; 384 = [CLS], 768 = [CLS] ++ mean pooling.
  python3 bench/python/probe_sklearn.py make-features target/probe-bench
  # 2. time scikit-learn and probecast (cargo bench --bench probe_logreg in JSON mode) in one run
  python3 bench/python/probe_sklearn.py bench target/probe-bench

Each case fits LogisticRegression(lbfgs) over the penalty grid C in {0.01, 0.1, 1, 10}, one fit
per C with default settings (tol 1e-4), as a user of scikit-learn would, and reports the best
C on validation with its test accuracy; probecast fits the same grid along a warm-started path.
It also reports a single fit at C=1. Times are the median of --repeats runs.

Threads: `--threads T` is probecast's threads per fit (`LogRegOptions::threads`, rows split
over T threads per evaluation). `--sk-threads 1/1,2/1,1/2` times scikit-learn under each listed
configuration of OpenBLAS threads / OpenMP threads (threadpoolctl, same process; OpenMP runs
scikit-learn's loss and gradient) and compares probecast with the fastest, so that a
multi-threaded probecast is not compared against a single-threaded scikit-learn. Every
configuration after the first gets one C=1 fit first; one more than 1.3x slower than the best so
far is not timed further (on this 2-core VM, 2 OpenBLAS threads made scikit-learn 2-15x slower,
quiet machine or not). Run on a quiet machine.
"""
import argparse, json, os, pathlib, statistics, subprocess, sys, time

# OpenBLAS and OpenMP are loaded with the largest thread counts of --sk-threads (set before
# numpy loads them); each measurement then limits them with threadpoolctl.
SK_THREADS = "1/1"
for i, a in enumerate(sys.argv):
    if a == "--sk-threads" and i + 1 < len(sys.argv):
        SK_THREADS = sys.argv[i + 1]


def sk_configs(spec):
    """'1/1,2/1' -> [(1, 1), (2, 1)]: (OpenBLAS threads, OpenMP threads); 'B' alone is B/1."""
    out = []
    for part in spec.split(","):
        b, _, o = part.partition("/")
        out.append((int(b), int(o or 1)))
    return out


os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(max(b for b, _ in sk_configs(SK_THREADS)))
os.environ["OMP_NUM_THREADS"] = str(max(o for _, o in sk_configs(SK_THREADS)))
import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
GRID = [0.01, 0.1, 1.0, 10.0]
ROOT = pathlib.Path(__file__).resolve().parents[2]


def read_senteval(path):
    tr, te = [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line:
            split, label, sent = line.split("\t", 2)
            (te if split == "te" else tr).append((label, sent))
    return tr, te


def embed(model_dir, sentences, layer):
    import torch
    from transformers import AutoModel, AutoTokenizer
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    cls, mean = [], []
    with torch.no_grad():
        for i in range(0, len(sentences), 128):
            b = tok(sentences[i:i + 128], padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = model(**b, output_hidden_states=True).hidden_states[layer]
            m = b["attention_mask"].unsqueeze(-1).float()
            cls.append(h[:, 0].numpy())
            mean.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(cls), np.concatenate(mean)


def make_features(out, model, data, layer, per_class):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for task in ["bigram_shift", "tree_depth"]:
        tr, te = read_senteval(pathlib.Path(data) / f"{task}.txt")
        labels = sorted({l for l, _ in tr}, key=lambda s: (len(s), s))
        idx = {l: i for i, l in enumerate(labels)}
        ytr_all = np.array([idx[l] for l, _ in tr])
        tr_rows, va_rows = [], []
        for c in range(len(labels)):
            rows = rng.permutation(np.flatnonzero(ytr_all == c))
            nt = min(per_class, int(len(rows) * 0.8))
            nv = min(per_class // 4, len(rows) - nt)
            tr_rows += list(rows[:nt]); va_rows += list(rows[nt:nt + nv])
        tr_rows = rng.permutation(tr_rows); va_rows = rng.permutation(va_rows)
        sents = [s for _, s in tr] + [s for _, s in te]
        cls, mean = embed(model, sents, layer)
        yte = np.array([idx[l] for l, _ in te])
        for dim, X in [(384, cls), (768, np.concatenate([cls, mean], 1))]:
            Xtr, Xva, Xte = X[tr_rows], X[va_rows], X[len(tr):]
            mu, sd = Xtr.mean(0), Xtr.std(0)
            sd[sd == 0] = 1
            name = f"{task}_{dim}"
            for part, M in [("train", Xtr), ("val", Xva), ("test", Xte)]:
                np.save(out / f"{name}_{part}_x.npy", ((M - mu) / sd).astype(np.float32))
            meta = {"case": name, "task": task, "layer": layer, "labels": labels,
                    "train_y": ytr_all[tr_rows].tolist(), "val_y": ytr_all[va_rows].tolist(),
                    "test_y": yte.tolist()}
            (out / f"{name}.json").write_text(json.dumps(meta))
            print(name, Xtr.shape, Xva.shape, Xte.shape, flush=True)


def load(d, name):
    meta = json.loads((d / f"{name}.json").read_text())
    X = {p: np.load(d / f"{name}_{p}_x.npy").astype(np.float64) for p in ["train", "val", "test"]}
    y = {p: np.array(meta[f"{p}_y"]) for p in ["train", "val", "test"]}
    return X, y


def sk_objective(clf, X, y, C):
    P = clf.predict_proba(X)
    n = len(y)
    return float(-np.log(np.clip(P[np.arange(n), y], 1e-300, None)).mean() + (clf.coef_ ** 2).sum() / (2 * C * n))


def bench_sklearn(d, name, repeats, gate=None):
    """Time scikit-learn on one case. With `gate` (seconds), one C=1 fit first: if it takes more
    than gate, return {"probe_fit_s": ...} without timing the rest."""
    from sklearn.linear_model import LogisticRegression
    X, y = load(d, name)
    res = {}
    if gate is not None:
        t = time.perf_counter()
        LogisticRegression(C=1.0, max_iter=10000).fit(X["train"], y["train"])
        first = time.perf_counter() - t
        if first > gate:
            return {"probe_fit_s": first}
    # single fit at C=1
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        clf = LogisticRegression(C=1.0, max_iter=10000).fit(X["train"], y["train"])
        times.append(time.perf_counter() - t)
    res["fit_c1_s"] = statistics.median(times)
    res["fit_c1_obj"] = sk_objective(clf, X["train"], y["train"], 1.0)
    res["fit_c1_test_acc"] = float((clf.predict(X["test"]) == y["test"]).mean())
    # grid selection
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        best = None
        for C in GRID:
            clf = LogisticRegression(C=C, max_iter=10000).fit(X["train"], y["train"])
            va = (clf.predict(X["val"]) == y["val"]).mean()
            if best is None or va > best[0]:
                best = (va, C, clf)
        times.append(time.perf_counter() - t)
    res["grid_s"] = statistics.median(times)
    res["grid_c"] = best[1]
    res["grid_val_acc"] = float(best[0])
    res["grid_test_acc"] = float((best[2].predict(X["test"]) == y["test"]).mean())
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-features")
    m.add_argument("out")
    m.add_argument("--model", default=str(pathlib.Path.home() / ".cache/probecast/models/all-MiniLM-L6-v2"))
    m.add_argument("--data", default=str(ROOT.parent / "shared/data/senteval_probing"))
    m.add_argument("--layer", type=int, default=3)
    m.add_argument("--per-class", type=int, default=1200)
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--no-rust", action="store_true")
    b.add_argument("--cases", default="", help="comma-separated substrings: only the cases whose name contains one")
    b.add_argument("--threads", default="1", help="probecast threads per fit")
    b.add_argument("--sk-threads", default="1/1", help="comma-separated OpenBLAS/OpenMP thread counts to time scikit-learn with; the fastest is compared")
    args = ap.parse_args()
    if args.cmd == "make-features":
        make_features(pathlib.Path(args.out), args.model, args.data, args.layer, args.per_class)
        return
    import sklearn, threadpoolctl
    d = pathlib.Path(args.dir).resolve()
    cases = sorted(p.stem for p in d.glob("*.json"))
    if args.cases:
        cases = [c for c in cases if any(f in c for f in args.cases.split(","))]
    rust = {}

    def run_rust(case):
        # One case at a time, right before scikit-learn's turn on the same case, so that both
        # sides see the same load on a shared machine.
        env = dict(os.environ, PROBE_BENCH_DATA=str(d), PROBE_BENCH_JSON="1", PROBE_BENCH_REPEATS=str(args.repeats),
                   PROBE_BENCH_THREADS=args.threads, PROBE_BENCH_FILTER=case)
        out = subprocess.run(["cargo", "bench", "--bench", "probe_logreg"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                if r["case"] == case:
                    rust[case] = r

    if not args.no_rust:  # build the bench first (not timed)
        subprocess.run(["cargo", "bench", "--bench", "probe_logreg", "--no-run"], cwd=ROOT, check=True,
                       capture_output=True)
    info = threadpoolctl.threadpool_info()
    sk_threads = sk_configs(args.sk_threads)
    print(f"# scikit-learn {sklearn.__version__}, BLAS libraries: {[(i.get('internal_api'), i.get('num_threads')) for i in info]}, scikit-learn timed with (OpenBLAS, OpenMP) threads {sk_threads}, probecast threads: {args.threads}, load average before: {os.getloadavg()}", flush=True)
    print("(cases interleaved: probecast, then scikit-learn with each thread count, per case; the sklearn columns show the fastest configuration, its (OpenBLAS/OpenMP) threads in brackets, and the ratios compare against it)")
    print("| case | n_train x dim | classes | sklearn C=1 fit | probecast C=1 fit | ratio | sklearn grid (4 C) | probecast grid (path) | ratio | test acc sklearn / probecast (grid) | objective C=1 sklearn / probecast | sklearn C=1 / grid per (OpenBLAS/OpenMP) threads | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        if not args.no_rust:
            run_rust(c)
        per, skipped = {}, {}
        for (b, o) in sk_threads:
            gate = None if not per else 1.3 * min(v["fit_c1_s"] for v in per.values())
            with threadpoolctl.threadpool_limits(limits=b, user_api="blas"), \
                    threadpoolctl.threadpool_limits(limits=o, user_api="openmp"):
                r_ = bench_sklearn(d, c, args.repeats, gate)
            if "probe_fit_s" in r_:
                skipped[(b, o)] = r_["probe_fit_s"]
            else:
                per[(b, o)] = r_
        t_fit = min(per, key=lambda t: per[t]["fit_c1_s"])
        t_grid = min(per, key=lambda t: per[t]["grid_s"])
        s = dict(per[t_grid])
        s["fit_c1_s"] = per[t_fit]["fit_c1_s"]
        cfg = lambda t: f"{t[0]}/{t[1]}"
        detail = "; ".join([f"{cfg(t)}: {v['fit_c1_s']*1e3:.1f} / {v['grid_s']*1e3:.1f} ms" for t, v in per.items()]
                           + [f"{cfg(t)}: one fit {v*1e3:.1f} ms, not timed further" for t, v in skipped.items()])
        t_fit, t_grid = cfg(t_fit), cfg(t_grid)
        X, y = load(d, c)
        k = len(set(y["train"].tolist()))
        r = rust.get(c)
        if r:
            print(f"| {c} | {X['train'].shape[0]} x {X['train'].shape[1]} | {k} | {s['fit_c1_s']*1e3:.1f} ms ({t_fit}) | {r['fit_c1_s']*1e3:.1f} ms | "
                  f"{s['fit_c1_s']/r['fit_c1_s']:.1f}x | {s['grid_s']*1e3:.1f} ms ({t_grid}) | {r['grid_s']*1e3:.1f} ms | {s['grid_s']/r['grid_s']:.1f}x | "
                  f"{s['grid_test_acc']:.4f} (C={s['grid_c']}) / {r['grid_test_acc']:.4f} (C={r['grid_c']}) | {s['fit_c1_obj']:.6f} / {r['fit_c1_obj']:.6f} | {detail} | load {os.getloadavg()[0]:.1f} |", flush=True)
        else:
            print(f"| {c} | {X['train'].shape} | {k} | {s['fit_c1_s']*1e3:.1f} ms ({t_fit}) | - | - | {s['grid_s']*1e3:.1f} ms ({t_grid}) | - | - | {s['grid_test_acc']:.4f} | {s['fit_c1_obj']:.6f} | {detail} |", flush=True)


if __name__ == "__main__":
    main()
