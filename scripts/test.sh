#!/usr/bin/env bash
# The one test command: set up .venv/ (idempotent), lint, then run the whole suite.
# Extra arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -q "$@"
