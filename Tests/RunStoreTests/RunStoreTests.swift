// Tests for RunStore.
