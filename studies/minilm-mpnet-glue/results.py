#!/usr/bin/env python3
"""Write the tables of RESULTS.md (between its `<!-- tables:begin -->` and `<!-- tables:end -->`
markers) from the study's committed CSVs, so that the page's numbers are the files' numbers:

- out/results/ (the whole study's fit) or, while units are missing, out/results-partial/
  (`probecast study run --stage fit --partial`): fit-loo/ and fit-by-operation/ summary.csv and
  cv_predictions.csv, seed-noise.csv, cost.csv, partial.json, targets.csv, checkpoints.csv;
- out/compare/comparison.csv (`compare.sh`: the estimators and the parameter count);
- out/paper-in-sample/summary.csv (`compare.sh`: the seed paper's in-sample protocol).

    python3 studies/minilm-mpnet-glue/results.py

Standard library only. Everything here is arithmetic on the files (no fitting): the success
rule is the one fixed in DESIGN.md.
"""
import csv
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
TASKS = ["rte", "mrpc", "cola", "sst2"]
NAMES = {"rte": "RTE", "mrpc": "MRPC", "cola": "CoLA", "sst2": "SST-2"}
METRIC = {"rte": "accuracy", "mrpc": "(F1 + accuracy) / 2", "cola": "MCC", "sst2": "accuracy"}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def f4(x):
    return f"{float(x):.4f}"


def f2(x):
    return f"{float(x):.2f}"


def tau_ceiling(ratio):
    """Kendall τ of a perfect predictor of the expected score against one-seed targets whose
    spread over checkpoints is `ratio` times the seed noise: the reliability is 1 - 1/ratio², so
    the correlation is its square root, and τ = (2/π)·asin(ρ) for a bivariate normal (Greiner)."""
    rho = math.sqrt(max(0.0, 1.0 - 1.0 / ratio ** 2))
    return 2.0 / math.pi * math.asin(rho)


def table(head, body):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


