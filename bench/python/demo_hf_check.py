#!/usr/bin/env python3
"""Load a checkpoint written by `probecast demo` with transformers (AutoTokenizer + AutoModel)
and write what transformers computes for a few sentences: the token ids and, per hidden state,
the mean over real tokens of every sentence (run one sentence at a time, no padding).

The Rust test tests/demo.rs compares this with probecast's own tokenizer and encoder
(tolerance 1e-4). The committed fixture tests/fixtures/demo/reference.json was made with

    python3 bench/python/demo_hf_check.py tests/fixtures/demo/tiny-demo \
        tests/fixtures/demo/sentences.txt tests/fixtures/demo/reference.json

where tests/fixtures/demo/tiny-demo is the checkpoint `tiny-s1-step30` of
`probecast demo --quick --seed 0` (copied; config.json, model.safetensors, tokenizer files).
"""
import json
import sys

import torch
from transformers import AutoModel, AutoTokenizer


def main():
    model_dir, sentences_file, out_file = sys.argv[1:4]
    with open(sentences_file, encoding="utf-8") as fh:
        sentences = [l.rstrip("\n") for l in fh if l.strip()]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir)
    model.eval()
    out = {"model_class": type(model).__name__, "tokenizer_class": type(tok).__name__,
           "sentences": [], "input_ids": [], "mean_hidden_states": []}
    for s in sentences:
        enc = tok(s, return_tensors="pt")
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        out["sentences"].append(s)
        out["input_ids"].append(enc["input_ids"][0].tolist())
        out["mean_hidden_states"].append([h[0].mean(0).tolist() for h in hs])
    with open(out_file, "w", encoding="utf-8") as fh:
        json.dump(out, fh)
    print(f"{len(sentences)} sentences, {len(out['mean_hidden_states'][0])} hidden states "
          f"-> {out_file}")


if __name__ == "__main__":
    main()
