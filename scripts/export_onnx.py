"""Export the loaded weights to ONNX for onnxruntime / kokoro-onnx: `python scripts/export_onnx.py
output=DIR` writes DIR/kokoro.onnx and DIR/kokoro.int8.onnx (see docs/onnx_export.md)."""

from kokoro_lab.tasks.entries import entry

main = entry("export_onnx")  # also `python -m kokoro_lab export_onnx`

if __name__ == "__main__":
    main()
