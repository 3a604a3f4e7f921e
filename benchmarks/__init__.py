"""Benchmarks: scripts that measure speed and scale and print figures; run each as ``python -m benchmarks.NAME``."""
