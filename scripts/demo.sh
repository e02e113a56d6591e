#!/usr/bin/env bash
# The main job on the embedded default: synthetic gestures, the tiny Spikformer, two local workers.
#
#   scripts/demo.sh            # full demo   (configs/search/synthetic-gestures.yaml)
#   QUICK=1 scripts/demo.sh    # quick demo  (configs/search/synthetic-gestures-quick.yaml)
#
# Steps: build (release), prepare the synthetic gesture set, train the FP32 tiny model (kept in
# runs/base/, so a second run skips it), search with two local workers over loopback ZeroMQ, print
# the Pareto front, write the report, export every Pareto model and check each one with
# `spikeq infer` against the accuracy the search recorded.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${QUICK:-0}" == 1 ]]; then
    config=configs/search/synthetic-gestures-quick.yaml
    run=runs/demo-quick
else
    config=configs/search/synthetic-gestures.yaml
    run=runs/demo
fi
data=configs/datasets/synthetic-gestures.yaml
bin=.build/release/spikeq
start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$1" $(( $(date +%s) - start )); }

step "build"
swift build -c release --product spikeq

step "dataset"
"$bin" dataset prepare --data "$data"

step "search (trains the FP32 base model first if runs/base/ does not have it)"
rm -rf "$run"
# --dashboard: a live view while it runs (the address, with a free port, is printed at the start).
"$bin" search --config "$config" --run "$run" --bind 'tcp://127.0.0.1:*' --local-workers 2 --worker-threads 1 \
    --dashboard 127.0.0.1:0

step "report"
"$bin" report "$run"

step "export"
"$bin" export "$run" --out "$run/export" --select pareto --format both

step "check the exported models"
"$bin" infer --manifest "$run/export/manifest.json" --data "$data"

step "done"
echo "report: $run/report/index.html    models: $run/export/"
echo "dashboard: $bin dashboard $run   (then open http://127.0.0.1:8080/)"
