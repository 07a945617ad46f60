"""Ride-hailing on four real nodes, through ``peoplenet ride ...``: the two ``--json`` contracts.

Four node processes on loopback found a cooperative and enable the app by vote.  Two members
go online as drivers, a third requests a ride (``peoplenet ride request --json`` prints
exactly the ride, its quote and the currency), the nearest driver accepts, arrives, starts
with the rider's code and completes; ``peoplenet ride history --json`` prints the rows with
exactly their keys, on the rider's and the driver's phones alike.

Then a rider who is not a member (a fifth data directory, no node running, the cooperative's
profile imported) requests a ride with the same command: the request is signed with the
customer's key and carried by a member's node; the customer's ``show`` follows the ride by
members' receipts (assigned, then completed) and reseals the exact places to the driver, whose
``show`` opens them.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from peoplenet.plugins.kit import geo
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.keys.keyfile import read_member_id
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import Value
from tests.coop_nodes import app_cli, app_read, cli_json, found_coop, make_nodes, submit_ordered

STEP = 60.0
COOP = "riders"
APP = "ride_hailing"
CHARTER = {"voting_period_ms": 3000, "admission_sureties": 2}
REQUEST_KEYS = {"ride", "quote_low", "quote_high", "currency"}
HISTORY_KEYS = {"ride", "rider", "driver", "state", "fare", "paid", "commission", "currency"}
STATES = {
    "requested",
    "offered",
    "assigned",
    "arrived",
    "started",
    "completed",
    "cancelled",
    "disputed",
}


def _ride(node: LocalNode | Path, *args: str) -> Any:
    """``peoplenet ride COMMAND --data D COOP ... --json`` on ``node`` (or a customer's data
    directory): its JSON answer."""
    return app_cli("ride", COOP, node, *args)


_cli = cli_json


def _read(node: LocalNode, command: str, args: dict[str, Value] | None = None) -> Any:
    return app_read(node, COOP, APP, command, args or {})


def _submit(node: LocalNode, op: str, args: dict[str, Any]) -> dict[str, Any]:
    return submit_ordered(node, COOP, op, args, step=STEP)


def _found(made: list[LocalNode], identities: dict[str, Identity], workdir: Path) -> None:
    """All found the cooperative (each signature made with that member's key)."""
    found_coop(made, identities, workdir / "riders.coop", COOP, CHARTER)


def _online(node: LocalNode, at: str) -> bool:
    """Whether the cooperative has ``node``'s member online at ``at``'s cell (ordered)."""
    try:
        return bool(_read(node, "position", {"at": at}) == {"cell": list(_cell(at)), "sent": False})
    except LocalError:  # not_online: the DriverOnline is not ordered yet
        return False


def _cell(at: str) -> tuple[int, int]:
    cell = geo.cell_of(geo.parse_point(at))
    return cell.row, cell.col


def _state(node: LocalNode, ride: str) -> str | None:
    rows = _read(node, "history")
    return next((r["state"] for r in rows if r["ride"] == ride), None)


@pytest.mark.processes
def test_a_ride_through_the_ride_commands_on_four_nodes(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"ride-{time.time_ns()}"
    made, identities = make_nodes(tmp_path, ("ana", "ben", "cai", "dia"), network)
    ana, ben, cai, _ = made
    for node in made:
        nodes.append(node)
        node.start()
    _found(made, identities, tmp_path)

    settings = {"currency": "EUR", "offer_timeout_ms": 60_000}
    opened = _submit(
        ben, "coop_propose", {"kind": "app", "subject": APP, "settings": json.dumps(settings)}
    )
    number = opened["opened"]
    assert wait_for(
        lambda: all(
            len(n.call("coop_show", {"community": COOP})["decisions"]) >= number for n in made
        ),
        STEP,
    )
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda n: _submit(n, "coop_vote", {"decision": number, "ballot": "true"}), made
            )
        )

    def enabled(node: LocalNode) -> bool:
        return bool(node.call("coop_app_status", {"community": COOP, "app": APP})["enabled"])

    assert wait_for(lambda: all(enabled(n) for n in made), STEP)

    # ben waits in the pickup's cell, cai one cell east: ben is offered the ride first
    assert _ride(ben, "online", "--at", "45.4642,9.1900") == {"online": [4546, 919]}
    assert _ride(cai, "online", "--at", "45.4642,9.2050") == {"online": [4546, 920]}
    assert wait_for(lambda: _online(ben, "45.4642,9.1900") and _online(cai, "45.4642,9.2050"), STEP)
    quoted = _ride(ana, "request", "--from", "45.4642,9.19", "--to", "45.4781,9.2270")
    assert set(quoted) == REQUEST_KEYS
    assert quoted["currency"] == "EUR" and 0 < quoted["quote_low"] < quoted["quote_high"]
    ride = quoted["ride"]
    assert wait_for(lambda: _state(ana, ride) is not None, STEP)
    assert _state(ana, ride) == "offered"

    # ben sees the offer and takes it; cai cannot
    assert wait_for(lambda: [o["ride"] for o in _read(ben, "offers")["offers"]] == [ride], STEP)
    _ride(ben, "accept", "--ride", ride[:8])
    assert wait_for(lambda: _state(ana, ride) == "assigned", STEP)
    _ride(ben, "arrive", "--ride", ride)
    assert wait_for(lambda: _state(ben, ride) == "arrived", STEP)
    code = _read(ana, "show", {"ride": ride})["code"]  # the rider tells the driver
    _ride(ben, "start", "--ride", ride, "--code", code)
    assert wait_for(lambda: _state(ben, ride) == "started", STEP)
    done = _ride(ben, "complete", "--ride", ride, "--metres", "3600", "--seconds", "600")
    fare = done["fare"]["total"]
    assert quoted["quote_low"] <= fare <= quoted["quote_high"]

    def finished(node: LocalNode) -> bool:
        return _state(node, ride) == "completed"

    assert wait_for(lambda: finished(ana) and finished(ben), STEP)
    for node in (ana, ben):
        rows = _ride(node, "history")
        assert isinstance(rows, list) and len(rows) == 1
        (row,) = rows
        assert set(row) == HISTORY_KEYS and row["state"] in STATES
        assert 0 <= row["commission"] <= fare
        assert row == {
            "ride": ride,
            "rider": ana.member.hex(),
            "driver": ben.member.hex(),
            "state": "completed",
            "fare": fare,
            "paid": True,
            "commission": row["commission"],  # the cooperative's commission rate of it
            "currency": "EUR",
        }
    assert _ride(cai, "history") == []

    # a rider who is not a member: their own data directory, the cooperative's profile
    rider, _ = create_node(tmp_path / "eva", network=network)
    profile = str(tmp_path / "riders.profile")

    def profile_complete() -> bool:
        made = _cli("coop", "profile", "--data", str(ana.data.root), COOP, "--out", profile)
        return all(m["port"] for m in made["members"])

    assert wait_for(profile_complete, STEP), "ana's node never saw every member's node"
    _cli("customer", "import", "--data", str(rider.root), profile)
    quoted = _ride(rider.root, "request", "--from", "45.4642,9.19", "--to", "45.4781,9.2270")
    assert set(quoted) == REQUEST_KEYS
    assert quoted["currency"] == "EUR" and 0 < quoted["quote_low"] < quoted["quote_high"]
    ride = quoted["ride"]
    assert wait_for(lambda: [o["ride"] for o in _read(ben, "offers")["offers"]] == [ride], STEP)
    _ride(ben, "accept", "--ride", ride)
    assert wait_for(lambda: _ride(rider.root, "show", "--ride", ride)["state"] == "assigned", STEP)
    shown = _ride(rider.root, "show", "--ride", ride)
    assert (
        shown["driver"] == ben.member.hex()
        and shown["rider"] == bytes(read_member_id(rider.key_file)).hex()
    )
    assert [s["said"].split(" ")[0] for s in shown["steps"]] == ["offered", "assigned"]
    assert all(s["signers"] >= 2 for s in shown["steps"])  # more than a third of 4

    def driver_sees_places() -> bool:
        return "pickup_at" in _read(ben, "show", {"ride": ride})

    assert wait_for(driver_sees_places, STEP), "the places never reached the driver"
    _ride(ben, "arrive", "--ride", ride)
    assert wait_for(lambda: _state(ben, ride) == "arrived", STEP)
    _ride(ben, "start", "--ride", ride, "--code", shown["code"])
    assert wait_for(lambda: _state(ben, ride) == "started", STEP)
    done = _ride(ben, "complete", "--ride", ride, "--metres", "3600", "--seconds", "600")
    fare = done["fare"]["total"]
    assert wait_for(lambda: _ride(rider.root, "show", "--ride", ride)["state"] == "completed", STEP)
    (row,) = _ride(rider.root, "history")
    assert set(row) == HISTORY_KEYS
    assert (row["state"], row["fare"], row["driver"]) == ("completed", fare, ben.member.hex())
