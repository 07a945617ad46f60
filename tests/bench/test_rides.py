"""``peoplenet bench rides``: whole trips through the ride-hailing app, and the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peoplenet.bench import rides
from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.errors import LocalError

KEYS = {
    "trips",
    "completed",
    "payment",
    "trips_per_s",
    "txs_per_trip",
    "blocks_per_trip",
    "cpu_ms_per_trip",
    "nodes_cpu_ms_per_trip",
    "workers_cpu_ms_per_trip",
    "verify_ms_per_trip",
    "ratio",
}


def test_every_trip_completes_paid_in_cash_and_the_ratio_is_measured() -> None:
    figures = rides.run(3)
    assert set(figures) == KEYS
    assert figures["trips"] == figures["completed"] == 3 and figures["payment"] == "cash"
    # request, decline, accept, the places sealed, arrive, start, complete, two ratings
    assert figures["txs_per_trip"] == 9.0 and figures["blocks_per_trip"] == 9.0
    assert figures["verify_ms_per_trip"] > 0
    parts = figures["nodes_cpu_ms_per_trip"] + figures["workers_cpu_ms_per_trip"]
    assert abs(parts - figures["cpu_ms_per_trip"]) < 0.01
    ratio = figures["cpu_ms_per_trip"] / figures["verify_ms_per_trip"]
    assert abs(ratio - figures["ratio"]) < 0.05 * ratio + 0.01


def test_under_escrow_every_trip_is_held_then_completes() -> None:
    figures = rides.run(2, payment="escrow")
    assert figures["completed"] == 2 and figures["payment"] == "escrow"
    # the hold is one more transaction, carried in the same block as the sealed places, and
    # the driver's release once the dispute window closed one more (in the block of the run's
    # last step: both drivers going offline, 2 transactions for the 2 trips, and the releases)
    assert figures["txs_per_trip"] == (2 * (10 + 1) + 2) / 2
    assert figures["blocks_per_trip"] == (2 * 9 + 2) / 2


def test_a_trip_that_does_not_end_fails_the_run(tmp_path: Path) -> None:
    net = CoopNet(tmp_path, n=3, carry=True)
    try:
        rides._setup(net, 1, "cash")
        ride = rides._command(
            net, rides.RIDER, "request", **{"from": rides.PICKUP, "to": rides.DROPOFF}
        )
        net.settle()
        with pytest.raises(rides.BenchFailed, match="ended offered"):
            rides._check_ended(net, [ride["ride"]])
    finally:
        net.close()


def test_bad_arguments_are_refused_before_anything_runs() -> None:
    with pytest.raises(LocalError, match="trips must be positive"):
        rides.run(0)
    with pytest.raises(LocalError, match="payment is one of cash, escrow"):
        rides.run(1, payment="card")


def test_carried_order_blocks_are_in_every_members_lace(tmp_path: Path) -> None:
    net = CoopNet(tmp_path, n=3, carry=True)
    try:
        rides._setup(net, 1, "cash")
        assert net.blocks is not None and net.blocks.made
        for blocklace in net.blocks.laces:
            assert all(blocklace.get(b.id) == b for b in net.blocks.made)
    finally:
        net.close()


def test_cli_prints_one_json_object() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "peoplenet", "bench", "rides", "--trips", "1", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures) == KEYS and figures["completed"] == 1
