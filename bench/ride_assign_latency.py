"""Ride-hailing on real loopback nodes: how long from a ride's request to a driver assigned.

Four node processes (a rider, two drivers, one more member) found a cooperative and enable the
ride-hailing app by vote; the drivers wait online.  For each ride the rider's phone requests
it; the offered driver's phone is watched and accepts as soon as it shows the offer (a driver
who answers at once); the ride counts as assigned when the rider's phone shows the driver.
The rider then cancels (free until the voted time) so the next ride starts from the same
place.  Every step is the node's control socket, as ``peoplenet ride`` uses it.

Prints JSON: rides, p50/p95/max of request -> assigned, and of request -> offer seen.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding
from peoplenet.actors.coop.demo import CHARTER, COOP, closed, propose, submit
from peoplenet.actors.governance.charter import Founding
from peoplenet.runtime import log
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import Value

APP = "ride_hailing"
SETTINGS = {"currency": "EUR", "offer_timeout_ms": 60_000}
PICKUP, DROPOFF = "45.4642,9.1900", "45.4781,9.2270"
WAITING = {"ben": "45.4642,9.1900", "cai": "45.4642,9.2050"}
POLL_S = 0.01
STEP_S = 60.0


def _app(node: LocalNode, command: str, **args: Value) -> Any:
    answer = node.call(
        "coop_app", {"community": COOP, "app": APP, "command": command, "args": args}
    )
    return answer["result"]


def _until(what: str, check: Callable[[], bool]) -> None:
    if not wait_for(check, STEP_S, interval=POLL_S):
        raise RuntimeError(f"not within {STEP_S:.0f} s: {what}")


def _start(workdir: Path) -> tuple[list[LocalNode], dict[str, Identity]]:
    network = f"ride-bench-{time.time_ns()}"
    made: list[LocalNode] = []
    identities: dict[str, Identity] = {}
    for name in ("ana", "ben", "cai", "dia"):
        data, identity = create_node(workdir / name, network=network)
        made.append(LocalNode(name, data, identity.member_id))
        identities[name] = identity
    return made, identities


def _found_and_enable(made: list[LocalNode], identities: dict[str, Identity]) -> None:
    ids = tuple(sorted(bytes(i.member_id) for i in identities.values()))
    founding = Founding(COOP, charter_from_json(CHARTER), ids, int(time.time() * 1000), ())
    coop = CoopFile(founding, 500)
    for identity in identities.values():
        coop = sign_founding(coop, identity)
    args: dict[str, Value] = {
        "genesis": coop.genesis_bytes(),
        "founding": coop.founding_bytes(),
        "name": COOP,
    }
    for node in made:
        node.call("community_join", args)
    number = propose(made[0], {"kind": "app", "subject": APP, "settings": json.dumps(SETTINGS)})
    for node in made:
        submit(node, "coop_vote", {"decision": number, "ballot": "true"})
    _until("the app enabled", lambda: all(closed(n, number) for n in made))
    _until(
        "the app enabled on every node",
        lambda: all(
            n.call("coop_app_status", {"community": COOP, "app": APP})["enabled"] for n in made
        ),
    )


def _online(node: LocalNode, at: str) -> bool:
    try:
        return bool(_app(node, "position", at=at).get("sent") is False)
    except LocalError:  # not_online until the DriverOnline is ordered
        return False


def _offered(node: LocalNode, ride: str) -> bool:
    return any(o.get("ride") == ride for o in _app(node, "offers")["offers"])


def _one_ride(rider: LocalNode, drivers: list[LocalNode]) -> tuple[float, float]:
    """(request -> offer seen, request -> assigned) in ms, for one ride."""
    started = time.perf_counter()
    ride = str(_app(rider, "request", **{"from": PICKUP, "to": DROPOFF})["ride"])
    offered: list[LocalNode] = []

    def seen() -> bool:
        offered.extend(d for d in drivers if _offered(d, ride))
        return bool(offered)

    _until("a driver offered the ride", seen)
    seen_ms = (time.perf_counter() - started) * 1000
    _app(offered[0], "accept", ride=ride)
    driver = offered[0].member.hex()
    _until("the driver assigned", lambda: _app(rider, "show", ride=ride)["driver"] == driver)
    assigned_ms = (time.perf_counter() - started) * 1000
    _app(rider, "cancel", ride=ride)
    _until("cancelled", lambda: _app(rider, "show", ride=ride)["state"] == "cancelled")
    return seen_ms, assigned_ms


def _figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def measure(rides: int) -> dict[str, Any]:
    """``rides`` rides one after another on four fresh nodes; the latency figures."""
    with tempfile.TemporaryDirectory(prefix="peoplenet-rides-") as tmp:
        made, identities = _start(Path(tmp))
        try:
            for node in made:
                node.start()
            _found_and_enable(made, identities)
            rider, ben, cai, _ = made
            _app(ben, "online", at=WAITING["ben"])
            _app(cai, "online", at=WAITING["cai"])
            _until("drivers online", lambda: _online(ben, WAITING["ben"]))
            _until("drivers online", lambda: _online(cai, WAITING["cai"]))
            timings = [_one_ride(rider, [ben, cai]) for _ in range(rides)]
        finally:
            for node in made:
                node.stop()
    return {
        "nodes": len(made),
        "rides": rides,
        "assigned": _figures([a for _, a in timings]),
        "offer_seen": _figures([s for s, _ in timings]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rides", type=int, default=40)
    args = parser.parse_args()
    log.configure(level=logging.WARNING)
    print(json.dumps(measure(args.rides)))


if __name__ == "__main__":
    main()
