#!/usr/bin/env python3
"""PyTorch reference for benches/finetune_step_arch.rs: AutoModelForSequenceClassification of each
checkpoint directory (2 labels), batch 8 x 64 random tokens (first token id 0), train mode
(dropout), forward + backward + clip_grad_norm_ + AdamW (weight decay 0.01), 2 threads. Mean
seconds per step over STEPS (default 3) steps after one warm-up step.

    python3 bench/python/finetune_step_arch_torch.py DIR [DIR ...]
"""
import json
import os
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification

torch.set_num_threads(2)
steps = int(os.environ.get("STEPS", "3"))
for d in sys.argv[1:]:
    m = AutoModelForSequenceClassification.from_pretrained(d, num_labels=2).train()
    opt = torch.optim.AdamW(m.parameters(), lr=2e-5, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (8, 64), generator=g)
    ids[:, 0] = 0
    y = torch.arange(8) % 2
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        loss = m(input_ids=ids, attention_mask=torch.ones_like(ids), labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        if step >= 1:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"engine": "torch", "model": d, "architecture": type(m).__name__, "batch": 8,
                      "seq": 64, "steps": steps, "seconds_per_step": round(sum(times) / len(times), 3)}))
