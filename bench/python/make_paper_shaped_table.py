#!/usr/bin/env python3
"""Write a synthetic table with the exact shape of the seed paper's published table: an `LM` id
column (25 checkpoints: 4 families x (base + 5 `_corr_` variants) + xlnet), the 6 GLUE targets
rte,cola,qnli,mrpc,sst2,qqp, then 91 columns `<task>_layer_<k>` (7 SentEval tasks x layers
0..12). Targets depend on family and on two probe columns, plus noise. For timing and demos only.

Usage: python3 bench/python/make_paper_shaped_table.py OUT.csv [--seed 0]
"""
import argparse

import numpy as np

TASKS = ["bigram_shift", "coordination_inversion", "obj_number", "odd_man_out",
         "past_present", "subj_number", "tree_depth"]
GLUE = ["rte", "cola", "qnli", "mrpc", "sst2", "qqp"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    ids, fam = [], []
    for f in ["roberta", "xlmr", "albert", "deberta"]:
        for c in range(6):
            ids.append(f if c == 0 else f"{f}_corr_{c}")
            fam.append(f)
    ids.append("xlnet")
    fam.append("xlnet")
    n = len(ids)
    fe = np.array([sorted(set(fam)).index(f) for f in fam], dtype=float)
    cols = [f"{t}_layer_{k}" for t in TASKS for k in range(13)]
    X = rng.normal(0.7, 0.05, size=(n, len(cols))) + 0.02 * fe[:, None]
    X[:, [k * 13 for k in range(7)]] = 0.5  # layer 0 (embeddings): constant in this toy
    Y = np.empty((n, len(GLUE)))
    for t in range(len(GLUE)):
        a1, a2 = rng.choice(range(len(cols)), 2, replace=False)
        Y[:, t] = (0.6 + 0.03 * fe + 0.5 * (X[:, a1] - 0.7) - 0.3 * (X[:, a2] - 0.7)
                   + rng.normal(0, 0.02, n))
    with open(a.out, "w") as f:
        f.write("LM," + ",".join(GLUE) + "," + ",".join(cols) + "\n")
        for i in range(n):
            f.write(ids[i] + "," + ",".join(f"{v:.4f}" for v in Y[i]) + ","
                    + ",".join(f"{v:.4f}" for v in X[i]) + "\n")


if __name__ == "__main__":
    main()
