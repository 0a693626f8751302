#!/usr/bin/env python3
"""PyTorch reference for benches/finetune_step.rs: all-MiniLM-L6-v2 + BertForSequenceClassification,
batch 16 x 64 random tokens, train mode (dropout), forward + backward + clip_grad_norm_ + AdamW
(weight decay 0.01), 2 threads. Mean seconds per step over 10 steps after 2 warm-up steps."""
import json
import os
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification

torch.set_num_threads(2)
d = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/probecast/models/all-MiniLM-L6-v2")
m = AutoModelForSequenceClassification.from_pretrained(d, num_labels=2).train()
opt = torch.optim.AdamW(m.parameters(), lr=2e-5, weight_decay=0.01)
g = torch.Generator().manual_seed(0)
ids = torch.randint(1000, 30000, (16, 64), generator=g)
ids[:, 0] = 101
y = torch.arange(16) % 2
times = []
for step in range(12):
    t0 = time.perf_counter()
    loss = m(input_ids=ids, attention_mask=torch.ones_like(ids), labels=y).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    if step >= 2:
        times.append(time.perf_counter() - t0)
print(json.dumps({"engine": "torch", "batch": 16, "seq": 64, "seconds_per_step": sum(times) / len(times)}))
