#!/usr/bin/env bash
# Embedding throughput of the non-BERT families (issue #14): `probecast embed` against PyTorch +
# transformers given length-sorted batches (the fair comparison: probecast sorts too), on
# base-size random-init checkpoints (bench/python/make_base_random.py), the same N SentEval
# sentences, batch 32, 2 threads each, rounds interleaved in one run. Needs torch + transformers
# and all-mpnet-base-v2's tokenizer (scripts/fetch-models.sh).
#
#   bench/arch_embed_bench.sh [N_SENTENCES] [ROUNDS] [FAMILIES]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-500}"
ROUNDS="${2:-2}"
FAMILIES="${3:-mpnet,electra,albert,deberta-v2}"
TOK="${PROBECAST_MODELS:-$HOME/.cache/probecast/models}/all-mpnet-base-v2"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
for f in bigram_shift coordination_inversion obj_number odd_man_out past_present subj_number tree_depth top_constituents; do
  head -n 250 "../shared/data/senteval_probing/$f.txt"
done | awk -v n="$N" 'NR % int(2000 / n) == 0' | head -n "$N" > "$W/sents.txt"
cargo build --release --quiet
python3 bench/python/make_base_random.py --tokenizer "$TOK" --out "$W/models" --families "$FAMILIES" >/dev/null
export RAYON_NUM_THREADS=2 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
for round in $(seq 1 "$ROUNDS"); do
  for fam in ${FAMILIES//,/ }; do
    rm -rf "$W/cache" "$W/out"
    ./target/release/probecast embed --model "$W/models/$fam" --data "$W/sents.txt" --out "$W/out" \
      --cache-dir "$W/cache" --batch-size 32 >/dev/null
    python3 -c "import json;t=json.load(open('$W/out/manifest.json'))['embed'];print(json.dumps({'family':'$fam','engine':'probecast','round':$round,'tokens':t['tokens'],'tokens_per_second':round(t['tokens_per_second'],1)}))"
    python3 bench/python/embed_hf.py --model "$W/models/$fam" --data "$W/sents.txt" --batch-size 32 --sort \
      | python3 -c "import json,sys;d=json.load(sys.stdin);print(json.dumps({'family':'$fam','engine':'torch-sorted','round':$round,'tokens':d['tokens'],'tokens_per_second':round(d['tokens_per_second'],1)}))"
  done
done
