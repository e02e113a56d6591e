#!/usr/bin/env bash
# Same-machine comparison of the SpikeQuant engine and PyTorch + SpikingJelly (benchmarks/pytorch).
# Runs are interleaved (ours, theirs, ours, …) so that load from other processes hits both alike;
# every line of output is one JSON record; `benchmarks/summarize.py` turns them into the table of
# medians and ratios in BENCHMARKS.md.
#
# Usage: benchmarks/engine_vs_pytorch.sh [rounds] [threads] [steps]
#   SPIKEQ=path/to/spikeq (default .build/release/spikeq)
#   PYTHON=python with torch + spikingjelly (default .venv-bench/bin/python if present, else python3);
#          set it up with: python3 -m venv .venv-bench && .venv-bench/bin/pip install "torch==2.13.0+cpu" spikingjelly pyyaml numpy
#   QUANT=benchmarks/quant/u8.yaml also runs that quantization config on our side (PyTorch has no
#          counterpart; the record says which).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${2:-2}
steps=${3:-5}
bin=${SPIKEQ:-.build/release/spikeq}
# PyTorch's OpenMP threads spin-wait at barriers by default; on a shared, loaded machine they then lose their
# time slices (10–15× slower). Passive waiting is what a shared CPU cluster should use; override to compare
# (ACTIVE: spin throughout; unset: the OpenMP runtime's own default, spin briefly then sleep).
if [[ "${OMP_WAIT_POLICY:-}" == unset ]]; then
    unset OMP_WAIT_POLICY
else
    export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
fi
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv-bench/bin/python ]]; then PYTHON=.venv-bench/bin/python; else PYTHON=python3; fi
fi
cases=("spikformer-tiny 16" "spikformer-2-256-dvs 4")
for round in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
        set -- $c
        for mode in infer train; do
            load=$(cut -d' ' -f1 /proc/loadavg)
            ours=$($bin bench "$mode" --model "configs/models/$1.yaml" --batch "$2" --threads "$threads" --steps "$steps" --json)
            theirs=$($PYTHON benchmarks/pytorch/spikformer_bench.py --config "configs/models/$1.yaml" --mode "$mode" \
                --batch "$2" --threads "$threads" --steps "$steps")
            quantized='{}'
            if [[ -n "${QUANT:-}" ]]; then
                quantized=$($bin bench "$mode" --model "configs/models/$1.yaml" --batch "$2" --threads "$threads" --steps "$steps" \
                    --quant "$QUANT" --json)
            fi
            $PYTHON - "$round" "$1" "$mode" "$2" "$load" "$ours" "$theirs" "$quantized" <<'PY'
import json, sys
r, model, mode, batch, load, ours, theirs, quantized = sys.argv[1:]
o, t, q = json.loads(ours), json.loads(theirs), json.loads(quantized)
record = {"round": int(r), "model": model, "mode": mode, "batch": int(batch), "load": float(load),
          "spikeq": o["samples_per_second"], "pytorch": t["samples_per_second"],
          "ratio": o["samples_per_second"] / t["samples_per_second"], "framework": t["framework"],
          "spikeq_gflops": o["achieved_gflops"], "sgemm_gflops": o["sgemm_gflops"],
          "utilisation": o["flop_utilisation"], "density": o["input_density"], "kernel_isa": o.get("kernel_isa"),
          "event_layers": [l["layer"] for l in o.get("layers", []) if l["forward_events"] > 0]}
if q:
    record.update({"quant": q["quant"], "spikeq_quantized": q["samples_per_second"],
                   "ratio_quantized": q["samples_per_second"] / t["samples_per_second"]})
print(json.dumps(record), flush=True)
PY
        done
    done
done
