#!/usr/bin/env python3
"""Hugging Face transformers reference for `probecast finetune` (CPU).

Same recipe as probecast: AdamW (weight decay 0.01, none on biases and LayerNorm weights,
betas 0.9/0.999, eps 1e-8), linear warmup (--warmup-ratio) then linear decay, gradient clipping
at 1.0, dropout from config.json, evaluation on dev after each epoch, the best epoch's primary
metric reported (GLUE leaderboard primary: MCC for CoLA, mean of F1 and accuracy for MRPC/QQP,
mean of Pearson and Spearman for STS-B, accuracy otherwise). Stratified subsampling with
--max-train-examples. Data order and dropout masks come from torch's RNG, so runs are comparable
to probecast's in distribution, not step for step.

  python3 bench/python/finetune_hf.py --model DIR --task ../shared/data/glue_F0restL1n_BERT/RTE \
      --seeds 1,2,3 [--epochs 3 --lr 2e-5 --batch-size 16 --max-length 128]
Prints one JSON line per seed and a final line with the mean.
"""
import argparse
import csv
import json
import os
import random
import time

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

TASKS = {
    "cola": (False, 3, None, 1, ["0", "1"]),
    "sst2": (True, "sentence", None, "label", ["0", "1"]),
    "mrpc": (True, "#1 String", "#2 String", "Quality", ["0", "1"]),
    "stsb": (True, "sentence1", "sentence2", "score", None),
    "rte": (True, "sentence1", "sentence2", "label", ["entailment", "not_entailment"]),
    "wnli": (True, "sentence1", "sentence2", "label", ["0", "1"]),
    "qnli": (True, "question", "sentence", "label", ["entailment", "not_entailment"]),
}


def read(path, spec):
    header, a, b, lab, labels = spec
    rows = list(csv.reader(open(path, encoding="utf-8-sig"), delimiter="\t", quoting=csv.QUOTE_NONE))
    if header:
        h = rows[0]
        rows = rows[1:]
        a, lab = h.index(a), h.index(lab)
        b = h.index(b) if b else None
    out = []
    for r in rows:
        if not r:
            continue
        y = float(r[lab]) if labels is None else labels.index(r[lab])
        out.append((r[a], r[b] if b is not None else None, y))
    return out


def metrics(task, pred, gold):
    if task == "stsb":
        return (pearsonr(pred, gold)[0] + spearmanr(pred, gold)[0]) / 2
    if task == "cola":
        return matthews_corrcoef(gold, pred)
    if task in ("mrpc", "qqp"):
        return (f1_score(gold, pred) + accuracy_score(gold, pred)) / 2
    return accuracy_score(gold, pred)


def run(a, task, seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    spec = TASKS[task]
    train = read(os.path.join(a.task, "train.tsv"), spec)
    dev = read(os.path.join(a.task, "dev.tsv"), spec)
    if a.max_train_examples and a.max_train_examples < len(train):
        rng = random.Random(seed)
        if spec[4] is None:
            train = rng.sample(train, a.max_train_examples)
        else:
            keep = []
            for c in range(len(spec[4])):
                idx = [x for x in train if x[2] == c]
                rng.shuffle(idx)
                keep += idx[: max(1, round(len(idx) * a.max_train_examples / len(train)))]
            train = keep
    tok = AutoTokenizer.from_pretrained(a.model)
    n_labels = 1 if spec[4] is None else len(spec[4])
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=n_labels).to(a.device)
    nd = ["bias", "LayerNorm.weight", "layer_norm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(x in n for x in nd)], "weight_decay": a.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(x in n for x in nd)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = (len(train) + a.batch_size - 1) // a.batch_size
    total = steps_per_epoch * a.epochs
    sched = get_linear_schedule_with_warmup(opt, int(np.ceil(a.warmup_ratio * total)), total)

    def enc(batch):
        x = tok([r[0] for r in batch], [r[1] for r in batch] if batch[0][1] is not None else None,
                truncation=True, max_length=a.max_length, padding=True, return_tensors="pt")
        return x.to(a.device)

    best, t0 = -1e9, time.time()
    for ep in range(a.epochs):
        model.train()
        order = torch.randperm(len(train)).tolist()
        for i in range(0, len(order), a.batch_size):
            batch = [train[j] for j in order[i : i + a.batch_size]]
            x = enc(batch)
            y = torch.tensor([r[2] for r in batch], dtype=torch.float if n_labels == 1 else torch.long).to(a.device)
            loss = model(**x, labels=y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        model.eval()
        preds = []
        with torch.no_grad():
            for i in range(0, len(dev), 64):
                out = model(**enc(dev[i : i + 64])).logits
                preds += (out.squeeze(-1) if n_labels == 1 else out.argmax(-1)).tolist()
        m = metrics(task, preds, [r[2] for r in dev])
        best = max(best, m)
    return {"task": task, "seed": seed, "best": best, "device": a.device, "seconds": time.time() - t0, "train_examples": len(train)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-train-examples", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="torch device (cpu, cuda); CPU is the reference, cuda differs only by floating-point order")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    task = "".join(c for c in os.path.basename(a.task.rstrip("/")).lower() if c.isalnum())
    res = [run(a, task, int(s)) for s in a.seeds.split(",")]
    for r in res:
        print(json.dumps(r))
    print(json.dumps({"task": task, "mean_best": float(np.mean([r["best"] for r in res])), "seeds": len(res)}))


if __name__ == "__main__":
    main()
