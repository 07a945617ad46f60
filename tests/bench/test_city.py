"""``peoplenet sim rides``: a small city keeps the ride-hailing invariants, and a seed fixes it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from peoplenet.apps.ride_hailing.records import Accept, Complete
from peoplenet.apps.ride_hailing.trips import RideBook
from peoplenet.bench.city import replica as replica_module
from peoplenet.bench.city.audit import audit, consensus_safety
from peoplenet.bench.city.config import BadCity, CityConfig
from peoplenet.bench.city.replica import AppStopped, Entry, Replica
from peoplenet.bench.city.run import KEYS, CityReport, run_city
from peoplenet.main import main
from peoplenet.plugins.kit import RulesBook
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BlockId

SMALL = CityConfig(drivers=8, riders=40, hours=0.25, seed=3)


@pytest.fixture(scope="module")
def small() -> CityReport:
    return run_city(SMALL)


def test_a_small_city_keeps_the_invariants(small: CityReport) -> None:
    f = small.figures
    assert f["requests"] == SMALL.riders  # every rider's signed request was ordered and taken
    assert f["completed"] > 0 and f["match_p50_s"] > 0
    assert f["double_assignments"] == 0
    assert f["unpaid_completed"] == 0
    assert small.verdict.safety_violations == ()
    assert f["requests"] == f["completed"] + f["cancelled"] + f["unmatched"] + small.still_open


def test_the_json_has_exactly_the_contract_keys(small: CityReport) -> None:
    assert tuple(small.figures) == KEYS


def test_every_driver_in_consensus_unpaced_keeps_the_invariants_and_costs_more(
    small: CityReport,
) -> None:
    """The baseline protocol (no committee, no pacing, the default offer timeout)."""
    config = CityConfig(
        drivers=8, riders=40, hours=0.25, seed=3, participants=0, pace_s=0.0, offer_timeout_s=20.0
    )
    report = run_city(config)
    f = report.figures
    assert f["requests"] == 40 and f["completed"] > 0
    assert f["double_assignments"] == 0 and f["unpaid_completed"] == 0
    assert f["requests"] == f["completed"] + f["cancelled"] + f["unmatched"] + report.still_open
    assert f["mb_per_member_hour"] > small.figures["mb_per_member_hour"]


def test_the_same_seed_gives_the_same_json_but_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "rides", "--drivers", "4", "--riders", "12", "--hours", "0.1", "--seed", "5"]
    outs = []
    for _ in range(2):
        assert main([*argv, "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    first, second = ({k: v for k, v in o.items() if k != "cpu_s"} for o in outs)
    assert tuple(outs[0]) == KEYS
    assert first == second


def test_the_audit_counts_a_driver_assigned_twice_and_an_unpaid_completion() -> None:
    replica = Replica(2)
    try:
        driver = replica.harness.members[0]
        a, b = bytes([1]) * 16, bytes([2]) * 16
        log = [
            Entry(1, driver, Accept(a), "applied", ""),
            Entry(2, driver, Accept(b), "applied", ""),  # still on a: a double assignment
            Entry(3, driver, Complete(a, 1000, 100, 700), "applied", ""),  # no such paid ride
        ]
        verdict = audit(replica.book, log, [[], []])
    finally:
        replica.close()
    assert verdict.double_assignments >= 1
    assert verdict.unpaid_completed == 1


def _slow(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, taking 0.3 s: well past the 0.05 s deadline the tests give the guard."""

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return method(*args, **kwargs)

    return slow


def test_a_run_whose_app_stopped_in_the_replica_fails_instead_of_reporting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host's guard stops an app whose hook overruns its (wall-clock) deadline; a run on a
    loaded machine must not then print the figures of a cooperative without its app."""
    monkeypatch.setattr(replica_module, "FOLD_DEADLINE_S", 0.05)
    monkeypatch.setattr(RulesBook, "adopt", _slow(RulesBook.adopt))
    with pytest.raises(AppStopped, match="app stopped"):
        run_city(CityConfig(drivers=3, riders=6, hours=0.05, drain_s=60.0, seed=1))


def test_a_run_whose_app_stops_midway_fails_instead_of_reporting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on a loaded machine: the app runs, then one ordered transaction overruns."""
    monkeypatch.setattr(replica_module, "FOLD_DEADLINE_S", 0.05)
    apply = RideBook.apply
    calls = []

    def late(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            time.sleep(0.3)
        return apply(*args, **kwargs)

    monkeypatch.setattr(RideBook, "apply", late)
    with pytest.raises(AppStopped, match="app stopped"):
        run_city(CityConfig(drivers=3, riders=6, hours=0.05, drain_s=60.0, seed=1))
    assert len(calls) >= 4


def test_consensus_safety_sees_diverging_orders() -> None:
    assert consensus_safety([[], []]) == []
    one = Delivery(0, 0, BlockId(b"\x01" * 32), MemberId(b"\x02" * 32), "x")
    other = Delivery(0, 0, BlockId(b"\x01" * 32), MemberId(b"\x02" * 32), "y")
    assert consensus_safety([[one], [other]]) != []


@pytest.mark.parametrize(
    "bad",
    [
        {"drivers": 0},
        {"hours": 0.0},
        {"participants": -1},
        {"offer_timeout_s": 0.5},
        {"accept_p": 0.9, "ignore_p": 0.2},
    ],
)
def test_a_city_that_cannot_be_simulated_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(BadCity):
        CityConfig(**bad)  # type: ignore[arg-type]
