"""Reference hidden states of the real all-mpnet-base-v2 for tests/arch.rs.

    scripts/fetch-models.sh          # -> ~/.cache/probecast/models/all-mpnet-base-v2
    pip install torch transformers numpy safetensors
    python bench/python/mpnet_reference.py [MODEL_DIR] [OUT]

Runs transformers' MPNetModel (eval mode, float32) on the first four sentences of
tests/fixtures/arch/sentences.txt in one right-padded batch (max_length 64) and writes OUT
(default tests/fixtures/arch/mpnet_real_reference.safetensors): the padded ids and lengths, and
cls and mean pooling of all 13 hidden states (first = cls for MPNet) (the per-token states would be 10 MB; every
layer's pooled vectors cover every weight).
"""

import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import AutoModel, AutoTokenizer

MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
    "~/.cache/probecast/models/all-mpnet-base-v2")
OUT = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/arch/mpnet_real_reference.safetensors"

sentences = open("tests/fixtures/arch/sentences.txt").read().splitlines()[:4]
tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL).eval()
enc = tok(sentences, padding=True, truncation=True, max_length=64, return_tensors="pt")
print(tok.convert_ids_to_tokens(enc["input_ids"][0]))
with torch.no_grad():
    hs = model(**enc, output_hidden_states=True).hidden_states
mask = enc["attention_mask"].numpy().astype(np.float32)
out = {
    "full_ids": enc["input_ids"].numpy().astype(np.int64),
    "full_lengths": mask.sum(1).astype(np.int64),
}
for k, h in enumerate(hs):
    h = h.numpy().astype(np.float32)
    out[f"full_cls_{k}"] = np.ascontiguousarray(h[:, 0, :])
    out[f"full_mean_{k}"] = (h * mask[:, :, None]).sum(1) / mask.sum(1)[:, None]
save_file(out, OUT)
print(len(hs), "hidden states ->", OUT)
