#!/usr/bin/env bash
# Make tests/fixtures/report/demo: the outputs of `probecast demo` (the default configuration:
# 24 checkpoints, 4 families; its --quick outputs have constant targets) that the report reads
# (probing, fine-tuning, fits, predictions, manifests), without models or data. probes.csv keeps
# the test-accuracy rows of seed 0 and the mean only (one seed: its standard deviation is 0;
# keeps the fixture small); absolute
# paths of the run are made relative.
# Usage: scripts/report-fixture.sh [DEMO_DIR]   (default: run target/release/probecast demo, ~5 min)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then
  src=$(cd "$1" && pwd)
else
  target/release/probecast demo --out "$tmp/probecast-demo" >/dev/null
  src="$tmp/probecast-demo"
fi
dst=tests/fixtures/report/demo
rm -rf "$dst"
mkdir -p "$dst"/{probe,finetune,zoo,fit/loo,fit/family,fit/paper}
# the study's merged tables (study/results/) in the layout the fixture has always had
awk -F, 'NR == 1 || ($7 == "test_acc" && $6 != "std")' "$src/study/results/probes.csv" >"$dst/probe/probes.csv"
cp "$src/study/results/features.csv" "$dst/probe/"
cp "$src/study/results/finetune.csv" "$src/study/results/targets.csv" "$dst/finetune/"
cp "$src/study/manifest.json" "$dst/finetune/"
cp "$src/zoo/checkpoints.csv" "$dst/zoo/"
cp "$src/fit/predictions.csv" "$src/fit/results.csv" "$src/fit/table.txt" "$src/fit/manifest.json" "$dst/fit/"
for f in loo family paper; do
  cp "$src/fit/$f"/*.csv "$src/fit/$f/predictor.json" "$dst/fit/$f/"
done
cp "$src/manifest.json" "$dst/"
# the zoo manifest lists every checkpoint directory: keep only its header keys
python3 - "$src/zoo/manifest.json" "$dst/zoo/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
# (the details sit at the top level in older manifests, under the command's section now)
sec = m["demo"] if "details" not in m else m
sec["details"] = {"checkpoints": len(sec["details"].get("checkpoints", []))}
m["outputs"] = m["outputs"][:1]
json.dump(m, open(sys.argv[2], "w"), indent=2)
PY
grep -rl "$(dirname "$src")/" "$dst" | xargs -r sed -i "s#$(dirname "$src")/##g"
du -sh "$dst"
