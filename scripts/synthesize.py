"""Synthesize a corpus: `python scripts/synthesize.py text_file=F "voices=[a,b]" output_dir=DIR`."""

from kokoro_lab.tasks.entries import entry

main = entry("synthesize")  # also `python -m kokoro_lab synthesize`

if __name__ == "__main__":
    main()
