"""One simulated city, start to finish: build it, run it, audit it, measure it.

``run_city`` puts ``drivers`` phones (:class:`~.phones.Phone`, each a real consensus core)
and the city's people (:class:`~.world.City`) on one
:class:`~peoplenet.runtime.sim.simulator.Simulator`, runs ``hours`` of requests and a drain
for the trips still open, folds the order through the real app (:class:`~.replica.Replica`),
and answers the figures of ``peoplenet sim rides --json``.  Nothing reads the wall clock;
``cpu_s`` (the process's CPU time) is the one figure a seed does not fix.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from peoplenet.bench.city.audit import Verdict, audit
from peoplenet.bench.city.config import CityConfig
from peoplenet.bench.city.phones import CITY, Meter, Phone
from peoplenet.bench.city.replica import Replica, community_ms
from peoplenet.bench.city.world import City, phone
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.sim.simulator import LinkModel, SimNode, Simulator

KEYS: Final = (
    "requests",
    "completed",
    "cancelled",
    "unmatched",
    "match_p50_s",
    "match_p95_s",
    "double_assignments",
    "unpaid_completed",
    "cpu_s",
    "mb_per_member_hour",
)
"""``peoplenet sim rides --json``: exactly these keys, in this order."""
MB: Final = 1_000_000


class UnsafeRun(LocalError):
    """The consensus safety checks failed in a run: its figures mean nothing."""


@dataclass(frozen=True, slots=True)
class CityReport:
    """A run's figures (``figures`` is the JSON contract) and what explains them."""

    figures: dict[str, int | float]
    verdict: Verdict
    meter: Meter
    still_open: int
    mb_per_member_hour_max: float
    sim_seconds: float
    events: int

    def breakdown(self) -> dict[str, float]:
        """MB sent per driver per hour, by kind (the received side mirrors it)."""
        total = sum(self.meter.kinds.values()) or 1
        return {k: round(v / total, 4) for k, v in self.meter.kinds.most_common()}


def percentile(values: list[float], q: float) -> float:
    """Nearest rank (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def run_city(config: CityConfig) -> CityReport:
    """Run the city ``config`` describes (see the module docstring)."""
    cpu0 = time.process_time()
    replica = Replica(config.drivers, round(config.offer_timeout_s * 1000))
    try:
        return _run(config, replica, cpu0)
    finally:
        replica.close()


def phone_link(min_delay: float, max_delay: float) -> LinkModel:
    """The link between two phones: a delay uniform in ``[min_delay, max_delay]``, in order.

    A phone's channel to another is a stream (Noise over TCP): what one sends arrives in the
    order sent.  The simulation must keep that order: an observer relays each of its
    submissions in its own message, signed with the next sequence number, and the fold
    refuses one numbered below the last it took as ``replayed`` -- a link that reordered two
    submissions sent within its delay (a driver's ``Complete`` and ``Position``) would lose
    the first."""
    return LinkModel(min_delay, max_delay, reorder=False)


def add_phones(
    sim: Simulator,
    identities: Sequence[Identity],
    *,
    committee: int,
    timeout_ms: int,
    community: str,
    pace_s: float,
    meter: Meter,
    on_deliver: Callable[[list[Delivery], float], bool],
) -> list[list[Delivery]]:
    """One phone per member on ``sim`` (named :func:`~.world.phone` ``i``): the first
    ``committee`` are the consensus participants, each other phone observes participant
    ``i % committee``; phone 0's deliveries go to ``on_deliver``.  Each phone's delivered
    order, in the list answered."""
    names = {MemberId(ident.member_id): phone(i) for i, ident in enumerate(identities)}
    k = committee
    constitution = Constitution.of(
        [ident.member_id for ident in identities[:k]], timeout_ms=timeout_ms
    )
    followers: dict[int, list[str]] = {p: [] for p in range(k)}
    for j in range(k, len(identities)):
        followers[j % k].append(phone(j))
    lace = hashlib.blake2b(community.encode(), digest_size=16).digest()
    genesis = Genesis.first(lace, constitution)
    logs: list[list[Delivery]] = [[] for _ in identities]
    for i in range(len(identities)):

        def factory(i: int = i) -> SimNode:
            return Phone(
                phone(i),
                identities[i],
                genesis,
                names=names,
                meter=meter,
                log=logs[i],
                pace_s=pace_s,
                contact=None if i < k else phone(i % k),
                observers=tuple(followers.get(i, ())),
                on_deliver=on_deliver if i == 0 else None,
            )

        sim.add_node(phone(i), factory)
    return logs


def _run(config: CityConfig, replica: Replica, cpu0: float) -> CityReport:
    sim = Simulator(config.seed, phone_link(config.min_delay, config.max_delay))
    meter = Meter()
    logs = add_phones(
        sim,
        replica.identities,
        committee=config.committee,
        timeout_ms=config.timeout_ms,
        community=f"sim-rides/{config.seed}",
        pace_s=config.pace_s,
        meter=meter,
        on_deliver=replica.fold,
    )
    city = City(config, replica, sim.rng_for(CITY))
    sim.add_node(CITY, lambda: city)
    end = config.hours * 3600.0 + config.drain_s
    stats = sim.run(until=end, max_events=config.max_events)
    replica.check_running()
    verdict = audit(replica.book, replica.log, logs)
    if verdict.safety_violations:
        raise UnsafeRun("; ".join(verdict.safety_violations[:5]))
    asked = city.tally.asked_at
    waits = [
        (ms - community_ms(asked[r])) / 1000.0
        for r, ms in verdict.assigned_ms.items()
        if r in asked
    ]
    hours = config.hours
    per_member = [meter.traffic(phone(i)) / MB / hours for i in range(config.drivers)]
    figures: dict[str, int | float] = {
        "requests": verdict.requests,
        "completed": verdict.completed,
        "cancelled": verdict.cancelled,
        "unmatched": verdict.unmatched,
        "match_p50_s": round(percentile(waits, 0.5), 3),
        "match_p95_s": round(percentile(waits, 0.95), 3),
        "double_assignments": verdict.double_assignments,
        "unpaid_completed": verdict.unpaid_completed,
        "cpu_s": round(time.process_time() - cpu0, 3),
        "mb_per_member_hour": round(sum(per_member) / len(per_member), 4),
    }
    return CityReport(
        figures,
        verdict,
        meter,
        verdict.still_open,
        round(max(per_member), 4),
        stats.now,
        stats.events,
    )


__all__ = ["KEYS", "CityReport", "UnsafeRun", "add_phones", "percentile", "phone_link", "run_city"]
