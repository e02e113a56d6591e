#!/usr/bin/env python3
"""Mutation fuzzing of the model-file readers through the real command line.

Takes a checkpoint (`spikeq train`) and a packed model (`spikeq export`), mutates them the way the
2026-12-05 campaign did (numbers in the safetensors header and in the JSON inside `__metadata__`
replaced by extremes, keys dropped or duplicated, byte flips, truncations, forged header lengths),
and runs `spikeq model info` on checkpoints and `spikeq infer` on packed models. A clean error
(exit 1) or success is fine; a signal (a Swift trap, an allocation failure) is a bug: the mutant is
kept in --out and the script exits 1. The in-process regression test is
Tests/QuantizationTests/PackedModelFuzzTests.swift; this script is for longer campaigns.

Usage:
  scripts/fuzz-model-files.py --spikeq .build/release/spikeq \
      --checkpoint runs/base/synthetic-gestures-tiny.safetensors \
      --packed runs/demo/export/<model>.safetensors \
      --data configs/datasets/synthetic-gestures.yaml [--seconds 300] [--seed 1] [--out /tmp/fuzz]
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import time

EXTREMES = [0, -1, 1, 2, 3, 7, 255, 256, 65535, 2**31 - 1, 2**31, 2**32, 2**53, 2**62, 2**63 - 1, -2**63, 10**30, 1.5, 1e308, -7]
METADATA_JSON_KEYS = ("spikeq.model_config", "spikeq.packing", "spikeq.quantization")


def split(blob):
    length = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + length]), blob[8 + length:]


def join(header, body):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def mutate_value(value, rng):
    """One structural or numeric change somewhere inside a JSON value."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        roll = rng.random()
        if roll < 0.15:
            del value[key]
        elif roll < 0.25:
            value[key + "x"] = value[key]
        else:
            value[key] = mutate_value(value[key], rng)
        return value
    if isinstance(value, list) and value:
        roll = rng.random()
        if roll < 0.2:
            value.pop(rng.randrange(len(value)))
        elif roll < 0.3:
            value.append(rng.choice(value))
        else:
            index = rng.randrange(len(value))
            value[index] = mutate_value(value[index], rng)
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return rng.choice(EXTREMES + [value + 1, value - 1, value * 2])
    if isinstance(value, str):
        if rng.random() < 0.5:
            try:
                return json.dumps(mutate_value(json.loads(value), rng))
            except ValueError:
                pass
        return rng.choice(["", "F16", "U8", "I64", "BF16", "F64", "BOOL", value + value, value[:-1], "nan", "-1"])
    return rng.choice(EXTREMES)


def mutant(original, rng):
    header, body = split(original)
    roll = rng.random()
    metadata = header.get("__metadata__", {})
    keys = [key for key in METADATA_JSON_KEYS if key in metadata]
    if roll < 0.5 and keys:
        key = rng.choice(keys)
        inner = json.loads(metadata[key])
        for _ in range(rng.randint(1, 2)):
            inner = mutate_value(inner, rng)
        metadata[key] = json.dumps(inner)
        return join(header, body)
    if roll < 0.7:
        for _ in range(rng.randint(1, 3)):
            header = mutate_value(header, rng)
        return join(header, body)
    data = bytearray(join(header, body))
    if roll < 0.85:
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if roll < 0.95:
        return bytes(data[:rng.randrange(len(data))])
    data[0:8] = struct.pack("<Q", rng.choice([0, 1, 2**63, len(data), len(data) - 8, 2**40]))
    return bytes(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spikeq", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--packed", required=True)
    parser.add_argument("--data", required=True, help="dataset config for spikeq infer")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="/tmp/spikeq-fuzz")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    originals = {"checkpoint": open(args.checkpoint, "rb").read(), "packed": open(args.packed, "rb").read()}
    path = os.path.join(args.out, "mutant.safetensors")
    runs = crashes = 0
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        kind = rng.choice(list(originals))
        blob = mutant(originals[kind], rng)
        with open(path, "wb") as file:
            file.write(blob)
        command = ([args.spikeq, "model", "info", "--model", path] if kind == "checkpoint" else
                   [args.spikeq, "infer", "--model", path, "--data", args.data, "--split", "validation", "--threads", "1"])
        try:
            completed = subprocess.run(command, capture_output=True, timeout=120)
            status = completed.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        runs += 1
        if status not in (0, 1):
            crashes += 1
            kept = os.path.join(args.out, f"crash-{kind}-{runs}.safetensors")
            with open(kept, "wb") as file:
                file.write(blob)
            print(f"{kind}: exit {status}: {kept}", flush=True)
    print(f"{runs} mutants, {crashes} crashes")
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()
