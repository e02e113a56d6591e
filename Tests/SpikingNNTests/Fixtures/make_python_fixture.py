"""Writes python_written.safetensors: a small file made by Python's `safetensors`, which the Swift
reader must load exactly (SpikingNNTests/SafetensorsTests). Run: python3 make_python_fixture.py
(needs `pip install safetensors numpy`)."""
import numpy as np
from safetensors.numpy import save_file

tensors = {
    "conv.weight": (np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) - 20.5) / 8,
    "bn.running_var": np.array([1.0, 0.25, 4.0], dtype=np.float32),
    "packed": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
    "codes": np.array([-3, 0, 2147483647], dtype=np.int32),
    "steps": np.array([-(2**40), 7], dtype=np.int64),
    "half": np.array([1.5, -2.0, 0.0], dtype=np.float16),
}
save_file(tensors, "python_written.safetensors", metadata={"source": "python", "note": "fixture"})
