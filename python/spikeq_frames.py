#!/usr/bin/env python3
"""Read SpikeQuant frame caches with numpy alone.

`spikeq dataset prepare CONFIG --json` builds (or finds) a dataset's frame cache and prints its path
(`"cache": ".../<fingerprint>.frames"`); this module reads that file as docs/events.md ("The frame
cache") describes it, so PyTorch code sees exactly the frames the Swift engine trains and
evaluates on (no augmentation: that is applied at read time and never cached).

    from spikeq_frames import read_split
    frames, labels, classes = read_split("…/3f9c….frames", "test")
    frames.shape   # (samples, T, 2, H, W) float32 event counts; labels: int64 class indices

Command line: `python3 spikeq_frames.py FILE` prints a JSON summary of the file.
"""
import json
import struct
import sys

import numpy as np

MAGIC = b"SQFRAMES"
VERSION = 1
HEADER_SIZE = 96
INDEX_ENTRY_SIZE = 16
SPLITS = {"train": 0, "validation": 1, "test": 2}
# Encoding code → (index bytes per stored value, value dtype); index bytes 0 means dense.
ENCODINGS = {0: (0, np.uint8), 1: (0, np.dtype("<u2")), 2: (4, np.dtype("<u2")), 3: (0, np.dtype("<u4")), 4: (4, np.dtype("<u4"))}


class FrameCacheError(ValueError):
    """A file that is not a readable frame cache; the message names the file and what is wrong."""


class FrameCache:
    """One cache file, read into memory and checked against its header before any sample is decoded."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        data = self.data
        if len(data) < HEADER_SIZE or data[:8] != MAGIC:
            raise FrameCacheError(f"{path}: not a SpikeQuant frame cache (no SQFRAMES header)")
        version, t, channels, height, width, classes = struct.unpack_from("<6I", data, 8)
        if version != VERSION:
            raise FrameCacheError(f"{path}: frame cache version {version}, this reader knows {VERSION}")
        count, index_offset, meta_offset, meta_length = struct.unpack_from("<4Q", data, 32)
        if index_offset + count * INDEX_ENTRY_SIZE > len(data) or meta_offset + meta_length > len(data):
            raise FrameCacheError(f"{path}: index or metadata past the end of the file")
        self.shape = (t, channels, height, width)
        self.class_count = classes
        self.metadata = json.loads(data[meta_offset:meta_offset + meta_length])
        self.entries = [struct.unpack_from("<QIBBH", data, index_offset + i * INDEX_ENTRY_SIZE) for i in range(count)]

    @property
    def values_per_sample(self):
        t, c, h, w = self.shape
        return t * c * h * w

    def decode(self, i):
        """Sample `i` as float32 counts, shape (T, C, H, W)."""
        offset, length, encoding, _, _ = self.entries[i]
        if encoding not in ENCODINGS or offset + length > len(self.data):
            raise FrameCacheError(f"{self.path}: sample {i} has encoding {encoding} or lies past the end of the file")
        index_bytes, dtype = ENCODINGS[encoding]
        n = self.values_per_sample
        blob = self.data[offset:offset + length]
        out = np.zeros(n, dtype=np.float32)
        if index_bytes == 0:
            values = np.frombuffer(blob, dtype=dtype)
            if values.size != n:
                raise FrameCacheError(f"{self.path}: sample {i} holds {values.size} values, expected {n}")
            out[:] = values
        else:
            entry = index_bytes + np.dtype(dtype).itemsize
            if length % entry:
                raise FrameCacheError(f"{self.path}: sample {i} is not whole sparse entries")
            stored = length // entry
            indices = np.frombuffer(blob, dtype="<u4", count=stored)
            values = np.frombuffer(blob, dtype=dtype, count=stored, offset=4 * stored)
            if stored and indices.max() >= n:
                raise FrameCacheError(f"{self.path}: sample {i} has a sparse index past the sample")
            out[indices] = values
        return out.reshape(self.shape)

    def split(self, name):
        """(frames (samples, T, C, H, W) float32, labels int64) of one split, in cache order."""
        if name not in SPLITS:
            raise FrameCacheError(f"unknown split `{name}` (train, validation or test)")
        chosen = [i for i, entry in enumerate(self.entries) if entry[3] == SPLITS[name]]
        frames = np.stack([self.decode(i) for i in chosen]) if chosen else np.zeros((0, *self.shape), np.float32)
        labels = np.array([self.entries[i][4] for i in chosen], dtype=np.int64)
        return frames, labels


def read_split(path, split):
    """(frames, labels, class names) of `split` in the cache file at `path`."""
    cache = FrameCache(path)
    frames, labels = cache.split(split)
    return frames, labels, cache.metadata.get("classNames", [])


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    cache = FrameCache(argv[0])
    counts = {name: sum(1 for e in cache.entries if e[3] == code) for name, code in SPLITS.items()}
    print(json.dumps({"file": argv[0], "shape": cache.shape, "classes": cache.metadata.get("classNames"), "samples": counts}, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (FrameCacheError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
