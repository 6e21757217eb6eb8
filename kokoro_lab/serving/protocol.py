"""The JSON bodies of the API, as FastAPI validates them and shows them at /docs.

`SpeechRequest` is OpenAI's `POST /v1/audio/speech` body (model, input, voice, response_format,
speed, stream) plus `lang`; unknown keys OpenAI clients may send (`instructions`,
`stream_format`) are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kokoro_lab.pipeline import MAX_SPEED

Format = Literal["wav", "flac", "mp3", "opus", "pcm"]

VOICE_HELP = (
    "a catalogue voice (GET /v1/audio/voices) or a mix, `jf_alpha:0.7+jm_kumo:0.3` or "
    "`jf_alpha(2)+jm_kumo(1)`; default: the embedded default voice (jm_kumo, English)"
)
LANG_HELP = (
    "a b e f h i j p z or en-us, en-gb, es, fr-fr, hi, it, pt-br, ja, zh; default: the "
    "server's lang=, else the voice's catalogue language"
)


class SpeechRequest(BaseModel):
    model: str = Field("kokoro", description="a loaded checkpoint; kokoro: the first")
    input: str = Field(..., description="the text to speak (at most the server's max_chars)")
    voice: str | None = Field(None, description=VOICE_HELP)
    response_format: Format = "mp3"
    speed: float = Field(1.0, gt=0, le=MAX_SPEED, description="1.0: the voice's natural rate")
    stream: bool = Field(False, description="send audio chunk by chunk as it is synthesized")
    lang: str | None = Field(None, description=LANG_HELP)


class TimestampsRequest(BaseModel):
    model: str = "kokoro"
    input: str
    voice: str | None = Field(None, description=VOICE_HELP)
    response_format: Format = "wav"
    speed: float = Field(1.0, gt=0, le=MAX_SPEED)
    lang: str | None = Field(None, description=LANG_HELP)


class Word(BaseModel):
    word: str | None
    phonemes: str
    start: float = Field(description="seconds from the start of the audio")
    end: float


class TimestampsResponse(BaseModel):
    audio: str = Field(description="the audio file, base64")
    response_format: Format
    sample_rate: int
    duration: float = Field(description="seconds")
    phonemes: str
    words: list[Word]


class PhonemizeRequest(BaseModel):
    text: str
    lang: str | None = Field(None, description=LANG_HELP)
    voice: str | None = Field(None, description=VOICE_HELP)


class PhonemeChunk(BaseModel):
    text: str
    phonemes: str


class PhonemizeResponse(BaseModel):
    phonemes: str = Field(description="every chunk's phonemes joined by one space")
    chunks: list[PhonemeChunk]
    lang: str
    g2p: str = Field(description="the G2P mode: misaki, espeak or espeak-ipa")


class VoiceInfo(BaseModel):
    name: str
    language: str | None
    gender: str | None
    availability: Literal["embedded", "voices_dir", "hub-cache", "hub"]
    available: bool = Field(description="loads without the network")


class VoicesResponse(BaseModel):
    voices: list[VoiceInfo]


class ModelInfo(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "kokoro_lab"


class ModelsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    models: list[str]
    workers: int
    max_queue: int
    waiting: int
    running: int
    stats: dict[str, int]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
