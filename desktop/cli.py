"""The ``connectsafely-desktop`` entry point: the GUI by default, headless commands by name.

Headless commands never import PySide6: Qt is imported only inside the GUI command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

HEADLESS_COMMANDS = ("sandbox",)


def _run_sandbox(argv: Sequence[str]) -> int:
    from sync.sandbox.server import main as sandbox_main

    return int(sandbox_main(list(argv)))


def _run_gui(argv: Sequence[str]) -> int:
    print("The GUI is not built yet; see the README.", file=sys.stderr)
    return 2


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "sandbox": _run_sandbox,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        return COMMANDS[args[0]](args[1:])
    if args and args[0] in ("-h", "--help"):
        print("usage: connectsafely-desktop [" + " | ".join(COMMANDS) + "] ...")
        return 0
    return _run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
