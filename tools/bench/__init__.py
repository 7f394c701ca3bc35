"""Benchmarks (figures go to results/, never asserted in timed tests)."""
