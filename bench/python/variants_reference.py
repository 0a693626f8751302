#!/usr/bin/env python3
"""Reference outputs of checkpoint variants from PyTorch + transformers, for tests/variants.rs.

1. Writes variants of tests/fixtures/encoder/tiny-bert with the probecast binary (built with
   `cargo build --release`): noise 0.1, truncation to 1 layer, int4 quantisation, and 3 steps of
   the word-shuffled masked-LM corruption on tests/fixtures/variants/corpus.txt (seed 1, batch 4);
   plus a BERT trained from scratch for 3 steps by `zoo::mlm` (the ignored test
   `write_fresh_mlm_fixture` in tests/variants.rs). They are copied to tests/fixtures/variants/.
2. Loads each with transformers (AutoModel; BertForMaskedLM where the directory has an MLM head),
   asserts that no weight is missing (only the pooler may be, for the from-scratch model, which
   has none, like BertForMaskedLM), and saves in <dir>/reference.safetensors the hidden states
   (`hidden_<k>`, [2, 6, hidden]) and MLM logits (`mlm_logits`, [2, 6, vocab]) of fixed token
   ids (IDS below, lengths 6 and 4, right padded).

Usage: cargo build --release && python3 bench/python/variants_reference.py
"""
import os
import shutil
import subprocess
import tempfile

import torch
from safetensors.torch import save_file
from transformers import AutoModel, BertForMaskedLM

torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "variants")
TINY = os.path.join(ROOT, "tests", "fixtures", "encoder", "tiny-bert")
BIN = os.path.join(ROOT, "target", "release", "probecast")
IDS = [[2, 10, 20, 30, 40, 3], [2, 50, 60, 3, 0, 0]]
LENGTHS = [6, 4]
VARIANTS = ["tiny-bert-noise0.1", "tiny-bert-trunc1", "tiny-bert-int4", "tiny-bert-corrupt3"]


def make_dirs():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        subprocess.run([BIN, "variants", "--model", TINY, "--out", out, "--noise", "0.1",
                        "--truncate", "1", "--quantize", "int4", "--corrupt-steps", "3",
                        "--corpus", os.path.join(FIX, "corpus.txt"), "--seed", "1",
                        "--batch-size", "4"], check=True)
        for v in VARIANTS:
            dst = os.path.join(FIX, v)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(out, v), dst)
    fresh = os.path.join(FIX, "fresh-mlm")
    shutil.rmtree(fresh, ignore_errors=True)
    subprocess.run(["cargo", "test", "--release", "--test", "variants", "--",
                    "--ignored", "--exact", "write_fresh_mlm_fixture"], check=True, cwd=ROOT,
                   env={**os.environ, "PROBECAST_FRESH_MLM_OUT": fresh})


def reference(d):
    ids = torch.tensor(IDS)
    mask = torch.tensor([[1 if t < n else 0 for t in range(len(IDS[0]))] for n in LENGTHS])
    res = {}
    model, info = AutoModel.from_pretrained(d, output_loading_info=True)
    missing = {k for k in info["missing_keys"] if not k.startswith("pooler.")}
    assert not missing and not info["mismatched_keys"], (d, info)
    model.eval()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    for k, h in enumerate(out.hidden_states):
        res[f"hidden_{k}"] = h.contiguous()
    if os.path.basename(d) in ("tiny-bert-corrupt3", "fresh-mlm"):
        mlm, info = BertForMaskedLM.from_pretrained(d, output_loading_info=True)
        assert not info["missing_keys"] and not info["mismatched_keys"], (d, info)
        assert torch.equal(mlm.cls.predictions.decoder.weight,
                           mlm.bert.embeddings.word_embeddings.weight)
        mlm.eval()
        with torch.no_grad():
            res["mlm_logits"] = mlm(input_ids=ids, attention_mask=mask).logits.contiguous()
    save_file(res, os.path.join(d, "reference.safetensors"))
    print(d, {k: tuple(v.shape) for k, v in res.items()})


def main():
    make_dirs()
    for v in VARIANTS + ["fresh-mlm"]:
        reference(os.path.join(FIX, v))


if __name__ == "__main__":
    main()
