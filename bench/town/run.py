"""One simulated town, start to finish: build it, run it, audit it, measure it.

``run_town`` puts one phone per member -- the stores, the couriers, the dispatcher -- on one
:class:`~peoplenet.runtime.sim.simulator.Simulator` (the city's phones, each a real consensus
core: :func:`~peoplenet.bench.city.run.add_phones`), with the town's people
(:class:`~.world.Town`); runs ``hours`` of orders and a drain for the deliveries still open,
folds the order through the real delivery app (:class:`~.replica.TownReplica`), and answers
the figures of ``peoplenet sim deliveries --json``.  Nothing reads the wall clock; ``cpu_s``
and ``cpu_ms_per_order`` (the process's CPU time) are the figures a seed does not fix.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

from peoplenet.apps.delivery.records import Assign
from peoplenet.bench.city.phones import CITY, Meter
from peoplenet.bench.city.replica import community_ms
from peoplenet.bench.city.run import MB, UnsafeRun, add_phones, percentile, phone_link
from peoplenet.bench.city.world import phone
from peoplenet.bench.town.audit import TownVerdict, audit
from peoplenet.bench.town.config import TownConfig
from peoplenet.bench.town.replica import TownReplica
from peoplenet.bench.town.world import Town
from peoplenet.runtime.sim.simulator import Simulator

KEYS: Final = (
    "orders",
    "fulfilled",
    "cancelled",
    "unfulfilled",
    "completion_p50_s",
    "completion_p95_s",
    "cpu_s",
    "cpu_ms_per_order",
    "mb_per_courier_hour",
    "double_assignments",
    "unpaid_fulfilled",
)
"""``peoplenet sim deliveries --json``: exactly these keys, in this order."""
CPU_KEYS: Final = ("cpu_s", "cpu_ms_per_order")
"""The figures a seed does not fix."""


@dataclass(frozen=True, slots=True)
class TownReport:
    """A run's figures (``figures`` is the JSON contract) and what explains them."""

    figures: dict[str, int | float]
    verdict: TownVerdict
    meter: Meter
    mb_per_courier_hour_max: float
    mb_per_member_hour_max: float
    sim_seconds: float
    events: int
    rejected: Counter[str]
    """The fold's refusals, by reason (a stale dispatcher's choice, a late cancel...)."""
    assigned_by_dispatcher: int
    """Deliveries the dispatcher gave (the others were assigned automatically)."""

    def breakdown(self) -> dict[str, float]:
        """Shares of the bytes sent, by kind (the received side mirrors it)."""
        total = sum(self.meter.kinds.values()) or 1
        return {k: round(v / total, 4) for k, v in self.meter.kinds.most_common()}


def run_town(config: TownConfig) -> TownReport:
    """Run the town ``config`` describes (see the module docstring)."""
    cpu0 = time.process_time()
    replica = TownReplica(config.members, config.stores + config.couriers, config.grid)
    try:
        return _run(config, replica, cpu0)
    finally:
        replica.close()


def _run(config: TownConfig, replica: TownReplica, cpu0: float) -> TownReport:
    sim = Simulator(config.seed, phone_link(config.min_delay, config.max_delay))
    meter = Meter()
    logs = add_phones(
        sim,
        replica.identities,
        committee=config.committee,
        timeout_ms=config.timeout_ms,
        community=f"sim-deliveries/{config.seed}",
        pace_s=config.pace_s,
        meter=meter,
        on_deliver=replica.fold,
    )
    town = Town(config, replica, sim.rng_for(CITY))
    sim.add_node(CITY, lambda: town)
    stats = sim.run(until=config.hours * 3600.0 + config.drain_s, max_events=config.max_events)
    replica.check_running()
    verdict = audit(replica.fold_state, replica.events, logs)
    if verdict.safety_violations:
        raise UnsafeRun("; ".join(verdict.safety_violations[:5]))
    ordered = town.tally.ordered_at
    waits = [
        (ms - community_ms(ordered[o])) / 1000.0
        for o, ms in verdict.fulfilled_ms.items()
        if o in ordered
    ]
    hours = config.hours
    couriers = [c.index for c in town.couriers]
    per_courier = [meter.traffic(phone(i)) / MB / hours for i in couriers]
    per_member = [meter.traffic(phone(i)) / MB / hours for i in range(config.members)]
    cpu = time.process_time() - cpu0
    figures: dict[str, int | float] = {
        "orders": verdict.orders,
        "fulfilled": verdict.fulfilled,
        "cancelled": verdict.cancelled,
        "unfulfilled": verdict.unfulfilled,
        "completion_p50_s": round(percentile(waits, 0.5), 3),
        "completion_p95_s": round(percentile(waits, 0.95), 3),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_order": round(1000.0 * cpu / max(1, verdict.orders), 3),
        "mb_per_courier_hour": round(sum(per_courier) / len(per_courier), 4),
        "double_assignments": verdict.double_assignments,
        "unpaid_fulfilled": verdict.unpaid_fulfilled,
    }
    return TownReport(
        figures,
        verdict,
        meter,
        round(max(per_courier), 4),
        round(max(per_member), 4),
        stats.now,
        stats.events,
        Counter(e.reason for e in replica.log if e.status != "applied"),
        sum(1 for e in replica.log if e.status == "applied" and isinstance(e.record, Assign)),
    )


__all__ = ["CPU_KEYS", "KEYS", "TownReport", "run_town"]
