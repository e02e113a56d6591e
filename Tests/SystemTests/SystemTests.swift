// Tests for System.
