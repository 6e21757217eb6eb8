"""Synthesize speech: `python scripts/infer.py +voice=af_bella text="Hello."` (see README)."""

from kokoro_lab.tasks.entries import entry

main = entry("infer")  # also `python -m kokoro_lab infer`

if __name__ == "__main__":
    main()
