#!/usr/bin/env bash
# Same-machine comparison of the SpikeQuant engine and PyTorch + SpikingJelly (benchmarks/pytorch).
# Runs are interleaved (ours, theirs, ours, …) so that load from other processes hits both alike.
# Usage: benchmarks/engine_vs_pytorch.sh [rounds] [threads]   (needs: swift build -c release;
#        pip install torch spikingjelly pyyaml numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${2:-2}
bin=.build/release/spikeq
cases=("spikformer-tiny 16" "spikformer-2-256-dvs 4")
for round in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
        set -- $c
        for mode in infer train; do
            ours=$($bin bench "$mode" --model "configs/models/$1.yaml" --batch "$2" --threads "$threads" --steps 5 --json)
            theirs=$(python3 benchmarks/pytorch/spikformer_bench.py --config "configs/models/$1.yaml" --mode "$mode" \
                --batch "$2" --threads "$threads" --steps 5)
            python3 - "$round" "$1" "$mode" "$2" "$ours" "$theirs" <<'PY'
import json, sys
r, model, mode, batch, ours, theirs = sys.argv[1:]
o, t = json.loads(ours), json.loads(theirs)
print(json.dumps({"round": int(r), "model": model, "mode": mode, "batch": int(batch),
                  "spikeq": o["samples_per_second"], "pytorch": t["samples_per_second"],
                  "ratio": o["samples_per_second"] / t["samples_per_second"],
                  "spikeq_gflops": o["achieved_gflops"], "sgemm_gflops": o["sgemm_gflops"],
                  "utilisation": o["flop_utilisation"], "density": o["input_density"]}), flush=True)
PY
        done
    done
done
