"""``peoplenet bench deliveries``: whole orders through the delivery app, and the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.bench import deliveries as d
from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.errors import LocalError

KEYS = {
    "orders",
    "completed",
    "payment",
    "orders_per_s",
    "txs_per_order",
    "blocks_per_order",
    "cpu_ms_per_order",
    "nodes_cpu_ms_per_order",
    "workers_cpu_ms_per_order",
    "verify_ms_per_order",
    "ratio",
}


@pytest.fixture
def net(tmp_path: Path) -> Iterator[CoopNet]:
    net = d.network(tmp_path)
    try:
        yield net
    finally:
        net.close()


def test_every_order_is_fulfilled_and_paid_in_cash_and_the_ratio_is_measured() -> None:
    figures = d.run(2)
    assert set(figures) == KEYS
    assert figures["orders"] == figures["completed"] == 2 and figures["payment"] == "cash"
    # order, accept, preparing, assign, 2 addresses resealed to A, 2 takes (one block), move,
    # 2 addresses resealed to B, ready, start, done, start, done, 2 ratings (one block)
    assert figures["txs_per_order"] == 18.0 and figures["blocks_per_order"] == 15.0
    assert figures["verify_ms_per_order"] > 0 and figures["ratio"] > 0
    parts = figures["nodes_cpu_ms_per_order"] + figures["workers_cpu_ms_per_order"]
    assert abs(parts - figures["cpu_ms_per_order"]) < 0.01
    ratio = figures["cpu_ms_per_order"] / figures["verify_ms_per_order"]
    assert abs(ratio - figures["ratio"]) < 0.05 * ratio + 0.01


def test_under_escrow_every_order_is_fulfilled_and_paid() -> None:
    figures = d.run(1, payment="escrow")
    assert set(figures) == KEYS
    assert figures["completed"] == 1 and figures["payment"] == "escrow"
    assert figures["txs_per_order"] == 18.0  # the hold rides in the order's own transaction


def test_under_escrow_the_customers_coins_pay_the_store_and_the_second_courier(
    net: CoopNet,
) -> None:
    d.setup(net, 1, "escrow")
    before = [net.app(i, "balance")["cooperative"] for i in range(len(net.nodes))]
    order = d.deliver(net)
    shown = d.command(net, d.CUSTOMER, "show", order=order)
    after = [net.app(i, "balance")["cooperative"] for i in range(len(net.nodes))]
    paid = shown["goods"] + shown["price"]
    assert before[d.CUSTOMER] - after[d.CUSTOMER] == paid
    assert after[d.STORE] > before[d.STORE] and after[d.SECOND] > before[d.SECOND]
    assert after[d.FIRST] == before[d.FIRST]  # moved off the tour before doing anything
    assert d.check_ended(net, [order]) == 1


def test_the_moved_tour_is_the_second_couriers_with_both_addresses_resealed(
    net: CoopNet,
) -> None:
    d.setup(net, 1, "cash")
    order = d.deliver(net)
    shown = d.command(net, d.SECOND, "show", order=order)
    assert {t["courier"] for t in shown["tasks"]} == {net.hexid(d.SECOND)}
    assert len(shown["addresses"]) == 2  # resealed to B by the dispatcher's phone
    assert d.command(net, d.FIRST, "show", order=order)["addresses"] == {}
    assert shown["ratings"] == "hidden"  # the store has not rated: double-blind


def test_an_order_that_does_not_end_fails_the_run(net: CoopNet) -> None:
    d.setup(net, 1, "cash")
    order = d.place(net)
    with pytest.raises(d.BenchFailed, match="ended new"):
        d.check_ended(net, [order])


def test_bad_arguments_are_refused_before_anything_runs() -> None:
    with pytest.raises(LocalError, match="orders must be positive"):
        d.run(0)
    with pytest.raises(LocalError, match="payment is one of cash, escrow"):
        d.run(1, payment="card")


def test_cli_prints_one_json_object() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "peoplenet", "bench", "deliveries", "--orders", "1", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures) == KEYS and figures["completed"] == 1
