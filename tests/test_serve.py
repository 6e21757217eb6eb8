"""The speech server (kokoro_lab.serving, scripts/serve.py): real weights, the real `openai`
client, real servers on 127.0.0.1, nothing mocked.

Fast tier: the encoders, the voice book, the scheduler's queue, and an in-process server (the
shared real model) answering bad input with clean JSON errors, one synthesis through the openai
client, timestamps, phonemes, the OpenAPI page, the API key and CORS.
Slow tier: `python scripts/serve.py` in a child process: every response format through the openai
client, streaming's first byte before the whole text, a streaming client going away, a small
load test (queue full -> 503 + Retry-After, each answer transcribed to its own text), and
SIGTERM draining a request in flight before exit 0.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import threading
import time

import httpx
import numpy as np
import openai
import pytest
from conftest import offline_env

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError
from kokoro_lab.serving.app import create_app
from kokoro_lab.serving.errors import QueueFull, VoiceUnavailable
from kokoro_lab.serving.formats import (
    FORMATS,
    STREAM_FORMATS,
    StreamEncoder,
    decode_audio,
    encode_audio,
)
from kokoro_lab.serving.process import serve_in_thread, server_process
from kokoro_lab.serving.scheduler import DONE, Job, Scheduler
from kokoro_lab.serving.speech import SpeechService
from kokoro_lab.serving.voices import VoiceBook

ENGLISH = {"lang": "en-us"}  # extra_body: the embedded voices' catalogue language is ja
MAX_CHARS = 300


def speech_seconds(audio: np.ndarray, rate: int) -> float:
    """Duration of the part louder than -40 dBFS (a silent file has 0)."""
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return 0.0 if loud.size == 0 else (loud[-1] - loud[0]) / rate


# --- formats ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tone() -> np.ndarray:
    """1 s of a 440 Hz tone at half scale, 24 kHz."""
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype("f4")


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_decodes_back_to_the_audio(fmt, tone):
    audio, rate = decode_audio(encode_audio(tone, fmt), fmt)
    assert rate == SAMPLE_RATE
    # mp3 pads with its encoder delay; the others keep the length
    assert len(tone) <= len(audio) <= len(tone) + (2 * 1152 if fmt == "mp3" else 0)
    spectrum = np.abs(np.fft.rfft(audio[:SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # still the tone (1 Hz bins)


@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_streamed_chunks_make_one_decodable_file(fmt, tone):
    encoder = StreamEncoder(fmt)
    parts = [encoder.encode(tone[:9000]), encoder.encode(tone[9000:]), encoder.finish()]
    assert parts[0], "the first chunk must produce bytes at once"
    audio, rate = decode_audio(b"".join(parts), fmt)
    assert rate == SAMPLE_RATE
    assert len(tone) <= len(audio) <= len(tone) + (2 * 1152 if fmt == "mp3" else 0)


def test_flac_is_not_streamed():
    with pytest.raises(ValueError, match="cannot be streamed"):
        StreamEncoder("flac")


# --- voices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["../../etc/passwd", "/etc/passwd", "voices/af.pt", "~/x", "jf_alpha:0.5+../a.pt"]
)
def test_a_path_never_reaches_the_filesystem(spec):
    with pytest.raises(UserValueError, match="looks like a file path"):
        VoiceBook().load(spec)


def test_voices_list_availability_offline_and_refuse_a_hub_voice(no_hub):
    book = VoiceBook()
    listing = {v["name"]: v for v in book.listing()}
    assert listing["jf_alpha"]["available"] and listing["jf_alpha"]["availability"] == "embedded"
    assert not listing["af_bella"]["available"] and listing["af_bella"]["availability"] == "hub"
    with pytest.raises(VoiceUnavailable, match="af_bella.*not available"):
        book.load("af_bella")


def test_both_mix_spellings_give_the_same_voice_and_are_cached():
    book = VoiceBook(cache_size=2)
    colon = book.load("jf_alpha:0.75+jm_kumo:0.25")
    paren = book.load("jf_alpha(3)+jm_kumo(1)")
    assert paren is colon  # the same normalized mix: one cached pack
    book.load("jf_nezumi")
    book.load("jf_tebukuro")
    assert len(book._cache) == 2  # bounded


# --- the scheduler's queue --------------------------------------------------------------------


def test_a_full_queue_refuses_with_retry_after_and_alike_jobs_batch():
    release, ran = threading.Event(), []

    def run(jobs):
        release.wait(10)
        ran.append([job.payload for job in jobs])

    async def scenario():
        scheduler = Scheduler(run, workers=1, max_queue=3, max_batch=4)
        jobs = [Job(0, None, time.monotonic() + 60)]  # taken by the worker, which then blocks
        scheduler.submit(jobs[0])
        while scheduler.stats.running == 0:
            await asyncio.sleep(0.01)
        for payload, key in [(1, "a"), (2, "b"), (3, "a")]:
            jobs.append(Job(payload, key, time.monotonic() + 60))
            scheduler.submit(jobs[-1])
        with pytest.raises(QueueFull) as refused:
            scheduler.submit(Job(4, "a", time.monotonic() + 60))
        assert int(refused.value.headers["Retry-After"]) >= 1
        release.set()
        for job in jobs:
            assert await asyncio.wait_for(job.outputs.get(), 10) is DONE
        scheduler.close()
        return scheduler.stats

    stats = asyncio.run(scenario())
    assert ran == [[0], [1, 3], [2]]  # 1 and 3 share a key: one batch, ahead of 2
    assert (stats.rejected, stats.completed, stats.batched_jobs) == (1, 4, 2)


# --- an in-process server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(real_model):
    service = SpeechService(
        {"kokoro": real_model}, VoiceBook(), max_queue=4, max_chars=MAX_CHARS, timeout_s=120
    )
    yield service
    service.close()


@pytest.fixture(scope="module")
def base_url(service):
    with serve_in_thread(create_app(service)) as url:
        yield url


BAD_INPUT = {
    "empty input": ({"input": ""}, 400),
    "1 MB input": ({"input": "a" * 1_000_000}, 413),
    "input over max_chars": ({"input": "word " * MAX_CHARS}, 413),
    "unknown voice": ({"voice": "xx_nobody"}, 400),
    "path-like voice": ({"voice": "../../etc/passwd"}, 400),
    "absolute path voice": ({"voice": "/etc/passwd"}, 400),
    "negative mix weight": ({"voice": "jf_alpha:-1+jm_kumo:2"}, 400),
    "non-numeric mix weight": ({"voice": "jf_alpha(x)+jm_kumo(1)"}, 400),
    "empty mix component": ({"voice": "jf_alpha++jm_kumo"}, 400),
    "speed 0": ({"speed": 0}, 422),
    "speed 10": ({"speed": 10}, 422),
    "unknown format": ({"response_format": "aiff"}, 422),
    "flac stream": ({"response_format": "flac", "stream": True}, 400),
    "unknown model": ({"model": "nope"}, 404),
    "unknown language": ({"lang": "xx-yy"}, 400),
    "no input": ({"input": None}, 422),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_a_clean_json_4xx_and_the_server_still_serves(base_url, case):
    changes, status = BAD_INPUT[case]
    body = {"model": "kokoro", "input": "Hello.", "voice": "jf_alpha", **changes}
    body = {k: v for k, v in body.items() if v is not None}
    r = httpx.post(f"{base_url}/v1/audio/speech", json=body, timeout=60)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and "Traceback" not in r.text
    assert error["request_id"] == r.headers["x-request-id"]
    assert httpx.get(f"{base_url}/health").json()["status"] == "ok"


def test_malformed_json_is_a_422_naming_it(base_url):
    r = httpx.post(
        f"{base_url}/v1/audio/speech",
        content=b'{"input": "hi",',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert "malformed JSON" in r.json()["error"]["message"]


def test_the_openai_client_gets_wav_speech(base_url):
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="any key: the server has none")
    response = client.audio.speech.create(
        model="kokoro",
        voice="jf_alpha",
        input="Good morning, everyone.",
        response_format="wav",
        extra_body=ENGLISH,
    )
    audio, rate = decode_audio(response.content, "wav")
    assert rate == SAMPLE_RATE
    assert 0.8 < speech_seconds(audio, rate) < 4.0  # four words


def test_timestamps_give_words_in_order_within_the_audio(base_url):
    r = httpx.post(
        f"{base_url}/v1/audio/speech/timestamps",
        json={"input": "Turn left at the church.", "voice": "jm_kumo", "lang": "en-us"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    audio, rate = decode_audio(base64.b64decode(body["audio"]), "wav")
    assert rate == body["sample_rate"] == SAMPLE_RATE
    assert abs(len(audio) / rate - body["duration"]) < 0.01
    words = body["words"]
    assert [w["word"].strip(".") for w in words] == ["Turn", "left", "at", "the", "church"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and all(w["start"] < w["end"] for w in words)
    assert words[-1]["end"] <= body["duration"]


def test_phonemize_returns_the_chunks_synthesis_speaks(base_url, service):
    text = "Hello world. How are you?"
    body = {"text": text, "lang": "en-us", "voice": "jm_kumo"}
    r = httpx.post(f"{base_url}/v1/phonemize", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    pipeline = service.pipeline(None, "jm_kumo", "en-us")
    assert out["phonemes"] == pipeline.frontend.phonemize(text)
    assert out["g2p"] == "espeak-ipa"  # jm_kumo's english_g2p in the catalogue
    assert "".join(c["text"] for c in out["chunks"]).replace(" ", "") == text.replace(" ", "")


def test_voices_and_models_are_listed(base_url):
    voices = {v["name"]: v for v in httpx.get(f"{base_url}/v1/audio/voices").json()["voices"]}
    assert {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"} <= {
        n for n, v in voices.items() if v["available"]
    }
    assert voices["jm_kumo"]["language"] == "ja"
    assert [m["id"] for m in httpx.get(f"{base_url}/v1/models").json()["data"]] == ["kokoro"]


def test_the_openapi_page_shows_the_schemas(base_url):
    schemas = httpx.get(f"{base_url}/openapi.json").json()["components"]["schemas"]
    for name in ("SpeechRequest", "TimestampsResponse", "PhonemizeResponse", "ErrorResponse"):
        assert name in schemas
    speech = schemas["SpeechRequest"]["properties"]
    assert {"model", "input", "voice", "response_format", "speed", "stream", "lang"} <= set(speech)
    assert httpx.get(f"{base_url}/docs").status_code == 200
    page = httpx.get(f"{base_url}/")
    assert page.status_code == 200 and "<script>" in page.text
    assert "src=" not in page.text and "://" not in page.text  # nothing from elsewhere


def test_unknown_routes_are_json_errors(base_url):
    r = httpx.get(f"{base_url}/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["request_id"]


def test_cors_is_off_unless_configured(base_url, service):
    preflight = {
        "Origin": "http://elsewhere.example",
        "Access-Control-Request-Method": "POST",
    }
    r = httpx.options(f"{base_url}/v1/audio/speech", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    with serve_in_thread(create_app(service, cors_origins=["http://elsewhere.example"])) as url:
        r = httpx.options(f"{url}/v1/audio/speech", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_an_api_key_is_required_when_configured(real_model):
    keyed = SpeechService({"kokoro": real_model}, VoiceBook(), max_chars=MAX_CHARS)
    with serve_in_thread(create_app(keyed, api_key="s3cret")) as url:
        assert httpx.get(f"{url}/v1/models").status_code == 401
        wrong = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cre"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        right = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert httpx.get(f"{url}/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200  # health and the page stay open
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong")
        with pytest.raises(openai.AuthenticationError):
            client.audio.speech.create(model="kokoro", voice="jf_alpha", input="Hi.")


# --- scripts/serve.py in a child process (slow) -----------------------------------------------

STORY = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Rice is often served in round bowls."
)


@pytest.fixture(scope="module")
def script_server(tmp_path_factory):
    """`python scripts/serve.py port=PORT` offline, with an API key from the environment."""
    tmp = tmp_path_factory.mktemp("serve")
    env = offline_env({"KOKORO_LAB_API_KEY": "key-from-env"})
    overrides = ["workers=1", "max_queue=2", f"hydra.run.dir={tmp}"]
    with server_process(overrides, log_path=tmp / "serve.log", env=env) as server:
        yield server
    assert server.returncode == 0, server.log()[-3000:]
    assert "key-from-env" not in "".join(p.read_text() for p in tmp.rglob("*.yaml"))


@pytest.mark.slow
def test_every_format_through_the_openai_client(script_server):
    client = openai.OpenAI(base_url=f"{script_server.base_url}/v1", api_key="key-from-env")
    lengths = {}
    for fmt in FORMATS:
        response = client.audio.speech.create(
            model="kokoro",
            voice="jm_kumo",
            input="Please call Stella.",
            response_format=fmt,
            extra_body=ENGLISH,
        )
        audio, rate = decode_audio(response.content, fmt)
        assert rate == SAMPLE_RATE, fmt
        lengths[fmt] = speech_seconds(audio, rate)
    assert all(0.7 < s < 3.5 for s in lengths.values()), lengths  # three words
    assert max(lengths.values()) - min(lengths.values()) < 0.15, lengths  # one audio, five files
    wrong = openai.OpenAI(base_url=f"{script_server.base_url}/v1", api_key="nope")
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.speech.create(model="kokoro", voice="jm_kumo", input="Hi.")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pcm", "opus"])
def test_streaming_sends_audio_before_the_whole_text_is_synthesized(script_server, fmt):
    headers = {"Authorization": "Bearer key-from-env"}
    body = {"input": STORY, "voice": "jm_kumo", "lang": "en-us", "stream": True}
    start, first, data = time.monotonic(), None, b""
    url = f"{script_server.base_url}/v1/audio/speech"
    with httpx.stream(
        "POST", url, json={**body, "response_format": fmt}, headers=headers, timeout=300
    ) as r:
        assert r.status_code == 200
        for block in r.iter_bytes():
            first = first or (time.monotonic() - start)
            data += block
    total = time.monotonic() - start
    audio, rate = decode_audio(data, fmt)
    assert rate == SAMPLE_RATE and 8 < speech_seconds(audio, rate) < 20
    # the first sentence is one fifth of the text: its audio comes long before the rest
    assert first < 0.6 * total, (first, total)


@pytest.mark.slow
def test_a_streaming_client_that_goes_away_cancels_its_synthesis(script_server):
    base, headers = script_server.base_url, {"Authorization": "Bearer key-from-env"}
    before = httpx.get(f"{base}/health").json()["stats"]
    body = {"input": STORY, "voice": "jm_kumo", "lang": "en-us", "stream": True}
    with httpx.stream(
        "POST",
        f"{base}/v1/audio/speech",
        json={**body, "response_format": "pcm"},
        headers=headers,
        timeout=300,
    ) as r:
        assert next(r.iter_bytes())  # the first sentence, then hang up
    deadline = time.monotonic() + 120
    while True:
        health = httpx.get(f"{base}/health").json()
        if health["running"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stats = health["stats"]
    assert stats["cancelled"] == before["cancelled"] + 1, stats
    assert stats["completed"] == before["completed"], stats


@pytest.mark.slow
def test_a_small_load_test_answers_every_request_with_its_own_audio(script_server):
    from kokoro_lab.serving.load_test import run_load_test

    report = run_load_test(
        script_server.base_url,
        pid=script_server.pid,
        concurrent=8,
        sequential=6,
        warmup=3,
        asr_every=2,
        api_key="key-from-env",
    )
    burst = report["burst"]
    assert burst["other"] == [], burst  # every request: 200 or 503
    assert burst["status_counts"]["503"] >= 1 and burst["clean_503"], burst  # max_queue=2
    assert burst["status_counts"]["200"] >= 3, burst  # one running, two waiting
    for asr in (report["burst_asr"], report["sequence_asr"]):
        assert asr["mixed_up"] == [] and asr["wer"] < 0.35, asr
    assert report["sequence"]["ok"] == 6


@pytest.mark.slow
def test_sigterm_drains_the_request_in_flight_then_exits_0(tmp_path):
    env = offline_env({"KOKORO_LAB_API_KEY": None})
    overrides = [f"hydra.run.dir={tmp_path}"]
    with server_process(overrides, log_path=tmp_path / "serve.log", env=env) as server:
        answer = {}

        def ask():
            answer["r"] = httpx.post(
                f"{server.base_url}/v1/audio/speech",
                json={"input": STORY[:88], "voice": "jm_kumo", "response_format": "wav"},
                timeout=300,
            )

        asking = threading.Thread(target=ask)
        asking.start()
        while httpx.get(f"{server.base_url}/health").json()["running"] == 0:
            time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        asking.join(300)
        assert server.process.wait(120) == 0, server.log()[-3000:]
    assert answer["r"].status_code == 200
    audio, rate = decode_audio(answer["r"].content, "wav")
    assert speech_seconds(audio, rate) > 0.5
    assert "server stopped by SIGTERM" in server.log()
