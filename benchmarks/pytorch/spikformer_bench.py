"""PyTorch + SpikingJelly reference for `spikeq bench`: the same Spikformer (DVS variant, from
python/spikeq_torch.py), the same synthetic sparse event frames, the same timing (median step of
forward [+ backward + AdamW]).

Usage: python3 spikformer_bench.py --config ../../configs/models/spikformer-tiny.yaml --mode train --batch 16 --threads 2
Needs: pip install torch spikingjelly pyyaml numpy
"""
import argparse
import json
import statistics
import time

import os
import sys

import numpy as np
import torch
import torch.nn as nn
import yaml

# The model is the project's own PyTorch Spikformer (python/spikeq_torch.py), which also loads exports.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from spikeq_torch import Spikformer  # noqa: E402


def synthetic_frames(count, t, c, h, w, seed=1):
    """Sparse Poisson counts in two moving Gaussian blobs (as spikeq's SyntheticEventFrames)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((count, t, c, h, w), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    scale = min(h, w)
    for i in range(count):
        blobs = [(rng.random() * w, rng.random() * h, (rng.random() - 0.5) * scale / t, (rng.random() - 0.5) * scale / t,
                  scale * (0.06 + 0.06 * rng.random())) for _ in range(2)]
        for step in range(t):
            for ch in range(c):
                shift = 0.5 if ch == 0 else -0.5
                rate = np.full((h, w), 0.005)
                for (x0, y0, vx, vy, sig) in blobs:
                    cx, cy = x0 + vx * (step + shift), y0 + vy * (step + shift)
                    rate += 1.2 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sig * sig))
                out[i, step, ch] = rng.poisson(rate)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(open(args.config))
    size = cfg["input_size"]
    h, w = (size, size) if isinstance(size, int) else size
    t = cfg["time_steps"]
    model = Spikformer(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    frames = torch.from_numpy(synthetic_frames(2 * args.batch, t, cfg.get("in_channels", 2), h, w))
    labels = torch.arange(2 * args.batch) % cfg["classes"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    times = []
    for step in range(args.warmup + args.steps):
        lo = (step % 2) * args.batch
        x = frames[lo:lo + args.batch].transpose(0, 1).contiguous()  # [T, B, C, H, W]
        y = labels[lo:lo + args.batch]
        start = time.perf_counter()
        if args.mode == "train":
            model.train()
            opt.zero_grad(set_to_none=False)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad():
                model(x)
        for m in model.modules():
            if hasattr(m, "reset"):
                m.reset()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({"framework": f"torch {torch.__version__} + spikingjelly", "mode": args.mode, "batch": args.batch,
                      "threads": args.threads, "parameters": n_params, "samples_per_second": args.batch / median,
                      "step_seconds": times}))


if __name__ == "__main__":
    main()
