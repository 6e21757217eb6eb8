"""Load test of a running speech server (scripts/load_test_serve.py; docs/serving.md).

Axes: n samples.

1. Burst: `concurrent` requests of mixed lengths at once. Every one must be answered: 200 with
   audio, or a clean 503 (JSON, Retry-After). None may be lost or mixed up: each 200's audio is
   transcribed by the repo's Whisper (kokoro_lab.metrics.asr) and must be nearer its own text
   than any other text of the burst.
2. Streaming: `streams` streamed requests of a five-sentence text one after another: time to
   the first audio byte against the total time.
3. Sequence: `sequential` streamed requests one after another (short texts), recording the
   time to the first audio byte, the total time and the server's RSS after each; every
   `asr_every`-th clip is transcribed too. RSS growth is measured from request `warmup` to the
   end (the pipeline's allocations plateau after a few dozen requests).

The server is any process at `base_url`; `pid` (for RSS) is its process id.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Sequence

import httpx
import numpy as np

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.serving.formats import decode_audio

log = logging.getLogger(__name__)

#: Burst texts, mixed lengths, each unlike the others (so a swapped answer shows).
BURST_TEXTS = (
    "Yes.",
    "Open the window.",
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.",
    "Kick the ball straight and follow through.",
)
#: The streaming text: five sentences, the first one alone in the first chunk.
STORY = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish. "
    "Rice is often served in round bowls."
)
#: Sequence texts: short, so 500 requests take minutes on a small CPU.
SEQUENCE_TEXTS = (
    "Good morning.",
    "Thank you.",
    "See you soon.",
    "Turn left.",
    "Coffee please.",
    "Hello there.",
    "Not today.",
    "Well done.",
)


def _rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def _body(text: str, voice: str, lang: str, **extra) -> dict:
    return {"model": "kokoro", "input": text, "voice": voice, "lang": lang, **extra}


def _nearest(transcript: str, texts: Sequence[str]) -> tuple[int, list[float]]:
    from kokoro_lab.metrics.error_rate import error_counts

    rates = [error_counts([t], [transcript], "word").rate for t in texts]
    return int(np.argmin(rates)), rates


def burst(base_url: str, n: int, voice: str, lang: str, headers: dict, timeout: float) -> dict:
    """`n` concurrent non-streaming wav requests cycling through BURST_TEXTS."""
    results: list[dict | None] = [None] * n
    gate = threading.Barrier(n)

    def one(i: int) -> None:
        text = BURST_TEXTS[i % len(BURST_TEXTS)]
        row = {"index": i, "text": text}
        try:
            with httpx.Client(timeout=timeout, headers=headers) as client:
                gate.wait()
                start = time.monotonic()
                r = client.post(
                    f"{base_url}/v1/audio/speech",
                    json=_body(text, voice, lang, response_format="wav"),
                )
            row.update(status=r.status_code, seconds=time.monotonic() - start)
            if r.status_code == 200:
                row["audio"] = decode_audio(r.content, "wav")
            else:
                error = r.json()["error"]
                row.update(error_code=error["code"], retry_after=r.headers.get("retry-after"))
        except Exception as err:  # a lost request: reported, never raised
            row.update(status=None, error=repr(err))
        results[i] = row

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    ok = [r for r in results if r["status"] == 200]
    return {
        "requests": n,
        "wall_s": round(wall, 2),
        "status_counts": {str(k): sum(r["status"] == k for r in results) for k in (200, 503)},
        "other": [
            {k: v for k, v in r.items() if k != "audio"}
            for r in results
            if r["status"] not in (200, 503)
        ],
        "clean_503": all(
            r.get("error_code") == "queue_full" and (r.get("retry_after") or "").isdigit()
            for r in results
            if r["status"] == 503
        ),
        "ok_per_s": round(len(ok) / wall, 3),
        "latency_s_200": _summary([r["seconds"] for r in ok]),
        "rows": results,
    }


def sequence(
    base_url: str, n: int, voice: str, lang: str, headers: dict, pid: int | None, timeout: float
) -> dict:
    """`n` streamed pcm requests one after another: first byte, total time, RSS after each."""
    rows = []
    start_all = time.monotonic()
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for i in range(n):
            text = SEQUENCE_TEXTS[i % len(SEQUENCE_TEXTS)]
            body = _body(text, voice, lang, response_format="pcm", stream=True)
            start, first, data = time.monotonic(), None, bytearray()
            with client.stream("POST", f"{base_url}/v1/audio/speech", json=body) as r:
                for block in r.iter_bytes():
                    if first is None and block:
                        first = time.monotonic() - start
                    data += block
            row = {
                "index": i,
                "text": text,
                "status": r.status_code,
                "first_byte_s": first,
                "total_s": time.monotonic() - start,
                "audio_s": len(data) / 2 / SAMPLE_RATE,
                "rss": _rss_bytes(pid) if pid else None,
            }
            if r.status_code == 200:
                row["audio"] = decode_audio(bytes(data), "pcm")
            rows.append(row)
            if (i + 1) % 50 == 0:
                log.info("sequence: %d/%d, rss %s", i + 1, n, row["rss"])
    wall = time.monotonic() - start_all
    ok = [r for r in rows if r["status"] == 200]
    return {
        "requests": n,
        "wall_s": round(wall, 2),
        "ok": len(ok),
        "requests_per_s": round(len(ok) / wall, 3),
        "first_byte_s": _summary([r["first_byte_s"] for r in ok]),
        "total_s": _summary([r["total_s"] for r in ok]),
        "rows": rows,
    }


def streaming(base_url: str, n: int, voice: str, lang: str, headers: dict, timeout: float) -> dict:
    """`n` streamed pcm requests of STORY: first byte and total seconds of each."""
    rows = []
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for _ in range(n):
            body = _body(STORY, voice, lang, response_format="pcm", stream=True)
            start, first, size = time.monotonic(), None, 0
            with client.stream("POST", f"{base_url}/v1/audio/speech", json=body) as r:
                for block in r.iter_bytes():
                    if first is None and block:
                        first = time.monotonic() - start
                    size += len(block)
            total = time.monotonic() - start
            rows.append(
                {
                    "status": r.status_code,
                    "first_byte_s": round(first, 3),
                    "total_s": round(total, 3),
                    "audio_s": round(size / 2 / SAMPLE_RATE, 3),
                }
            )
    return {"text_chars": len(STORY), "runs": rows}


def _summary(values: Sequence[float]) -> dict:
    if not values:
        return {}
    v = sorted(values)
    return {
        "mean": round(statistics.fmean(v), 3),
        "p50": round(v[len(v) // 2], 3),
        "p95": round(v[min(len(v) - 1, int(0.95 * len(v)))], 3),
        "max": round(v[-1], 3),
    }


def rss_growth(rows: Sequence[dict], warmup: int) -> dict:
    """RSS after request `warmup` vs at the end and at its peak (fractions)."""
    rss = [r["rss"] for r in rows if r.get("rss")]
    if len(rss) <= warmup:
        return {}
    base = rss[warmup - 1]
    mib = 1 << 20
    return {
        "after_warmup_mib": round(base / mib, 1),
        "first_mib": round(rss[0] / mib, 1),
        "final_mib": round(rss[-1] / mib, 1),
        "peak_mib": round(max(rss) / mib, 1),
        "growth_final": round(rss[-1] / base - 1, 4),
        "growth_peak": round(max(rss[warmup - 1 :]) / base - 1, 4),
        "warmup_requests": warmup,
    }


def intelligibility(rows: Sequence[dict], texts: Sequence[str]) -> dict:
    """Transcribe each row's audio: WER against its own text, and whether its own text is the
    nearest of `texts` (a mixed-up answer would be nearer another)."""
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.metrics.error_rate import error_counts

    asr = WhisperASR(beam_size=1)
    refs, hyps, mixed = [], [], []
    for row in rows:
        audio, rate = row["audio"]
        transcript = asr.transcribe(audio, rate)
        nearest, _ = _nearest(transcript, texts)
        row["transcript"] = transcript
        refs.append(row["text"])
        hyps.append(transcript)
        if texts[nearest] != row["text"]:
            mixed.append({"index": row["index"], "text": row["text"], "heard": transcript})
    wer = error_counts(refs, hyps, "word").rate if refs else None
    return {"clips": len(refs), "wer": None if wer is None else round(wer, 4), "mixed_up": mixed}


def run_load_test(
    base_url: str,
    *,
    pid: int | None = None,
    concurrent: int = 50,
    streams: int = 3,
    sequential: int = 500,
    warmup: int = 50,
    asr_every: int = 10,
    voice: str = "jm_kumo",
    lang: str = "en-us",
    api_key: str | None = None,
    timeout: float = 600.0,
) -> dict:
    """Both phases against the server at `base_url` -> the report (see the module docstring)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    health = httpx.get(f"{base_url}/health", timeout=30).json()
    log.info("burst of %d against %s", concurrent, health)
    b = burst(base_url, concurrent, voice, lang, headers, timeout)
    st = streaming(base_url, streams, voice, lang, headers, timeout)
    s = sequence(base_url, sequential, voice, lang, headers, pid, timeout)
    burst_ok = [r for r in b["rows"] if r["status"] == 200]
    checked = [r for r in s["rows"] if r["status"] == 200 and r["index"] % asr_every == 0]
    report = {
        "server": {k: health[k] for k in ("models", "workers", "max_queue")},
        "burst": {k: v for k, v in b.items() if k != "rows"},
        "burst_asr": intelligibility(burst_ok, BURST_TEXTS),
        "streaming": st,
        "sequence": {k: v for k, v in s.items() if k != "rows"},
        "sequence_asr": intelligibility(checked, SEQUENCE_TEXTS),
        "rss": rss_growth(s["rows"], warmup),
        "rss_curve_mib": [
            round(r["rss"] / (1 << 20), 1) for r in s["rows"][:: max(1, sequential // 50)]
        ]
        if pid
        else [],
        "server_stats": httpx.get(f"{base_url}/health", timeout=30).json()["stats"],
    }
    return json.loads(json.dumps(report))  # plain JSON types only
