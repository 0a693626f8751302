#!/usr/bin/env bash
# The comparison of docs/transfer.md ("Estimators against fine-tuned scores"): run the demo
# (resumes from DEMO_DIR if it is there), then `probecast transfer-compare` on its 24
# checkpoints and two tasks: LogME, H-score, kNN and the target-task probe (layer mean and best
# layer) on each task's training file, the probing predictor's out-of-sample predictions
# (leave-one-checkpoint-out and leave-one-family-out) and the parameter count, each as a
# Kendall tau-b against the fine-tuned dev scores. The demo's models take 64 positions
# (--max-length 64).
#
#   scripts/transfer-compare-demo.sh [DEMO_DIR] [OUT_DIR]
#
# For the real study (issue #18) call `probecast transfer-compare` the same way with the
# study's checkpoints.csv (model,dir), targets.csv, GLUE task directories and the fit's
# cv_predictions.csv files.
set -euo pipefail
DEMO=${1:-probecast-demo}
OUT=${2:-$DEMO/transfer-compare}
BIN=${PROBECAST:-target/release/probecast}
"$BIN" demo --out "$DEMO"
"$BIN" transfer-compare \
    --checkpoints "$DEMO/zoo/checkpoints.csv" \
    --targets "$DEMO/study/results/targets.csv" \
    --task "$DEMO/data/acceptability,$DEMO/data/paraphrase" \
    --task-type acceptability=cola,paraphrase=mrpc \
    --predictions "$DEMO/fit/loo/cv_predictions.csv,$DEMO/fit/family/cv_predictions.csv" \
    --estimators logme,hscore,knn,probe \
    --max-length 64 \
    --cache-dir "$DEMO/cache" \
    --out "$OUT"
