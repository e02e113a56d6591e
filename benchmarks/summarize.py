"""Prints a Markdown table (medians over rounds) from engine_vs_pytorch.sh output (JSON lines on stdin)."""
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
keys = []
for r in rows:
    k = (r["model"], r["mode"], r["batch"])
    if k not in keys:
        keys.append(k)
print("| model | mode | batch | rounds | SpikeQuant samples/s (median) | PyTorch+SpikingJelly samples/s (median) | ratio of medians | achieved GFLOP/s | sgemm GFLOP/s | utilisation |")
print("|---|---|---|---|---|---|---|---|---|---|")
for k in keys:
    sel = [r for r in rows if (r["model"], r["mode"], r["batch"]) == k]
    ours = statistics.median(r["spikeq"] for r in sel)
    theirs = statistics.median(r["pytorch"] for r in sel)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {len(sel)} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.1f}× | "
          f"{statistics.median(r['spikeq_gflops'] for r in sel):.1f} | {statistics.median(r['sgemm_gflops'] for r in sel):.1f} | "
          f"{100 * statistics.median(r['utilisation'] for r in sel):.0f} % |")
