"""Write the loaded weights in the official v1.0 layout: `python scripts/export_checkpoint.py
output=kokoro-v1_0.pth` (default source: the embedded offline weights)."""

from kokoro_lab.tasks.entries import entry

main = entry("export_checkpoint")  # also `python -m kokoro_lab export_checkpoint`

if __name__ == "__main__":
    main()
