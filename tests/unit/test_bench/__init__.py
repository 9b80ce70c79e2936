"""Unit tests of the benchmark's pure parts (no servers, no timed assertions)."""
