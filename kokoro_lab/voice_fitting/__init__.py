"""Fitting new voicepacks for the frozen Kokoro model from recordings of one speaker."""
