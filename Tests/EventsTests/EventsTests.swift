// Tests for Events.
