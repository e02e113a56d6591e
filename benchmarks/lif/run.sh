#!/usr/bin/env bash
# The LIF kernels (CKernels_lifForward / CKernels_lifBackward, AVX-512 variant) of two revisions side
# by side, on one thread, on rows that do not fit in cache (34 MB per array), as in a training step.
# Usage: benchmarks/lif/run.sh [BEFORE_REV] [block...]   (default: HEAD~1 against the work tree;
#        blocks 16384 4096 1024: the tiny model's stage-0, stage-2 and token rows at batch 16)
# Set IN_PLACE=1 to time the work tree's backward writing over its spike gradient. Needs clang.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
before=${1:-HEAD~1}
shift || true
blocks=("${@:-16384 4096 1024}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/before" "$work/after"
git -C "$root" show "$before:Sources/CKernels/KernelBodies.h" > "$work/before/KernelBodies.h"
cp "$root/Sources/CKernels/KernelBodies.h" "$work/after/KernelBodies.h"
for side in before after; do
    sed "s/CKernels_##base##_avx512/${side}_##base/; s|#include \"KernelBodies.h\"|#include \"$side/KernelBodies.h\"|" \
        "$root/Sources/CKernels/VariantAVX512.c" > "$work/$side.c"
done
clang -O3 -I"$root/Sources/CKernels/include" -I"$work" -DIN_PLACE="${IN_PLACE:-0}" \
    "$work/before.c" "$work/after.c" "$here/lif_kernels.c" -o "$work/lif" -lm
for block in ${blocks[@]}; do "$work/lif" "$block" $((64 * 16384 / block)); done
