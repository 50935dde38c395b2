"""Benchmarks of the offline plan (not part of pytest): `.venv/bin/python -m benchmarks.run`."""
