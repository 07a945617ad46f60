"""The demo is a scenario with checkable outcomes, not only narration."""

from __future__ import annotations

import io
from pathlib import Path

from peoplenet.runtime.sim.demo import MEMBERS, POSTS, run_demo


def test_demo_converges_refuses_forgery_and_catches_equivocation(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path, out=out)
    posts = sum(len(p) for p in POSTS.values())
    assert result.converged
    # every post, plus erin's two conflicting votes; the forgery never enters
    assert set(result.blocks_per_member.values()) == {posts + 2}
    assert result.forgeries_rejected >= 1
    assert set(result.equivocators_seen) == set(MEMBERS)
    assert result.dropped > 0  # the network really was lossy
    text = out.getvalue()
    assert "REFUSED a block from mallory: forged_signature" in text
    assert "all phones agree on the same blocks in the same order: yes" in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".sqlite3") == sorted(
        f"{m}.sqlite3" for m in MEMBERS
    )


def test_demo_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = run_demo(tmp_path / "a", seed=3)
    two = run_demo(tmp_path / "b", seed=3)
    assert one.lines[1:] == two.lines[1:]  # line 0 is the title; all else is seeded
    assert one.order_digest == two.order_digest
