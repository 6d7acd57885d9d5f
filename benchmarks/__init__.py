"""Benchmarks: speed and memory figures, one command each (``python -m benchmarks.<name>``)."""
