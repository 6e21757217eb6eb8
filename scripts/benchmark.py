"""Side-by-side speed benchmark: `python scripts/benchmark.py [quick=true]` -> docs/benchmarks.md
and docs/benchmark.json."""

from kokoro_lab.tasks.entries import entry

main = entry("benchmark")  # also `python -m kokoro_lab benchmark`

if __name__ == "__main__":
    main()
