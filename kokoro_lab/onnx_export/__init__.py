"""Our ONNX export of KokoroModel: kokoro-onnx's interface, fp32 and int8 (docs/onnx_export.md).

`python scripts/export_onnx.py output=DIR` -> DIR/kokoro.onnx, DIR/kokoro.int8.onnx.
"""
