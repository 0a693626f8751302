#!/usr/bin/env bash
# The design's "Comparisons reported beside the predictor" (DESIGN.md): fit the complete
# checkpoints (`study run --stage fit --partial`, or the full fit once the study is done), then
# `probecast transfer-compare` on the fine-tuned checkpoints: LogME, H-score, kNN and the task
# probe (layer mean and best layer) on a stratified sample of each task's training file, the
# predictor's out-of-sample predictions of each fold scheme, and the parameter count, each as a
# Kendall tau-b against the fine-tuned scores.
#
#   studies/minilm-mpnet-glue/compare.sh [MAX_EXAMPLES]     (default 2000 per task)
#
# Writes out/compare/ (comparison.csv, scores.csv, comparison.json, manifest.json: commit them),
# out/paper-in-sample/ and the tables of RESULTS.md (results.py);
# out/work/compare/ holds checkpoints.csv (model,dir of the checkpoints compared) and the task
# links (never committed). Variants are found under
# out/work/variants/ (the study rebuilds them when a unit needs them); the bases where
# scripts/fetch-models.sh puts them.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${PROBECAST:-../../target/release/probecast}
MAX=${1:-2000}
MODELS=${PROBECAST_MODELS:-$HOME/.cache/probecast/models}
GLUE=../../../shared/data/glue_F0restL1n_BERT
if [ -f out/results/fit.json ]; then
  RES=out/results
else
  "$BIN" study run study.toml --stage fit --partial >/dev/null
  RES=out/results-partial
fi
OUT=out/compare
W=out/work/compare
mkdir -p "$W/tasks"
# the study names its tasks as GLUE does in lower case (rte, mrpc, cola, sst2): link the task
# directories under those names, the columns of targets.csv
for t in RTE:rte MRPC:mrpc CoLA:cola SST-2:sst2; do
  ln -sfn "$(cd "$GLUE/${t%%:*}" && pwd)" "$W/tasks/${t##*:}"
done
# model,dir of every fine-tuned checkpoint in the fit
{
  echo "model,dir"
  tail -n +2 "$RES/targets.csv" | cut -d, -f1 | while read -r m; do
    case "$m" in
      minilm) d="$MODELS/all-MiniLM-L6-v2" ;;
      mpnet) d="$MODELS/all-mpnet-base-v2" ;;
      *) d=$(find out/work/variants -mindepth 2 -maxdepth 2 -type d -name "$m" | head -1) ;;
    esac
    [ -n "$d" ] && [ -d "$d" ] || { echo "compare.sh: checkpoint $m is not built (run the study)" >&2; exit 2; }
    echo "$m,$(cd "$d" && pwd)"
  done
} >"$W/checkpoints.csv"
preds=$(ls -d "$RES"/fit-*/cv_predictions.csv | paste -sd, -)
"$BIN" transfer-compare --checkpoints "$W/checkpoints.csv" --targets "$RES/targets.csv" \
  --task "$W/tasks/rte,$W/tasks/mrpc,$W/tasks/cola,$W/tasks/sst2" \
  --predictions "$preds" --max-examples "$MAX" --max-length 128 \
  --cache-dir out/work/cache --out "$OUT"
# The seed paper's protocol (best 3-column OLS subset, in-sample), reported beside the honest
# fits for comparison only (DESIGN.md, "Fitting and validation"); missing cells (the layers a
# truncated checkpoint lacks) take the column mean.
"$BIN" fit --data "$RES/table-loo.csv" --targets-file "$RES/targets.csv" --features '_layer_' \
  --protocol paper --impute mean --out out/paper-in-sample >/dev/null
rm -f out/paper-in-sample/report.html   # the CSVs are what is committed
# The tables of RESULTS.md from all of the above.
python3 results.py
