#!/usr/bin/env bash
# Set up (first time) and run every check: ruff (lint and format), mypy, then pytest.
# --quick: the same checks, but pytest runs the quick tier on two workers: everything except the stress
# runs, the benchmarks' smoke runs and the long tests (markers stress, bench, long, slow; the long ones
# are listed with their reasons in tests/fixtures/tiers.py). Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then quick=1; else args+=("$arg"); fi
done
bash scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
if [ "$quick" = 1 ]; then
  .venv/bin/python -m pytest -m "not (stress or bench or long or slow)" -n 2 ${args[@]+"${args[@]}"}
else
  .venv/bin/python -m pytest ${args[@]+"${args[@]}"}
fi
