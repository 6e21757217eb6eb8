"""An OpenAI-compatible speech server: `python scripts/serve.py` (docs/serving.md).

- `formats.py`    audio -> wav / flac / mp3 / opus / pcm bytes, whole or streamed
- `voices.py`     the catalogue as the network sees it: names only, availability, a voice cache
- `scheduler.py`  a bounded queue in front of `workers` synthesis threads, batching alike jobs
- `speech.py`     the loaded checkpoints, front ends and pipelines: requests -> audio chunks
- `protocol.py`   the JSON bodies of the API (pydantic models, shown in the OpenAPI page)
- `app.py`        the FastAPI app: routes, API key, request ids, errors as JSON
- `page.html`     the web page at `/` (no build step, no CDN)
- `server.py`     `serve(cfg)`: build the service, run uvicorn, drain on SIGTERM
"""
