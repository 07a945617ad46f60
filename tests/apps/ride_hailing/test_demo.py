"""Ride-hailing's part of ``make demo``: how the demo's cooperative enables it, and who plays
whom (the live run is ``tests/actors/member/test_demo.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from peoplenet.apps.ride_hailing.demo import DEMO_SETTINGS, RIDER, cast_of
from peoplenet.apps.ride_hailing.plugin import SPEC
from peoplenet.plugins.demo import DemoDriver, DemoEnabling, DemoStepFailed
from peoplenet.plugins.manager import load_apps
from peoplenet.runtime.wire.codec import Value

FIVE = ("alice", "bob", "carol", "dave", "erin")


class _Driver:
    """The demo's people, nothing live: what ``peoplenet_demo_enable`` may use."""

    def __init__(self, members: tuple[str, ...]) -> None:
        self.app = "ride_hailing"
        self.members = members

    def member_id(self, name: str) -> str:
        return name.encode().hex()

    def command(self, name: str, command: str, **args: Value) -> Value:
        raise AssertionError("the app is not enabled yet")

    def customer(self, name: str) -> str:
        raise AssertionError("no customer before the app is enabled")

    def customer_command(self, name: str, command: str, **args: Value) -> Value:
        raise AssertionError("the app is not enabled yet")

    def until(self, what: str, check: Callable[[], bool]) -> None:
        raise AssertionError("nothing to wait for")

    def step(self, title: str) -> None:
        raise AssertionError("enabling is the demo's step")

    def say(self, text: str) -> None:
        raise AssertionError("enabling is the demo's step")


def _enable(members: tuple[str, ...]) -> object:
    registry = load_apps(use_entry_points=False)
    assert registry.implements("ride_hailing", "peoplenet_demo_enable")
    assert registry.implements("ride_hailing", "peoplenet_demo")
    return registry.hook("ride_hailing", "peoplenet_demo_enable")(demo=_Driver(members))


def test_the_demo_enables_ride_hailing_with_cash_fares_in_euros() -> None:
    enabling = _enable(FIVE)
    assert enabling == DemoEnabling(settings=DEMO_SETTINGS, note="cash fares in EUR")
    declared = {p.name for p in SPEC.params}
    assert set(DEMO_SETTINGS) <= declared  # the vote would refuse a setting the app lacks


def test_two_members_drive_and_the_rider_is_no_member() -> None:
    driver: DemoDriver = _Driver(FIVE)
    assert cast_of(driver) == {"near": "bob", "east": "carol"}
    assert RIDER not in FIVE


def test_the_ride_demo_needs_three_people() -> None:
    with pytest.raises(DemoStepFailed, match="three people"):
        _enable(("alice", "bob"))
