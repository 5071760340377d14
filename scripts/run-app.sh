#!/usr/bin/env bash
# Set up (first time) and start the app; with no API key configured it runs against the local sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/connectsafely-desktop "$@"
