"""Benchmark harness: `make bench` (python -m bench.run) writes bench/results.md."""
