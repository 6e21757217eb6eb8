"""Serve speech over HTTP: `python scripts/serve.py port=8880` (see docs/serving.md)."""

from kokoro_lab.tasks.entries import entry

main = entry("serve")  # also `python -m kokoro_lab serve`

if __name__ == "__main__":
    main()
