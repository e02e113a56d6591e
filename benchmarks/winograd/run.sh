#!/usr/bin/env bash
# Winograd F(2×2, 3×3) against the engine's im2col GEMM for a 3×3 convolution's input gradient, on
# one thread, at the paper model's shapes (input_gradient.c). Needs clang and libopenblas-dev.
# Run it on an otherwise idle machine: only same-run ratios mean anything on a shared host.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cflags="$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)"
libs="$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
clang -O3 -march=native $cflags "$here/input_gradient.c" -o /tmp/spikeq-winograd $libs -lm
OPENBLAS_NUM_THREADS=1 /tmp/spikeq-winograd
