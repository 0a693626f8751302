"""Tiny random checkpoints of the encoder families beyond BERT, with transformers' hidden states.

    pip install torch transformers numpy sentencepiece protobuf safetensors
    python bench/python/make_arch_fixtures.py [OUT_DIR [FAMILY ...]]
    # default tests/fixtures/arch, every family

For each family (mpnet, electra, albert, deberta-v2, deberta, deberta-base-shaped (DeBERTa v1
configured as microsoft/deberta-base), xlnet, modernbert) it builds a tiny model with AutoConfig +
AutoModel.from_config (seeded; noise added to every parameter so that a wrong weight mapping
cannot hide behind LayerNorm weights of exactly 1 and biases of 0), a tokenizer of the family's
kind trained on a small corpus (WordPiece for MPNet/ELECTRA, a SentencePiece unigram model for
ALBERT, DeBERTa-v2 and XLNet, a byte-level BPE for DeBERTa v1 and ModernBERT), saves both with save_pretrained into OUT_DIR/<family>/, and writes
OUT_DIR/<family>/reference.safetensors with, for two cases ("full": max_length 64, no
truncation; "trunc": max_length 7, truncated), the padded token ids and lengths from the
tokenizer, every hidden state that transformers returns with output_hidden_states=True
(right-padded batch, attention mask), and cls / first / mean pooling of every hidden state.
tests/arch.rs compares probecast against these.

XLNet pads on the left: its reference is made with the tokenizer's own left padding, checked to
equal a right-padded run at every real position (relative positions and the key mask make the
real rows independent of where the padding sits), then stored re-aligned so that row i's real
tokens are columns 0..len (the layout probecast pads to). XLNet's "cls" is its last real token
(`<cls>`); "first" is the first real token for every family.

Regenerating some families leaves the others' files alone: run with the family names to write
only those (the existing fixtures are not rewritten: torch's random streams would differ).

It also writes OUT_DIR/albert/spm_ids.json: the slow (sentencepiece) tokenizer's ids for
OUT_DIR/tokenizer_sentences.txt, the check that the Rust SentencePiece path agrees.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import AutoConfig, AutoModel

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/arch"

SENTENCES = [
    "The cat sat on the mat.",
    "A very long sentence about the weather in Zürich, where it rained 42 days in a row and nobody complained at all.",
    "naïve café owners   like   repeated spaces",
    "Supercalifragilisticexpialidocious words are long.",
    "Numbers: 3.14159 and 2026!",
    "Hi",
]

CORPUS = [
    "the cat sat on the mat",
    "a dog barked at the cat in the garden",
    "the weather in zurich was rainy for many days",
    "nobody complained about the rain at all",
    "cafe owners like quiet mornings and long sentences",
    "numbers such as 3 14159 and 2026 appear in text",
    "words can be very long and repeated",
] * 20


def noise_(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))


def wordpiece_vocab(specials):
    chars = sorted({c for s in SENTENCES + CORPUS for c in s.lower() if not c.isspace()})
    words = sorted({w for s in CORPUS for w in s.split()})
    vocab = list(specials) + chars + ["##" + c for c in chars] + words
    seen = []
    for v in vocab:
        if v not in seen:
            seen.append(v)
    return {t: i for i, t in enumerate(seen)}


def sentencepiece_model(path, vocab_size, **kw):
    import io

    import sentencepiece as spm

    f = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS + SENTENCES),
        model_writer=f,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        **kw,
    )
    with open(path, "wb") as out:
        out.write(f.getvalue())


def bytelevel_bpe(tmp, specials):
    """A byte-level BPE (GPT-2 style, as DeBERTa v1 and ModernBERT use) trained on the corpus,
    saved as vocab.json + merges.txt in `tmp`; returns the tokenizers object."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS + SENTENCES, vocab_size=300, min_frequency=1, special_tokens=specials)
    bpe.save_model(tmp)
    return bpe._tokenizer


