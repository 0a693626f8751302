"""Fixtures for the SentencePiece tokenizer path (src/encoder/spm.rs, src/encoder/spm_tokenizer.rs).

Trains tiny SentencePiece models (unigram with the default nmt_nfkc normaliser, so the
precompiled charsmap is exercised, and BPE with the identity normaliser) on sentences from
../shared/data (UD English-EWT train text; the data itself is not committed), writes ALBERT,
XLNet and DeBERTa-v2 tokenizer directories without tokenizer.json (config.json,
tokenizer_config.json, and spiece.model / spm.model), and writes the ids of the *slow*
(sentencepiece) tokenizers for 200+ sentences and 60 pairs to tests/fixtures/spm/expected.json.

transformers 5 has no slow ALBERT / XLNet / DeBERTa-v2 tokenizer classes any more, so the slow
tokenizers are reproduced here from transformers 4.x (tokenization_albert.py,
tokenization_xlnet.py, tokenization_deberta_v2.py): the Python pre-processing around
`SentencePieceProcessor.encode` and the special-token templates. The ids that transformers 5.25's
`AutoTokenizer.from_pretrained(dir)` gives on the same directories are written next to them
(as a count, `transformers_agrees`): they equal the slow ids for every unigram model, and for
few BPE ones (transformers 5 turns a BPE SentencePiece model into a Unigram tokenizer);
probecast follows SentencePiece.

Run from the repository root:  python3 bench/python/make_spm_fixtures.py
Needs: sentencepiece, protobuf, transformers.
"""

import json
import os
import shutil
import tempfile
import unicodedata

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data")
if not os.path.isdir(DATA):
    DATA = "/work/shared/data"
OUT = os.path.join(ROOT, "tests", "fixtures", "spm")
SPIECE_UNDERLINE = "\u2581"


def ud_sentences(name, limit):
    out = []
    with open(os.path.join(DATA, "ud_english_ewt", name), encoding="utf-8") as f:
        for line in f:
            if line.startswith("# text = "):
                out.append(line[len("# text = ") :].rstrip("\n"))
                if len(out) >= limit:
                    break
    return out


