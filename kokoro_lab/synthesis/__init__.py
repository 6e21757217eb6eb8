"""Corpus synthesis: inputs -> utterances (corpus), who speaks them (speakers), length-bucketed
batches shared out over ranks (batches), what a run leaves and what a rerun skips (records,
plan), and the inference Trainer (distributed). The Lightning side is
kokoro_lab.lightning.inference; the task is kokoro_lab.tasks.synthesize (docs/synthesis.md)."""
