#!/usr/bin/env python3
"""scikit-learn / scipy reference values for probecast's GLUE metrics.

Writes tests/fixtures/finetune/metrics.json: random label vectors (binary and 3-class, with and
without ties for the correlations) and sklearn's accuracy_score, f1_score, matthews_corrcoef,
scipy's pearsonr and spearmanr on them."""
import json
import os

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

rng = np.random.default_rng(7)
cases = []
for n, k in [(50, 2), (200, 2), (120, 3), (30, 2)]:
    gold = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.7, gold, rng.integers(0, k, n))
    c = {"gold": gold.tolist(), "pred": pred.tolist(), "accuracy": accuracy_score(gold, pred),
         "mcc": matthews_corrcoef(gold, pred)}
    if k == 2:
        c["f1"] = f1_score(gold, pred, zero_division=0)
    cases.append(c)
corr = []
for n, ties in [(40, False), (100, True)]:
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(size=n)
    if ties:
        x, y = np.round(x * 2) / 2, np.round(y)
    corr.append({"x": x.tolist(), "y": y.tolist(), "pearson": pearsonr(x, y)[0], "spearman": spearmanr(x, y)[0]})
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "finetune", "metrics.json")
json.dump({"classification": cases, "correlation": corr}, open(out, "w"))
print("wrote", out)
