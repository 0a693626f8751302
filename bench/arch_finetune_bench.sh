#!/usr/bin/env bash
# Fine-tuning step time of the newer families (issue #14): probecast (benches/finetune_step_arch.rs)
# against PyTorch + transformers (bench/python/finetune_step_arch_torch.py) on albert-base- and
# deberta-v3-base-shaped random checkpoints (bench/python/make_base_random.py), batch 8 x 64,
# 2 threads each, rounds interleaved in one run. Needs torch + transformers and
# all-mpnet-base-v2's tokenizer (scripts/fetch-models.sh).
#
#   bench/arch_finetune_bench.sh [ROUNDS] [FAMILIES]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
FAMILIES="${2:-albert,deberta-v2}"
TOK="${PROBECAST_MODELS:-$HOME/.cache/probecast/models}/all-mpnet-base-v2"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
python3 bench/python/make_base_random.py --tokenizer "$TOK" --out "$W/models" --families "$FAMILIES" >/dev/null
export RAYON_NUM_THREADS=2 HF_HUB_OFFLINE=1
for round in $(seq 1 "$ROUNDS"); do
  for fam in ${FAMILIES//,/ }; do
    PROBECAST_ARCH_BENCH="$W/models/$fam" cargo bench --quiet --bench finetune_step_arch 2>/dev/null
    python3 bench/python/finetune_step_arch_torch.py "$W/models/$fam" 2>/dev/null
  done
done
