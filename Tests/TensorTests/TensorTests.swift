// Tests for Tensor.
