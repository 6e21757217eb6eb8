"""kokoro_lab: research and training toolkit for Kokoro-82M (StyleTTS 2 + ISTFTNet, 24 kHz)."""

__version__ = "0.1.0"
