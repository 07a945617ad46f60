"""The demo's customers: a member is never made a customer, and nobody runs a customer's
command before they have their key and profile (the live run: tests/actors/member/test_demo.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from peoplenet.plugins.demo_customers import DemoCustomers
from peoplenet.plugins.manager import load_apps
from peoplenet.runtime.errors import DemoFailed
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.sim.localnet import LocalNode


def _customers(tmp_path: Path) -> DemoCustomers:
    alice = LocalNode("alice", DataDir(tmp_path / "alice"), Identity.generate().member_id)
    return DemoCustomers(tmp_path, "night riders", {"alice": alice})


def test_a_member_is_not_made_a_customer(tmp_path: Path) -> None:
    with pytest.raises(DemoFailed, match="alice is a member"):
        _customers(tmp_path).make("alice")
    assert not (tmp_path / "alice").exists()  # nothing was created for her


def test_a_customer_command_needs_the_customer_made_first(tmp_path: Path) -> None:
    registry = load_apps(use_entry_points=False)
    with pytest.raises(DemoFailed, match="frank is no customer"):
        _customers(tmp_path).command(registry, "ride_hailing", "frank", "history", {})
    assert not (tmp_path / "frank").exists()
