"""The speech service: loaded checkpoints, front ends and voices -> audio chunks for requests.

Axes: n samples.

One process holds each checkpoint once (`models`, by name; `kokoro` and OpenAI's `tts-1` and
`tts-1-hd` name the first), shared by the scheduler's worker threads. A request becomes a
Pipeline (kokoro_lab.pipeline: its model, voice, language and speed) and a Job: streaming jobs
run alone through `Pipeline.stream` (first chunk: the first sentence), the others may be batched
with waiting jobs of the same model, voice, language and speed through
`Pipeline.synthesize_batch`, whose results equal `pipeline(text)`'s.

Language: the request's `lang` > the server's `lang` > the voice's catalogue language > en-us;
a request without `voice` speaks the default voice in the server's `lang` or en-us, as
scripts/infer.py without +voice does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import torch

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.errors import UserError
from kokoro_lab.model import KokoroModel
from kokoro_lab.pipeline import ChunkAudio, Pipeline, Synthesis
from kokoro_lab.serving.errors import ApiError, SynthesisTimeout, TextTooLong, UnknownModel
from kokoro_lab.serving.scheduler import DONE, Job, Scheduler
from kokoro_lab.serving.voices import VoiceBook
from kokoro_lab.text.frontend import DEFAULT_LANG, FrontEnd, make_frontend, resolve_lang
from kokoro_lab.voices import VoicePack

log = logging.getLogger(__name__)

#: Model names that mean the first loaded checkpoint.
FIRST_MODEL_ALIASES = ("kokoro", "tts-1", "tts-1-hd")


@dataclass
class SerialFrontEnd(FrontEnd):
    """A FrontEnd whose G2P runs one text at a time (espeak-ng and misaki's taggers keep
    per-process state that concurrent worker threads would share); `chunks` returns chunks
    already computed, so the lock is not held while the model speaks them."""

    def __post_init__(self):
        super().__post_init__()
        self._lock = threading.Lock()

    def chunks(self, text: str, first_alone: bool = False, max_len: int = CONTEXT_LENGTH):
        with self._lock:
            return iter(list(super().chunks(text, first_alone, max_len)))


@dataclass
class SpeechJob:
    """A Job's payload: what to say, and the pipeline that says it."""

    pipeline: Pipeline
    text: str
    stream: bool


