"""Check that directories written by probecast load in transformers without missing keys.

    pip install torch transformers safetensors sentencepiece protobuf
    python bench/python/check_hf_load.py [--strict] DIR [DIR ...]

Each DIR is a `probecast finetune --save-model` output (`*ForSequenceClassification`) or a
`probecast variants --corrupt-steps` output (`*ForMaskedLM`). The class comes from the
directory's config.json `architectures`; the script loads it with output_loading_info, fails on
any missing key or on tied weights that are not tied after loading, lists unexpected keys (a
corrupted ALBERT keeps the source's pooler, which AlbertForMaskedLM does not have but
AlbertForSequenceClassification uses), and runs the tokenizer and the model on one sentence.
With --strict an unexpected key fails too (a fine-tuned `*ForSequenceClassification` directory
must hold exactly the model's keys; tests/train_arch.rs runs it so).
"""

import json
import os
import sys

import torch
import transformers
from transformers import AutoTokenizer


def check(d, strict=False):
    with open(os.path.join(d, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    cls = getattr(transformers, arch)
    model, info = cls.from_pretrained(d, output_loading_info=True)
    missing, unexpected = info["missing_keys"], info["unexpected_keys"]
    tok = AutoTokenizer.from_pretrained(d)
    enc = tok(["the cat sat on the mat"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits
    print(f"{d}: {arch}: {len(model.state_dict())} tensors, missing {sorted(missing)}, "
          f"unexpected {sorted(unexpected)}, logits {tuple(logits.shape)}")
    assert not missing, f"{d}: missing keys {missing}"
    assert not (strict and unexpected), f"{d}: unexpected keys {unexpected}"
    assert torch.isfinite(logits).all()


def main():
    args = sys.argv[1:]
    strict = "--strict" in args
    dirs = [a for a in args if a != "--strict"]
    if not dirs:
        sys.exit(__doc__)
    for d in dirs:
        check(d, strict)


if __name__ == "__main__":
    main()
