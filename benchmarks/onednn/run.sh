#!/usr/bin/env bash
# Standalone OpenBLAS sgemm vs oneDNN matmul measurement for SpikeQuant GEMM shapes.
# Installs nothing. Needs libdnnl-dev (2.6.x: apt-get install libdnnl-dev) and libopenblas-dev.
# Usage: benchmarks/onednn/run.sh [REPS]     (default 15)
# Run it on an otherwise idle machine: only same-run ratios are meaningful on a shared host.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPS="${1:-15}"
OUT="$HERE/out"
BIN=/tmp/gemm_bench
mkdir -p "$OUT"

export OMP_NUM_THREADS=2          # oneDNN (Debian build uses the GNU OpenMP runtime)
export OPENBLAS_NUM_THREADS=2     # also set in code with openblas_set_num_threads(2)

echo "## Environment"
echo '```'
uname -r
lscpu | grep -E 'Model name|^CPU\(s\)' || true
echo "isa flags: $(grep -o -w -E 'avx512f|avx512_vnni|avx512_bf16|amx_tile|amx_int8|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "libdnnl: $(readlink -f "$(ldconfig -p | awk '/libdnnl.so.2 /{print $NF; exit}')")"
echo "libdnnl threading runtime (ldd):"
ldd "$(ldconfig -p | awk '/libdnnl.so.2 /{print $NF; exit}')" | grep -E 'gomp|iomp|tbb|pthread' || echo "  (no OpenMP/TBB lib found)"
grep -E 'define DNNL_CPU_(THREADING_)?RUNTIME' /usr/include/oneapi/dnnl/dnnl_config.h
echo "libopenblas: $(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0)"
echo '```'

# ---- compile ----
CFLAGS_BLAS="$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)"
LIBS_BLAS="$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
cc -O2 -Wall $CFLAGS_BLAS "$HERE/gemm_bench.c" -ldnnl $LIBS_BLAS -lm -o "$BIN"

echo
echo "## Load at start"
echo '```'
echo "loadavg: $(cat /proc/loadavg)"
vmstat 1 2 | awk 'NR==2{for(i=1;i<=NF;i++) if($i=="st") c=i} NR>2 && c {print "vmstat steal%:", $c}'
echo '```'

# ---- which kernels? one call of each type, ONEDNN_VERBOSE=1 ----
echo
echo "## oneDNN implementations (ONEDNN_VERBOSE=1, shape 64x288x8192, 1 call each)"
echo '```'
ONEDNN_VERBOSE=1 "$BIN" --reps 1 --shape 64 288 8192 2>/dev/null \
  | grep -E '^onednn_verbose,(info,cpu|exec,cpu,(matmul|reorder))' \
  | awk -F, '$2=="info"{print; next} {key=$4","$5","$7","$9; if(!(key in seen)){seen[key]=1; print $4" | "$5" | "$7" | "$9}}'
echo '```'

# ---- timed runs: run 1 forward order (sgemm first), run 2 reverse order (sgemm last) ----
"$BIN" --reps "$REPS" --tsv         > "$OUT/run1.tsv" 2> "$OUT/run1.log"
echo "loadavg after run 1: $(cat /proc/loadavg)"
"$BIN" --reps "$REPS" --tsv --rev   > "$OUT/run2.tsv" 2> "$OUT/run2.log"
echo "loadavg after run 2: $(cat /proc/loadavg)"
vmstat 1 2 | awk 'NR==2{for(i=1;i<=NF;i++) if($i=="st") c=i} NR>2 && c {print "vmstat steal% after runs:", $c}'

python3 "$HERE/report.py" "$OUT/run1.tsv" "$OUT/run2.tsv" | tee "$OUT/report.md"
