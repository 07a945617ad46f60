"""The currency's part of ``make demo``: how the demo's cooperative enables it, from its hook."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from peoplenet.apps.currency.demo import DEMO_MINT, DEMO_SETTINGS
from peoplenet.plugins.demo import DemoEnabling, DemoStepFailed
from peoplenet.plugins.manager import load_apps
from peoplenet.runtime.wire.codec import Value


class _Driver:
    """The demo's people, nothing live: what ``peoplenet_demo_enable`` may use."""

    def __init__(self, members: tuple[str, ...]) -> None:
        self.app = "currency"
        self.members = members

    def member_id(self, name: str) -> str:
        return name.encode().hex()

    def command(self, name: str, command: str, **args: Value) -> Value:
        raise AssertionError("the app is not enabled yet")

    def until(self, what: str, check: Callable[[], bool]) -> None:
        raise AssertionError("nothing to wait for")

    def step(self, title: str) -> None:
        raise AssertionError("enabling is the demo's step")

    def say(self, text: str) -> None:
        raise AssertionError("enabling is the demo's step")


def _enable(members: tuple[str, ...]) -> object:
    registry = load_apps(use_entry_points=False)
    assert registry.implements("currency", "peoplenet_demo_enable")
    return registry.hook("currency", "peoplenet_demo_enable")(demo=_Driver(members))


def test_the_demo_enables_the_currency_minting_coins_to_the_fifth_person() -> None:
    enabling = _enable(("alice", "bob", "carol", "dave", "erin"))
    assert enabling == DemoEnabling(
        settings=DEMO_SETTINGS,
        action={"mint": DEMO_MINT, "to": b"erin".hex()},
        note=f"minting {DEMO_MINT} cooperative coins to erin",
    )


def test_the_currency_demo_needs_five_people() -> None:
    with pytest.raises(DemoStepFailed, match="five people"):
        _enable(("alice", "bob"))
