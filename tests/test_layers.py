"""The layer rules of ARCHITECTURE.md §2, checked by following imports transitively.

`sync/` must never reach Qt or qasync; `ui/` must never reach httpx, peewee, websockets, aiohttp
or any `sync` module other than `sync.model` and `sync.recall_rules` (the recall rules the UI shows,
stdlib and `sync.model` only). Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("sync", "desktop", "ui", "resources")
QT = ("PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6")
UI_FORBIDDEN_THIRD_PARTY = ("httpx", "peewee", "websockets", "aiohttp", "msgspec", "sqlite3")


def module_file(name: str) -> Path | None:
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


def imports_of(name: str, path: Path) -> Iterator[str]:
    """Every absolute module name imported anywhere in a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            for alias in node.names:
                # `from sync import urns` imports the submodule sync.urns.
                if module_file(f"{target}.{alias.name}") is not None:
                    yield f"{target}.{alias.name}"


def closure(start: list[str], follow: tuple[str, ...]) -> dict[str, str]:
    """Transitive imports from `start`, following project modules under `follow`.

    Returns every module reached, mapped to the module that first imported it.
    """
    seen: dict[str, str] = {name: "<root>" for name in start}
    stack = list(start)
    while stack:
        current = stack.pop()
        path = module_file(current)
        if path is None:
            continue
        # Importing a.b.c also runs a/__init__ and a/b/__init__.
        parents = [".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)]
        for imported in [*imports_of(current, path), *parents]:
            if imported in seen:
                continue
            seen[imported] = current
            if imported.split(".")[0] in follow:
                stack.append(imported)
    return seen


def modules_under(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def chain(reached: dict[str, str], name: str) -> str:
    links = [name]
    while reached.get(links[-1], "<root>") != "<root>":
        links.append(reached[links[-1]])
    return " <- ".join(links)


def test_sync_never_reaches_qt() -> None:
    reached = closure(modules_under("sync"), follow=PROJECT_PACKAGES)
    bad = [chain(reached, m) for m in reached if m.split(".")[0] in QT]
    assert not bad, "sync/ reaches Qt:\n" + "\n".join(bad)
    # sync/ may not lean on the GUI shell either.
    upward = [chain(reached, m) for m in reached if m.split(".")[0] in ("desktop", "ui")]
    assert not upward, "sync/ imports desktop/ or ui/:\n" + "\n".join(upward)


UI_MAY_REACH_IN_SYNC = ("sync", "sync.model", "sync.recall_rules")


def test_ui_reaches_only_sync_model_and_the_recall_rules() -> None:
    reached = closure(modules_under("ui"), follow=PROJECT_PACKAGES)
    bad = [
        chain(reached, m)
        for m in reached
        if m.split(".")[0] in UI_FORBIDDEN_THIRD_PARTY
        or (m.startswith("sync") and m not in UI_MAY_REACH_IN_SYNC)
        or m.split(".")[0] == "desktop"
    ]
    assert not bad, "ui/ reaches forbidden modules:\n" + "\n".join(bad)


def test_checker_catches_a_lazy_forbidden_import(tmp_path: Path) -> None:
    """The walker must see imports inside functions, or the two tests above prove nothing."""
    source = "def later():\n    from PySide6 import QtCore\n    import sync.urns\n"
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = set(imports_of("probe", path))
    assert {"PySide6", "sync.urns"} <= found


@pytest.mark.parametrize("package", ["sync"])
def test_importing_every_sync_module_loads_no_qt(package: str) -> None:
    """The same rule at run time, in a fresh interpreter that makes Qt unimportable."""
    modules = [m for m in modules_under(package) if not m.endswith("__main__")]
    script = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {QT!r}:\n"
        "            raise ImportError('blocked by the layer test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"assert not [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
