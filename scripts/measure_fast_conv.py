"""Fast convolutions per shape against F.conv1d on this machine (docs/benchmarks.md):

    python scripts/measure_fast_conv.py docs/fast_conv.json [THREADS]

times the FFT route (best block length) and the int8 convolution on every generator shape,
interleaved with F.conv1d; writes the JSON and prints a markdown table."""

import json
import sys

from kokoro_lab.acceleration.measure_fast_conv import measure_fast_conv, render_rows
from kokoro_lab.io import atomic_write

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    result = measure_fast_conv(threads=int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    text = json.dumps(result, indent=1) + "\n"
    atomic_write(sys.argv[1], lambda p: p.write_text(text))
    print(render_rows(result))
