"""Benchmarks, each runnable with ``python -m benchmarks.<name>``."""
