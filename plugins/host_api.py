"""What the cooperative's consumer uses of an app host, and what a host call asks it to do.

Two hosts answer to it: :class:`~peoplenet.plugins.host.AppHost` (in this process: tests, the
conformance kit, the worker's inside) and ``RemoteAppHost`` (a node's apps, in a keyless worker
process, plugins/worker/remote_host.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from peoplenet.plugins.api import (
    DecisionView,
    FoldContext,
    ParamSpec,
)
from peoplenet.runtime.wire.codec import Record, Value


class AppHostApi(Protocol):
    """What the cooperative's consumer uses of a host: :class:`AppHost` (in this process, for
    tests and the conformance kit) or ``peoplenet.plugins.worker.remote_host.RemoteAppHost`` (a
    node's apps, in a
    keyless worker)."""

    def app_names(self) -> list[str]: ...
    def params(self, name: str) -> tuple[ParamSpec, ...] | None: ...
    def settings(self, name: str) -> dict[str, Value]: ...
    def app_changed(self, name: str, enabled: bool, given: Value, action: Value) -> None: ...
    def apply_tx(self, name: str, body: bytes, ctx: FoldContext) -> dict[str, Value]: ...
    def clock(self) -> None: ...
    def decision(self, view: DecisionView) -> None: ...
    def later_clock(self) -> None:
        """:meth:`clock`, as part of the delivery :meth:`deliver` completes."""
        ...

    def later_decision(self, view: DecisionView) -> None:
        """:meth:`decision`, as part of the delivery :meth:`deliver` completes."""
        ...

    def later_apply(
        self, name: str, body: bytes, sender: bytes, position: tuple[int, int], beacon: bytes
    ) -> None:
        """:meth:`apply_tx` in the app's view with the transaction's sender, position and
        beacon, as part of the delivery; :meth:`deliver` gives its result."""
        ...

    def deliver(self, now_ms: int | None) -> tuple[list[dict[str, Value]], HostOutput]:
        """Complete the delivery: the ``later_apply`` results in order, then the duties at
        ``now_ms`` (if given).  A worker's host sends it all in one call."""
        ...

    def set_members(self, members: Iterable[bytes]) -> None: ...
    def laces(self) -> tuple[bytes, ...]: ...
    def receive_then_duties(self, peer: bytes, data: bytes, now_ms: int) -> HostOutput: ...
    def peer_up(self, peer: bytes, now_ms: int) -> HostOutput: ...
    def duties(self, now_ms: int) -> HostOutput: ...
    def tick(self, now_ms: int) -> HostOutput: ...
    def command(
        self, name: str, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, HostOutput]: ...
    def status(self, name: str) -> dict[str, Value]: ...
    def snapshot(self, name: str) -> Value: ...
    def recent(self, name: str) -> list[dict[str, Value]]: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class HostOutput:
    """What the consumer must do after a host call."""

    submit: list[Record] = field(default_factory=list)
    """App transactions (``AppTx``) to submit to the cooperative's ordered lace."""
    sends: list[tuple[bytes, Value]] = field(default_factory=list)
    wake_at_ms: int | None = None

    def merge(self, other: HostOutput) -> None:
        self.submit.extend(other.submit)
        self.sends.extend(other.sends)
        if other.wake_at_ms is not None:
            self.wake_at_ms = (
                other.wake_at_ms
                if self.wake_at_ms is None
                else min(self.wake_at_ms, other.wake_at_ms)
            )
