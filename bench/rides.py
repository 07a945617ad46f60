"""Ride-hailing benchmark: whole trips through the app, CPU against their blocks' signature checks.

Three members' cooperative consumers run in this one process (:mod:`peoplenet.bench.coop_net`),
each with its apps in its own keyless worker process (CPU time counts this process and the
three workers): a rider and two drivers, online in neighbouring cells.  The cooperative's
order is simulated, but its transactions travel in signed blocks that every other member
parses, checks and stores (:mod:`peoplenet.bench.order_blocks`).  Every trip is the whole
story, each step a member's command on its own node, as a person would give it:

    request (rider) -> offered to one driver, who declines -> the other accepts ->
    [escrow: the rider's phone holds the fare] -> the rider's phone seals the places to the
    driver -> arrive -> start (with the code the rider's ``show`` gives) -> complete (paid) ->
    both rate

The ceiling is the raw cost of the signature checks those blocks imply, timed on the run's own
blocks in the same run: each block verified once per receiving member.
``ratio = cpu_ms_per_trip / verify_ms_per_trip``.  ``trips_per_s`` is trips per CPU second of
the run, all three members sharing one process.  A trip that does not end completed, paid and
rated by both parties fails the run (:class:`BenchFailed`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

from peoplenet.bench.coop_net import BenchFailed, CoopNet
from peoplenet.bench.job_cost import figures, measured
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.wire.codec import Value

APP: Final = "ride_hailing"
PAYMENTS: Final = ("cash", "escrow")
DISPUTE_WINDOW_MS: Final = 60_000
"""Under escrow the bench votes the shortest dispute window the app takes."""
PICKUP: Final = "45.4642,9.1900"
DROPOFF: Final = "45.4781,9.2270"
DRIVERS_AT: Final = ("45.4642,9.1900", "45.4650,9.1930")
METRES, SECONDS = 3600, 540
COINS_PER_TRIP: Final = 5_000
"""The rider's cooperative coins per trip under escrow (a quote's top is under 2,000)."""
RIDER, FIRST, SECOND = 0, 1, 2


def run(trips: int = 50, *, payment: str = "cash", folder: Path | None = None) -> dict[str, Any]:
    """Run ``trips`` trips paid by ``payment`` (``cash`` or ``escrow``); the figures."""
    if trips < 1:
        raise LocalError("trips must be positive")
    if payment not in PAYMENTS:
        raise LocalError(f"payment is one of {', '.join(PAYMENTS)}, not {payment!r}")
    with tempfile.TemporaryDirectory() as tmp:
        net = CoopNet(folder or Path(tmp), n=3, carry=True)
        try:
            return _run(net, trips, payment)
        finally:
            net.close()


def _command(net: CoopNet, i: int, command: str, **args: Value) -> Any:
    """Member ``i``'s ride command on its own node (as ``peoplenet ride COMMAND`` sends it)."""
    result, out = net.nodes[i].command(
        "coop_app", {"app": APP, "command": command, "args": args}, net.now
    )
    net.take(i, out)
    assert isinstance(result, dict)
    return result["result"]


def _setup(net: CoopNet, trips: int, payment: str) -> None:
    net.connect()
    if payment == "escrow":
        mint: dict[str, Value] = {"mint": COINS_PER_TRIP * (trips + 1), "to": net.hexid(RIDER)}
        net.decide_app("currency", {"ubi_per_period": 0}, action=mint)
    settings: dict[str, Value] = {"payment": payment}
    if payment == "escrow":  # fares are paid once the dispute window closes: the shortest
        settings["dispute_window_ms"] = DISPUTE_WINDOW_MS
    net.decide_app(APP, settings)
    net.connect()
    for driver, at in zip((FIRST, SECOND), DRIVERS_AT, strict=True):
        _command(net, driver, "online", at=at)
    net.settle()


def _trip(net: CoopNet) -> str:
    """One whole trip, each step once the one before is ordered; the ride's id."""
    ride: str = _command(net, RIDER, "request", **{"from": PICKUP, "to": DROPOFF})["ride"]
    net.settle()
    offered = _command(net, FIRST, "offers")["offers"]
    declines, accepts = (FIRST, SECOND) if offered else (SECOND, FIRST)
    _command(net, declines, "decline", ride=ride)
    net.settle()
    _command(net, accepts, "accept", ride=ride)
    net.settle()  # the rider's phone holds the fare (escrow) and seals the places
    _command(net, accepts, "arrive", ride=ride)
    net.settle()
    code = _command(net, RIDER, "show", ride=ride)["code"]
    _command(net, accepts, "start", ride=ride, code=code)
    net.settle()
    _command(net, accepts, "complete", ride=ride, metres=METRES, seconds=SECONDS)
    net.settle()
    _command(net, RIDER, "rate", ride=ride, score=5)
    _command(net, accepts, "rate", ride=ride, score=4)
    net.settle()
    return ride


def _release(net: CoopNet) -> None:
    """Let the dispute window of every trip close: the drivers' phones, at their next duties,
    bring the ordered moment that pays the held fares (part of each trip's cost)."""
    net.now += DISPUTE_WINDOW_MS + 1
    for driver in (FIRST, SECOND):
        _command(net, driver, "offline")
    net.settle()  # the drivers' phones see the window closed and send their releases
    net.settle()


def _check_ended(net: CoopNet, rides: list[str]) -> int:
    """How many rides ended completed, paid and rated by both, as every member's node shows
    them; :class:`BenchFailed` names the first that did not."""
    for ride in rides:
        for i in range(len(net.nodes)):
            shown = _command(net, i, "show", ride=ride)
            rated = isinstance(shown["ratings"], dict) and len(shown["ratings"]) == 2
            if not (shown["state"] == "completed" and shown["paid"] and rated):
                raise BenchFailed(
                    f"ride {ride} ended {shown['state']} (paid: {shown['paid']}, "
                    f"ratings: {shown['ratings']}) on member {i}'s node"
                )
    return len(rides)


def _run(net: CoopNet, trips: int, payment: str) -> dict[str, Any]:
    _setup(net, trips, payment)

    def jobs() -> list[str]:
        rides = [_trip(net) for _ in range(trips)]
        if payment == "escrow":
            _release(net)
        return rides

    rides, cost = measured(net, jobs)
    completed = _check_ended(net, rides)
    head = {"trips": trips, "completed": completed, "payment": payment}
    return figures(cost, "trip", trips, head)


__all__ = ["PAYMENTS", "BenchFailed", "run"]
