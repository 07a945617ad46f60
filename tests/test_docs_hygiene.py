"""The documentation a member reads is whole: no merge leftovers, no links out of the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^(<<<<<<< |=======$|>>>>>>> )", re.MULTILINE)


def test_no_page_carries_merge_conflict_markers() -> None:
    marked = [str(p.relative_to(ROOT)) for p in PAGES if MARKER.search(p.read_text("utf-8"))]
    assert marked == []


def test_no_page_points_outside_the_repository() -> None:
    outside = [str(p.relative_to(ROOT)) for p in PAGES if "../shared" in p.read_text("utf-8")]
    assert outside == []


def test_every_relative_link_between_pages_resolves() -> None:
    link = re.compile(r"\]\(([^)#:\s]+\.md)(#[^)]*)?\)")
    broken = [
        f"{page.relative_to(ROOT)} -> {target}"
        for page in PAGES
        for target, _ in link.findall(page.read_text("utf-8"))
        if not (page.parent / target).is_file()
    ]
    assert broken == []
