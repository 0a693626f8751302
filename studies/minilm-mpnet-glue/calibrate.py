#!/usr/bin/env python3
"""The fine-tuning calibration of the minilm-mpnet-glue study (DESIGN.md, "Calibration"), run
exactly as the rule fixed there, with the `probecast` CLI.

Per task, candidates are tried cheapest first (cost = training examples x epochs; at equal cost
lr 5e-5 before 1e-4). The MiniLM base is fine-tuned (seed 1) under a candidate; when it reaches
the task's threshold, the 3-layer truncation is fine-tuned under the same candidate, and the
candidate is chosen when base - truncated > 0.03. When no candidate passes, the best-scoring base
candidate is chosen (and the results say so). The chosen candidate is then also run on the third
calibration checkpoint (noise 0.1), for information.

Every run is written under --work (reused when its targets.csv exists, so the script resumes),
and every run's score and CPU seconds (user + system of the probecast process, from
/usr/bin/time) are appended to calibration.csv beside this file.

    python3 studies/minilm-mpnet-glue/calibrate.py --probecast target/release/probecast \
        --base ~/.cache/probecast/models/all-MiniLM-L6-v2 \
        --glue ../shared/data/glue_F0restL1n_BERT --work runs/calibration
"""

import argparse
import csv
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
THRESHOLDS = {"CoLA": 0.20, "MRPC": 0.75, "SST-2": 0.82, "RTE": 0.58}
TRAIN_SIZES = {"CoLA": 8551, "MRPC": 3667, "SST-2": 67349, "RTE": 2490}
MARGIN = 0.03


def candidates(task):
    """The rule's candidates for a task, cheapest first, duplicates ("4,000" beyond the training
    set is "all") removed."""
    n_all = TRAIN_SIZES[task]
    out = []
    for n in (2000, 4000, None):
        for epochs in (2, 3):
            for lr in ("5e-5", "1e-4"):
                size = n_all if n is None or n >= n_all else n
                c = (size, epochs, lr)
                if c not in out:
                    out.append(c)
    out.sort(key=lambda c: (c[0] * c[1], 0 if c[2] == "5e-5" else 1))
    return out


def run(args, ckpt_name, ckpt_dir, task, cand):
    size, epochs, lr = cand
    out = os.path.join(args.work, f"{ckpt_name}__{task}__n{size}_e{epochs}_lr{lr}")
    targets = os.path.join(out, "targets.csv")
    timing = out + ".time"
    if not os.path.exists(targets):
        cmd = [
            "/usr/bin/time", "-f", "%U %S %e", "-o", timing,
            args.probecast, "finetune", "--model", ckpt_dir,
            "--task", os.path.join(args.glue, task), "--out", out,
            "--epochs", str(epochs), "--lr", lr, "--batch-size", "16",
            "--max-length", "128", "--seeds", "1",
        ]
        if size < TRAIN_SIZES[task]:
            cmd += ["--max-train-examples", str(size)]
        print("running", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    with open(targets) as f:
        row = next(csv.DictReader(f))
    score = float([v for k, v in row.items() if k != "model"][0])
    user, system, wall = (float(x) for x in open(timing).read().split()[-3:])
    rec = {
        "task": task, "checkpoint": ckpt_name, "train_examples": size, "epochs": epochs,
        "lr": lr, "score": round(score, 4), "cpu_seconds": round(user + system, 1),
        "wall_seconds": round(wall, 1),
    }
    print(rec, flush=True)
    return rec


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--probecast", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--glue", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--tasks", default="CoLA,MRPC,SST-2,RTE")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    variants = os.path.join(args.work, "variants")
    if not os.path.exists(os.path.join(variants, "variants.csv")):
        subprocess.run(
            [args.probecast, "variants", "--model", args.base, "--out", variants,
             "--noise", "0.1", "--truncate", "3", "--seed", "0"],
            check=True,
        )
    names = sorted(os.listdir(variants))
    noise = os.path.join(variants, next(n for n in names if "noise" in n))
    trunc = os.path.join(variants, next(n for n in names if "trunc" in n))
    log = os.path.join(HERE, "calibration.csv")
    fields = ["task", "checkpoint", "train_examples", "epochs", "lr", "score", "cpu_seconds",
              "wall_seconds", "decision"]
    done = set()
    if os.path.exists(log):
        with open(log) as f:
            done = {(r["task"], r["checkpoint"], r["train_examples"], r["epochs"], r["lr"])
                    for r in csv.DictReader(f)}
    else:
        with open(log, "w", newline="") as f:
            csv.DictWriter(f, fieldnames=fields).writeheader()

    def record(rec, decision):
        key = (rec["task"], rec["checkpoint"], str(rec["train_examples"]), str(rec["epochs"]),
               rec["lr"])
        if key in done:
            return
        rec["decision"] = decision
        with open(log, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=fields).writerow(rec)
        done.add(key)

    for task in args.tasks.split(","):
        chosen, best = None, None
        for cand in candidates(task):
            b = run(args, "minilm-base", args.base, task, cand)
            if best is None or b["score"] > best[1]["score"]:
                best = (cand, b)
            if b["score"] < THRESHOLDS[task]:
                record(b, f"base below {THRESHOLDS[task]}")
                continue
            t = run(args, "minilm-trunc3", trunc, task, cand)
            gap = b["score"] - t["score"]
            ok = gap > MARGIN
            record(b, "chosen" if ok else f"base passes; base-trunc3 {gap:.4f} <= {MARGIN}")
            record(t, f"base-trunc3 {gap:.4f}")
            if ok:
                chosen = cand
                break
        if chosen is None:
            chosen = best[0]
            print(f"{task}: no candidate passes; best-scoring base candidate {chosen}", flush=True)
        n = run(args, "minilm-noise0.1", noise, task, chosen)
        record(n, "information (chosen candidate)")
        print(f"{task}: chosen {chosen}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
