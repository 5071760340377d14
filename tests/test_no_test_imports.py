"""No file under tests/ imports a ``test_*`` module: what tests share lives in a helper module.

Importing a test module runs its collection-time side effects twice and pulls its tests into the
importer's namespace (pytest then collects them twice); a shared helper hidden in one test file is also
invisible to whoever edits that file. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, name: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, module ``name``; for
    ``from package import x`` both ``package`` and ``package.x`` (x may be a submodule)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def test_module_imports(source: str, name: str, *, is_package: bool = False) -> list[str]:
    """The ``test_*`` modules of this repository that ``source`` imports, as ``line: module``."""
    found = []
    for line, module in imported_modules(source, name, is_package=is_package):
        if module.split(".")[0] != "tests" or not module.rpartition(".")[2].startswith("test_"):
            continue
        if (ROOT / Path(*module.split("."))).with_suffix(".py").exists():
            found.append(f"{line}: {module}")
    return found


test_module_imports.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def test_the_check_sees_every_form_of_import() -> None:
    """The check itself can fail: each way of importing tests/desktop/test_cli.py is caught."""
    forms = [
        "from tests.desktop.test_cli import test_a_malformed_urn_is_bad_input",
        "from tests.desktop import test_cli",
        "import tests.desktop.test_cli",
        "def f():\n    from tests.desktop.test_cli import test_a_malformed_urn_is_bad_input",
    ]
    for source in forms:
        assert test_module_imports(source, "tests.ui.test_x") == [
            f"{source.count(chr(10)) + 1}: " + "tests.desktop.test_cli"
        ], source
    relative = "from .test_cli import test_a_malformed_urn_is_bad_input"
    assert test_module_imports(relative, "tests.desktop.test_cli_terminal") == ["1: tests.desktop.test_cli"]
    assert test_module_imports("from tests.fixtures.cli import run_cli", "tests.desktop.test_cli") == []
    assert test_module_imports("from .fakes import reader_with", "tests.ui.test_x") == []


def test_no_file_under_tests_imports_a_test_module() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = module_name(path)
        for found in test_module_imports(source, name, is_package=path.name == "__init__.py"):
            offenders.append(f"{path.relative_to(ROOT)}:{found}")
    assert not offenders, "move what they share into a helper module (e.g. tests/fixtures/):\n" + "\n".join(
        offenders
    )
