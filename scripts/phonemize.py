"""Print the phonemes scripts/infer.py would speak, without synthesis (see README):

python scripts/phonemize.py text="It costs $3.50, doesn't it?" lang=en-us
python scripts/phonemize.py text_file=FILE lang=en-us g2p=misaki output=OUT.txt
"""

from kokoro_lab.tasks.entries import entry

main = entry("phonemize")  # also `python -m kokoro_lab phonemize`

if __name__ == "__main__":
    main()
