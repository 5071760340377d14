"""Source comments cite the design by a section of ARCHITECTURE.md, which a clone carries.

``DESIGN.md`` lives outside the repository; a citation of it sends the next engineer nowhere. And a
citation of a section that does not exist (after a renumbering) is as bad.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_FOLDERS = ("desktop", "ui", "sync", "tests", "scripts")
CITATION = re.compile(r"ARCHITECTURE\.md\s+§(\d+)")


def sources() -> list[Path]:
    return [path for folder in CODE_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]


def test_no_source_cites_the_design_document_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources()
        if path != this_file
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bDESIGN\b", line)
    ]
    assert offenders == [], offenders


def test_every_cited_section_exists() -> None:
    headings = re.findall(r"^## (\d+)\. ", (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"), re.M)
    assert headings, "ARCHITECTURE.md has no numbered sections"
    cited = {
        (int(number), str(path.relative_to(ROOT)))
        for path in sources()
        for number in CITATION.findall(path.read_text(encoding="utf-8"))
    }
    assert len(cited) >= 20  # the sources do cite it
    missing = sorted((number, where) for number, where in cited if str(number) not in headings)
    assert missing == [], missing
