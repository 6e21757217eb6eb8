"""Faster inference paths, each chosen by what the CPU has: int8 convolutions, bf16, engines."""
