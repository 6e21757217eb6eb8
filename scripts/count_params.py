"""Print the parameter count per component: `python scripts/count_params.py model=kokoro_v1`."""

from kokoro_lab.tasks.entries import entry

main = entry("count_params")  # also `python -m kokoro_lab count_params`

if __name__ == "__main__":
    main()
