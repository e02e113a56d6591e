#!/usr/bin/env python3
"""SpikeQuant's Spikformer in PyTorch + SpikingJelly, with the checkpoints' parameter names.

It loads FP32 checkpoints (`spikeq train`), float exports (`spikeq export --format float`) and,
through spikeq_export.py, packed exports, and evaluates them on a SpikeQuant frame cache
(spikeq_frames.py). The network is the one docs/architecture.md and the Swift engine define: a
four-stage spiking patch splitting with a relative-position branch, Spikformer blocks of spiking
self-attention (binary Q, K, V, no softmax) and a spiking MLP, multi-step LIF neurons (τ = 2,
hard reset to 0, detached reset), and a head on the token mean averaged over time steps.

    from spikeq_torch import load_model, evaluate
    from spikeq_frames import read_split
    model = load_model("export/candidate-12-….float.safetensors")
    frames, labels, _ = read_split(cache_path, "test")
    accuracy, predictions = evaluate(model, frames, labels)

Command line: `python3 spikeq_torch.py MODEL FRAME_CACHE [--split test] [--batch 32] [--threads N]`
prints {"accuracy", "correct", "samples", "predictions"} as JSON.
Needs: pip install torch spikingjelly numpy
"""
import argparse
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional, neuron

from spikeq_export import ExportError, load
from spikeq_frames import read_split


def lif(tau, threshold):
    return neuron.LIFNode(tau=tau, v_threshold=threshold, v_reset=0.0, decay_input=True, detach_reset=True, step_mode="m")


class ConvBNLIF(nn.Module):
    """Conv3×3 (no bias) → BN → LIF, optionally → MaxPool 3×3/2 over [T, B, C, H, W]."""

    def __init__(self, cin, cout, pooled, tau, threshold):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.lif = lif(tau, threshold)
        self.pool = nn.MaxPool2d(3, 2, 1) if pooled else None

    def forward(self, x):
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        y = self.lif(y.reshape(t, b, *y.shape[1:]))
        if self.pool is not None:
            y = self.pool(y.flatten(0, 1))
            y = y.reshape(t, b, *y.shape[1:])
        return y


