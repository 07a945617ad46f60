"""The cooperative's fold of the ride-hailing app, fed the order one member's phone delivered.

Every correct member delivers the same order (the run checks it: :mod:`.audit`), and the fold
is deterministic, so one replica stands for every phone's: the real app (its plugin module)
through the real :class:`~peoplenet.plugins.host.AppHost`, loaded by the conformance kit's
:class:`~peoplenet.plugins.testing.AppHarness`.  A driver's transaction comes as the app's
``AppTx`` in its creator's block (the sender is the block's creator); a rider's, or an
observer driver's relayed by a participant, comes as a signed :class:`CustomerRequest`: the
replica checks the signature and sequence number with the work kit's
:class:`~peoplenet.plugins.kit.CustomerBook` and folds the body as the signer's.

Community time is the simulated instant the reference phone delivered the transaction (in the
cooperative it comes from the members' time claims; here every phone's clock is the
simulator's).  Every transaction's outcome is kept in :attr:`Replica.log` for the audit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Final

from peoplenet.actors.governance.records import AppTx
from peoplenet.apps.ride_hailing import plugin
from peoplenet.apps.ride_hailing.payment import commission_rate
from peoplenet.apps.ride_hailing.plugin import RideState
from peoplenet.apps.ride_hailing.policy import Env, Policy
from peoplenet.apps.ride_hailing.trips import Ride, RideBook
from peoplenet.plugins.api import AppTxRejected, FoldContext, Record, Value
from peoplenet.plugins.kit import CustomerBook, CustomerRequest
from peoplenet.plugins.testing import COMMUNITY, AppHarness
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import decode, encode

APP: Final = plugin.NAME
START_MS: Final = 1_700_000_000_000
"""Community time at simulated second 0."""
RATES: Final = {"commission": "1/10"}
FOLD_DEADLINE_S: Final = 3600.0


class AppStopped(LocalError):
    """The host stopped the app in the replica (a hook overran the guard's deadline, or
    failed): the run's figures would be those of a cooperative without its app."""


def community_ms(now: float) -> int:
    return START_MS + round(now * 1000)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ordered transaction and what the fold made of it."""

    at_ms: int
    sender: bytes
    record: Record | None
    status: str
    reason: str


class AppReplica:
    """One app's fold in a cooperative of ``members`` members (the first ``members``
    identities of the kit's harness), with ``settings`` voted and ``officers`` elected (role ->
    member index): what every simulation of a work app shares."""

    def __init__(
        self,
        app_plugin: ModuleType,
        members: int,
        settings: Mapping[str, Value],
        *,
        source: str,
        officers: Mapping[str, int] | None = None,
    ) -> None:
        self.app: str = app_plugin.NAME
        # The guard's deadline is wall-clock time: a loaded machine must not fault the app in
        # a simulation (its figures would be garbage), so it is far beyond any hook's time.
        self.harness = AppHarness(
            app_plugin, members=members, source=source, deadline_s=FOLD_DEADLINE_S
        )
        self.harness.enable(app_plugin.SPEC.settings(dict(settings)))
        for role, member in sorted((officers or {}).items()):
            self.harness.elect(role, member)
        self.check_running()
        self.identities: tuple[Identity, ...] = self.harness.identities
        self.members = frozenset(self.harness.members)
        self.customers = CustomerBook()
        self.log: list[Entry] = []

    def check_running(self) -> None:
        """:class:`AppStopped` if the host stopped the app here."""
        if self.harness.faulted():
            raise AppStopped(f"the app stopped in the replica: {self.harness.faulted()}")

    def fold(self, deliveries: list[Delivery], now: float) -> bool:
        """Fold ``deliveries`` at simulated ``now``; whether any was the app's."""
        any_app = False
        for d in deliveries:
            any_app |= self._one(d, community_ms(now))
        self.harness.calls.clear()  # the kit's hook monitor: not needed here, only memory
        return any_app

    def _one(self, d: Delivery, now_ms: int) -> bool:
        tx = d.tx
        self.harness.now_ms = now_ms
        beacon = hashlib.blake2b(bytes(d.block), digest_size=32).digest()
        position = (d.epoch, d.position)
        if isinstance(tx, AppTx) and tx.app == self.app:
            return self._apply(bytes(d.creator), tx.body, now_ms, position, beacon)
        if isinstance(tx, CustomerRequest):
            ctx = self._ctx(tx.customer, now_ms, position, beacon)
            try:
                self.customers.accept(tx, ctx, self.app)
            except AppTxRejected as exc:
                self.log.append(Entry(now_ms, tx.customer, None, "rejected", exc.reason))
                return True
            return self._apply(tx.customer, tx.body, now_ms, position, beacon)
        return False

    def _ctx(
        self, sender: bytes, now_ms: int, position: tuple[int, int], beacon: bytes
    ) -> FoldContext:
        settings = self.harness.host.settings(self.app)
        return FoldContext(
            COMMUNITY, now_ms, self.members, settings, dict(RATES), sender, position, beacon,
            dict(self.harness.officers),
        )  # fmt: skip

    def _apply(
        self, sender: bytes, body: bytes, now_ms: int, position: tuple[int, int], beacon: bytes
    ) -> bool:
        ctx = self._ctx(sender, now_ms, position, beacon)
        result = self.harness.host.apply_tx(self.app, body, ctx)
        record = decode(body)
        status, reason = str(result["status"]), str(result.get("reason", ""))
        self.log.append(
            Entry(now_ms, sender, record if isinstance(record, Record) else None, status, reason)
        )
        self.applied(result)
        return True

    def applied(self, result: Mapping[str, Value]) -> None:
        """The host's answer to one ordered transaction of the app (a hook for subclasses)."""

    def close(self) -> None:
        self.harness.close()


class Replica(AppReplica):
    """The ride-hailing fold of the cooperative of ``drivers`` members."""

    def __init__(self, drivers: int, offer_timeout_ms: int = 20_000) -> None:
        super().__init__(
            plugin, drivers, {"offer_timeout_ms": offer_timeout_ms}, source="sim rides"
        )

    @property
    def state(self) -> RideState:
        state = self.harness.state
        if not isinstance(state, RideState):
            raise AppStopped("the ride app has no state in the replica")
        return state

    @property
    def book(self) -> RideBook:
        return self.state.book

    def env(self, now_ms: int) -> Env:
        """What a phone judges a fare against now (as the app's ``complete`` command does)."""
        settings = self.harness.host.settings(APP)
        return Env(
            now_ms,
            Policy.from_settings(settings),
            self.state.rules,
            commission_rate(RATES["commission"]),
            self.members,
            b"",
            COMMUNITY,
        )

    def open_rides(self) -> list[Ride]:
        book = self.book
        return [book.rides[r] for r in sorted(book.riding.values())]


def app_tx(record: Record) -> AppTx:
    """What a driver's phone submits for one of the app's records."""
    return AppTx(APP, encode(record))


__all__ = [
    "APP",
    "START_MS",
    "AppReplica",
    "AppStopped",
    "Entry",
    "Replica",
    "app_tx",
    "community_ms",
]
