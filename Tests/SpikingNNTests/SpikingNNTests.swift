// Tests for SpikingNN.
