// Tests for Evaluation.
