"""A courier's phone dies mid-tour, then works offline: the tour still finishes, with the time
signed on the phone.

Four real node processes on loopback: ana's shop, couriers ben and cai, dia who orders and is
the elected dispatcher.  dia orders; ana accepts; dia gives the delivery to ben, who takes the
pickup and starts it -- and every process of ben's node is killed at once, as a phone dies.
While it is down the others go on (cai goes offline).  ben's node restarts from its data
directory: the tour is still his, the addresses still open for him; he picks up.  Then ben is
offline: the three other nodes stop, and ben completes the drop-off alone -- his phone signs
the time.  When the others come back the completion reaches the order: the order is fulfilled
and paid on every node, and the drop-off's time is the one ben's phone signed while offline,
not the time the others heard of it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from peoplenet.runtime.sim.localnet import LocalNode, wait_for
from tests.apps.delivery.test_node import (
    CHARTER,
    COOP,
    HOME,
    SHOP,
    STEP,
    _decide,
    _delivery,
    _read,
    _show,
    _task_state,
)
from tests.coop_nodes import found_coop, make_nodes


@pytest.mark.slow
@pytest.mark.processes
def test_a_courier_killed_mid_tour_then_offline_finishes_with_the_signed_time(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"delivery-crash-{time.time_ns()}"
    made, identities = make_nodes(tmp_path, ("ana", "ben", "cai", "dia"), network)
    ana, ben, cai, dia = made
    for node in made:
        nodes.append(node)
        node.start()
    found_coop(made, identities, tmp_path / "couriers.coop", COOP, CHARTER)
    settings = json.dumps({"currency": "EUR", "done_tolerance_ms": 3_600_000})
    _decide(made, {"kind": "app", "subject": "delivery", "settings": settings}, "true")
    boss = dia.member.hex()
    vote = json.dumps([boss, "vacant"])
    _decide(made, {"kind": "officer", "subject": "dispatcher", "candidates": [boss]}, vote)
    for courier in (ben, cai):
        _delivery(courier, "online", "--at", SHOP)
    assert wait_for(lambda: len(_read(dia, "board")["online"]) == 2, STEP)

    placed = _delivery(
        dia, "order", "--store", ana.member.hex(), "--pickup", SHOP, "--dropoff", HOME,
        "--pickup-address", "Via Dante 1", "--dropoff-address", "Via Lupetta 4",
        "--goods", "1800", "--within", "120",
    )  # fmt: skip
    order = placed["order"]
    assert wait_for(lambda: _show(ana, order).get("state") == "new", STEP)
    _delivery(ana, "accept", "--order", order)
    assert wait_for(lambda: _show(dia, order).get("state") == "accepted", STEP)
    _delivery(dia, "assign", "--order", order, "--courier", ben.member.hex())
    assert wait_for(lambda: len(_show(ben, order).get("addresses") or {}) == 2, STEP)
    pickup, dropoff = (t["task"] for t in _show(ben, order)["tasks"])
    _delivery(ben, "take", "--task", pickup)
    _delivery(ben, "start", "--task", pickup)
    assert wait_for(lambda: all(_task_state(n, order, pickup) == "doing" for n in made), STEP)

    # ben's phone dies mid-tour: every process of its node at once
    ben.kill()
    assert not ben.running() and ben.group_pids() == set()
    _delivery(cai, "offline")  # the others go on without him
    assert wait_for(lambda: len(_read(dia, "board")["online"]) == 1, STEP)
    ben.start()  # from its data directory, the same key
    assert wait_for(lambda: _task_state(ben, order, pickup) == "doing", STEP)
    assert sorted(a["text"] for a in _show(ben, order)["addresses"].values()) == [
        "Via Dante 1",
        "Via Lupetta 4",
    ]  # nothing lost: the resealed addresses still open for him
    assert wait_for(lambda: len(_read(ben, "board")["online"]) == 1, STEP)  # caught up
    _delivery(ben, "done", "--task", pickup, "--signed-by", "ana")
    assert wait_for(lambda: all(_task_state(n, order, pickup) == "done" for n in made), STEP)
    _delivery(ben, "start", "--task", dropoff)
    assert wait_for(lambda: all(_task_state(n, order, dropoff) == "doing" for n in made), STEP)

    # ben is offline: nobody else is reachable while he delivers
    for node in (ana, cai, dia):
        node.stop()
    before = int(time.time() * 1000)
    done = _delivery(ben, "done", "--task", dropoff, "--signed-by", "dia")
    after = int(time.time() * 1000)
    signed = done["done_at"]
    assert before <= signed <= after
    time.sleep(3.0)  # the completion waits on ben's phone
    assert _task_state(ben, order, dropoff) == "doing"
    for node in (ana, cai, dia):
        node.start()
    back = int(time.time() * 1000)
    assert wait_for(lambda: all(_show(n, order).get("money") == "paid" for n in made), STEP)
    for node in made:
        rows = {t["task"]: t for t in _show(node, order)["tasks"]}
        assert rows[dropoff]["state"] == "done"
        assert rows[dropoff]["done_at"] == signed < back  # the phone's time, not the arrival
        assert _show(node, order)["state"] == "fulfilled"
