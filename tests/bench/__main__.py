"""``python -m tests.bench [name ...] [--size small|full] [--runs N] [--output PATH]``: run benchmarks.

Each benchmark prints its figure beside the baseline measured in the same run and the ratio, then its
section of ``BENCHMARKS.md`` (at the repository root, or ``--output``) is rewritten. With no name, all
of them run in figure order. Progress goes to stderr, figures to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from tests.bench import (
    first_run,
    ingest,
    lateness,
    memory,
    open_conversation,
    polling,
    recall,
    resync,
    search,
    startup,
)
from tests.bench.common import (
    DEFAULT_WORKDIR,
    ROOT,
    Options,
    load_average,
    load_note,
    print_figure,
    write_report,
)

BENCHMARKS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        ingest,
        resync,
        lateness,
        recall,
        startup,
        open_conversation,
        memory,
        first_run,
        search,
        polling,
    )
}


LOAD_SAMPLE_S = 10.0


@contextlib.contextmanager
def sampling_load() -> Iterator[list[float]]:
    """The 1-minute load average, sampled when the block starts, every ``LOAD_SAMPLE_S`` and when it ends."""
    samples = [load_average()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(LOAD_SAMPLE_S):
            samples.append(load_average())

    thread = threading.Thread(target=sample, name="load-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(load_average())


def compile_app() -> None:
    """Bytecode for the app's own modules, as ``scripts/run-app.sh`` writes it before every start: the
    children start the app as a user's installation does, not compiling ~130 modules from source (this
    machine sets ``PYTHONDONTWRITEBYTECODE``, so Python would never cache them itself). The bare baselines
    import only compiled code (PySide6, the standard library) either way."""
    import compileall

    for folder in ("desktop", "ui", "sync"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", choices=[[], *BENCHMARKS], metavar="name", help=", ".join(BENCHMARKS)
    )
    parser.add_argument("--size", choices=("small", "full"), default="full")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is reported")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", help="report to update")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch and cached data")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    options = Options(size=args.size, runs=max(1, args.runs), workdir=args.workdir)
    compile_app()
    command = "python -m tests.bench " + shlex.join(argv) if argv else "python -m tests.bench"
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name} ({args.size}, {options.runs} run(s))", file=sys.stderr, flush=True)
        try:
            with sampling_load() as loads:
                figure = BENCHMARKS[name].run(options)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        if not any(note.startswith("load average") for note in figure.notes):
            figure.notes.append(load_note(loads))  # figures that share runs (5–7) say their own
        print_figure(figure)
        write_report(args.output, [figure], command)
        print(f"   {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
