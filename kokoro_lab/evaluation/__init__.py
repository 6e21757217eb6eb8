"""Evaluation of synthesized (or any) speech: sets, systems, per-utterance scoring, summaries,
the Markdown report and plots. `kokoro_lab.lightning.evaluation` runs them with Lightning and
`kokoro_lab.tasks.evaluate` is the task behind scripts/evaluate.py.

- `texts`    the texts shipped with the package: Harvard sentences; numbers, dates, heteronyms
- `sets`     evaluation sets: Harvard sentences, a text file, an LJSpeech-layout folder
- `systems`  what speaks them: a Kokoro pipeline (synthesis), or a folder of existing WAVs
- `scoring`  `UtteranceScorer`: one row of metrics per (system, utterance)
- `summary`  per-system, per-length-bucket aggregation; the definition of every number
- `report`   metrics.json and report.md
- `plots`    the PNG figures
- `machine`  the machine and package versions behind any measurement, and what the
             measurement studies (`frontend_study`, `normalizer_study`) share
"""
