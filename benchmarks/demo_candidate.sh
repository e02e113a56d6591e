#!/usr/bin/env bash
# Wall time of one demo candidate evaluation (`spikeq evaluate` with the demo's fine-tune budget from
# configs/search/synthetic-gestures.yaml: 60 steps of 16 at lr 1e-4, BatchNorm re-estimation, validation
# and test passes) for two spikeq binaries, interleaved, on the synthetic gestures and the tiny model.
#
# Usage: benchmarks/demo_candidate.sh BEFORE_BIN AFTER_BIN CHECKPOINT [rounds] [quant] [threads]
#   The FP32 reference measurement is cached in .spikeq-cache (shared by both binaries, computed once
#   before timing). Prints one JSON line per run and the medians at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1
after=$2
checkpoint=$3
rounds=${4:-3}
quant=${5:-benchmarks/quant/mixed.yaml}
threads=${6:-2}
data=configs/datasets/synthetic-gestures.yaml
run() {
    local bin=$1
    local start end
    start=$(date +%s.%N)
    "$bin" evaluate --checkpoint "$checkpoint" --data "$data" --quant "$quant" --finetune-steps 60 --lr 1e-4 --batch 16 \
        --seed 1 --threads "$threads" --json > /tmp/demo-candidate-$$.json
    end=$(date +%s.%N)
    python3 - "$bin" "$start" "$end" "$(cut -d' ' -f1 /proc/loadavg)" /tmp/demo-candidate-$$.json <<'PY'
import json, sys
bin, start, end, load, path = sys.argv[1:]
result = json.load(open(path))
print(json.dumps({"binary": bin, "wall_seconds": float(end) - float(start), "evaluation_seconds": result["wallSeconds"],
                  "fine_tune_seconds": result["fineTune"]["seconds"], "validation": result["accuracy"]["validation"],
                  "test": result["accuracy"]["test"], "load": float(load)}), flush=True)
PY
}
run "$before" > /dev/null  # caches the FP32 reference
for round in $(seq "$rounds"); do
    run "$before"
    run "$after"
done | tee /tmp/demo-candidate-$$.jsonl
python3 - /tmp/demo-candidate-$$.jsonl <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
bins = []
for r in rows:
    if r["binary"] not in bins:
        bins.append(r["binary"])
medians = {b: statistics.median(r["wall_seconds"] for r in rows if r["binary"] == b) for b in bins}
for b in bins:
    print(f"{b}: median wall {medians[b]:.1f} s over {sum(1 for r in rows if r['binary'] == b)} runs")
if len(bins) == 2:
    print(f"speed-up: {medians[bins[0]] / medians[bins[1]]:.2f}x")
PY
rm -f /tmp/demo-candidate-$$.json /tmp/demo-candidate-$$.jsonl
