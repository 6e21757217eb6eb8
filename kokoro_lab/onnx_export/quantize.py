"""The fp32 export -> int8: static (calibrated) QDQ quantization of the generator's convolutions.

Axes: t tokens, n samples.

Where the time goes (onnxruntime profile, fp32, 2 threads): ~60% in Conv, 85% of that in the
ISTFTNet generator's residual blocks (`resblocks.*`, `noise_res.*`: 64-128 channels at 800 and
4800 frames a second). Measured choices (docs/onnx_export.md):
- dynamic quantization (kokoro-onnx's; weights only, activations quantized per call) makes those
  convolutions ConvInteger: as slow as fp32 with uint8 weights, ~6x slower with int8 weights;
- static QDQ quantization makes them QLinearConv (uint8 activations x int8 per-channel weights,
  VNNI-accelerated): the generator's convolutions run ~4x faster.
Only those convolutions are quantized: the duration path (PL-BERT, LSTMs, duration projection)
stays fp32, so durations equal the fp32 export's, and so do the cheap decoder, text encoder,
source and conv_post layers that the output is most sensitive to. Activation ranges come from
Harvard sentences the tests do not use (one utterance of three, so the percentile calibrator's
histograms all have one length), clipped at the 99.99th percentile of |x|: a min/max range set by
rare peaks left too few levels for the rest (MCD 1.2 dB vs 0.95 dB).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx

from kokoro_lab.io import atomic_write

log = logging.getLogger(__name__)

#: Node-name prefixes (TorchScript scopes) of the quantized convolutions.
QUANTIZED_SCOPES = ("/decoder/generator/resblocks.", "/decoder/generator/noise_res.")
#: Calibration: Harvard sentences 21-23 as one utterance, in these voices (embedded ones).
CALIBRATION_SENTENCES = (20, 3)
CALIBRATION_VOICES = ("jf_alpha",)
PERCENTILE = 99.99


def quantized_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of the Conv nodes under QUANTIZED_SCOPES."""
    return [
        n.name
        for n in proto.graph.node
        if n.op_type == "Conv" and n.name.startswith(QUANTIZED_SCOPES)
    ]


def calibration_feeds() -> list[dict[str, np.ndarray]]:
    """kokoro-onnx inputs for the calibration utterance(s)."""
    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.onnx_export.verify import feeds
    from kokoro_lab.text import phonemize
    from kokoro_lab.voices import load_voice

    start, count = CALIBRATION_SENTENCES
    phonemes = phonemize(" ".join(harvard_sentences(count, start=start)), "en-us")
    return [feeds(phonemes, load_voice(v)) for v in CALIBRATION_VOICES]


def quantize_file(fp32: Path, out: Path) -> None:
    """fp32 ONNX file -> int8 (QDQ) ONNX file; `out` is written in place (see write_int8)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self, items: list[dict[str, np.ndarray]]):
            self.items: Iterator[dict[str, np.ndarray]] = iter(items)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    nodes = quantized_nodes(onnx.load(str(fp32), load_external_data=False))
    log.info("calibrating and quantizing %d convolutions", len(nodes))
    quantize_static(
        str(fp32),
        str(out),
        Reader(calibration_feeds()),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["Conv"],
        nodes_to_quantize=nodes,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={"CalibPercentile": PERCENTILE},
    )


def write_int8(fp32: str | Path, path: str | Path) -> Path:
    """Quantize the fp32 export `fp32` into `path`, atomically."""
    return atomic_write(path, lambda tmp: quantize_file(Path(fp32), tmp))
