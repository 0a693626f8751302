#!/usr/bin/env bash
# Side-by-side throughput of `probecast embed` and PyTorch + transformers on the same 2,000
# SentEval sentences (the first 250 lines of 8 files of ../shared/data/senteval_probing), same
# model, batch size and thread count, one run after the other. Needs torch + transformers
# (pip install torch transformers) and scripts/fetch-models.sh.
#
#   bench/embed_bench.sh [MODEL_DIR] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-${PROBECAST_MODELS:-$HOME/.cache/probecast/models}/all-MiniLM-L6-v2}"
BS="${2:-32}"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
for f in bigram_shift coordination_inversion obj_number odd_man_out past_present subj_number tree_depth top_constituents; do
  head -n 250 "../shared/data/senteval_probing/$f.txt"
done > "$W/s2000.txt"
cargo build --release --quiet
export RAYON_NUM_THREADS=2 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
for round in 1 2 3; do
  rm -rf "$W/cache" "$W/out"
  ./target/release/probecast embed --model "$MODEL" --data "$W/s2000.txt" --out "$W/out" \
    --cache-dir "$W/cache" --batch-size "$BS" >/dev/null
  python3 -c "import json;m=json.load(open('$W/out/manifest.json'));t=m['embed'];print(json.dumps({'engine':'probecast','round':$round,'tokens':t['tokens'],'seconds':t['forward_seconds'],'tokens_per_second':t['tokens_per_second']}))"
  python3 bench/python/embed_hf.py --model "$MODEL" --data "$W/s2000.txt" --batch-size "$BS"
done
python3 bench/python/embed_hf.py --model "$MODEL" --data "$W/s2000.txt" --batch-size "$BS" --sort
# The seed paper's protocol: every sentence padded to 512 tokens, batch 10 (200 sentences).
python3 bench/python/embed_hf.py --model "$MODEL" --data "$W/s2000.txt" --batch-size 10 --pad-to 512 --limit 200
