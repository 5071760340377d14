"""Shared benchmark helpers: statistics, machine facts, child processes, and the BENCHMARKS.md writer.

A benchmark module exposes ``NAME``, ``FIGURE`` (the issue's row number), ``TITLE`` and
``run(options) -> Figure``. The dispatcher (``python -m tests.bench``) prints each figure beside its
baseline and writes it to ``BENCHMARKS.md`` (or ``--output``), replacing only that figure's section so
that running one benchmark leaves the others' last results in place.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
Size = Literal["small", "full"]
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "connectsafely-bench"


@dataclass(frozen=True, slots=True)
class Options:
    size: Size = "full"
    runs: int = 5
    workdir: Path = DEFAULT_WORKDIR
    """Scratch space; pre-populated caches are kept here between invocations (they take a while)."""
    verbose: bool = False

    def log(self, text: str) -> None:
        """Progress on stderr, so stdout carries only the figures."""
        print(f"  · {text}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Figure:
    """One row of the issue's table, as measured: medians over ``runs`` of the figure and its baseline."""

    number: int
    name: str
    title: str
    unit: str
    value: float
    baseline: float
    goal: str
    met: bool | None
    ratio: float | None = None
    runs: int = 0
    size: str = ""
    baseline_title: str = ""
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Extra table rows: (what, figure, baseline, ratio) as already formatted strings."""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.value / self.baseline


# --- statistics ------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def fmt(value: float, unit: str = "") -> str:
    """Readable numbers: thousands separators for big ones, three significant digits for small ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def ratio_text(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}×"


# --- machine facts ---------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu_model(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{p} {version(p)}" for p in ("PySide6-Essentials", "peewee", "websockets", "httpx", "qasync")
        ),
        "sqlite": __import__("sqlite3").sqlite_version,
    }


# --- scratch space and child processes -------------------------------------------------------------------


@contextmanager
def scratch(options: Options, name: str) -> Iterator[Path]:
    """A fresh directory under the work dir, removed afterwards (a 1M-row cache is ~0.5 GB)."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=options.workdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmark child: offscreen Qt, this checkout first on the path, no keyring."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["QT_API"] = "pyside6"
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env.update(extra)
    return env


def spawn_child(
    module: str, args: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> tuple[Any, float]:
    """Run ``python -m <module> <args>``; (the JSON object of its last stdout line, ``perf_counter()`` just
    before the spawn — the child's ``CLOCK_MONOTONIC`` stamps compare with it directly).

    Children measure in fresh interpreters: a QApplication cannot be made twice in one process, and
    start-up figures need a cold process anyway.
    """
    started = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-m", module, *args],
        cwd=ROOT,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} exited {proc.returncode} after "
            f"{time.perf_counter() - started:.1f} s:\n{proc.stderr[-4000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} printed no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1]), started


def run_child(module: str, args: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> Any:
    """:func:`spawn_child`'s result alone."""
    return spawn_child(module, args, timeout=timeout, env=env)[0]


def emit(result: dict[str, Any]) -> None:
    """A child's result: one JSON line on stdout (the parent reads the last one)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def rss_mb() -> float:
    """Resident set size of this process now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def load_average() -> float:
    """The machine's 1-minute load average now (NaN where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


def load_note(samples: Sequence[float]) -> str:
    """How busy the machine was: the 1-minute load average sampled around the runs."""
    finite = [s for s in samples if not math.isnan(s)]
    if not finite:
        return "load average: unknown"
    cores = machine()["nproc"]
    return f"load average (1 min) around the runs: {min(finite):.2f}–{max(finite):.2f} on {cores} cores"


def timed_runs(
    options: Options, label: str, one: Callable[[int], dict[str, float]]
) -> list[dict[str, float]]:
    """Call ``one(i)`` ``options.runs`` times, logging each run's figures."""
    results = []
    for i in range(options.runs):
        started = time.perf_counter()
        result = one(i)
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in result.items() if isinstance(v, int | float))
        options.log(f"{label} run {i + 1}/{options.runs} ({time.perf_counter() - started:.1f} s): {shown}")
        results.append(result)
    return results


# --- output ----------------------------------------------------------------------------------------------


def print_figure(figure: Figure) -> None:
    verdict = {True: "goal met", False: "GOAL NOT MET", None: "no goal verdict"}[figure.met]
    print(
        f"[{figure.number}] {figure.title}: {fmt(figure.value, figure.unit)}"
        f" | baseline {fmt(figure.baseline, figure.unit)} | ratio {ratio_text(figure.ratio)}"
        f" | goal {figure.goal}: {verdict} | median of {figure.runs} run(s), size {figure.size}",
        flush=True,
    )
    for what, value, baseline, ratio in figure.rows:
        print(f"    {what}: {value} | baseline {baseline} | {ratio}", flush=True)


NOTES_MARK = "<!-- bench:notes -->"
"""Where hand-written analysis starts: new figure sections are inserted above it."""
HEADER = """# Benchmarks

Measured by `tests/bench/` (`python -m tests.bench [name ...] [--size small|full] [--runs N]`); each figure
is printed beside a baseline measured in the same run, and this file is rewritten section by section
(text outside the `bench:` markers is kept). Benchmarks are not tests: CI only runs each once at the small
size (`tests/test_benchmarks_run.py`). Medians of the stated number of runs; the machines are noisy.
"""


def _section(figure: Figure, command: str, facts: dict[str, str]) -> str:
    verdict = {True: "**met**", False: "**not met**", None: "n/a"}[figure.met]
    lines = [
        f"## {figure.number}. {figure.title}",
        "",
        "| what | median | baseline (same run) | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
        f"| {figure.title} | {fmt(figure.value, figure.unit)} | {fmt(figure.baseline, figure.unit)}"
        f" | {ratio_text(figure.ratio)} | {figure.goal} | {verdict} |",
    ]
    lines += [f"| {w} | {v} | {b} | {r} | | |" for w, v, b, r in figure.rows]
    lines += [
        "",
        f"- baseline: {figure.baseline_title}",
        f"- runs: {figure.runs} (median), size: {figure.size}",
        f"- command: `{command}`",
        f"- machine: nproc {facts['nproc']}, CPU {facts['cpu']}; Python {facts['python']}, "
        f"SQLite {facts['sqlite']}; {facts['versions']}",
        f"- date: {facts['date']}",
    ]
    lines += [f"- {note}" for note in figure.notes]
    return "\n".join(lines)


def write_report(path: Path, figures: Sequence[Figure], command: str) -> None:
    """Replace (or add, in figure order) each figure's marked section of ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    facts = machine()
    for figure in figures:
        begin, end = f"<!-- bench:{figure.name} -->", f"<!-- /bench:{figure.name} -->"
        block = f"{begin}\n{_section(figure, command, facts)}\n{end}"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _m, b=block: b, text)
            continue
        # Keep sections in figure order: insert before the first section with a higher number.
        later = [
            m
            for m in re.finditer(r"<!-- bench:(\w+) -->\n## (\d+)\.", text)
            if int(m.group(2)) > figure.number
        ]
        if later:
            at = later[0].start()
        elif NOTES_MARK in text:
            at = text.index(NOTES_MARK)  # hand-written notes stay below the figures
        else:
            at = -1
        if at >= 0:
            text = text[:at] + block + "\n\n" + text[at:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
