"""``desktop.qt_import``: PySide6's per-module source scan replaced by a byte search of the file
(BENCHMARKS.md figure 5), with the same answers as PySide's own ``inspect.getsource()`` scan."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import types
from pathlib import Path

from desktop.qt_import import import_qt_quickly


def _pyside_scan(module: types.ModuleType) -> bool:
    """What PySide6's own helper answers: the text "PySide6" in ``inspect.getsource(module)``."""
    try:
        return "PySide6" in inspect.getsource(module)
    except (TypeError, OSError, SyntaxError):
        return False


def test_the_byte_search_answers_as_pyside_does_and_is_installed_once(tmp_path: Path) -> None:
    import_qt_quickly()
    feature = sys.modules["shibokensupport.feature"]
    installed = feature._mod_uses_pyside
    assert getattr(installed, "reads_bytes", False)
    import_qt_quickly()
    assert feature._mod_uses_pyside is installed  # not wrapped twice

    modules = [importlib.import_module(n) for n in ("ui.main_window", "sync.model", "desktop.qt_import")]
    modules += [json, sys, types]  # a module of the standard library, a builtin one, a frozen one
    missing = types.ModuleType("gone")
    missing.__file__ = str(tmp_path / "gone.py")  # its file was removed since: PySide's answer (no)
    answers = {m.__name__: installed(m) for m in [*modules, missing]}
    assert answers == {m.__name__: _pyside_scan(m) for m in [*modules, missing]}
    assert answers["ui.main_window"] and not answers["sync.model"] and not answers["sys"]