class SpeechService:
    """Requests -> audio chunks, through a bounded Scheduler (see the module docstring)."""

    def __init__(
        self,
        models: dict[str, KokoroModel],
        voices: VoiceBook,
        *,
        workers: int = 1,
        max_queue: int = 8,
        max_batch: int = 4,
        max_chars: int = 4096,
        timeout_s: float = 300.0,
        lang: str | None = None,
        seed: int | None = 0,
    ):
        if not models:
            raise ApiError("no checkpoint is loaded: give at least one in checkpoints=")
        self.models = models
        self.voices = voices
        self.max_chars = max_chars
        self.timeout_s = timeout_s
        self.lang = lang
        self.seed = seed
        self._frontends: dict[tuple, SerialFrontEnd] = {}
        self._frontends_lock = threading.Lock()
        self.scheduler = Scheduler(self._run, workers, max_queue, max_batch)

    # --- resolving a request --------------------------------------------------------------

    def model_name(self, requested: str | None) -> str:
        """A request's `model` -> the name of a loaded checkpoint."""
        if requested is None or requested in FIRST_MODEL_ALIASES and requested not in self.models:
            return next(iter(self.models))
        if requested not in self.models:
            raise UnknownModel(
                f"model {requested!r} is not loaded: this server has {', '.join(self.models)} "
                f"({' and '.join(FIRST_MODEL_ALIASES)} name the first)"
            )
        return requested

    def check_text(self, text: str) -> str:
        """The input, or a 400 for nothing to say / 413 beyond `max_chars`."""
        if len(text) > self.max_chars:
            raise TextTooLong(
                f"input has {len(text)} characters, more than this server's max_chars="
                f"{self.max_chars}: split it into several requests"
            )
        if not text.strip():
            raise ApiError("input is empty or whitespace only: give some text to speak")
        return text

    def language(self, voice_spec: str | None, voice: VoicePack, lang: str | None) -> str:
        if lang:
            return lang
        if voice_spec is None:
            return self.lang or DEFAULT_LANG
        return self.lang or voice.lang or DEFAULT_LANG

    def frontend(self, voice: VoicePack, lang: str) -> SerialFrontEnd:
        """The (cached) front end `voice` speaks `lang` with: its default G2P mode, as
        kokoro_lab.text.frontend.make_frontend chooses it."""
        lang = resolve_lang(lang)
        release, english_g2p = voice.release, getattr(voice, "english_g2p", None)
        key = (lang, release, english_g2p)
        with self._frontends_lock:
            if key not in self._frontends:
                self._frontends[key] = make_frontend(
                    lang,
                    voice_release=release,
                    english_g2p=english_g2p,
                    frontend_class=SerialFrontEnd,
                )
            return self._frontends[key]

    def pipeline(
        self,
        model: str | None,
        voice: str | None,
        lang: str | None,
        speed: float = 1.0,
        stream: bool = False,
    ) -> Pipeline:
        """A request's Pipeline; ApiError (4xx) for a bad model, voice, language or speed."""
        name = self.model_name(model)
        pack = self.voices.load(voice)
        try:
            frontend = self.frontend(pack, self.language(voice, pack, lang))
            return Pipeline(
                self.models[name],
                pack,
                speed=speed,
                seed=self.seed,
                first_sentence_alone=stream,
                g2p=frontend,
            )
        except UserError as err:
            raise ApiError(str(err)) from None

    def phonemize(self, text: str, lang: str | None, voice: str | None) -> tuple[FrontEnd, list]:
        """(the front end, its chunks of `text`) as synthesis would speak them."""
        text = self.check_text(text)
        pack = self.voices.load(voice)
        try:
            frontend = self.frontend(pack, self.language(voice, pack, lang))
            return frontend, list(frontend.chunks(text))
        except UserError as err:
            raise ApiError(str(err)) from None

    # --- running it -----------------------------------------------------------------------

    def submit(
        self, pipeline: Pipeline, text: str, stream: bool = False, request_id: str = "-"
    ) -> Job:
        """Queue a synthesis (QueueFull when the queue is full); must run in the event loop."""
        text = self.check_text(text)
        key = None
        if not stream:  # a batch shares one model, voice, front end and speed
            fe = pipeline.frontend
            key = (id(pipeline.model), pipeline.voice.name, fe.lang, fe.mode, pipeline.speed)
        job = Job(
            SpeechJob(pipeline, text, stream),
            key,
            time.monotonic() + self.timeout_s,
            request_id,
        )
        self.scheduler.submit(job)
        return job

    async def chunks(self, job: Job) -> AsyncIterator[ChunkAudio]:
        """The job's chunks as they are synthesized; SynthesisTimeout past its deadline. Leaving
        early (a client that went away) cancels the job."""
        try:
            while True:
                remaining = job.deadline - time.monotonic()
                try:
                    item = await asyncio.wait_for(job.outputs.get(), max(remaining, 0.0))
                except asyncio.TimeoutError:
                    raise SynthesisTimeout(
                        f"synthesis took longer than this server's timeout_s={self.timeout_s}: "
                        "retry with shorter input, or later"
                    ) from None
                if item is DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancel()  # a no-op once it is done; stops a running job otherwise

    async def synthesize(self, job: Job) -> Synthesis:
        """The whole audio of a job (n) and its chunks."""
        chunks = [chunk async for chunk in self.chunks(job)]
        if not chunks:
            raise SynthesisTimeout("the synthesis was cancelled before it produced audio")
        return Synthesis(torch.cat([c.audio for c in chunks]), chunks)

    def _run(self, jobs: list[Job]) -> None:
        """Scheduler worker: synthesize `jobs` (one, or a batch sharing a key)."""
        live = [job for job in jobs if job.live]
        if len(live) > 1:
            pipeline = live[0].payload.pipeline
            try:
                results = pipeline.synthesize_batch(
                    [job.payload.text for job in live], batch_size=len(live)
                )
            except UserError:  # one text cannot be spoken: run each alone, so only it fails
                results = None
            if results is None:
                for job in live:
                    self._run_one(job)
            else:
                log.info("batched %s", [job.request_id for job in live])
                for job, result in zip(live, results):
                    for chunk in result.chunks:
                        job.emit(chunk)
        elif live:
            self._run_one(live[0])

    def _run_one(self, job: Job) -> None:
        """Synthesize one job chunk by chunk, stopping when it is no longer live."""
        try:
            for chunk in job.payload.pipeline.stream(job.payload.text):
                if not job.live:
                    log.info("request %s: stopped after chunk %d", job.request_id, chunk.index)
                    return
                job.emit(chunk)
        except UserError as err:
            job.emit(ApiError(str(err)))

    def close(self) -> None:
        """Refuse new work and finish what is queued."""
        self.scheduler.close()
