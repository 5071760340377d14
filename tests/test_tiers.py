"""The quick tier's list of long tests (tests/fixtures/tiers.py) names tests that exist."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.fixtures.tiers import LONG_TESTS, long_reason

ROOT = Path(__file__).resolve().parent.parent


def test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


test_functions.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def test_every_long_entry_names_a_test_that_exists() -> None:
    """A renamed or removed test would silently come back into the quick tier (or never leave it)."""
    stale = []
    for module, entries in LONG_TESTS.items():
        path = ROOT / module
        if not path.is_file():
            stale.append(module)
            continue
        names = test_functions(path)
        stale += [
            f"{module}::{entry}" for entry, _ in entries if entry and entry.partition("[")[0] not in names
        ]
    assert not stale, "tests/fixtures/tiers.py names tests that do not exist:\n" + "\n".join(stale)


def test_entries_match_whole_functions_parametrisations_and_modules() -> None:
    matrix = (
        "tests/sync/core/test_recall_service.py::"
        "test_the_recall_fault_matrix_never_reports_recalled_without_evidence_nor_deletes_falsely"
    )
    assert long_reason(f"{matrix}[vendor-429-before-ok]")
    assert long_reason(f"{matrix}[contract-timeout-after-wrong conversation]")
    assert long_reason(f"{matrix}[vendor-500-before-ok]") is None  # the fast faults stay quick
    assert long_reason("tests/sync/realtime/test_watch_process.py::test_anything")
    assert long_reason("tests/desktop/test_gui.py::test_the_grace_period_cancel_sends_nothing")
    assert (
        long_reason("tests/desktop/test_gui.py::test_older_history_loads_from_the_server_as_you_scroll_up")
        is None
    )
    assert (
        long_reason(
            "tests/desktop/test_gui.py::test_a_failed_recall_leaves_the_bubble_and_shows_its_reason[404]"
        )
        is None
    )
