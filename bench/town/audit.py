"""The town's verdict, from the final state and the fold's declared events -- not its counters.

* **Safety of consensus**: the city's check (:func:`~peoplenet.bench.city.audit.consensus_safety`).
* **Double assignment**: replaying the events in order, a task never has two couriers at once
  (``assigned`` takes it, ``task_ended`` releases it), no task is done by a courier who does
  not hold it, and each done task's courier in the final book is the one the replay says.
* **Unpaid fulfilled**: every order the fold declared ``fulfilled`` ends with its money paid
  out (the cash recorded, the collector's debt counted), and none of it stuck.
* **Accounting**: orders = fulfilled + cancelled (or refused) + unfulfilled (still open).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peoplenet.apps.delivery.fold import DeliveryFold
from peoplenet.apps.delivery.orders import (
    FULFILLED,
    OPEN_ORDER,
    ORDER_CANCELLED,
    REFUSED,
)
from peoplenet.apps.delivery.payment import PAID
from peoplenet.apps.delivery.tasks import DONE
from peoplenet.bench.city.audit import consensus_safety
from peoplenet.bench.town.replica import Happened
from peoplenet.runtime.consensus.core import Delivery


@dataclass(frozen=True, slots=True)
class TownVerdict:
    orders: int
    fulfilled: int
    cancelled: int
    unfulfilled: int
    double_assignments: int
    unpaid_fulfilled: int
    safety_violations: tuple[str, ...]
    fulfilled_ms: dict[bytes, int]
    """Order -> community time the fold declared it fulfilled."""


def audit(
    fold: DeliveryFold, events: Sequence[Happened], logs: Sequence[list[Delivery]]
) -> TownVerdict:
    """The verdict on a finished run (see the module docstring)."""
    holder: dict[bytes, bytes] = {}  # task -> its courier now
    done_by: dict[bytes, bytes] = {}
    doubles = 0
    created: list[bytes] = []
    fulfilled_ms: dict[bytes, int] = {}
    for e in events:
        if e.what == "created":
            created.append(e.subject)
        elif e.what == "assigned":
            if e.subject in holder:
                doubles += 1
            holder[e.subject] = e.courier
        elif e.what == "task_ended":
            holder.pop(e.subject, None)
        elif e.what == "task_done":
            if holder.get(e.subject) != e.courier:
                doubles += 1
            done_by[e.subject] = e.courier
        elif e.what == "fulfilled":
            fulfilled_ms.setdefault(e.subject, e.at_ms)
    book = fold.book
    for task_id, courier in done_by.items():
        task = book.tasks.get(task_id)
        if task is None or task.state != DONE or task.courier != courier:
            doubles += 1
    unpaid = 0
    for order_id in fulfilled_ms:
        money = fold.pay.money(order_id)
        if money is None or money.state != PAID or order_id in fold.money_stuck:
            unpaid += 1
    orders = [book.orders[o] for o in created if o in book.orders]
    return TownVerdict(
        len(orders),
        sum(1 for o in orders if o.state == FULFILLED),
        sum(1 for o in orders if o.state in (ORDER_CANCELLED, REFUSED)),
        sum(1 for o in orders if o.state in OPEN_ORDER),
        doubles,
        unpaid,
        tuple(consensus_safety(logs)),
        fulfilled_ms,
    )


__all__ = ["TownVerdict", "audit"]
