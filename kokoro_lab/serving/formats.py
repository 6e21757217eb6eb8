"""Audio (n,) float in [-1, 1] at 24 kHz -> the bytes of an HTTP response, whole or streamed.

Axes: n samples. Formats are OpenAI's names: `wav` (16-bit PCM), `flac`, `mp3`, `opus` (Ogg
Opus), `pcm` (raw 16-bit little-endian mono, no header). Encoders are maintained libraries:
soundfile (libsndfile) for wav, flac and Ogg Opus; PyAV (FFmpeg's libmp3lame) for mp3, because
libsndfile's MP3 writer seeks back to patch its Xing header, which a stream cannot do.

Streaming (`StreamEncoder`): each `encode(chunk)` returns the bytes ready so far, `finish()` the
rest. pcm is the raw samples; wav is the common open-ended form (a RIFF header whose sizes are
0xFFFFFFFF, then PCM as it comes); opus and mp3 are muxed as their encoders produce pages and
frames. flac is not streamed: libsndfile patches its STREAMINFO at the end.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf
import torch

from kokoro_lab.config import SAMPLE_RATE

FORMATS = ("wav", "flac", "mp3", "opus", "pcm")
STREAM_FORMATS = ("pcm", "wav", "mp3", "opus")
MEDIA_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "pcm": "audio/pcm",
}
PCM_SCALE = 32767.0
#: soundfile's (container, subtype) per format.
_SOUNDFILE = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "opus": ("OGG", "OPUS")}
#: RIFF/data chunk size of a WAV of unknown length (what streaming servers send).
_UNKNOWN_SIZE = 0xFFFFFFFF


def _float32(audio) -> np.ndarray:
    """audio (n,) tensor or array -> float32 (n,) clipped to [-1, 1]."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().float().numpy()
    return np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)


def _pcm16(audio) -> np.ndarray:
    """audio (n,) -> int16 (n,)."""
    return np.round(_float32(audio) * PCM_SCALE).astype("<i2")


def open_wav_header(sample_rate: int = SAMPLE_RATE) -> bytes:
    """A 44-byte RIFF header for mono 16-bit PCM of unknown length (sizes 0xFFFFFFFF)."""
    byte_rate = sample_rate * 2
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, byte_rate, 2, 16)
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


class _AppendOnly:
    """A write-only file for libsndfile that hands out what was appended since the last `take`.
    Seeks are followed so positions stay right, but bytes written before the end (a header
    patched at close) are dropped: they were sent already."""

    def __init__(self):
        self._new = bytearray()
        self._end = 0
        self._pos = 0

    def write(self, data) -> int:
        data = bytes(data)
        if self._pos >= self._end:
            self._new += data
            self._end += len(data)
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        out, self._new = bytes(self._new), bytearray()
        return out


class _Collect(io.RawIOBase):
    """A non-seekable sink for PyAV: FFmpeg then writes no header it would patch later."""

    def __init__(self):
        self._new = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._new += bytes(data)
        return len(data)

    def take(self) -> bytes:
        out, self._new = bytes(self._new), bytearray()
        return out


class StreamEncoder:
    """Audio chunks -> bytes of one `fmt` stream, in order: `encode(chunk)` per chunk, then
    `finish()`. Concatenated, the outputs are one valid file (see the module docstring)."""

    def __init__(self, fmt: str, sample_rate: int = SAMPLE_RATE):
        if fmt not in STREAM_FORMATS:
            raise ValueError(f"{fmt!r} cannot be streamed; stream one of {STREAM_FORMATS}")
        self.fmt = fmt
        self.sample_rate = sample_rate
        self._started = False
        self._sink = None
        self._file = None
        self._stream = None

    def _start(self) -> bytes:
        self._started = True
        if self.fmt == "wav":
            return open_wav_header(self.sample_rate)
        if self.fmt == "opus":
            self._sink = _AppendOnly()
            container, subtype = _SOUNDFILE["opus"]
            self._file = sf.SoundFile(
                self._sink, "w", self.sample_rate, 1, subtype=subtype, format=container
            )
        elif self.fmt == "mp3":
            import av

            self._sink = _Collect()
            self._file = av.open(self._sink, "w", format="mp3")
            self._stream = self._file.add_stream("libmp3lame", rate=self.sample_rate, layout="mono")
        return b""

    def _mux(self, frame) -> None:
        for packet in self._stream.encode(frame):
            self._file.mux(packet)

    def encode(self, audio) -> bytes:
        """One chunk (n,) -> the bytes it completes."""
        head = b"" if self._started else self._start()
        if self.fmt in ("pcm", "wav"):
            return head + _pcm16(audio).tobytes()
        if self.fmt == "opus":
            self._file.write(_float32(audio))
        else:
            import av

            frame = av.AudioFrame.from_ndarray(_pcm16(audio)[None], format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            self._mux(frame)
        return head + self._sink.take()

    def finish(self) -> bytes:
        """The bytes that end the stream (encoder flush, last pages)."""
        head = b"" if self._started else self._start()
        if self.fmt in ("pcm", "wav"):
            return head
        if self.fmt == "opus":
            self._file.close()
        else:
            self._mux(None)
            self._file.close()
        return head + self._sink.take()


def encode_audio(audio, fmt: str, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Audio (n,) -> a whole `fmt` file (wav, flac, mp3, opus) or raw pcm."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {FORMATS}")
    if fmt in ("wav", "flac"):
        container, subtype = _SOUNDFILE[fmt]
        buffer = io.BytesIO()
        sf.write(buffer, _float32(audio), sample_rate, subtype=subtype, format=container)
        return buffer.getvalue()
    encoder = StreamEncoder(fmt, sample_rate)
    return encoder.encode(audio) + encoder.finish()


def decode_audio(data: bytes, fmt: str, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """What a client does: `fmt` bytes -> (audio (n,) float32, sample rate). pcm is taken as
    16-bit mono at `sample_rate`; mp3 decodes through libsndfile's mpg123 (which also reads a
    Xing-less stream), the others through libsndfile."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM_SCALE, sample_rate
    if fmt == "wav" and data[40:44] == struct.pack("<I", _UNKNOWN_SIZE):
        # open-ended streamed WAV: libsndfile would trust the size; the samples follow the header
        return decode_audio(data[44:], "pcm", int.from_bytes(data[24:28], "little"))
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1), int(rate)
