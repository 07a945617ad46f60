"""A customer's ride commands (``rider_client``) over the real host, without processes: the
customer's side signs each step, member 0's node carries it (its ``customer_request``
command), the order applies it, and the customer learns outcomes and steps as receipts would
say them (here: straight from the host's results, which every member's node signs alike)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from peoplenet.actors.coop.customer_desk import carried_requests, declared_events
from peoplenet.apps.ride_hailing import plugin
from peoplenet.apps.ride_hailing.conformance import Customer
from peoplenet.apps.ride_hailing.records import Accept, Arrive, Complete, DriverOnline, Start
from peoplenet.plugins.api import AppCommandError, CustomerOutcome, Record, Value
from peoplenet.plugins.kit import CUSTOMER_COMMAND, sign_request
from peoplenet.plugins.testing import COMMUNITY, AppHarness
from peoplenet.runtime.wire.codec import encode

FROM, TO = "45.4642,9.19", "45.4781,9.2270"


class Side:
    """:class:`~peoplenet.plugins.api.CustomerSide` over a harness (what receipts would say)."""

    def __init__(self, h: AppHarness) -> None:
        self.h, self.customer, self.seq = h, Customer(), 0
        self.said: dict[tuple[bytes, str], CustomerOutcome] = {}
        self.values: dict[str, Value] = {}

    @property
    def me(self) -> bytes:
        return self.customer.member_id

    @property
    def community(self) -> bytes:
        return COMMUNITY

    def send(self, body: Record) -> bytes:
        self.seq += 1
        req = sign_request(self.customer, COMMUNITY, plugin.NAME, self.seq, body)
        _, submitted = self.h.command(CUSTOMER_COMMAND, {"request": encode(req)})
        for tx in submitted:
            self.order(tx, 0)
        return req.digest

    def order(self, tx: Record, member: int) -> dict[str, Any]:
        """``tx`` from ``member`` is ordered: note what a member's desk would receipt."""
        result: dict[str, Any] = self.h.submit(tx, member=member)
        at = (result["epoch"], result["position"])
        for req in carried_requests(encode(tx)):
            status, why = result["status"], result.get("reason", "")
            self.said.setdefault((req.digest, ""), CustomerOutcome(status, why, *at, 3))
        if result["status"] == "applied":
            for digest, event, detail in declared_events(result["result"]):
                self.said.setdefault((digest, event), CustomerOutcome(event, detail, *at, 3))
        return result

    def outcome(self, request: bytes, event: str = "", wait_s: float = 0.0) -> Any:
        return self.said.get((request, event))

    def unseal(self, sealed: Any, context: bytes) -> bytes:
        raise AssertionError("the client keeps its places; it opens nothing here")

    def kept(self, name: str) -> Value:
        return self.values.get(name)

    def keep(self, name: str, value: Value) -> None:
        self.values[name] = value


@pytest.fixture
def side() -> Iterator[Side]:
    with AppHarness(plugin, members=4) as h:
        h.enable({"currency": "CHF"})
        assert h.submit(DriverOnline((4546, 919)), member=1)["status"] == "applied"
        yield Side(h)
        assert h.problems() == []


def run(side: Side, command: str, **args: Value) -> Any:
    return plugin.peoplenet_customer_command(command=command, args=args, customer=side)


def test_a_customer_requests_is_quoted_followed_and_reseals_the_places_to_the_driver(
    side: Side,
) -> None:
    quoted = run(side, "request", **{"from": FROM, "to": TO})
    assert set(quoted) == {"ride", "quote_low", "quote_high", "currency"}
    assert quoted["currency"] == "CHF" and 0 < quoted["quote_low"] < quoted["quote_high"]
    ride = bytes.fromhex(quoted["ride"])
    state = side.h.state
    assert isinstance(state, plugin.RideState)
    found = state.book.rides[ride]
    assert found.rider == side.me
    assert (found.request.quote_low, found.request.quote_high) == (
        quoted["quote_low"],
        quoted["quote_high"],
    )
    assert run(side, "show", ride=quoted["ride"][:8])["state"] == "offered"
    side.order(Accept(ride), 1)
    shown = run(side, "show", ride=quoted["ride"])
    assert (shown["state"], shown["driver"]) == ("assigned", side.h.members[1].hex())
    assert found.details is not None and found.details.recipients == tuple(
        sorted((side.me, side.h.members[1]))
    )  # resealed to the driver, once
    run(side, "show", ride=quoted["ride"])
    assert side.seq == 2
    side.order(Arrive(ride), 1)
    side.order(Start(ride, shown["code"]), 1)
    fare = state.book.fare_of(found, 3000, 600, plugin._env(state, side.h.context("ride_hailing")))
    side.order(Complete(ride, 3000, 600, fare.total), 1)
    (row,) = run(side, "history")
    assert row == {
        "ride": quoted["ride"],
        "rider": side.me.hex(),
        "driver": side.h.members[1].hex(),
        "state": "completed",
        "fare": fare.total,
        "paid": True,
        "commission": found.commission,
        "currency": "CHF",
    }
    assert run(side, "rate", ride=quoted["ride"], score=5)["status"] == "applied"


def test_the_folds_refusal_is_the_commands_and_drivers_steps_are_members_only(
    side: Side,
) -> None:
    ride = run(side, "request", **{"from": FROM, "to": TO})["ride"]
    assert run(side, "cancel", ride=ride)["status"] == "applied"
    with pytest.raises(AppCommandError) as refused:
        run(side, "cancel", ride=ride)  # the member's node refuses to carry it
    assert refused.value.reason == "ride_closed"
    with pytest.raises(AppCommandError) as refused:
        run(side, "accept", ride=ride)
    assert refused.value.reason == "members_only"
    with pytest.raises(AppCommandError) as refused:
        run(side, "show", ride="ffffff")
    assert refused.value.reason == "unknown_ride"
