#!/usr/bin/env bash
# Set up (the first time, or when pyproject.toml or the Python changed: scripts/setup.sh skips pip when
# .venv is current) and start the app; with no API key configured it runs against the local sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Bytecode for the app's own modules (an editable install has none). Python writes it at the first start,
# except where PYTHONDONTWRITEBYTECODE is set (this project's machines set it): then every start compiled
# ~130 modules from source, ~100-150 ms of the start. Up to date, this takes ~60 ms.
.venv/bin/python -m compileall -q desktop ui sync >/dev/null || true
exec .venv/bin/connectsafely-desktop "$@"
