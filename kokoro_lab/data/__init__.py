"""Datasets and evaluation sets."""
