"""Prints a Markdown table (medians over rounds) from engine_vs_pytorch.sh output (JSON lines on stdin)."""
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
keys = []
for r in rows:
    k = (r["model"], r["mode"], r["batch"])
    if k not in keys:
        keys.append(k)
quantized = any("spikeq_quantized" in r for r in rows)
header = "| model | mode | batch | rounds | SpikeQuant samples/s | PyTorch+SpikingJelly samples/s | ratio of medians | median of ratios |"
rule = "|---|---|---|---|---|---|---|---|"
if quantized:
    header += " SpikeQuant quantized samples/s | quantized ratio |"
    rule += "---|---|"
header += " load (1 min) |"
rule += "---|"
print(header)
print(rule)
for k in keys:
    sel = [r for r in rows if (r["model"], r["mode"], r["batch"]) == k]
    ours = statistics.median(r["spikeq"] for r in sel)
    theirs = statistics.median(r["pytorch"] for r in sel)
    line = (f"| {k[0]} | {k[1]} | {k[2]} | {len(sel)} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}× | "
            f"{statistics.median(r['ratio'] for r in sel):.2f}× |")
    if quantized:
        q = statistics.median(r["spikeq_quantized"] for r in sel)
        line += f" {q:.2f} | {q / theirs:.2f}× |"
    line += f" {min(r['load'] for r in sel):.1f}–{max(r['load'] for r in sel):.1f} |"
    print(line)
