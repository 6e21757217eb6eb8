"""Text -> chunks -> phonemes -> KokoroModel -> audio, chunk by chunk.

Axes: t tokens (with the two boundary pads), n samples. The model knows no language; this is the
language-aware half (hexgrad/kokoro keeps the same split between KModel and KPipeline).

Determinism: with `seed` set, chunk i draws its excitation noise from a generator seeded with
`seed + i`, so a text gives the same audio every time, streamed or not, alone or in a batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.masking import lengths_to_valid
from kokoro_lab.text import chunk_phonemes, model_input_ids
from kokoro_lab.text.frontend import FrontEnd, make_frontend
from kokoro_lab.voices import VoicePack

log = logging.getLogger(__name__)

MAX_SPEED = 4.0


def check_speed(speed: float) -> float:
    if not 0 < float(speed) <= MAX_SPEED:
        raise UserValueError(
            f"speed={speed} is outside (0, {MAX_SPEED}]: 1.0 is the voice's natural rate, 0.5 "
            "half as fast, 2.0 twice as fast"
        )
    return float(speed)


@dataclass
class ChunkAudio:
    """One synthesized chunk: its text and phonemes, token ids (t), frames per token (t),
    audio (n) at 24 kHz, and where it starts in the whole output (seconds)."""

    index: int
    text: str
    phonemes: str
    tokens: Tensor
    durations: Tensor
    audio: Tensor
    offset_s: float = 0.0
    words: tuple = ()  # the chunk's G2P tokens (kokoro_lab.text.chunking.Word), when it has them


@dataclass
class Synthesis:
    """Audio of a whole text (n) and its chunks."""

    audio: Tensor
    chunks: list[ChunkAudio] = field(default_factory=list)
    sample_rate: int = SAMPLE_RATE

    @property
    def phonemes(self) -> str:
        return " ".join(c.phonemes for c in self.chunks)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[-1] / self.sample_rate


class Pipeline:
    """A KokoroModel, a voice and a language: `pipeline(text)` -> Synthesis.

    The text front end (`kokoro_lab.text.frontend`) is chosen by `lang` and `g2p` (a mode:
    misaki, espeak, espeak-ipa; default: the voice's, see `default_mode`), with an optional user
    `lexicon` ({word: phonemes}); `g2p` may also be a ready FrontEnd. `pipeline(text)` chunks as
    the official KPipeline does; `stream(text)` yields ChunkAudio as soon as each chunk is
    synthesized, and with `first_sentence_alone` (default) its first chunk is the first sentence,
    so the first audio of a long text costs about one sentence's work. `phonemes=` bypasses G2P
    for users who pass IPA.
    """

    def __init__(
        self,
        model: KokoroModel,
        voice: VoicePack,
        lang: str = "en-us",
        speed: float = 1.0,
        seed: int | None = 0,
        first_sentence_alone: bool = True,
        g2p: str | FrontEnd | None = None,
        lexicon: dict[str, str] | None = None,
    ):
        self.model = model
        self.first_sentence_alone = first_sentence_alone
        self.voice = voice
        self.speed = check_speed(speed)
        self.seed = seed
        if isinstance(g2p, FrontEnd):
            self.frontend = g2p
        else:
            self.frontend = make_frontend(
                lang,
                g2p,
                lexicon,
                voice_release=getattr(voice, "release", None),
                english_g2p=getattr(voice, "english_g2p", None),
            )
        self.lang = self.frontend.lang

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def g2p(self):
        """The front end's G2P object (phonemize_batch / __call__)."""
        return self.frontend.g2p

    def _generator(self, index: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator(self.device).manual_seed(self.seed + index)

    def synthesize_phonemes(self, phonemes: str, index: int = 0, text: str = "") -> ChunkAudio:
        """One chunk of at most 510 phonemes -> ChunkAudio (model level, no G2P)."""
        ids = model_input_ids(phonemes)
        if len(ids) <= 2:
            raise UserValueError(
                f"phonemes {phonemes!r} contain no symbol of the Kokoro vocabulary: nothing to say"
            )
        tokens = torch.tensor([ids], device=self.device)
        style = self.voice.select(len(ids) - 2).to(self.device)
        with torch.inference_mode():
            out = self.model(tokens, style, self.speed, generator=self._generator(index))
        return ChunkAudio(
            index, text, phonemes, tokens[0].cpu(), out.durations[0].cpu(), out.audio[0].cpu()
        )

    def _units(
        self, text: str | None, phonemes: str | None, first_alone: bool = False
    ) -> Iterator[tuple[str, str]]:
        if (text is None) == (phonemes is None):
            raise UserValueError("pass exactly one of text= or phonemes=")
        if phonemes is not None:
            if not phonemes.strip():
                raise UserValueError("phonemes are empty or whitespace only: pass an IPA string")
            for ps in chunk_phonemes(phonemes.strip()):
                yield "", ps, ()
        else:
            for chunk in self.frontend.chunks(text, first_alone=first_alone):
                yield chunk.text, chunk.phonemes, chunk.words

    def _synthesize(self, units) -> Iterator[ChunkAudio]:
        offset = 0
        for i, (chunk_text, ps, words) in enumerate(units):
            chunk = self.synthesize_phonemes(ps, i, chunk_text)
            chunk.words = words
            chunk.offset_s = offset / SAMPLE_RATE
            offset += chunk.audio.shape[-1]
            log.debug("chunk %d: %d phonemes, %.2f s", i, len(ps), chunk.audio.shape[-1] / 24e3)
            yield chunk

    def stream(self, text: str | None = None, phonemes: str | None = None) -> Iterator[ChunkAudio]:
        """Yield each chunk's audio as soon as it is ready (first chunk: the first sentence when
        `first_sentence_alone`)."""
        yield from self._synthesize(self._units(text, phonemes, self.first_sentence_alone))

    def __call__(self, text: str | None = None, phonemes: str | None = None) -> Synthesis:
        """The whole text, chunked as the official pipeline chunks it."""
        chunks = list(self._synthesize(self._units(text, phonemes)))
        return Synthesis(torch.cat([c.audio for c in chunks]), chunks)

    def synthesize_batch(
        self,
        texts: list[str] | None = None,
        phonemes: list[str] | None = None,
        batch_size: int = 8,
    ) -> list[Synthesis]:
        """Many texts at once: their chunks run through the model in padded batches of similar
        length. Each text's result equals `pipeline(text)` (durations identical, audio within
        float tolerance): chunk i of a text still draws its noise from `seed + i`."""
        if (texts is None) == (phonemes is None):
            raise UserValueError("pass exactly one of texts= or phonemes=")
        items = texts if texts is not None else phonemes
        units = [
            (k, i, chunk_text, ps, words)
            for k, item in enumerate(items)
            for i, (chunk_text, ps, words) in enumerate(
                self._units(item, None) if texts is not None else self._units(None, item)
            )
        ]
        order = sorted(range(len(units)), key=lambda j: len(units[j][3]))
        done: dict[int, ChunkAudio] = {}
        for start in range(0, len(order), batch_size):
            group = [units[j][:4] for j in order[start : start + batch_size]]
            for j, chunk in zip(order[start : start + batch_size], self._run_batch(group)):
                chunk.words = units[j][4]
                done[j] = chunk
        results: list[list[ChunkAudio]] = [[] for _ in items]
        for j, (k, *_rest) in enumerate(units):
            results[k].append(done[j])
        out = []
        for chunks in results:
            offset = 0
            for c in chunks:
                c.offset_s = offset / SAMPLE_RATE
                offset += c.audio.shape[-1]
            out.append(Synthesis(torch.cat([c.audio for c in chunks]), chunks))
        return out

    def _run_batch(self, group: list[tuple[int, int, str, str]]) -> list[ChunkAudio]:
        """Chunks (text index, chunk index, text, phonemes) -> ChunkAudio, one padded forward."""
        ids = [model_input_ids(ps) for *_, ps in group]
        if len(group) == 1:
            ((_, i, text, ps),) = group
            return [self.synthesize_phonemes(ps, i, text)]
        lengths = torch.tensor([len(x) for x in ids])
        tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
        for b, x in enumerate(ids):
            tokens[b, : len(x)] = torch.tensor(x)
        valid = lengths_to_valid(lengths)
        style = torch.cat([self.voice.select(len(x) - 2) for x in ids])
        gens = None if self.seed is None else [self._generator(i) for _, i, _, _ in group]
        dev = self.device
        with torch.inference_mode():
            out = self.model(tokens.to(dev), style.to(dev), self.speed, valid.to(dev), gens)
        chunks = []
        for b, (_, i, text, ps) in enumerate(group):
            n, m = int(lengths[b]), int(out.audio_lengths[b])
            chunks.append(
                ChunkAudio(
                    i, text, ps, tokens[b, :n], out.durations[b, :n].cpu(), out.audio[b, :m].cpu()
                )
            )
        return chunks
