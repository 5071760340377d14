#!/usr/bin/env bash
# Set up (the first time, or when pyproject.toml or the Python changed: scripts/setup.sh skips pip when
# .venv is current) and start the app; with no API key configured it runs against the local sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/connectsafely-desktop "$@"
