"""The supervisor's pure helpers (actors/member/supervisor.py); the supervisor itself runs in
the process tests (test_processes.py, test_node_damage.py)."""

from __future__ import annotations

from peoplenet.actors.member.supervisor import unknown_community_text


def test_unknown_community_points_at_the_right_join_command() -> None:
    coop = unknown_community_text("riders", "coop_show", ["bakers"])
    assert "peoplenet coop join" in coop
    assert "bakers" in coop
    plain = unknown_community_text("riders", "community_status", [])
    assert "peoplenet community join" in plain
