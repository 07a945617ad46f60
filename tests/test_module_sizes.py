"""Modules stay small: one over 700 lines says why at the top of its docstring.

Why: a module is one job, and a long one has usually grown a second.  Some are one job that is
long (one state machine, one fold); those say so in a line starting ``Over 700 lines because``,
so the next reader knows the length was a choice and what would have to change to split it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "peoplenet"
LIMIT = 700
REASON = "Over 700 lines because"


def _modules() -> list[Path]:
    """Every module of the import package (its sub-packages are links to the top folders)."""
    found = sorted(PACKAGE.glob("*.py"))
    for part in sorted(PACKAGE.iterdir()):
        if part.is_dir():
            found += sorted(p for p in part.resolve().rglob("*.py") if "__pycache__" not in p.parts)
    return found


def _has_reason(source: str) -> bool:
    doc = ast.get_docstring(ast.parse(source)) or ""
    head = doc.split("\n\n")[:2]  # the summary line and the paragraph after it
    return any(line.strip().startswith(REASON) for part in head for line in part.splitlines())


def test_the_walk_sees_every_layer() -> None:
    names = {p.relative_to(ROOT).parts[0] for p in _modules()}
    assert {"peoplenet", "runtime", "actors", "plugins", "apps", "bench"} <= names


def test_no_module_over_700_lines_without_a_reason_at_the_top() -> None:
    unexplained = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > LIMIT and not _has_reason(source):
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert unexplained == [], f"split these, or say '{REASON} ...' at the top of the docstring"


def test_the_reason_is_read_where_it_is_written() -> None:
    assert _has_reason(f'"""Summary.\n\n{REASON} it is one state machine.\n"""\n')
    assert not _has_reason('"""Summary.\n\nIt is long.\n"""\n')
    assert not _has_reason(f'"""Summary.\n\nOther.\n\nLater: {REASON} x.\n"""\n')
