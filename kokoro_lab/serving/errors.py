"""HTTP errors of the API: each has its status code and an OpenAI-style `type`/`code`, and is
rendered by `app.py` as `{"error": {"message", "type", "code", "request_id"}}`. Any UserError
not listed here is a 400; anything else a 500 without its traceback."""

from __future__ import annotations


class ApiError(Exception):
    """An error the client caused or must wait out; `headers` are sent with it."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.headers = headers or {}


class TextTooLong(ApiError):
    status = 413
    code = "input_too_long"


class VoiceUnavailable(ApiError):
    status = 404
    code = "voice_unavailable"


class UnknownModel(ApiError):
    status = 404
    code = "model_not_found"


class Unauthorized(ApiError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class QueueFull(ApiError):
    status = 503
    type = "server_busy"
    code = "queue_full"


class SynthesisTimeout(ApiError):
    status = 504
    type = "timeout"
    code = "synthesis_timeout"


class ShuttingDown(ApiError):
    status = 503
    type = "server_busy"
    code = "shutting_down"
