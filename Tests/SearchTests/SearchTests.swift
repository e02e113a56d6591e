// Tests for Search.
