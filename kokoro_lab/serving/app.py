"""The FastAPI app over a SpeechService: OpenAI's speech route and kokoro_lab's own, the page.

    POST /v1/audio/speech              OpenAI's body (+ stream, lang) -> audio bytes
    POST /v1/audio/speech/timestamps   -> JSON: base64 audio, sample rate, words with times
    POST /v1/phonemize                 -> JSON: phonemes and chunks, no synthesis
    GET  /v1/audio/voices, /v1/models  -> the catalogue with availability, the checkpoints
    GET  /health, /                    -> counters; the web page (page.html)

Every response carries an `X-Request-ID`, logged with its method, path, status and time. Errors
are JSON `{"error": {"message", "type", "code", "request_id"}}` without tracebacks (a 500 logs
its traceback here, not to the client). With `api_key`, /v1 routes need `Authorization: Bearer
KEY` (or `X-API-Key: KEY`), compared in constant time. CORS is off unless `cors_origins` lists
origins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.resources
import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kokoro_lab.errors import UserError
from kokoro_lab.serving import protocol as p
from kokoro_lab.serving.errors import ApiError, SynthesisTimeout, Unauthorized
from kokoro_lab.serving.formats import MEDIA_TYPES, STREAM_FORMATS, StreamEncoder, encode_audio
from kokoro_lab.serving.speech import SpeechService
from kokoro_lab.timestamps import timestamps

log = logging.getLogger(__name__)

#: Bodies larger than this are refused before they are read (413): max_chars of text in JSON
#: escapes (at most 6 bytes a character, \uXXXX) plus room for the other keys.
BODY_SLACK_BYTES = 64 * 1024
ERROR_RESPONSES = {
    status: {"model": p.ErrorResponse, "description": description}
    for status, description in {
        400: "bad input: unknown voice, path-like voice name, bad mix weights, ...",
        401: "wrong or missing API key (when the server has one)",
        404: "unknown model, or a voice not available offline",
        413: "input longer than the server's max_chars",
        422: "the body does not match the schema (malformed JSON, speed, format, ...)",
        503: "queue full (see Retry-After) or shutting down",
        504: "synthesis took longer than timeout_s",
    }.items()
}


def error_response(
    request_id: str | None, status: int, message: str, kind: str, code, headers=None
):
    body = {"message": message, "type": kind, "code": code, "request_id": request_id}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class RequestIds:
    """ASGI middleware: a request id in `scope["state"]`, the `X-Request-ID` header and one log
    line per request; bodies whose Content-Length exceeds `max_body` get a 413 unread."""

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        status, start = [0], time.monotonic()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            length = dict(scope.get("headers", [])).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_body:
                response = error_response(
                    request_id,
                    413,
                    f"request body of {int(length)} bytes is larger than this server accepts "
                    f"({self.max_body} bytes): send less text per request",
                    "invalid_request_error",
                    "body_too_large",
                )
                return await response(scope, receive, send_with_id)
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request %s %s %s -> %s in %.0f ms",
                request_id,
                scope.get("method"),
                scope.get("path"),
                status[0] or "disconnected",
                1000 * (time.monotonic() - start),
            )


#: `Authorization: Bearer KEY` (module level: FastAPI resolves the annotation below by name).
BEARER = HTTPBearer(auto_error=False, description="the server's KOKORO_LAB_API_KEY")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_checker(api_key: str | None):
    """A dependency refusing requests without `api_key` (none: everyone passes)."""
    expected = _digest(api_key) if api_key else None

    async def require_key(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if expected is None:
            return
        given = credentials.credentials if credentials else request.headers.get("x-api-key", "")
        # equal-length digests: the comparison time says nothing about the key
        if not hmac.compare_digest(_digest(given), expected):
            raise Unauthorized("missing or wrong API key: send Authorization: Bearer KEY")

    return require_key


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        if e.get("type") == "json_invalid":
            parts.append(f"malformed JSON body: {e.get('msg')}")
        else:
            parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    def rid(request: Request) -> str | None:
        return getattr(request.state, "request_id", None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return error_response(rid(request), err.status, str(err), err.type, err.code, err.headers)

    @app.exception_handler(UserError)
    async def user_error(request: Request, err: UserError):
        return error_response(rid(request), 400, str(err), "invalid_request_error", "invalid")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        message = _validation_message(err)
        return error_response(rid(request), 422, message, "invalid_request_error", "invalid_body")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        return error_response(
            rid(request), err.status_code, str(err.detail), "invalid_request_error", None
        )

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception):
        log.error("request %s failed", rid(request), exc_info=err)
        return error_response(
            rid(request), 500, "internal error (logged on the server)", "server_error", None
        )


def create_app(
    service: SpeechService, api_key: str | None = None, cors_origins: list[str] | tuple = ()
) -> FastAPI:
    """The app serving `service`; `close()`s it when the server shuts down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await run_in_threadpool(service.close)

    app = FastAPI(
        title="kokoro_lab speech server",
        description="OpenAI-compatible text-to-speech with Kokoro-82M (docs/serving.md)",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestIds, max_body=6 * service.max_chars + BODY_SLACK_BYTES)
    page = importlib.resources.files("kokoro_lab.serving").joinpath("page.html").read_text()
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(key_checker(api_key))])

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", response_model=p.Health)
    async def health() -> p.Health:
        stats = vars(service.scheduler.stats)
        return p.Health(
            models=list(service.models),
            workers=service.scheduler.workers,
            max_queue=service.scheduler.max_queue,
            waiting=service.scheduler.waiting,
            running=stats["running"],
            stats=dict(stats),
        )

    @v1.get("/models", response_model=p.ModelsResponse)
    async def models() -> p.ModelsResponse:
        return p.ModelsResponse(data=[p.ModelInfo(id=name) for name in service.models])

    @v1.get("/audio/voices", response_model=p.VoicesResponse)
    async def voices() -> p.VoicesResponse:
        listing = await run_in_threadpool(service.voices.listing)
        return p.VoicesResponse(voices=[p.VoiceInfo(**v) for v in listing])

    @v1.post("/phonemize", response_model=p.PhonemizeResponse, responses=ERROR_RESPONSES)
    async def phonemize(body: p.PhonemizeRequest) -> p.PhonemizeResponse:
        frontend, chunks = await run_in_threadpool(
            service.phonemize, body.text, body.lang, body.voice
        )
        return p.PhonemizeResponse(
            phonemes=" ".join(c.phonemes for c in chunks),
            chunks=[p.PhonemeChunk(text=c.text, phonemes=c.phonemes) for c in chunks],
            lang=frontend.lang,
            g2p=frontend.mode,
        )

    async def start(body, request: Request, stream: bool):
        """Check, resolve and queue a synthesis -> its Job."""
        service.check_text(body.input)
        pipeline = await run_in_threadpool(
            service.pipeline, body.model, body.voice, body.lang, body.speed, stream
        )
        return service.submit(pipeline, body.input, stream, request.state.request_id)

    audio_content = {MEDIA_TYPES[f]: {} for f in MEDIA_TYPES}

    @v1.post(
        "/audio/speech",
        response_class=Response,
        responses={200: {"content": audio_content, "description": "audio"}, **ERROR_RESPONSES},
    )
    async def speech(body: p.SpeechRequest, request: Request) -> Response:
        fmt = body.response_format
        if body.stream and fmt not in STREAM_FORMATS:
            raise ApiError(
                f"response_format={fmt} cannot be streamed: stream one of "
                f"{', '.join(STREAM_FORMATS)}, or set stream=false"
            )
        job = await start(body, request, body.stream)
        if not body.stream:
            result = await service.synthesize(job)
            data = await run_in_threadpool(encode_audio, result.audio, fmt)
            return Response(data, media_type=MEDIA_TYPES[fmt])
        chunks = service.chunks(job)
        try:  # errors up to the first chunk are still a JSON status; later ones end the stream
            first = await chunks.__anext__()
        except StopAsyncIteration:
            raise SynthesisTimeout("the synthesis was cancelled before it produced audio") from None

        async def audio_stream():
            encoder = StreamEncoder(fmt)
            try:
                yield encoder.encode(first.audio)
                async for chunk in chunks:
                    yield encoder.encode(chunk.audio)
                yield encoder.finish()
            except ApiError as err:
                log.warning("request %s: stream ended early: %s", job.request_id, err)
            finally:
                await chunks.aclose()

        return StreamingResponse(audio_stream(), media_type=MEDIA_TYPES[fmt])

    @v1.post(
        "/audio/speech/timestamps", response_model=p.TimestampsResponse, responses=ERROR_RESPONSES
    )
    async def speech_timestamps(body: p.TimestampsRequest, request: Request):
        job = await start(body, request, False)
        result = await service.synthesize(job)
        data = await run_in_threadpool(encode_audio, result.audio, body.response_format)
        times = timestamps(result)
        return p.TimestampsResponse(
            audio=base64.b64encode(data).decode("ascii"),
            response_format=body.response_format,
            sample_rate=result.sample_rate,
            duration=times["duration"],
            phonemes=result.phonemes,
            words=[p.Word(**w) for w in times["words"]],
        )

    app.include_router(v1)
    return app
