"""``peoplenet sim deliveries``: a small town keeps the delivery invariants, and a seed fixes it."""

from __future__ import annotations

import json

import pytest

from peoplenet.apps.delivery.fold import DeliveryFold
from peoplenet.bench.town.audit import audit
from peoplenet.bench.town.config import BadTown, TownConfig
from peoplenet.bench.town.replica import Happened
from peoplenet.bench.town.run import CPU_KEYS, KEYS, TownReport, run_town
from peoplenet.main import main

SMALL = TownConfig(stores=3, couriers=6, orders_per_hour=48.0, hours=0.25, seed=2)


@pytest.fixture(scope="module")
def small() -> TownReport:
    return run_town(SMALL)


def test_a_small_town_keeps_the_invariants(small: TownReport) -> None:
    f = small.figures
    assert f["orders"] == SMALL.orders  # every customer's signed order was carried and taken
    assert f["fulfilled"] > 0 and f["completion_p50_s"] > 0
    assert f["double_assignments"] == 0
    assert f["unpaid_fulfilled"] == 0
    assert small.verdict.safety_violations == ()
    assert f["orders"] == f["fulfilled"] + f["cancelled"] + f["unfulfilled"]
    assert "replayed" not in small.rejected  # a member's own submissions reach the order
    assert "pickup_not_done" not in small.rejected


def test_the_json_has_exactly_the_contract_keys(small: TownReport) -> None:
    assert tuple(small.figures) == KEYS


def test_orders_waiting_for_a_courier_go_out_as_the_courier_comes_free() -> None:
    """One courier for many orders: automatic assignment finds them busy at most accepts, and
    the app gives the waiting orders as the courier comes free (no dispatcher needed)."""
    config = TownConfig(stores=2, couriers=1, orders_per_hour=24.0, hours=0.25, seed=4)
    report = run_town(config)
    f = report.figures
    assert report.assigned_by_dispatcher == 0
    assert f["fulfilled"] > 1
    assert f["double_assignments"] == 0 and f["unpaid_fulfilled"] == 0


def test_the_same_seed_gives_the_same_json_but_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "deliveries", "--stores", "2", "--couriers", "3"]
    argv += ["--orders-per-hour", "30", "--hours", "0.15", "--seed", "5", "--json"]
    outs = []
    for _ in range(2):
        assert main(argv) == 0
        outs.append(json.loads(capsys.readouterr().out))
    first, second = ({k: v for k, v in o.items() if k not in CPU_KEYS} for o in outs)
    assert tuple(outs[0]) == KEYS
    assert first["orders"] == 4 and first["fulfilled"] > 0
    assert first == second


def test_the_audit_counts_a_task_held_twice_and_an_unpaid_fulfilment() -> None:
    order, a, b = bytes([1]) * 16, bytes([2]) * 32, bytes([3]) * 32
    task = order + b"\x00"
    events = [
        Happened(1, "assigned", task, a),
        Happened(2, "assigned", task, b),  # a still holds it: two couriers at once
        Happened(3, "task_done", task, a),  # done by a courier who no longer holds it
        Happened(4, "fulfilled", order, b""),  # no such order's money: not paid
    ]
    verdict = audit(DeliveryFold(), events, [[], []])
    assert verdict.double_assignments >= 2
    assert verdict.unpaid_fulfilled == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"stores": 0},
        {"couriers": 0},
        {"hours": 0.0},
        {"participants": -1},
        {"grid": 0},
        {"refuse_p": 1.5},
        {"prepare_s": (10.0, 5.0)},
    ],
)
def test_a_town_that_cannot_be_simulated_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(BadTown):
        TownConfig(**bad)  # type: ignore[arg-type]


def test_the_command_refuses_a_town_without_stores(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "deliveries", "--stores", "0", "--json"]) == 2
    assert "need a store" in capsys.readouterr().err
