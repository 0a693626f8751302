#!/usr/bin/env python3
"""Base-size (12 layers, 768 wide) random-init checkpoints of the non-BERT families, for the
embedding-throughput benchmark of issue #14 (bench/arch_embed_bench.sh).

Each checkpoint is `AutoModel.from_config` of the family's base configuration (seed 0), saved with
safetensors, with all-mpnet-base-v2's tokenizer files copied beside it (vocabulary 30,527, `<s>`
/ `</s>` template): the benchmark measures the encoder, so every family reads the same token ids.

    python3 bench/python/make_base_random.py --tokenizer ~/.cache/probecast/models/all-mpnet-base-v2 --out DIR
"""
import argparse
import os
import shutil

import torch
from transformers import AutoConfig, AutoModel

BASE = dict(vocab_size=30527, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, pad_token_id=1, bos_token_id=0, eos_token_id=2)
FAMILIES = {
    # BERT itself: the control, trained on the packed path with the fused kernels.
    "bert": dict(max_position_embeddings=512, type_vocab_size=2),
    "mpnet": dict(max_position_embeddings=514, relative_attention_num_buckets=32),
    "electra": dict(embedding_size=768, max_position_embeddings=512, type_vocab_size=2),
    "albert": dict(embedding_size=128, max_position_embeddings=512, type_vocab_size=2,
                   num_hidden_groups=1, inner_group_num=1, hidden_act="gelu_new"),
    # deberta-v3-base's configuration.
    "deberta-v2": dict(max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
                       position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
                       pos_att_type=["p2c", "c2p"], position_biased_input=False,
                       max_relative_positions=-1, layer_norm_eps=1e-7),
    # microsoft/deberta-base's configuration.
    "deberta": dict(max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
                    pos_att_type=["c2p", "p2c"], position_biased_input=False,
                    max_relative_positions=-1, layer_norm_eps=1e-7),
    # xlnet-base-cased's shape (XLNetConfig maps hidden_size/num_* to d_model/n_*).
    "xlnet": dict(d_inner=3072, ff_activation="gelu", attn_type="bi", mem_len=None),
    # answerdotai/ModernBERT-base's layer shape (GeGLU 1152, local window 128, a global layer
    # every third), 12 layers like the others.
    "modernbert": dict(intermediate_size=1152, max_position_embeddings=8192,
                       global_attn_every_n_layers=3, local_attention=128, cls_token_id=0,
                       sep_token_id=2),
}
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--families", default=",".join(FAMILIES))
    a = ap.parse_args()
    for fam in a.families.split(","):
        torch.manual_seed(0)
        kw = dict(BASE)
        if fam == "modernbert":
            kw.pop("intermediate_size")
        cfg = AutoConfig.for_model(fam, **kw, **FAMILIES[fam])
        model = AutoModel.from_config(cfg).eval()
        d = os.path.join(a.out, fam)
        model.save_pretrained(d, safe_serialization=True)
        for f in TOKENIZER_FILES:
            src = os.path.join(a.tokenizer, f)
            if os.path.exists(src):
                shutil.copy(src, d)
        print(d, sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