def sst_sentences(limit):
    out = []
    with open(os.path.join(DATA, "glue_F0restL1n_BERT", "SST-2", "dev.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            out.append(line.split("\t")[0])
            if len(out) >= limit:
                break
    return out


EDGE = [
    "",
    " ",
    "hello",
    "Hello, World!",
    "  leading and trailing spaces  ",
    "repeated    spaces   inside\tand a tab",
    "new\nline and\r\ncarriage return",
    "1,000,000 dollars and 3,14 and 12, 34 and 2,5,",
    "Version 2.0.1 costs $1,299.99 (about 1.2k) on 2026-12-07 at 08:10.",
    "0123456789 9876543210 1 22 333 4444 55555",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a very long word.",
    "Supercalifragilisticexpialidociousness" * 3,
    "a" * 120,
    "x1y2z3" * 15,
    "Café naïve résumé coöperate façade jalapeño São Paulo Zürich",
    "Straße Größe ÆØÅ æøå Œuvre ĳ ﬁ ﬂ",
    "İstanbul ıi Ǆ ǅ ǆ",
    "日本語のテキストと中文字符以及한국어",
    "Ελληνικά κείμενα και русский текст",
    "עברית ועربي",
    "emoji 😀🎉👍🏽 and symbols ™ © ® ° ± × ÷ € £ ¥",
    "full-width ＡＢＣ１２３ and half-width ｶﾀｶﾅ",
    "``quoted'' text with \"double\" and 'single' quotes",
    "It's a dog's life, isn't it? Don't!",
    "e-mail me at someone@example.com or visit https://example.org/a?b=c&d=e",
    "Mr. O'Neil's 3rd-quarter results: +4.5% vs. -2.3%!!!",
    "...???!!!;;;:::---___",
    "UPPER CASE SENTENCE WITH NUMBERS 42",
    "MiXeD CaSe WoRdS",
    "combining a\u0301 e\u0300 o\u0308 and precomposed á è ö",
    "non\u00a0breaking\u2009thin\u3000ideographic spaces",
    "zero\u200bwidth\u200djoiner",
    "tab\tseparated\tvalues\t",
    "ﬀ ﬃ ½ ¼ ² ³ Ⅻ ℃ ㎏",
    "the the the the the the the the the the",
    "A",
    "?",
    "1",
    "$",
    "  ",
]


def preprocess_albert_xlnet(text, do_lower_case, remove_space=True, keep_accents=False):
    # transformers 4.x AlbertTokenizer.preprocess_text / XLNetTokenizer.preprocess_text
    if remove_space:
        outputs = " ".join(text.strip().split())
    else:
        outputs = text
    outputs = outputs.replace("``", '"').replace("''", '"')
    if not keep_accents:
        outputs = unicodedata.normalize("NFKD", outputs)
        outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
    if do_lower_case:
        outputs = outputs.lower()
    return outputs


def tokenize_albert_xlnet(sp, text, do_lower_case):
    # transformers 4.x AlbertTokenizer._tokenize / XLNetTokenizer._tokenize
    text = preprocess_albert_xlnet(text, do_lower_case)
    pieces = sp.encode(text, out_type=str)
    new_pieces = []
    for piece in pieces:
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            cur = sp.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
            if piece[0] != SPIECE_UNDERLINE and cur[0][0] == SPIECE_UNDERLINE:
                if len(cur[0]) == 1:
                    cur = cur[1:]
                else:
                    cur[0] = cur[0][1:]
            cur.append(piece[-1])
            new_pieces.extend(cur)
        else:
            new_pieces.append(piece)
    return [sp.piece_to_id(p) for p in new_pieces]


def _is_punctuation(ch):
    # transformers 4.x tokenization_deberta_v2._is_punctuation (BERT's definition)
    cp = ord(ch)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(ch).startswith("P")


def _run_split_on_punc(text):
    # transformers 4.x SPMTokenizer._run_split_on_punc
    output, start_new_word = [], True
    for ch in text:
        if _is_punctuation(ch):
            output.append([ch])
            start_new_word = True
        else:
            if start_new_word:
                output.append([])
            start_new_word = False
            output[-1].append(ch)
    return ["".join(x) for x in output]


def tokenize_deberta_v2(sp, text, do_lower_case, split_by_punct=False):
    # transformers 4.x DebertaV2Tokenizer._tokenize -> SPMTokenizer.tokenize / _encode_as_pieces
    if do_lower_case:
        text = text.lower()
    if split_by_punct:
        pieces = [p for w in _run_split_on_punc(text) for p in sp.encode(w, out_type=str)]
    else:
        pieces = sp.encode(text, out_type=str)
    return [sp.piece_to_id(p) for p in pieces]


ARCHS = {
    # name: (model_type, file name, spm model key, tokenizer_config, specials)
    "albert": ("albert", "spiece.model", "albert_unigram", {"do_lower_case": True}),
    "albert_bpe": ("albert", "spiece.model", "albert_bpe", {"do_lower_case": True}),
    "xlnet": ("xlnet", "spiece.model", "xlnet_unigram", {"do_lower_case": False}),
    "deberta_v2": ("deberta-v2", "spm.model", "deberta_unigram", {"do_lower_case": False, "vocab_type": "spm"}),
    "deberta_v2_bpe": ("deberta-v2", "spm.model", "deberta_bpe", {"do_lower_case": True, "vocab_type": "spm"}),
    "deberta_v2_punct": (
        "deberta-v2",
        "spm.model",
        "deberta_unigram",
        {"do_lower_case": False, "vocab_type": "spm", "split_by_punct": True},
    ),
}

SPM_MODELS = {
    # key: (model_type, normalization rule, control symbols, ids)
    "albert_unigram": ("unigram", "nmt_nfkc", ["[CLS]", "[SEP]", "[MASK]"], dict(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1)),
    "albert_bpe": ("bpe", "identity", ["[CLS]", "[SEP]", "[MASK]"], dict(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1)),
    "xlnet_unigram": (
        "unigram",
        "nmt_nfkc",
        ["<cls>", "<sep>", "<pad>", "<mask>", "<eod>"],
        dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1),
    ),
    "deberta_unigram": ("unigram", "nmt_nfkc", ["[CLS]", "[SEP]"], dict(pad_id=0, unk_id=3, bos_id=-1, eos_id=-1)),
    "deberta_bpe": ("bpe", "identity", ["[CLS]", "[SEP]"], dict(pad_id=0, unk_id=3, bos_id=-1, eos_id=-1)),
}


def train(key, corpus, workdir):
    model_type, rule, control, ids = SPM_MODELS[key]
    prefix = os.path.join(workdir, key)
    kw = dict(ids)
    if key.startswith("deberta"):
        kw["pad_piece"] = "[PAD]"
        kw["unk_piece"] = "[UNK]"
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_prefix=prefix,
        vocab_size=400 if model_type == "unigram" else 600,
        model_type=model_type,
        normalization_rule_name=rule,
        control_symbols=control,
        character_coverage=0.9995,
        max_sentence_length=4096,
        seed_sentencepiece_size=20000,
        num_threads=1,
        minloglevel=2,
        **kw,
    )
    return prefix + ".model"


