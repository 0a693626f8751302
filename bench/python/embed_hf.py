#!/usr/bin/env python3
"""PyTorch + transformers reference for `probecast embed` throughput.

Reads a SentEval file, runs the model with output_hidden_states=True on batches of
--batch-size sentences, pools every hidden state (first token and mask-aware mean) and copies the
result to numpy, exactly the work `probecast embed --pooling cls,mean` does. Model loading is
excluded from the timing. Prints one JSON line: sentences, real tokens, seconds, tokens/s.

  --pad-to 512 --batch-size 10 reproduces the seed paper's preprocessing (every sentence padded
  to 512 tokens); otherwise padding is dynamic (to the longest sentence of each batch), in file
  order (--sort sorts by length first, as probecast does).
"""
import argparse
import json
import time

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--pad-to", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--sort", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sents = [l.split("\t")[2] for l in open(a.data, encoding="utf-8").read().split("\n") if l.strip()]
    if a.limit:
        sents = sents[: a.limit]
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModel.from_pretrained(a.model).eval()
    order = list(range(len(sents)))
    if a.sort:
        lens = [len(tok(s, truncation=True, max_length=a.max_length)["input_ids"]) for s in sents]
        order.sort(key=lambda i: -lens[i])
    t0 = time.perf_counter()
    tokens = 0
    pooled = []
    with torch.inference_mode():
        for b in range(0, len(order), a.batch_size):
            batch = [sents[i] for i in order[b : b + a.batch_size]]
            if a.pad_to:
                enc = tok(batch, padding="max_length", max_length=a.pad_to, truncation=True, return_tensors="pt")
            else:
                enc = tok(batch, padding=True, truncation=True, max_length=a.max_length, return_tensors="pt")
            tokens += int(enc["attention_mask"].sum())
            out = model(**enc, output_hidden_states=True)
            m = enc["attention_mask"].unsqueeze(-1).float()
            for h in out.hidden_states:
                pooled.append(h[:, 0, :].numpy().copy())
                pooled.append(((h * m).sum(1) / m.sum(1)).numpy())
    dt = time.perf_counter() - t0
    print(json.dumps({"engine": "torch", "torch": torch.__version__, "sentences": len(sents), "tokens": tokens,
                      "seconds": dt, "tokens_per_second": tokens / dt, "batch_size": a.batch_size,
                      "pad_to": a.pad_to, "sorted": a.sort}))


if __name__ == "__main__":
    main()
