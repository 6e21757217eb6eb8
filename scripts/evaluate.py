"""Evaluate voices, checkpoints or WAVs: `python scripts/evaluate.py voices=[jf_alpha,jm_kumo]`
(see README)."""

from kokoro_lab.tasks.entries import entry

main = entry("evaluate")  # also `python -m kokoro_lab evaluate`

if __name__ == "__main__":
    main()
