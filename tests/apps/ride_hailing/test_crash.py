"""A driver's phone dies mid-trip: SIGKILL of its node after ``start``, a restart from its data
directory, and the trip still finishes -- completed, paid, rated -- with every node agreeing.

Five real node processes on loopback: the rider, three drivers and a member who neither drives
nor rides (the rest of the cooperative).  The nearest driver takes the ride and starts it; then
every process of that driver's node is killed at once, as a phone dies.  While it is down the
others go on (a driver goes offline, another moves).  It restarts from its data directory:
nothing it had is lost (the ride is still started and its own, its key and chain go on), it
catches up on what it missed, completes the trip, and both parties rate; every node ends with
the same ride, the same app state and the same cooperative state.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from tests.apps.ride_hailing.test_node import (
    APP,
    COOP,
    STEP,
    _found,
    _online,
    _read,
    _ride,
    _state,
    _submit,
)

PICKUP, DROPOFF = "45.4642,9.1900", "45.4781,9.2270"
WAITING = {"ben": "45.4642,9.1900", "cai": "45.4642,9.2050", "dia": "45.4642,9.2150"}
"""The three drivers: ben in the pickup's cell (offered first), cai and dia further east."""
SETTINGS = {"currency": "EUR", "offer_timeout_ms": 60_000, "rating_min_count": 1}


def _show(node: LocalNode, ride: str) -> dict[str, Any]:
    shown: dict[str, Any] = _read(node, "show", {"ride": ride})
    return shown


def _enable(made: list[LocalNode]) -> None:
    proposal = {"kind": "app", "subject": APP, "settings": json.dumps(SETTINGS)}
    number = _submit(made[0], "coop_propose", proposal)["opened"]
    assert wait_for(
        lambda: all(
            len(n.call("coop_show", {"community": COOP})["decisions"]) >= number for n in made
        ),
        STEP,
    )
    for node in made:
        _submit(node, "coop_vote", {"decision": number, "ballot": "true"})

    def enabled(node: LocalNode) -> bool:
        return bool(node.call("coop_app_status", {"community": COOP, "app": APP})["enabled"])

    assert wait_for(lambda: all(enabled(n) for n in made), STEP)


def _phase(node: LocalNode, ride: str) -> str | None:
    """The ride's state on ``node`` (any member's node shows any ride)."""
    try:
        return str(_show(node, ride)["state"])
    except LocalError:  # unknown_ride: the request is not ordered there yet
        return None


def _status(node: LocalNode) -> dict[str, Any]:
    status: dict[str, Any] = node.call("coop_app_status", {"community": COOP, "app": APP})
    return status


def _agreed(made: list[LocalNode], ride: str) -> bool:
    """Every node: the same ride, the same app state digest, the same cooperative state."""
    shows = [_show(n, ride) for n in made]
    keys = ("state", "rider", "driver", "fare", "paid", "commission", "offers", "ratings")
    same_ride = len({repr([s.get(k) for k in keys]) for s in shows}) == 1
    digests = {_status(n)["state_digest"] for n in made}
    coop = {n.call("coop_show", {"community": COOP})["digest"] for n in made}
    return same_ride and len(digests) == 1 and len(coop) == 1


@pytest.mark.processes
def test_a_drivers_node_killed_mid_trip_restarts_and_the_trip_finishes(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"ride-crash-{time.time_ns()}"
    made: list[LocalNode] = []
    identities: dict[str, Identity] = {}
    for name in ("ana", "ben", "cai", "dia", "eva"):
        data, identity = create_node(tmp_path / name, network=network)
        made.append(LocalNode(name, data, identity.member_id))
        identities[name] = identity
    ana, ben, cai, dia, _eva = made
    drivers = {"ben": ben, "cai": cai, "dia": dia}
    for node in made:
        nodes.append(node)
        node.start()
    _found(made, identities, tmp_path)
    _enable(made)

    for name, node in drivers.items():
        _ride(node, "online", "--at", WAITING[name])
    assert wait_for(lambda: all(_online(n, WAITING[k]) for k, n in drivers.items()), STEP)
    ride = _ride(ana, "request", "--from", PICKUP, "--to", DROPOFF)["ride"]
    assert wait_for(lambda: [o["ride"] for o in _read(ben, "offers")["offers"]] == [ride], STEP)
    _ride(ben, "accept", "--ride", ride)
    assert wait_for(lambda: _state(ben, ride) == "assigned", STEP)
    _ride(ben, "arrive", "--ride", ride)
    assert wait_for(lambda: _state(ben, ride) == "arrived", STEP)
    _ride(ben, "start", "--ride", ride, "--code", _show(ana, ride)["code"])
    assert wait_for(lambda: all(_phase(n, ride) == "started" for n in made), STEP)
    before = _show(ben, ride)
    assert before["pickup_at"] == _show(ana, ride)["pickup_at"]  # the sealed places, opened
    applied = _status(ben)["applied"]

    # ben's phone dies mid-trip: every process of its node at once
    ben.kill()
    assert not ben.running() and ben.group_pids() == set()
    # the others go on without him: dia goes offline, cai moves a cell east
    _ride(dia, "offline")
    assert _ride(cai, "position", "--at", "45.4642,9.2150")["sent"] is True
    assert wait_for(lambda: _online(cai, "45.4642,9.2150"), STEP)
    assert wait_for(lambda: not _online(dia, WAITING["dia"]), STEP)  # refused: not_online

    ben.start()  # from its data directory, the same key
    # nothing lost: the ride is still started and ben's; the places still open for him
    assert wait_for(lambda: _state(ben, ride) is not None, STEP)
    after = _show(ben, ride)
    assert after["state"] == "started" and after["driver"] == ben.member.hex()
    assert after["pickup_at"] == before["pickup_at"]
    assert _status(ben)["applied"] >= applied
    # and it caught up with what happened while it was down
    assert wait_for(lambda: _status(ben)["state_digest"] == _status(ana)["state_digest"], STEP)

    done = _ride(ben, "complete", "--ride", ride, "--metres", "3600", "--seconds", "600")
    fare = done["fare"]["total"]
    assert wait_for(lambda: all(_phase(n, ride) == "completed" for n in made), STEP)
    _ride(ana, "rate", "--ride", ride, "--score", "5")
    _ride(ben, "rate", "--ride", ride, "--score", "4")
    rated = {ana.member.hex(): 5, ben.member.hex(): 4}
    assert wait_for(lambda: all(_show(n, ride)["ratings"] == rated for n in made), STEP)

    shown = _show(ana, ride)
    assert shown["fare"] == fare and shown["paid"] is True and shown["driver"] == ben.member.hex()
    assert wait_for(lambda: _agreed(made, ride), STEP)
    for node in (ana, ben):
        (row,) = _ride(node, "history")
        assert row["state"] == "completed" and row["fare"] == fare and row["paid"] is True
    assert _read(ben, "earnings")["rides"] == 1 and _read(ben, "earnings")["rating"] == "5/1"
