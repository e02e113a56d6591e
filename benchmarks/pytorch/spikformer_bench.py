"""PyTorch + SpikingJelly reference for `spikeq bench`: the same Spikformer (DVS variant), the same
synthetic sparse event frames, the same timing (median step of forward [+ backward + AdamW]).

Usage: python3 spikformer_bench.py --config ../../configs/models/spikformer-tiny.yaml --mode train --batch 16 --threads 2
Needs: pip install torch spikingjelly pyyaml numpy
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import yaml
from spikingjelly.activation_based import neuron


def lif(threshold=1.0):
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, detach_reset=True, step_mode="m")


class ConvBNLIF(nn.Module):
    def __init__(self, cin, cout, pool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.lif = lif()
        self.pool = nn.MaxPool2d(3, 2, 1) if pool else None

    def forward(self, x):  # x: [T, B, C, H, W]
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        y = self.lif(y.reshape(t, b, *y.shape[1:]))
        if self.pool is not None:
            y = self.pool(y.flatten(0, 1))
            y = y.reshape(t, b, *y.shape[1:])
        return y


class LinearBNLIF(nn.Module):
    def __init__(self, cin, cout, bias, threshold=1.0):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=bias)
        self.bn = nn.BatchNorm1d(cout)
        self.lif = lif(threshold)

    def forward(self, x):  # [T, B, C, N]
        t, b = x.shape[:2]
        y = self.bn(self.linear(x.flatten(0, 1)))
        return self.lif(y.reshape(t, b, *y.shape[1:]))


class SSA(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = LinearBNLIF(dim, dim, False)
        self.k = LinearBNLIF(dim, dim, False)
        self.v = LinearBNLIF(dim, dim, False)
        self.attn_lif = lif(0.5)
        self.proj = LinearBNLIF(dim, dim, True)

    def forward(self, x):  # [T, B, C, N]
        t, b, c, n = x.shape
        h = self.heads

        def split(z):
            return z.transpose(-1, -2).reshape(t, b, n, h, c // h).permute(0, 1, 3, 2, 4)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        y = (q @ (k.transpose(-2, -1) @ v)) * 0.125
        y = y.transpose(3, 4).reshape(t, b, c, n)
        return self.proj(self.attn_lif(y))


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = LinearBNLIF(dim, hidden, True)
        self.fc2 = LinearBNLIF(hidden, dim, True)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Block(nn.Module):
    def __init__(self, dim, heads, ratio):
        super().__init__()
        self.attn = SSA(dim, heads)
        self.mlp = MLP(dim, dim * ratio)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class Spikformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["embed_dim"]
        chans = [cfg.get("in_channels", 2), d // 8, d // 4, d // 2, d]
        pools = set(cfg["pool_stages"])
        self.stages = nn.ModuleList([ConvBNLIF(chans[i], chans[i + 1], i in pools) for i in range(4)])
        self.rpe = ConvBNLIF(d, d, False)
        self.blocks = nn.ModuleList([Block(d, cfg["heads"], cfg["mlp_ratio"]) for _ in range(cfg["depth"])])
        self.head = nn.Linear(d, cfg["classes"])

    def forward(self, x):  # [T, B, C, H, W]
        for s in self.stages:
            x = s(x)
        x = x + self.rpe(x)
        x = x.flatten(3)  # [T, B, D, N]
        for blk in self.blocks:
            x = blk(x)
        return self.head(x.mean(3)).mean(0)


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
