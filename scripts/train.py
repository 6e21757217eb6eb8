"""Train or fine-tune Kokoro: `python scripts/train.py experiment=tiny_overfit` (see README)."""

from kokoro_lab.tasks.entries import entry

main = entry("train")  # also `python -m kokoro_lab train`

if __name__ == "__main__":
    main()
