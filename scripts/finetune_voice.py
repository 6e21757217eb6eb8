"""Fit a voicepack from recordings: `python scripts/finetune_voice.py data_dir=DIR name=NAME
init_voice=VOICE output_dir=OUT` (see README)."""

from kokoro_lab.tasks.entries import entry

main = entry("finetune_voice")  # also `python -m kokoro_lab finetune_voice`

if __name__ == "__main__":
    main()
