#!/usr/bin/env python3
"""Masked-LM training step time in PyTorch + transformers at the shapes of probecast's
`mlm_step_time` (tests/variants.rs): BertForMaskedLM, hidden 128, 4 layers, 4 heads, FFN 512,
vocab 1000, batch 32 x 32 tokens, 15% of the tokens masked (80/10/10), forward + backward +
clip_grad_norm(1.0) + AdamW; mean of 20 steps after 3 warm-up steps, with and without dropout.

Usage: python3 bench/python/mlm_step_torch.py [THREADS [HIDDEN,LAYERS,SEQ]]
(defaults 1 and 128,4,32; FFN = 4 x hidden, as MLM_STEP_SIZES in the Rust test)
"""
import json
import sys
import time

import torch
from transformers import BertConfig, BertForMaskedLM

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
hs, nl, seq = map(int, (sys.argv[2] if len(sys.argv) > 2 else "128,4,32").split(","))
torch.set_num_threads(threads)
torch.manual_seed(0)
for p in (0.1, 0.0):
    cfg = BertConfig(vocab_size=1000, hidden_size=hs, num_hidden_layers=nl, num_attention_heads=4,
                     intermediate_size=4 * hs, max_position_embeddings=64, hidden_dropout_prob=p,
                     attention_probs_dropout_prob=p)
    model = BertForMaskedLM(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    ids = torch.randint(5, 1000, (32, seq))
    ids[:, 0], ids[:, -1] = 2, 3
    times = []
    for step in range(23):
        t0 = time.perf_counter()
        sel = torch.rand(ids.shape) < 0.15
        sel[:, 0] = sel[:, -1] = False
        labels = torch.where(sel, ids, torch.full_like(ids, -100))
        inp = ids.clone()
        r = torch.rand(ids.shape)
        inp[sel & (r < 0.8)] = 4
        rnd = sel & (r >= 0.8) & (r < 0.9)
        inp[rnd] = torch.randint(0, 1000, (int(rnd.sum()),))
        loss = model(input_ids=inp, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= 3:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"sizes": f"{hs},{nl},{seq}", "dropout": p, "ms_per_step": round(1e3 * sum(times) / len(times), 2),
                      "threads": threads}))
