"""Delivery on four real nodes, through ``peoplenet delivery ...``, with a customer who is not
a member.

Four node processes on loopback found a cooperative, enable the app by vote and elect dia the
dispatcher.  ben and cai go online as couriers.  A customer who is not a member (a fifth data
directory, no node, the cooperative's profile imported) orders from ana's shop with
``peoplenet delivery order``: signed with the customer's key, carried by a member's node,
priced by the fold at the rules in force (at most the customer's ``--max``).  ana accepts; dia
gives the delivery to ben, then moves ben's tour to cai; ana's phone (the store: the customer
sealed the addresses to it and to herself) reseals them to cai, whose ``show`` opens them; cai
picks up and delivers.  ``peoplenet delivery orders --json`` prints exactly the contract's
keys on every phone, and the customer's ``show`` follows the order to ``fulfilled`` by
members' receipts.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import Value
from tests.coop_nodes import app_cli, app_read, cli_json, found_coop, make_nodes, submit_ordered

STEP = 60.0
COOP = "couriers"
APP = "delivery"
CHARTER = {"voting_period_ms": 3000, "admission_sureties": 2, "officers": ["dispatcher"]}
ORDER_KEYS = {"order", "store", "customer", "state", "price", "rules_version", "tasks"}
TASK_KEYS = {"task", "kind", "state", "courier", "done_at"}
SHOP, HOME = "45.4642,9.1900", "45.4700,9.2050"


def _delivery(node: LocalNode | Path, *args: str) -> Any:
    """``peoplenet delivery COMMAND --data D COOP ... --json``: its JSON answer."""
    return app_cli("delivery", COOP, node, *args)


_cli = cli_json


def _read(node: LocalNode, command: str, args: dict[str, Value] | None = None) -> Any:
    return app_read(node, COOP, APP, command, args or {})


def _show(node: LocalNode, order: str) -> dict[str, Any]:
    try:
        shown = _read(node, "show", {"order": order})
    except LocalError:  # not ordered on this node yet
        return {}
    assert isinstance(shown, dict)
    return shown


def _decide(made: list[LocalNode], proposal: dict[str, Any], ballot: str) -> None:
    opened = submit_ordered(made[1], COOP, "coop_propose", proposal, step=STEP)
    number = opened["opened"]
    assert wait_for(
        lambda: all(
            len(n.call("coop_show", {"community": COOP})["decisions"]) >= number for n in made
        ),
        STEP,
    )
    with ThreadPoolExecutor(4) as pool:
        vote = {"decision": number, "ballot": ballot}
        list(pool.map(lambda n: submit_ordered(n, COOP, "coop_vote", vote, step=STEP), made))

    def closed(node: LocalNode) -> bool:
        decisions = node.call("coop_show", {"community": COOP})["decisions"]
        return any(d["number"] == number and d["status"] != "open" for d in decisions)

    assert wait_for(lambda: all(closed(n) for n in made), STEP)


@pytest.mark.processes
def test_a_customer_order_moved_between_couriers_on_four_nodes(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"delivery-{time.time_ns()}"
    made, identities = make_nodes(tmp_path, ("ana", "ben", "cai", "dia"), network)
    ana, ben, cai, dia = made
    for node in made:
        nodes.append(node)
        node.start()
    found_coop(made, identities, tmp_path / "couriers.coop", COOP, CHARTER)
    settings = json.dumps({"currency": "EUR"})
    _decide(made, {"kind": "app", "subject": APP, "settings": settings}, "true")
    boss = dia.member.hex()
    _decide(
        made,
        {"kind": "officer", "subject": "dispatcher", "candidates": [boss]},
        json.dumps([boss, "vacant"]),
    )
    assert wait_for(lambda: _read(ana, "board")["dispatcher"] == boss, STEP)

    for courier in (ben, cai):
        assert _delivery(courier, "online", "--at", SHOP) == {"online": [4546, 919]}
    assert wait_for(lambda: len(_read(ana, "board")["online"]) == 2, STEP)

    # the customer: their own data directory and the cooperative's profile, no node
    eva, _ = create_node(tmp_path / "eva", network=network)
    profile = str(tmp_path / "couriers.profile")

    def profile_complete() -> bool:
        got = _cli("coop", "profile", "--data", str(ana.data.root), COOP, "--out", profile)
        return all(m["port"] for m in got["members"])

    assert wait_for(profile_complete, STEP), "ana's node never saw every member's node"
    _cli("customer", "import", "--data", str(eva.root), profile)
    placed = _delivery(
        eva.root, "order", "--store", ana.member.hex(), "--pickup", SHOP, "--dropoff", HOME,
        "--pickup-address", "Via Dante 1", "--dropoff-address", "Via Lupetta 4",
        "--goods", "2450", "--max", "2000",
    )  # fmt: skip
    order = placed["order"]
    assert placed["method"] == "cash" and 0 < placed["price"] <= 2000
    assert wait_for(lambda: _show(ana, order).get("state") == "new", STEP)

    _delivery(ana, "accept", "--order", order)
    assert wait_for(lambda: _show(dia, order).get("state") == "accepted", STEP)
    _delivery(dia, "assign", "--order", order, "--courier", ben.member.hex())

    def held_by(node: LocalNode) -> bool:
        tasks = _show(node, order).get("tasks") or []
        return bool(tasks) and all(t["courier"] == node.member.hex() for t in tasks)

    assert wait_for(lambda: held_by(ben), STEP)
    _delivery(dia, "move", "--courier", ben.member.hex(), "--to", cai.member.hex())
    assert wait_for(lambda: held_by(cai), STEP)
    assert wait_for(lambda: len(_show(cai, order)["addresses"]) == 2, STEP), _show(cai, order)
    texts = sorted(a["text"] for a in _show(cai, order)["addresses"].values())
    assert texts == ["Via Dante 1", "Via Lupetta 4"]
    assert _show(ben, order)["addresses"] == {}  # moved away: ben reads nothing

    pickup, dropoff = (t["task"] for t in _show(cai, order)["tasks"])
    for task in (pickup, dropoff):
        _delivery(cai, "start", "--task", task)
        assert wait_for(lambda: _task_state(cai, order, task) == "doing", STEP)  # noqa: B023
        _delivery(cai, "done", "--task", task, "--signed-by", "eva")
        assert wait_for(lambda: _task_state(cai, order, task) == "done", STEP)  # noqa: B023
    assert wait_for(lambda: all(_show(n, order).get("money") == "paid" for n in made), STEP)

    for node in made:
        rows = _delivery(node, "orders")
        assert isinstance(rows, list) and len(rows) == 1
        (row,) = rows
        assert set(row) == ORDER_KEYS and row["state"] == "fulfilled"
        assert row["order"] == order and row["store"] == ana.member.hex()
        assert row["price"] == placed["price"] and row["rules_version"] == 1
        for task_row in row["tasks"]:
            assert set(task_row) == TASK_KEYS
            assert task_row["courier"] == cai.member.hex() and task_row["state"] == "done"
            assert isinstance(task_row["done_at"], int)

    def customer_sees(state: str) -> bool:
        return bool(_delivery(eva.root, "show", "--order", order)["state"] == state)

    assert wait_for(lambda: customer_sees("fulfilled"), STEP, interval=2.0)


def _task_state(node: LocalNode, order: str, task: str) -> str:
    for row in _show(node, order).get("tasks") or []:
        if row["task"] == task:
            return str(row["state"])
    return ""
