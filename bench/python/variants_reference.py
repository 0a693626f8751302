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

3. With the argument `arch`: for the tiny DeBERTa v1, XLNet and ModernBERT checkpoints of
   tests/fixtures/arch, writes their variants with the probecast binary (ARCH_ARGS below: noise,
   pruning, int4 and truncation; the same command tests/variants_arch.rs runs), loads each in
   transformers (AutoModel) asserting that no key is missing, unexpected or mismatched, runs the
   reference's truncated-case batch (`trunc_ids`, `trunc_lengths`, right-padded; XLNet with its
   `<cls>` in segment 2 as pre-trained, which right padding leaves unchanged: see
   make_arch_fixtures.py) and saves tests/fixtures/variants/arch-<family>.safetensors with
   `<variant>/last_hidden_state` and `<variant>/hidden_states` (their number).

Usage: cargo build --release && python3 bench/python/variants_reference.py [arch]
"""
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
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


ARCH = os.path.join(ROOT, "tests", "fixtures", "arch")
ARCH_FAMILIES = {"deberta": "1", "xlnet": "1", "modernbert": "1,2"}
ARCH_ARGS = ["--noise", "0.5", "--prune", "0.3", "--quantize", "int4", "--seed", "3"]


def arch_reference(fam):
    ref = load_file(os.path.join(ARCH, fam, "reference.safetensors"))
    ids, lengths = ref["trunc_ids"].long(), ref["trunc_lengths"].long()
    mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
    kw = dict(input_ids=ids, attention_mask=mask)
    if fam == "xlnet":
        types = torch.zeros_like(ids)
        types[torch.arange(len(lengths)), lengths - 1] = 2
        kw["token_type_ids"] = types
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        subprocess.run([BIN, "variants", "--model", os.path.join(ARCH, fam), "--out", out,
                        "--truncate", ARCH_FAMILIES[fam], *ARCH_ARGS], check=True)
        for v in sorted(os.listdir(out)):
            d = os.path.join(out, v)
            if not os.path.isdir(d):
                continue
            model, info = AutoModel.from_pretrained(d, output_loading_info=True)
            bad = info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]
            assert not bad, (d, info)
            model.eval()
            with torch.no_grad():
                o = model(**kw, output_hidden_states=True)
            name = v[len(fam) + 1:]
            res[f"{name}/last_hidden_state"] = o.last_hidden_state.contiguous()
            res[f"{name}/hidden_states"] = torch.tensor([len(o.hidden_states)])
            print(d, type(model).__name__, len(o.hidden_states), "hidden states")
    save_file(res, os.path.join(FIX, f"arch-{fam}.safetensors"))


def main():
    if sys.argv[1:] == ["arch"]:
        for fam in ARCH_FAMILIES:
            arch_reference(fam)
        return
    make_dirs()
    for v in VARIANTS + ["fresh-mlm"]:
        reference(os.path.join(FIX, v))


if __name__ == "__main__":
    main()
