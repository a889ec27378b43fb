"""Benchmarks: programs that print figures and save JSON, as ratios against a baseline."""