class TokenLinear(nn.Module):
    """A per-token linear map over channel-major tokens [F, C, N]: weight [out, in] as in the checkpoint."""

    def __init__(self, cin, cout, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

    def forward(self, x):
        # A 1×1 convolution over the token axis: PyTorch's fastest CPU path for this layout.
        return F.conv1d(x, self.weight.unsqueeze(-1), self.bias)


class LinearBNLIF(nn.Module):
    """Linear → BN → LIF over tokens [T, B, C, N]."""

    def __init__(self, cin, cout, bias, tau, threshold):
        super().__init__()
        self.linear = TokenLinear(cin, cout, bias)
        self.bn = nn.BatchNorm1d(cout)
        self.lif = lif(tau, threshold)

    def forward(self, x):
        t, b = x.shape[:2]
        y = self.bn(self.linear(x.flatten(0, 1)))
        return self.lif(y.reshape(t, b, *y.shape[1:]))


class SpikingSelfAttention(nn.Module):
    def __init__(self, dim, heads, cfg):
        super().__init__()
        tau, threshold = cfg["tau"], cfg["threshold"]
        self.heads = heads
        self.scale = cfg["attention_scale"]
        self.q = LinearBNLIF(dim, dim, False, tau, threshold)
        self.k = LinearBNLIF(dim, dim, False, tau, threshold)
        self.v = LinearBNLIF(dim, dim, False, tau, threshold)
        self.attn_lif = lif(tau, cfg["attention_threshold"])
        self.proj = LinearBNLIF(dim, dim, True, tau, threshold)

    def forward(self, x):  # [T, B, C, N]
        t, b, c, n = x.shape
        h = self.heads

        def split(z):  # → [T, B, heads, N, C/heads]
            return z.transpose(-1, -2).reshape(t, b, n, h, c // h).permute(0, 1, 3, 2, 4)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        y = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        y = y.permute(0, 1, 2, 4, 3).reshape(t, b, c, n)
        return self.proj(self.attn_lif(y))


class SpikingMLP(nn.Module):
    def __init__(self, dim, hidden, cfg):
        super().__init__()
        self.fc1 = LinearBNLIF(dim, hidden, True, cfg["tau"], cfg["threshold"])
        self.fc2 = LinearBNLIF(hidden, dim, True, cfg["tau"], cfg["threshold"])

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Block(nn.Module):
    def __init__(self, dim, cfg):
        super().__init__()
        self.attn = SpikingSelfAttention(dim, cfg["heads"], cfg)
        self.mlp = SpikingMLP(dim, dim * cfg["mlp_ratio"], cfg)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class PatchSplitting(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["embed_dim"]
        chans = [cfg.get("in_channels", 2), d // 8, d // 4, d // 2, d]
        pools = set(cfg["pool_stages"])
        tau, threshold = cfg["tau"], cfg["threshold"]
        self.stages = nn.ModuleList([ConvBNLIF(chans[i], chans[i + 1], i in pools, tau, threshold) for i in range(4)])
        self.rpe = ConvBNLIF(d, d, False, tau, threshold)

    def forward(self, x):  # [T, B, C, H, W] → tokens [T, B, D, N]
        for stage in self.stages:
            x = stage(x)
        return (x + self.rpe(x)).flatten(3)


class Spikformer(nn.Module):
    """Built from a model config (the `spikeq.model_config` JSON of a checkpoint, or a models/*.yaml)."""

    DEFAULTS = {"in_channels": 2, "tau": 2.0, "threshold": 1.0, "attention_threshold": 0.5, "attention_scale": 0.125}

    def __init__(self, cfg):
        super().__init__()
        cfg = {**self.DEFAULTS, **cfg}
        self.config = cfg
        self.sps = PatchSplitting(cfg)
        self.blocks = nn.ModuleList([Block(cfg["embed_dim"], cfg) for _ in range(cfg["depth"])])
        self.head = nn.Linear(cfg["embed_dim"], cfg["classes"])

    def forward(self, x):  # [T, B, C, H, W] → logits [B, classes]
        x = self.sps(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(3)).mean(0)


def load_model(path):
    """The network of a checkpoint or export, in eval mode; every tensor name must match."""
    export = load(path)
    if not export.model_config:
        raise ExportError(f"{path}: no `spikeq.model_config` metadata")
    model = Spikformer(export.model_config)
    expected = {name for name in model.state_dict() if not name.endswith("num_batches_tracked")}
    missing, unknown = sorted(expected - set(export.tensors)), sorted(set(export.tensors) - expected)
    if missing or unknown:
        raise ExportError(f"{path}: tensors do not match the model: missing {missing[:5]}, unknown {unknown[:5]}")
    state = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in export.tensors.items()}
    model.load_state_dict(state, strict=False)
    return model.eval()


@torch.no_grad()
def evaluate(model, frames, labels, batch=32):
    """(accuracy, predictions) on samples (N, T, C, H, W)."""
    model.eval()
    predictions = []
    for start in range(0, len(frames), batch):
        x = torch.from_numpy(frames[start:start + batch]).transpose(0, 1).contiguous()
        functional.reset_net(model)
        predictions.append(model(x).argmax(1))
    functional.reset_net(model)
    predicted = torch.cat(predictions).numpy() if predictions else np.zeros(0, np.int64)
    correct = int((predicted == labels).sum())
    return (correct / len(labels) if len(labels) else 0.0), predicted


def main():
    parser = argparse.ArgumentParser(description="Evaluate a SpikeQuant checkpoint or export in PyTorch on a frame cache.")
    parser.add_argument("model")
    parser.add_argument("frames", help="the .frames cache (spikeq dataset prepare CONFIG --json prints its path)")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    frames, labels, _ = read_split(args.frames, args.split)
    if frames.shape[2:] != (model.config.get("in_channels", 2), *_input_size(model.config)):
        raise ExportError(f"{args.frames}: samples are {frames.shape[1:]}, the model takes {model.config['input_size']}")
    accuracy, predicted = evaluate(model, frames, labels, args.batch)
    print(json.dumps({"accuracy": accuracy, "correct": int((predicted == labels).sum()), "samples": len(labels),
                      "predictions": predicted.tolist()}))


def _input_size(cfg):
    size = cfg["input_size"]
    return (size, size) if isinstance(size, int) else tuple(size)


if __name__ == "__main__":
    try:
        main()
    except (ExportError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
