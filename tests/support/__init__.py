"""Helpers shared by the test suites (not a test package)."""
