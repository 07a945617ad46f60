"""What a trip makes the app recompute: once per change, not once per call.

Every ordered transaction reaches the app's check, apply and clock, and every step of the
order its duties (``peoplenet bench rides`` counts more than a hundred such calls per trip on
three phones).  What they share -- the voted policy, the commission rate, the ride a command names
-- is read once per change of what it comes from, not once per call: the benchmark's figures
are in docs/ride-hailing.md ("Cost").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any

import pytest

from peoplenet.apps.ride_hailing import payment, plugin
from peoplenet.apps.ride_hailing.conformance import CODE, R1, request
from peoplenet.apps.ride_hailing.policy import Policy
from peoplenet.apps.ride_hailing.trips import Ride
from peoplenet.plugins import harness
from peoplenet.plugins.api import Value
from peoplenet.plugins.testing import AppHarness

FROM = "45.4642,9.19"


def _trip(h: AppHarness) -> None:
    """Member 0 drives member 1's ride from request to completion, by commands."""
    h.enable({})
    _run(h, "online", {"at": FROM})
    assert h.submit(request(R1), member=1)["status"] == "applied"
    for op, args in (("accept", {}), ("arrive", {}), ("start", {"code": CODE})):
        _run(h, op, {"ride": R1.hex(), **args})
    _run(h, "complete", {"ride": R1.hex(), "metres": 3500, "seconds": 600})
    ride = h.state.book.rides[R1]  # type: ignore[attr-defined]
    assert isinstance(ride, Ride) and ride.state == "completed" and ride.paid


def _run(h: AppHarness, op: str, args: dict[str, Any]) -> None:
    _, submitted = h.command(op, args)
    for tx in submitted:
        assert h.submit(tx)["status"] == "applied"


@pytest.fixture
def h() -> Iterator[AppHarness]:
    with AppHarness(plugin, members=2) as harness:
        yield harness
        assert harness.problems() == []


def test_the_voted_policy_is_read_once_per_change_of_the_settings(
    h: AppHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: Counter[str] = Counter()
    parse = Policy.from_settings.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Policy], settings: Mapping[str, Value]) -> Policy:
        reads["policy"] += 1
        return parse(cls, settings)  # type: ignore[no-any-return]

    monkeypatch.setattr(Policy, "from_settings", classmethod(counted))
    _trip(h)
    # the vote enabling the app configures the book (1); the hooks read it once more (1)
    assert reads["policy"] <= 2, reads


def test_the_commission_rate_is_parsed_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: Counter[str] = Counter()

    def counted(text: str) -> Fraction:
        parsed[text] += 1
        return Fraction(text)

    rate = "7/97"  # a text no other test reads: parsed here first
    monkeypatch.setattr(harness, "RATES", {**harness.RATES, "commission": rate})
    monkeypatch.setattr(payment, "Fraction", counted)
    with AppHarness(plugin, members=2) as h:
        _trip(h)
        assert h.problems() == []
        assert h.state.book.rides[R1].commission > 0  # type: ignore[attr-defined]
    assert parsed[rate] == 1, parsed


def test_a_whole_ride_id_is_found_without_reading_every_rides_id(h: AppHarness) -> None:
    _trip(h)

    class Unscannable(dict[bytes, Ride]):
        def items(self) -> Any:
            raise AssertionError("every ride's id read to find one ride")

    book = h.state.book  # type: ignore[attr-defined]
    book.rides = Unscannable(book.rides)
    answer, _ = h.command("show", {"ride": R1.hex()})
    assert isinstance(answer, dict) and answer["ride"] == R1.hex()
    assert answer["state"] == "completed"
