#!/bin/bash
# Agreement of `probecast finetune` with Hugging Face transformers on RTE and MRPC, 3 seeds each,
# same hyperparameters and subsample sizes on both sides (BENCHMARKS.md, fine-tuning section).
#
#   bench/finetune_agreement.sh MODEL_DIR GLUE_DIR OUT_DIR
#
# Env: PROBECAST (binary, default target/release/probecast), NRTE / NMRPC (stratified training
# subsample sizes, default 600 / 900; 0 = full), HF_DEVICE (cpu or cuda, default cpu),
# THREADS (threads per probecast run, default 2). The six probecast runs (2 tasks x 3 seeds) run
# in parallel, so the machine needs 6 x THREADS cores to time them fairly.
set -u
MODEL=$1 GLUE=$2 OUT=$3
BIN=${PROBECAST:-target/release/probecast}
declare -A N=([RTE]=${NRTE:-600} [MRPC]=${NMRPC:-900})
H="--epochs 3 --lr 5e-5 --batch-size 16 --max-length 128"
mkdir -p "$OUT"
for t in RTE MRPC; do
  sub=(); [ "${N[$t]}" != 0 ] && sub=(--max-train-examples "${N[$t]}")
  for s in 1 2 3; do
    RAYON_NUM_THREADS=${THREADS:-2} "$BIN" finetune --model "$MODEL" --task "$GLUE/$t" \
      --out "$OUT/probecast-$t-$s" --seeds $s $H "${sub[@]}" > "$OUT/probecast-$t-$s.log" 2>&1 &
  done
  python3 "$(dirname "$0")/python/finetune_hf.py" --device "${HF_DEVICE:-cpu}" --threads "${THREADS:-2}" \
    --model "$MODEL" --task "$GLUE/$t" --seeds 1,2,3 $H "${sub[@]}" 2>/dev/null | grep '^{' > "$OUT/hf-$t.jsonl"
done
wait
for t in RTE MRPC; do
  echo "== $t"; cat "$OUT/hf-$t.jsonl"
  for s in 1 2 3; do tr '\r' '\n' < "$OUT/probecast-$t-$s.log" | grep best; done
done
