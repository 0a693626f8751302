#!/usr/bin/env python3
"""Reference values for probecast's transfer::compare (Kendall tau-b rows).

    python3 bench/python/transfer_compare_reference.py [OUT_DIR]

writes OUT_DIR/compare_reference.json (default tests/fixtures/transfer/): a fine-tuned target
over 24 checkpoints (ties, one missing) and four methods (ties, missing values, a constant
one), with, per method, the number of checkpoints where both are finite, scipy.stats.kendalltau
(tau-b) over them, the tied pairs on each side and the null standard deviation
sqrt(2(2n+5)/(9n(n-1))).
"""

import json
import math
import os
import sys

import numpy as np
from scipy.stats import kendalltau


def tied_pairs(v):
    _, counts = np.unique(v, return_counts=True)
    return int(sum(c * (c - 1) // 2 for c in counts))


def main(out_dir):
    rng = np.random.default_rng(20261207)
    n = 24
    target = np.round(rng.normal(size=n), 1)  # ties from rounding
    target[5] = np.nan
    methods = {
        "noisy": np.round(target * 0.7 + rng.normal(scale=0.8, size=n), 1),
        "params": np.repeat([89728.0, 310528.0], n // 2),  # two tie groups
        "missing": np.where(rng.random(n) < 0.25, np.nan, rng.normal(size=n)),
        "constant": np.full(n, 3.0),
    }
    methods["noisy"][[3, 17]] = np.nan
    rows = []
    for name, v in methods.items():
        ok = np.isfinite(v) & np.isfinite(target)
        a, b = v[ok], target[ok]
        m = int(ok.sum())
        tau = kendalltau(a, b).statistic
        rows.append({"method": name, "scores": [None if not np.isfinite(x) else float(x) for x in v],
                     "n": m, "tau": None if np.isnan(tau) else float(tau),
                     "method_ties": tied_pairs(a), "target_ties": tied_pairs(b),
                     "null_sd": math.sqrt(2 * (2 * m + 5) / (9 * m * (m - 1)))})
        print(name, m, tau)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "compare_reference.json")
    with open(path, "w") as fh:
        json.dump({"script": "bench/python/transfer_compare_reference.py",
                   "target": [None if not np.isfinite(x) else float(x) for x in target],
                   "methods": rows}, fh, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "transfer"))
