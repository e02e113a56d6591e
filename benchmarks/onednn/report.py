#!/usr/bin/env python3
"""Turn gemm_bench --tsv outputs (one file per run) into markdown tables."""
import sys
from collections import OrderedDict, defaultdict

VARIANTS = ["sgemm", "f32 D", "f32 T", "bf16 D", "bf16 T", "s8s8 D", "u8s8 T"]
# per-call conversions an engine that keeps f32 [K,N] activations in and f32 [M,N] out would pay
CONV_FOR = {
    "sgemm": [],
    "f32 D": [],
    "f32 T": ["B f32->f32^T", "C^T f32->f32"],
    "bf16 D": ["B f32->bf16"],
    "bf16 T": ["B f32->bf16^T", "C^T f32->f32"],
    "s8s8 D": ["B f32->s8", "C s32->f32"],
    "u8s8 T": ["B f32->u8^T", "C^T s32->f32"],
}
CONVS = ["B f32->bf16", "B f32->s8", "B f32->f32^T", "B f32->bf16^T", "B f32->u8^T",
         "C s32->f32", "C^T f32->f32", "C^T s32->f32"]


def load(path):
    rows = OrderedDict()  # shape -> {variant: dict}
    with open(path) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(hdr, line.rstrip("\n").split("\t")))
            shape = (int(r["M"]), int(r["K"]), int(r["N"]))
            rows.setdefault(shape, {})[r["variant"]] = r
    return rows


runs = [load(p) for p in sys.argv[1:]]
shapes = list(runs[0].keys())
tiny = {(64, 64, 8192), (256, 64, 8192), (64, 256, 8192), (8, 18, 131072), (16, 72, 131072),
        (32, 144, 32768), (64, 288, 8192), (64, 576, 8192)}


def sname(s):
    return ("tiny " if s in tiny else "paper ") + "%dx%dx%d" % s


def t(run, s, v):
    return float(run[s][v]["med_ms"])


def conv(run, s, c):
    return float(run[s]["CONV:" + c]["med_ms"])


def table(title, columns, cell, align="---:", note=None):
    """A markdown table with one row per shape: `cell(shape)` gives that row's cells after the name."""
    print()
    print("### " + title)
    print()
    if note:
        print(note)
        print()
    print("| shape | " + " | ".join(columns) + " |")
    print("|---|" + (align + "|") * len(columns))
    for s in shapes:
        print("| %s | %s |" % (sname(s), " | ".join(cell(s))))


def timing(run, s, v):
    r = run[s][v]
    flag = "" if int(r["reps"]) > 1 else "†"
    return "%.3f (%.0f)%s" % (float(r["med_ms"]), float(r["gflops"]), flag)


def speedup_with_conversions(run, s, v):
    return t(run, s, "sgemm") / (t(run, s, v) + sum(conv(run, s, c) for c in CONV_FOR[v]))


def one_time(run, s, v):
    r = run[s][v]
    return "%.2f" % float(r["create_ms"]) + (" / %.2f" % float(r["prepack_ms"]) if v.endswith("T") else "")


print()
print("Variants: **D** = direct mapping (src=A weights, oneDNN 'weights'=B activations, dst=C, all row-major, no prepack).")
print("**T** = transposed mapping C^T = B^T·A^T (src=B^T [N,K] contiguous, weights=A^T prepacked once, dst=C^T [N,M]).")
print("Shapes are M×K×N (C[M×N] = A[M×K]·B[K×N]). All runs 2 threads/library.")
for ri, run in enumerate(runs):
    order = "sgemm first" if ri % 2 == 0 else "reverse order, sgemm last"
    table("Run %d (%s): median ms (GFLOP/s)" % (ri + 1, order), VARIANTS, lambda s, run=run: [timing(run, s, v) for v in VARIANTS])

table("Kernel-only speedup vs OpenBLAS sgemm (sgemm_time / variant_time), run 1 / run 2", VARIANTS[1:],
      lambda s: [" / ".join("%.2f" % (t(run, s, "sgemm") / t(run, s, v)) for run in runs) for v in VARIANTS[1:]])

table("Speedup incl. per-call conversions (engine keeps f32 B[K,N] in, f32 C[M,N] out), run 1 / run 2", VARIANTS[1:],
      lambda s: [" / ".join("%.2f" % speedup_with_conversions(run, s, v) for run in runs) for v in VARIANTS[1:]],
      note="Added per call: " + "; ".join("%s: %s" % (v, " + ".join(CONV_FOR[v])) for v in VARIANTS[1:] if CONV_FOR[v]) + ".")

run = runs[0]
table("Per-call conversion cost (oneDNN reorder, 2 threads), median ms, run 1 (sgemm ms for scale)", ["sgemm"] + CONVS,
      lambda s: ["%.3f" % t(run, s, "sgemm")] + ["%.3f" % conv(run, s, c) for c in CONVS])

table("One-time costs (run 1): primitive creation ms / weight prepack ms (T only), and implementation", VARIANTS[1:],
      lambda s: [one_time(run, s, v) for v in VARIANTS[1:]], align="---")

print()
print("### Implementations chosen (impl_info_str), over all shapes and runs")
print()
impls = defaultdict(set)
for run in runs:
    for s in shapes:
        for v in VARIANTS[1:]:
            impls[v].add(run[s][v]["impl"])
for v in VARIANTS[1:]:
    print("- %s: %s" % (v, ", ".join(sorted(impls[v]))))

print()
print("### Exactness vs sgemm (max |C - C_sgemm| over all shapes and runs; data are integer-valued)")
print()
for v in VARIANTS:
    md = max(float(run[s][v]["maxdiff"]) for run in runs for s in shapes)
    print("- %s: max diff %g -> %s" % (v, md, "EXACT match" if md == 0 else "MISMATCH"))
if any(int(run[s][v]["reps"]) <= 1 for run in runs for s in shapes for v in VARIANTS):
    print()
    print("† = only 1 timed repetition (reference implementation, too slow)")