def main():
    res = os.path.join(OUT, "results")
    partial = not os.path.exists(os.path.join(res, "fit-loo", "summary.csv"))
    if partial:
        res = os.path.join(OUT, "results-partial")
    parts = []
    if partial:
        p = json.load(open(os.path.join(res, "partial.json")))
        parts.append(
            f"Source: `out/results-partial/` (a partial fit: {len(p['included'])} complete "
            f"checkpoints; {len(p['missing'])} still missing: {', '.join(p['missing'])})."
        )
    else:
        parts.append("Source: `out/results/` (the whole study's fit).")

    loo = {r["target"]: r for r in rows(os.path.join(res, "fit-loo", "summary.csv"))}
    byop = {r["target"]: r for r in rows(os.path.join(res, "fit-by-operation", "summary.csv"))}
    noise = {r["task"]: r for r in rows(os.path.join(res, "seed-noise.csv"))}

    # 1. targets and the seed-noise floor
    body = []
    for t in TASKS:
        n = noise[t]
        ratio = float(n["target_sd_over_seed_sd"])
        body.append([
            NAMES[t], METRIC[t], n["checkpoints"], f4(n["target_sd"]), f4(n["target_range"]),
            f"{f4(n['seed_sd'])} ({n['checkpoints_with_seeds']})", f2(ratio),
            "yes" if ratio > 2 else "**no**: not measurable with this budget",
            f2(tau_ceiling(ratio)),
        ])
    parts.append("### Targets and the seed-noise floor\n\n" + table(
        ["task", "metric", "checkpoints", "sd over checkpoints", "range", "seed sd (checkpoints with 3 seeds)",
         "ratio", "spread > 2x seed noise?", "τ ceiling under seed noise"], body))

    # 2. the predictor under both fold schemes
    body = []
    for t in TASKS:
        for name, s in [("leave one checkpoint out", loo[t]), ("leave one operation out", byop[t])]:
            body.append([
                NAMES[t], name, f4(s["rmse"]), f4(s["baseline_mean"]), f4(s["baseline_family_mean"]),
                f4(s["baseline_noise"]),
                f"{100 * (1 - float(s['rmse']) / float(s['baseline_family_mean'])):+.1f} %",
                f2(s["p_value"]),
                f2(s["kendall_tau"]), f2(s["coverage"]),
            ])
    parts.append("### The probing predictor (ridge over the 98 probing columns), out of sample\n\n" + table(
        ["task", "folds", "RMSE", "mean baseline", "family-mean baseline", "noise features",
         "RMSE below the family mean by", "permutation p", "Kendall τ", "90 % interval coverage"], body))

    # 3. success criteria (DESIGN.md)
    tau_ok = sum(float(loo[t]["kendall_tau"]) >= 0.6 for t in TASKS)
    rmse_ok = sum(float(loo[t]["rmse"]) < float(loo[t]["baseline_family_mean"]) for t in TASKS)
    best_tau = max(TASKS, key=lambda t: float(loo[t]["kendall_tau"]))
    parts.append(
        "### Against the success rule fixed in DESIGN.md\n\n" + table(
            ["criterion", "target", "result", "met?"],
            [["Kendall τ ≥ 0.6, leave one checkpoint out", "3 of 4 tasks", f"{tau_ok} of 4 (best: "
              f"{NAMES[best_tau]} {f2(loo[best_tau]['kendall_tau'])})", "yes" if tau_ok >= 3 else "**no**"],
             ["RMSE below the family-mean baseline, leave one checkpoint out", "2 of 4 tasks",
              f"{rmse_ok} of 4", "yes" if rmse_ok >= 2 else "**no**"]]))

    # 4. per-operation errors of the leave-one-operation-out fit
    cv = rows(os.path.join(res, "fit-by-operation", "cv_predictions.csv"))
    ops = {}
    for r in rows(os.path.join(res, "table-by-operation.csv")):
        ops[r["model"]] = r["operation"]
    order = []
    for m in ops:
        if ops[m] not in order:
            order.append(ops[m])
    body = []
    for op in order:
        line = [op, str(sum(1 for m in ops if ops[m] == op))]
        for t in TASKS:
            e = [float(r["predicted"]) - float(r["true"]) for r in cv
                 if r["target"] == t and ops.get(r["model"]) == op]
            line.append(f"{statistics.mean(e):+.4f} / {statistics.mean(abs(x) for x in e):.4f}" if e else "-")
        body.append(line)
    parts.append("### Leave one operation out: error per held-out operation (mean signed / mean absolute)\n\n"
                 + table(["operation", "checkpoints"] + [NAMES[t] for t in TASKS], body))

    # 5. estimators and the static baseline
    cmp_path = os.path.join(OUT, "compare", "comparison.csv")
    if os.path.exists(cmp_path):
        cmp = rows(cmp_path)
        methods = []
        for r in cmp:
            if r["method"] not in methods:
                methods.append(r["method"])
        tau = {(r["task"], r["method"]): r for r in cmp}
        body = []
        for m in methods:
            body.append([m] + [f2(tau[(t, m)]["kendall_tau"]) if (t, m) in tau else "-" for t in TASKS])
        null = [tau[(t, methods[0])]["null_sd"] for t in TASKS if (t, methods[0]) in tau]
        parts.append(
            "### Rankings: Kendall τ-b against the fine-tuned scores (estimators on 2,000 training "
            f"examples per task; chance sd {float(null[0]):.2f})\n\n"
            + table(["method"] + [NAMES[t] for t in TASKS], body))

    # 6. the seed paper's in-sample protocol, for comparison only
    paper = os.path.join(OUT, "paper-in-sample", "summary.csv")
    if os.path.exists(paper):
        body = []
        for r in rows(paper):
            r2 = 1 - (float(r["rmse"]) / float(r["baseline_mean"])) ** 2
            body.append([NAMES.get(r["target"], r["target"]), f4(r["rmse"]), f4(r["baseline_mean"]),
                         f4(r["baseline_noise"]), f2(r2), f2(r["kendall_tau"]),
                         r.get("features", "").replace(";", ", ")])
        parts.append("### The seed paper's protocol (best 3-column OLS, **in-sample**: for comparison only)\n\n"
                     + table(["task", "RMSE (in-sample)", "sd of the targets", "3 noise columns (in-sample)",
                              "R² (in-sample)", "Kendall τ (in-sample)", "columns chosen"], body))

    # 7. cost
    cost = rows(os.path.join(res, "cost.csv"))
    pc = [float(r["probe_cpu_seconds"]) for r in cost]
    fc = [float(r["finetune_cpu_seconds"]) for r in cost if r["finetune_cpu_seconds"]]
    ratio = [float(r["finetune_over_probe"]) for r in cost if r["finetune_over_probe"]]
    parts.append("### Cost per checkpoint (CPU seconds, from the units' manifests)\n\n" + table(
        ["", "min", "median", "max"],
        [["probing (embedding + 7 probing tasks x 2 poolings x 3 seeds)", f"{min(pc):.0f}",
          f"{statistics.median(pc):.0f}", f"{max(pc):.0f}"],
         ["fine-tuning, 4 tasks, one seed (the calibrated, subsampled budget)", f"{min(fc):.0f}",
          f"{statistics.median(fc):.0f}", f"{max(fc):.0f}"],
         ["fine-tuning / probing", f"{min(ratio):.1f}x", f"{statistics.median(ratio):.1f}x",
          f"{max(ratio):.1f}x"]]))

    text = "\n\n".join(parts) + "\n"
    page = os.path.join(HERE, "RESULTS.md")
    doc = open(page).read()
    a, b = "<!-- tables:begin -->", "<!-- tables:end -->"
    if a not in doc or b not in doc:
        sys.exit(f"{page}: the markers {a} and {b} are missing")
    doc = doc[: doc.index(a) + len(a)] + "\n" + text + doc[doc.index(b):]
    with open(page + ".tmp", "w") as f:
        f.write(doc)
    os.replace(page + ".tmp", page)


if __name__ == "__main__":
    main()
