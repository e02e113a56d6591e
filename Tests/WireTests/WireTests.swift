// Tests for Wire.
