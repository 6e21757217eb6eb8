"""Side-by-side speed benchmark: each engine runs in its own process (for peak RSS) on the same
phoneme inputs, voices and thread count; `scripts/benchmark.py` drives it."""
