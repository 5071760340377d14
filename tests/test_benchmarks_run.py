"""The benchmarks must not rot: each one runs once at the small size and prints its figure.

No timing is asserted here (these machines are noisy and CI is not where figures are taken); the full
figures come from ``python -m tests.bench`` on demand and live in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.gui
@pytest.mark.bench
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_benchmark_runs_once_at_the_small_size(name: str, tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    command = [sys.executable, "-m", "tests.bench", name, "--size", "small", "--runs", "1"]
    command += ["--output", str(report), "--workdir", str(tmp_path / "work")]
    proc = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    figure = BENCHMARKS[name].FIGURE
    assert f"[{figure}] " in proc.stdout, proc.stdout
    assert "baseline" in proc.stdout and "ratio" in proc.stdout
    assert f"<!-- bench:{name} -->" in report.read_text(encoding="utf-8")
