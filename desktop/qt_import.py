"""Qt for Python's import hook, made cheaper for the app's start (BENCHMARKS.md figure 5).

Once imported, PySide6 looks at every module imported after it to learn whether that module uses
PySide (for its opt-in ``from __feature__ import ...`` switches): ``inspect.getsource()`` of each one,
through ``linecache`` and ``tokenize``, then a search for the text "PySide6". For the ~190 modules the
window imports, that was 25-40 ms of a ~380 ms start on a 2-core machine. Reading the file's bytes and
searching them answers the same question at a fraction of the cost; anything that is not a plain ``.py``
file is still answered by PySide's own function.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

_FEATURE_MODULE = "shibokensupport.feature"
"""Where PySide6 (6.4 and later) keeps the hook's helper once ``PySide6`` is imported."""


def import_qt_quickly() -> None:
    """Import PySide6 and replace its per-module source scan with a byte search of the file. Idempotent;
    a PySide6 without that helper is left as it is."""
    import PySide6.QtCore  # noqa: F401 - the hook is set up by this import

    feature = sys.modules.get(_FEATURE_MODULE)
    upstream: Callable[[ModuleType], bool] | None = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or upstream is None or getattr(upstream, "reads_bytes", False):
        return

    def uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return upstream(module)
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return upstream(module)

    uses_pyside.reads_bytes = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]
