#!/usr/bin/env python3
"""Reference pooled hidden states from PyTorch + transformers, for probecast's encoder tests.

Writes under tests/fixtures/encoder/:
  - minilm_reference.safetensors: cls/mean pooled features of every hidden state of
    all-MiniLM-L6-v2 for the 30 sentences selected by `minilm_sentences()` (the first 10 lines of
    three files of ../shared/data/senteval_probing_sample; the test reads the same lines);
  - tiny-{bert,roberta,xlm-roberta,distilbert}/: tiny randomly initialised checkpoints in
    Hugging Face layout (config.json, model.safetensors, tokenizer.json; tiny-bert also
    vocab.txt, tiny-bert-bin a pytorch_model.bin copy), with reference.safetensors holding
    their pooled features for tiny_sentences.txt, at max length 128 and (tiny-bert) 8.

Usage: python3 bench/python/reference_hidden_states.py [MODEL_DIR]
(MODEL_DIR defaults to ~/.cache/probecast/models/all-MiniLM-L6-v2, see scripts/fetch-models.sh)
"""
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (AutoModel, BertConfig, DistilBertConfig, RobertaConfig,
                          XLMRobertaConfig)

torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "encoder")
SAMPLE = os.path.join(ROOT, "..", "shared", "data", "senteval_probing_sample")
MINILM_FILES = ["bigram_shift.txt", "past_present.txt", "subj_number.txt"]


def minilm_sentences():
    out = []
    for f in MINILM_FILES:
        with open(os.path.join(SAMPLE, f), encoding="utf-8") as fh:
            lines = fh.read().split("\n")[:10]
        out += [l.split("\t")[2] for l in lines]
    return out


def pooled(model, tokenizer, sentences, max_length):
    """cls and mean pooled features of every hidden state, one padded batch."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    encs = tokenizer.encode_batch(sentences)
    seq = max(len(e.ids) for e in encs)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    ids = torch.full((len(encs), seq), pad, dtype=torch.long)
    mask = torch.zeros((len(encs), seq), dtype=torch.long)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    res = {}
    m = mask.unsqueeze(-1).float()
    for k, h in enumerate(out.hidden_states):
        res[f"cls_layer_{k}"] = h[:, 0, :].contiguous()
        res[f"mean_layer_{k}"] = ((h * m).sum(1) / m.sum(1)).contiguous()
    return res, [e.ids for e in encs]


TINY_SENTENCES = [
    "The cat sat on the mat .",
    "A dog barked at the mailman yesterday .",
    "She reads books every evening .",
    "They were walking along the quiet river when it started to rain .",
    "The old man and the young woman spoke about the weather .",
    "I think that the committee will approve the new plan soon .",
    "Birds sing .",
    "The children who live next door play football after school .",
    "He had never seen such a beautiful sunset over the sea .",
    "Will you help me carry these heavy boxes upstairs ?",
    "The results of the experiment were surprising to everyone involved .",
    "My sister bought a red car last week .",
]


def train_tokenizer(kind):
    if kind in ("bert", "distilbert"):
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tr = trainers.WordPieceTrainer(vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        tok.train_from_iterator(TINY_SENTENCES, tr)
        tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    elif kind == "roberta":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tr = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(TINY_SENTENCES, tr)
        tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    else:  # xlm-roberta: SentencePiece-style unigram
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tr = trainers.UnigramTrainer(vocab_size=150, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>")
        tok.train_from_iterator(TINY_SENTENCES, tr)
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def tiny_model(kind, vocab):
    common = dict(vocab_size=vocab, max_position_embeddings=130)
    if kind == "bert":
        cfg = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, **common)
    elif kind == "roberta":
        cfg = RobertaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                            layer_norm_eps=1e-5, vocab_size=vocab, max_position_embeddings=132)
    elif kind == "xlm-roberta":
        cfg = XLMRobertaConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=40,
                               pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                               layer_norm_eps=1e-5, hidden_act="gelu_new", vocab_size=vocab, max_position_embeddings=132)
    else:
        cfg = DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=37, pad_token_id=0, **common)
    torch.manual_seed(1234)
    m = AutoModel.from_config(cfg).eval()
    # Random init leaves LayerNorms at (1, 0) and biases at 0: perturb them so the test sees them.
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n:
                p.add_(0.1 * torch.randn_like(p))
    return m


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/probecast/models/all-MiniLM-L6-v2")
    os.makedirs(FIX, exist_ok=True)
    with open(os.path.join(FIX, "tiny_sentences.txt"), "w", encoding="utf-8") as f:
        for i, s in enumerate(TINY_SENTENCES):
            f.write(f"{'tr' if i < 8 else 'te'}\t{'A' if i % 2 else 'B'}\t{s}\n")
    for kind in ["bert", "roberta", "xlm-roberta", "distilbert"]:
        tok = train_tokenizer(kind)
        m = tiny_model(kind, tok.get_vocab_size())
        d = os.path.join(FIX, f"tiny-{kind}")
        shutil.rmtree(d, ignore_errors=True)
        m.save_pretrained(d, safe_serialization=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        res, ids = pooled(m, tok, TINY_SENTENCES, 128)
        if kind == "bert":
            with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
                for t, _ in sorted(tok.get_vocab().items(), key=lambda x: x[1]):
                    f.write(t + "\n")
            r8, _ = pooled(m, tok, TINY_SENTENCES, 8)
            res.update({f"trunc8_{k}": v for k, v in r8.items()})
            b = os.path.join(FIX, "tiny-bert-bin")
            shutil.rmtree(b, ignore_errors=True)
            shutil.copytree(d, b)
            os.remove(os.path.join(b, "model.safetensors"))
            torch.save(m.state_dict(), os.path.join(b, "pytorch_model.bin"))
        save_file(res, os.path.join(d, "reference.safetensors"))
        print(kind, "vocab", tok.get_vocab_size(), "first ids", ids[0][:8])
    if os.path.isdir(model_dir):
        m = AutoModel.from_pretrained(model_dir).eval()
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        res, ids = pooled(m, tok, minilm_sentences(), 128)
        save_file(res, os.path.join(FIX, "minilm_reference.safetensors"))
        print("minilm", len(ids), "sentences")
    else:
        print("no model at", model_dir, "- skipped the MiniLM reference")


if __name__ == "__main__":
    main()
