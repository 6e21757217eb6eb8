"""Where an ONNX file's time goes in onnxruntime: kernel time by operator type and by scope.

    python -m kokoro_lab.onnx_export.profile FILE [--sentences 6] [--threads 2] [--out JSON]

Runs the Harvard sentences once to warm up, then once profiled (onnxruntime's own profiler),
and prints the shares of kernel time per operator type and per (module scope, operator).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path


def profile(path: str, sentences: int = 6, threads: int = 2) -> dict:
    """{"by_op": {op: share}, "by_scope": {"scope op": share}, "wall_s": profiled run} for
    `path` on `sentences` Harvard sentences in jf_alpha's voice."""
    import time

    import onnxruntime as ort

    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.onnx_export.verify import feeds
    from kokoro_lab.text import phonemize
    from kokoro_lab.voices import load_voice

    voice = load_voice("jf_alpha")
    items = [feeds(phonemize(t, "en-us"), voice) for t in harvard_sentences(sentences)]
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.enable_profiling, opts.profile_file_prefix = True, str(Path(tmp) / "ort")
        session = ort.InferenceSession(path, opts, ["CPUExecutionProvider"])
        session.run(None, items[0])  # warm-up
        start = time.perf_counter()
        for item in items:
            session.run(None, item)
        wall = time.perf_counter() - start
        events = json.loads(Path(session.end_profiling()).read_text())
    by_op: Counter = Counter()
    by_scope: Counter = Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            op = e["args"].get("op_name", "?")
            scope = "/".join(e["name"].removesuffix("_kernel_time").split("/")[:4])
            by_op[op] += e["dur"]
            by_scope[f"{scope} {op}"] += e["dur"]
    total = sum(by_op.values()) or 1
    # the warm-up call is profiled too: shares, not absolute times
    return {
        "file": path,
        "threads": threads,
        "sentences": sentences,
        "wall_s": round(wall, 3),
        "by_op": {k: round(v / total, 4) for k, v in by_op.most_common(15)},
        "by_scope": {k: round(v / total, 4) for k, v in by_scope.most_common(20)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the result as JSON here too")
    args = parser.parse_args(argv)
    result = profile(args.file, args.sentences, args.threads)
    text = json.dumps(result, indent=1)
    if args.out:
        from kokoro_lab.io import atomic_write

        atomic_write(args.out, lambda p: p.write_text(text + "\n"))
    print(text)


if __name__ == "__main__":
    main()
