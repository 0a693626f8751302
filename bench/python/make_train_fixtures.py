"""Reference losses and gradients of the sequence-classification heads of the newer families.

    pip install torch transformers numpy safetensors sentencepiece protobuf
    python bench/python/make_train_fixtures.py [SRC_DIR [OUT_DIR]]
    # defaults: tests/fixtures/arch (read only) and tests/fixtures/train
    # FIXTURE_FAMILIES=deberta,xlnet,modernbert limits the run to those families

For each tiny checkpoint made by make_arch_fixtures.py (mpnet, electra, albert, deberta-v2,
deberta, xlnet, modernbert; not regenerated here) it loads AutoModelForSequenceClassification with 3 labels (the head seeded
with torch.manual_seed(1234); ALBERT's pooler comes from the checkpoint), switches dropout off
(model.eval(); the fixtures' dropout probabilities are 0 anyway), runs one fixed batch of
sentence pairs (right-padded by the checkpoint's own tokenizer) with fixed labels, and writes
OUT_DIR/<family>.safetensors with

- input_ids, token_type_ids [batch, seq] (int64), lengths [batch], labels [batch];
- loss: the mean cross-entropy transformers computes;
- grad_norm/<name>: the L2 norm of the gradient of every parameter tensor (0 when it has none);
- head/<name>: the head weights the model used (the tensors the checkpoint lacks);

XLNet's tokenizer pads on the left, so that transformers' summary (`hidden_states[:, -1]`) is
the `<cls>` token of every row; the batch is run that way, with the token type ids the
tokenizer computes (`return_token_type_ids=True`: XLNet was pre-trained with segments, and the
pair's `<cls>` has a segment of its own), and saved right-padded (each row's real tokens moved
to the front) as the other families' batches are: XLNet's scores depend on distances and
segments only, so the real rows come out the same (probecast's summary is the last real token).
A second ModernBERT fixture, `modernbert-mean`, runs the same checkpoint with
`classifier_pooling: mean`.

and OUT_DIR/<family>.keys.json: the sorted state-dict keys of the model (what a saved
fine-tuned directory must hold: no missing and no unexpected key). tests/train_arch.rs checks
probecast's loss and every gradient norm against these to 1e-4 relative.

For ALBERT, DeBERTa-v2, MPNet, DeBERTa v1 and ModernBERT (the families whose masked-LM
training `--corrupt-steps` runs) it also
loads AutoModelForMaskedLM (the head seeded with torch.manual_seed(4321)), masks fixed positions
of a fixed batch with the tokenizer's [MASK] and writes OUT_DIR/mlm-<family>.safetensors:
input_ids (masked), lengths, positions (flat row * seq + column), labels, loss, grad_norm/<name>,
head/<name>; and OUT_DIR/mlm-<family>.keys.json, the keys save_pretrained writes (tied decoder
copies left out, as transformers does).
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors import safe_open
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

SRC = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/arch"
OUT = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/train"
FAMILIES = ["mpnet", "electra", "albert", "deberta-v2", "deberta", "xlnet", "modernbert",
            "modernbert-mean"]
ONLY = [f for f in os.environ.get("FIXTURE_FAMILIES", "").split(",") if f]

PAIRS = [
    ("the cat sat on the mat", "a dog barked at the cat in the garden"),
    ("nobody complained about the rain at all", "the weather in zurich was rainy"),
    ("numbers such as 3 14159 appear in text", "words can be very long"),
    ("cafe owners like quiet mornings", "the cat sat"),
]
LABELS = [0, 2, 1, 2]
MLM_FAMILIES = ["albert", "deberta-v2", "mpnet", "deberta", "modernbert"]
MLM_SENTENCES = [
    "the cat sat on the mat",
    "nobody complained about the rain at all today",
    "words can be very long",
]
MLM_COLUMNS = [1, 3, 4]  # masked in every row (all inside the shortest row, after [CLS])


def grad_norms_and_new_weights(model, missing, tensors):
    for name, p in model.named_parameters():
        g = 0.0 if p.grad is None else p.grad.double().norm().item()
        tensors[f"grad_norm/{name}"] = np.array([g], dtype=np.float64)
        if name in missing:
            tensors[f"head/{name}"] = p.detach().numpy().astype(np.float32)


def mlm(fam):
    d = os.path.join(SRC, fam)
    tok = AutoTokenizer.from_pretrained(d)
    torch.manual_seed(4321)
    model, info = AutoModelForMaskedLM.from_pretrained(d, output_loading_info=True)
    model.eval()
    enc = tok(MLM_SENTENCES, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"].clone(), enc["attention_mask"]
    lengths = mask.sum(1)
    assert min(lengths.tolist()) > max(MLM_COLUMNS) + 1
    seq = ids.shape[1]
    labels = torch.full_like(ids, -100)
    positions, targets = [], []
    for r in range(ids.shape[0]):
        for c in MLM_COLUMNS:
            labels[r, c] = ids[r, c]
            positions.append(r * seq + c)
            targets.append(int(ids[r, c]))
            ids[r, c] = tok.mask_token_id
    print("mlm", fam, tok.convert_ids_to_tokens(ids[0].tolist()))
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    tensors = {
        "input_ids": ids.numpy().astype(np.int64),
        "lengths": lengths.numpy().astype(np.int64),
        "positions": np.array(positions, dtype=np.int64),
        "labels": np.array(targets, dtype=np.int64),
        "loss": np.array([out.loss.item()], dtype=np.float64),
    }
    grad_norms_and_new_weights(model, set(info["missing_keys"]), tensors)
    print("mlm", fam, "loss", out.loss.item(), "new head tensors", sorted(info["missing_keys"]))
    save_file(tensors, os.path.join(OUT, f"mlm-{fam}.safetensors"))
    with tempfile.TemporaryDirectory() as t:
        model.save_pretrained(t)
        with safe_open(os.path.join(t, "model.safetensors"), "np") as f:
            keys = sorted(f.keys())
    with open(os.path.join(OUT, f"mlm-{fam}.keys.json"), "w") as f:
        json.dump(keys, f, indent=1)


def right_padded(t, mask):
    """Each row's real entries (mask 1) moved to the front, the rest filled with t's padding."""
    out = t.clone()
    for r in range(t.shape[0]):
        real = t[r][mask[r].bool()]
        pad = t[r][~mask[r].bool()]
        out[r] = torch.cat([real, pad])
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for fam in FAMILIES:
        if ONLY and fam not in ONLY:
            continue
        src, extra = fam, {}
        if fam == "modernbert-mean":
            src, extra = "modernbert", {"classifier_pooling": "mean"}
        d = os.path.join(SRC, src)
        tok = AutoTokenizer.from_pretrained(d)
        torch.manual_seed(1234)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            d, num_labels=3, output_loading_info=True, **extra
        )
        model.eval()
        xlnet = src == "xlnet"
        enc = tok([a for a, _ in PAIRS], [b for _, b in PAIRS], padding=True,
                  return_tensors="pt", return_token_type_ids=True if xlnet else None)
        ids = enc["input_ids"]
        print(fam, tok.convert_ids_to_tokens(ids[0].tolist()))
        assert tok.unk_token_id is None or (ids[0] != tok.unk_token_id).sum() > 4, "broken tokenizer"
        mask = enc["attention_mask"]
        lengths = mask.sum(1)
        types = enc.get("token_type_ids", torch.zeros_like(ids))
        if xlnet:
            # left padding: every row's real tokens come last, ending in <sep> <cls>
            for r, l in enumerate(lengths.tolist()):
                n = ids.shape[1]
                assert mask[r, n - l:].all() and not mask[r, :n - l].any()
                assert ids[r, -1] == tok.cls_token_id
        else:
            # right padding: every row's real tokens come first
            for r, l in enumerate(lengths.tolist()):
                assert mask[r, :l].all() and not mask[r, l:].any()
        kwargs = dict(input_ids=ids, attention_mask=mask, labels=torch.tensor(LABELS))
        if "token_type_ids" in enc:
            kwargs["token_type_ids"] = types
        out = model(**kwargs)
        out.loss.backward()
        if xlnet:
            ids, types = right_padded(ids, mask), right_padded(types, mask)
            print(fam, "types", types.tolist())
        tensors = {
            "input_ids": ids.numpy().astype(np.int64),
            "token_type_ids": types.numpy().astype(np.int64),
            "lengths": lengths.numpy().astype(np.int64),
            "labels": np.array(LABELS, dtype=np.int64),
            "loss": np.array([out.loss.item()], dtype=np.float64),
        }
        grad_norms_and_new_weights(model, set(info["missing_keys"]), tensors)
        print(fam, "loss", out.loss.item(), "new head tensors", sorted(info["missing_keys"]))
        save_file(tensors, os.path.join(OUT, f"{fam}.safetensors"))
        with open(os.path.join(OUT, f"{fam}.keys.json"), "w") as f:
            json.dump(sorted(model.state_dict().keys()), f, indent=1)
    for fam in MLM_FAMILIES:
        if ONLY and fam not in ONLY:
            continue
        mlm(fam)


if __name__ == "__main__":
    main()
