"""The cooperative's fold of the delivery app, fed the order one member's phone delivered.

The city's :class:`~peoplenet.bench.city.replica.AppReplica` (the real app through the real
host, customers' and observers' signed requests checked) with the delivery app, its voted
settings and its elected dispatcher; and every event the fold declared, kept in order for the
audit (:mod:`.audit`): automatic assignments happen inside the fold, so only its events say
who held a task when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from peoplenet.actors.governance.records import AppTx
from peoplenet.apps.delivery import plugin
from peoplenet.apps.delivery.fold import DISPATCHER, DeliveryFold
from peoplenet.apps.delivery.orders import DeliveryBook
from peoplenet.apps.delivery.state import DeliveryState
from peoplenet.bench.city.replica import AppReplica, AppStopped
from peoplenet.plugins.api import Record, Value
from peoplenet.runtime.wire.codec import encode

APP: Final = plugin.NAME


@dataclass(frozen=True, slots=True)
class Happened:
    """One event the fold declared: (what, order or task id, courier or empty), and when."""

    at_ms: int
    what: str
    subject: bytes
    courier: bytes


class TownReplica(AppReplica):
    """The delivery fold of a town's cooperative: ``members`` members, ``dispatcher`` (an
    index) elected to the office, automatic assignment voted within ``rings`` cell rings,
    cash at the door."""

    def __init__(self, members: int, dispatcher: int, rings: int) -> None:
        self.events: list[Happened] = []
        settings: dict[str, Value] = {
            "auto_assign": True,
            "auto_rings": rings,
            "payment": "cash",
        }
        super().__init__(
            plugin,
            members,
            settings,
            source="sim deliveries",
            officers={DISPATCHER: dispatcher},
        )

    @property
    def fold_state(self) -> DeliveryFold:
        state = self.harness.state
        if not isinstance(state, DeliveryState):
            raise AppStopped("the delivery app has no state in the replica")
        return state.fold

    @property
    def book(self) -> DeliveryBook:
        return self.fold_state.book

    def applied(self, result: Mapping[str, Value]) -> None:
        if result.get("status") != "applied":
            return
        body = result.get("result")
        events = body.get("events", ()) if isinstance(body, dict) else ()
        at_ms = self.harness.now_ms
        for event in events if isinstance(events, list | tuple) else ():
            if not isinstance(event, list | tuple) or not event:
                continue
            what, *ids = event
            subject = bytes.fromhex(str(ids[0])) if ids else b""
            courier = bytes.fromhex(str(ids[1])) if len(ids) > 1 else b""
            self.events.append(Happened(at_ms, str(what), subject, courier))


def app_tx(record: Record) -> AppTx:
    """What a member's phone submits for one of the app's records."""
    return AppTx(APP, encode(record))


__all__ = ["APP", "Happened", "TownReplica", "app_tx"]