def templates(arch, a, b, sp, cfg):
    pid = sp.piece_to_id
    if arch.startswith("xlnet"):
        sep, cls = pid("<sep>"), pid("<cls>")
        if b is None:
            return a + [sep, cls], [0] * (len(a) + 1) + [2]
        return a + [sep] + b + [sep, cls], [0] * (len(a) + 1) + [1] * (len(b) + 1) + [2]
    cls, sep = pid("[CLS]"), pid("[SEP]")
    if b is None:
        return [cls] + a + [sep], [0] * (len(a) + 2)
    return [cls] + a + [sep] + b + [sep], [0] * (len(a) + 2) + [1] * (len(b) + 1)


def main():
    train_text = ud_sentences("en_ewt-ud-train.conllu", 6000)
    sentences = EDGE + ud_sentences("en_ewt-ud-dev.conllu", 140) + sst_sentences(40)
    # a few from the dev set with non-ASCII text
    extra = [s for s in ud_sentences("en_ewt-ud-test.conllu", 2077) if any(ord(c) > 127 for c in s)][:20]
    sentences += extra
    pairs = [(sentences[i], sentences[-1 - i]) for i in range(60)]
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(train_text) + "\n")
    models = {}
    for key in SPM_MODELS:
        path = train(key, corpus, work)
        dst = os.path.join(OUT, "models", key + ".model")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(path, dst)
        models[key] = dst

    from transformers import AutoTokenizer

    result = {"sentences": sentences, "pairs": [list(p) for p in pairs], "archs": {}}
    for arch, (model_type, fname, key, tcfg) in ARCHS.items():
        d = os.path.join(OUT, arch)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"model_type": model_type}, f, indent=1)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(tcfg, f, indent=1)
        # the model file is copied into the directory by the test (tests/spm_tokenizer.rs) and here
        # only for transformers, then removed, so each .model file is committed once
        sp = spm.SentencePieceProcessor(model_file=models[key])
        lower = tcfg["do_lower_case"]
        if model_type == "deberta-v2":
            punct = tcfg.get("split_by_punct", False)

            def tok(sp, text, lower, punct=punct):
                return tokenize_deberta_v2(sp, text, lower, punct)

        else:
            tok = tokenize_albert_xlnet
        singles = [templates(arch, tok(sp, s, lower), None, sp, tcfg) for s in sentences]
        pair_ids = [templates(arch, tok(sp, a, lower), tok(sp, b, lower), sp, tcfg) for a, b in pairs]
        shutil.copy(models[key], os.path.join(d, fname))
        fast = AutoTokenizer.from_pretrained(d)
        os.remove(os.path.join(d, fname))
        fast_singles = [fast(s)["input_ids"] for s in sentences]
        fast_pairs = [fast(a, b)["input_ids"] for a, b in pairs]
        agree = sum(x == y[0] for x, y in zip(fast_singles, singles)) + sum(
            x == y[0] for x, y in zip(fast_pairs, pair_ids)
        )
        # truncation to 16 tokens (special tokens included; longest-first for pairs) and the
        # padding side, from transformers (equal to the slow ids above on unigram models)
        trunc_single = [fast(s, truncation=True, max_length=16)["input_ids"] for s in sentences[:40]]
        trunc_pair = [fast(a, b, truncation=True, max_length=16)["input_ids"] for a, b in pairs[:40]]
        probe = "Hello, World! The café costs 1,000 dollars."
        pieces = [sp.id_to_piece(i) for i in tok(sp, probe, lower)]
        unk = sum(p in ("<unk>", "[UNK]") for p in pieces)
        assert unk < len(pieces) / 4, (arch, pieces)
        print(f"{arch}: {fname} from {key}; pieces of {probe!r}: {pieces}")
        print(f"  transformers {type(fast).__name__} agrees with slow sentencepiece on {agree}/{len(singles) + len(pair_ids)}")
        result["archs"][arch] = {
            "model": key + ".model",
            "file": fname,
            "single": [{"ids": i, "type_ids": t} for i, t in singles],
            "pair": [{"ids": i, "type_ids": t} for i, t in pair_ids],
            # how many of the single + pair encodings transformers 5.25's converted tokenizer
            # gets equal to the slow one (it converts BPE models into Unigram ones)
            "transformers_agrees": agree,
            "padding_side": fast.padding_side,
            "truncated16_single": trunc_single,
            "truncated16_pair": trunc_pair,
        }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    print(f"{len(sentences)} sentences, {len(pairs)} pairs -> {OUT}/expected.json")


if __name__ == "__main__":
    main()
