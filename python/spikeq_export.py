#!/usr/bin/env python3
"""Load SpikeQuant exports with numpy alone.

A packed model (`spikeq export --format packed`, format `spikeq.packed.v1`) stores each quantized
layer's weight as bit-packed integer codes plus one scale; this module decodes them to exactly the
Float32 values the fake-quantized model used (docs/quantization.md, "The packed model"). A float
export (`--format float`) is an ordinary SpikeQuant checkpoint and loads the same way.

    from spikeq_export import load
    model = load("candidate-10-1a7bb0ef9828.safetensors")
    model.tensors["blocks.0.attn.q.linear.weight"]   # float32 numpy array, checkpoint name
    model.model_config                              # {"embed_dim": 64, "depth": 2, ...}
    model.quantization                              # {"layers": {"head": {"bits": 8, "scheme": "uniform"}, ...}}

Into PyTorch (any Spikformer whose parameter names follow SpikeQuant's checkpoints):

    import torch
    state = {name: torch.from_numpy(array) for name, array in model.tensors.items()}
    network.load_state_dict(state, strict=False)

Command line: `python3 spikeq_export.py FILE` prints a JSON summary; `python3 spikeq_export.py
compare A B` exits 0 when both files decode to bit-identical tensors (e.g. a packed export and
its float export).
"""
import json
import struct
import sys
from dataclasses import dataclass, field

import numpy as np

PACKED_FORMAT = "spikeq.packed.v1"
CHECKPOINT_FORMAT = "spikeq.spikformer.v1"
_DTYPES = {"F32": np.float32, "F16": np.float16, "U8": np.uint8, "I32": np.int32, "I64": np.int64}
_MAX_HEADER = 100 << 20


class ExportError(ValueError):
    """A file that is not a readable SpikeQuant export; the message names the file and tensor."""


@dataclass
class Export:
    tensors: dict
    model_config: dict
    quantization: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    packed: bool = False


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file, every offset checked against the file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ExportError(f"{path}: shorter than a safetensors header")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise ExportError(f"{path}: header of {size} bytes does not fit the file")
    try:
        header = json.loads(data[8:8 + size])
    except ValueError as e:
        raise ExportError(f"{path}: header is not JSON: {e}") from None
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise ExportError(f"{path}: tensor `{name}`: unsupported dtype {entry.get('dtype')}")
        start, end = entry["data_offsets"]
        shape = [int(d) for d in entry["shape"]]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= start <= end <= len(body)) or end - start != count * np.dtype(dtype).itemsize:
            raise ExportError(f"{path}: tensor `{name}`: offsets {start}..{end} do not match shape {shape}")
        tensors[name] = np.frombuffer(body[start:end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()
    return tensors, metadata


def unpack_codes(packed, count, bits):
    """Codes bit-packed least significant bit first: code i at bits i*b ... i*b+b-1."""
    if packed.size * 8 < count * bits:
        raise ExportError(f"{count} codes of {bits} bits need {(count * bits + 7) // 8} bytes, got {packed.size}")
    stream = np.unpackbits(packed, bitorder="little")[: count * bits].reshape(count, bits).astype(np.uint32)
    return (stream << np.arange(bits, dtype=np.uint32)).sum(axis=1, dtype=np.uint32)


def decode_weight(codes, scheme, bits, scale):
    """Float32 weights for codes: uniform (code - Qp)*step; power of two ±α·2^-(M-1-m), m = 0 is zero."""
    scale = np.float32(scale)
    if scheme == "uniform":
        levels = codes.astype(np.int64) - ((1 << (bits - 1)) - 1)
        return levels.astype(np.float32) * scale
    if scheme == "pot":
        magnitudes = 1 << (bits - 1)
        m = (codes & (magnitudes - 1)).astype(np.int64)
        negative = ((codes >> (bits - 1)) & 1) == 1
        value = np.ldexp(np.full(codes.shape, scale, dtype=np.float32), -(magnitudes - 1 - m)).astype(np.float32)
        value[m == 0] = 0
        return np.where(negative & (m > 0), -value, value).astype(np.float32)
    raise ExportError(f"unknown scheme {scheme!r}")


def load(path):
    """An export (packed or float) as float32 arrays under the checkpoint's tensor names."""
    tensors, metadata = read_safetensors(path)
    model_config = json.loads(metadata.get("spikeq.model_config", "{}"))
    quantization = json.loads(metadata.get("spikeq.quantization", "{}"))
    if metadata.get("format") != PACKED_FORMAT:
        return Export(tensors, model_config, quantization, metadata, packed=False)
    layout = json.loads(metadata["spikeq.packing"])
    decoded = {name: array for name, array in tensors.items()
               if not any(name == f"{w}.codes" or name == f"{w}.scale" for w in layout)}
    for name, entry in layout.items():
        codes_name, scale_name = f"{name}.codes", f"{name}.scale"
        if codes_name not in tensors or scale_name not in tensors or tensors[scale_name].size != 1:
            raise ExportError(f"{path}: tensor `{name}`: codes or scale missing")
        bits, shape = int(entry["bits"]), [int(d) for d in entry["shape"]]
        count = int(np.prod(shape, dtype=np.int64))
        codes = unpack_codes(tensors[codes_name], count, bits)
        if codes.size and codes.max() >= (1 << bits):
            raise ExportError(f"{path}: tensor `{codes_name}`: code exceeds {bits} bits")
        decoded[name] = decode_weight(codes, entry["scheme"], bits, tensors[scale_name].reshape(-1)[0]).reshape(shape)
    return Export(decoded, model_config, quantization, metadata, packed=True)


def _summary(export):
    return {
        "packed": export.packed,
        "model": export.model_config.get("name"),
        "tensors": {name: {"shape": list(a.shape), "dtype": str(a.dtype)} for name, a in sorted(export.tensors.items())},
        "quantization": export.quantization.get("layers", {}),
    }


def main(argv):
    if len(argv) == 2:
        print(json.dumps(_summary(load(argv[1])), indent=1))
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        a, b = load(argv[2]), load(argv[3])
        differing = sorted(name for name in set(a.tensors) | set(b.tensors)
                           if name not in a.tensors or name not in b.tensors
                           or a.tensors[name].dtype != b.tensors[name].dtype
                           or a.tensors[name].tobytes() != b.tensors[name].tobytes())
        print(json.dumps({"tensors": len(a.tensors), "differing": differing}))
        return 0 if not differing else 1
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(65)
