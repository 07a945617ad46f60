"""Benchmarks that print JSON with a ratio to a ceiling measured in the same run."""