def build(family):
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp()
    if family == "mpnet":
        from transformers import MPNetTokenizerFast

        vocab = wordpiece_vocab(["<s>", "<pad>", "</s>", "[UNK]", "<mask>"])
        tok = MPNetTokenizerFast(vocab=vocab, do_lower_case=True)
        cfg = AutoConfig.for_model(
            "mpnet", vocab_size=len(vocab), hidden_size=32, num_hidden_layers=3,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=66,
            pad_token_id=1, layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    elif family == "electra":
        from transformers import ElectraTokenizerFast

        vocab = wordpiece_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        tok = ElectraTokenizerFast(vocab=vocab, do_lower_case=True)
        cfg = AutoConfig.for_model(
            "electra", vocab_size=len(vocab), embedding_size=16, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_act="gelu", hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    elif family == "albert":
        from transformers import AlbertTokenizer

        sentencepiece_model(
            os.path.join(tmp, "spiece.model"), 100, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        )
        tok = AlbertTokenizer.from_pretrained(tmp)
        cfg = AutoConfig.for_model(
            "albert", vocab_size=tok.vocab_size, embedding_size=16, hidden_size=32,
            num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            classifier_dropout_prob=0.0,
        )
    elif family == "deberta-v2":
        from transformers import DebertaV2Tokenizer

        sentencepiece_model(
            os.path.join(tmp, "spm.model"), 100, pad_id=0, pad_piece="[PAD]", bos_id=1,
            bos_piece="[CLS]", eos_id=2, eos_piece="[SEP]", unk_id=3, unk_piece="[UNK]",
            control_symbols=["[MASK]"],
        )
        tok = DebertaV2Tokenizer.from_pretrained(tmp)
        # v3-shaped: shared key/query relative projections, log buckets (8, so that the
        # sentences reach the logarithmic range), LayerNorm-ed relative embeddings, no absolute
        # positions, no token types; plus an embedding projection and the convolution.
        cfg = AutoConfig.for_model(
            "deberta-v2", vocab_size=len(tok), embedding_size=16, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, relative_attention=True, pos_att_type="p2c|c2p",
            position_buckets=8, max_relative_positions=32, share_att_key=True,
            norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0,
            conv_kernel_size=3, conv_act="tanh", hidden_act="gelu", layer_norm_eps=1e-7,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0,
        )
    elif family in ("deberta", "deberta-base-shaped"):
        from transformers import DebertaTokenizerFast

        bytelevel_bpe(tmp, ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"])
        tok = DebertaTokenizerFast.from_pretrained(tmp)
        if family == "deberta":
            # v1 with c2p|p2c, no token types, plus absolute positions (position_biased_input)
            # and max_relative_positions 8 so that the longer sentences reach the clamped
            # relative distances.
            extra = dict(pos_att_type="c2p|p2c", max_relative_positions=8, position_biased_input=True)
        else:
            # v1 as microsoft/deberta-base configures it: relative positions only (no absolute
            # position input), max_relative_positions -1 (the table spans the positions),
            # pos_att_type as a list.
            extra = dict(pos_att_type=["c2p", "p2c"], max_relative_positions=-1, position_biased_input=False)
        cfg = AutoConfig.for_model(
            "deberta", vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
            relative_attention=True, type_vocab_size=0, hidden_act="gelu",
            layer_norm_eps=1e-7, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            pad_token_id=0, **extra,
        )
    elif family == "xlnet":
        from transformers import XLNetTokenizer

        sentencepiece_model(
            os.path.join(tmp, "spiece.model"), 100, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            control_symbols=["<cls>", "<sep>", "<pad>", "<mask>", "<eod>", "<eop>"],
        )
        tok = XLNetTokenizer.from_pretrained(tmp)
        cfg = AutoConfig.for_model(
            "xlnet", vocab_size=len(tok), d_model=32, n_layer=2, n_head=4, d_inner=37,
            ff_activation="gelu", dropout=0.0, pad_token_id=tok.pad_token_id,
            bos_token_id=1, eos_token_id=2,
        )
    elif family == "modernbert":
        from tokenizers.processors import TemplateProcessing
        from transformers import PreTrainedTokenizerFast

        bpe = bytelevel_bpe(tmp, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        bpe.post_processor = TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
        )
        tok = PreTrainedTokenizerFast(
            tokenizer_object=bpe, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
            sep_token="[SEP]", mask_token="[MASK]", model_input_names=["input_ids", "attention_mask"],
        )
        # local_attention 8 (a window of ±4) so that the sliding layers differ from global ones
        # on these sentences; global every 2nd layer -> full, sliding, full.
        cfg = AutoConfig.for_model(
            "modernbert", vocab_size=len(tok), hidden_size=32, num_hidden_layers=3,
            num_attention_heads=4, intermediate_size=24, max_position_embeddings=128,
            local_attention=8, global_attn_every_n_layers=2, hidden_activation="gelu",
            pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2, sep_token_id=3,
            attn_implementation="eager",
        )
    else:
        raise ValueError(family)
    model = AutoModel.from_config(cfg)
    noise_(model, 1)
    model.eval()
    return model, tok, tmp


def left_align(a, lengths):
    """Rows of a left-padded [n, s, ...] array with their real entries moved to the front."""
    out = np.zeros_like(a)
    s = a.shape[1]
    for i, l in enumerate(lengths):
        out[i, :l] = a[i, s - l:]
    return out


def reference(model, tok, family=None):
    out = {}
    # XLNet was pre-trained with segment ids (<cls> in a segment of its own), which its tokenizer
    # computes but, in transformers 5, no longer returns unless asked (4.x returned them): ask,
    # so that the reference is the model as pre-trained.
    kw = {"return_token_type_ids": True} if family == "xlnet" else {}
    for case, max_len in [("full", 64), ("trunc", 7)]:
        enc = tok(SENTENCES, padding=True, truncation=True, max_length=max_len, return_tensors="pt", **kw)
        if family == "xlnet":
            types = enc["token_type_ids"].numpy()
            assert (types[:, -1] == 2).all() and (types[:, :-1] != 2).all(), "XLNet segments: <cls> alone in 2"
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        mask = enc["attention_mask"].numpy().astype(np.float32)
        lengths = mask.sum(1).astype(np.int64)
        ids = enc["input_ids"].numpy().astype(np.int64)
        hs = [h.numpy().astype(np.float32) for h in hs]
        if family == "xlnet":
            assert tok.padding_side == "left" and mask[:, -1].all(), "XLNet pads on the left"
            ids = left_align(ids, lengths)
            hs = [left_align(h, lengths) for h in hs]
            mask = left_align(mask, lengths)
            # the same batch padded on the right gives the same real rows
            tok.padding_side = "right"
            enc_r = tok(SENTENCES, padding=True, truncation=True, max_length=max_len, return_tensors="pt", **kw)
            tok.padding_side = "left"
            assert (enc_r["input_ids"].numpy() * mask == ids * mask).all()
            with torch.no_grad():
                hs_r = model(**enc_r, output_hidden_states=True).hidden_states
            for h, hr in zip(hs, hs_r):
                d = np.abs((h - hr.numpy()) * mask[:, :, None]).max()
                assert d < 1e-5, f"left vs right padding differ by {d}"
        out[f"{case}_ids"] = ids
        out[f"{case}_lengths"] = lengths
        rows = np.arange(len(lengths))
        last = rows * 0 + lengths - 1 if family == "xlnet" else rows * 0
        for k, h in enumerate(hs):
            out[f"{case}_hidden_{k}"] = h
            out[f"{case}_first_{k}"] = np.ascontiguousarray(h[:, 0, :])
            out[f"{case}_cls_{k}"] = np.ascontiguousarray(h[rows, last, :])
            out[f"{case}_mean_{k}"] = (h * mask[:, :, None]).sum(1) / mask.sum(1)[:, None]
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sentences.txt"), "w") as f:
        f.write("\n".join(SENTENCES) + "\n")
    families = sys.argv[2:] or [
        "mpnet", "electra", "albert", "deberta-v2", "deberta", "deberta-base-shaped", "xlnet",
        "modernbert",
    ]
    for family in families:
        model, tok, tmp = build(family)
        d = os.path.join(OUT, family)
        os.makedirs(d, exist_ok=True)
        model.save_pretrained(d)
        tok.save_pretrained(d)
        toks = tok.convert_ids_to_tokens(tok(SENTENCES[0])["input_ids"])
        print(family, toks)
        assert sum(t == tok.unk_token for t in toks) < len(toks) - 2, "tokenizer maps to unknown"
        ref = reference(model, tok, family)
        save_file({k: np.ascontiguousarray(v) for k, v in ref.items()}, os.path.join(d, "reference.safetensors"))
        for extra in ["special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt"]:
            p = os.path.join(d, extra)
            if extra != "special_tokens_map.json" and os.path.exists(p) and os.path.exists(os.path.join(d, "tokenizer.json")):
                os.remove(p)
        print(family, "->", d, sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
