// Tests for Quantization.
