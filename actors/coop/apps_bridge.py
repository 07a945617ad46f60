"""Between a cooperative's governance fold and its apps: what the fold decided, the apps hear.

:class:`CoopApps` is owned by the cooperative's consumer.  On a node the apps run in a keyless
worker process (:class:`~plugins.remote_host.RemoteAppHost`); given a ``registry`` (tests with
their own plugins), they run in this process (:class:`~plugins.host.AppHost`).  After each
delivered transaction it looks at what the fold did: an adopted ``app`` decision enables,
re-sets or disables an app; any other closed decision is told to the enabled apps; an
``AppTx`` the fold let through (the app is enabled, the sender a member) goes to its app; a
change of members reaches the app laces.  The app host does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Final

from actors.governance.fold import Applied
from actors.governance.records import AppChange, AppTx, GovTx, point_to_wire
from actors.governance.state import GovernanceState
from plugins.api import AppCommandError, DecisionView, FoldContext
from plugins.host import AppHost, AppHostApi, BlockSigner, HostOutput
from plugins.manager import AppRegistry
from plugins.remote_host import RemoteAppHost
from runtime.codec import Value
from runtime.consensus.core import Delivery

RATE: Final = "rate"


class CoopApps:
    """The apps of one cooperative, fed from its governance fold."""

    def __init__(
        self,
        state: GovernanceState,
        community: bytes,
        me: bytes,
        signer: BlockSigner,
        *,
        folder: Path | None,
        registry: AppRegistry | None = None,
    ) -> None:
        self.state = state
        self.host: AppHostApi = (
            RemoteAppHost(community, me, signer, folder=folder, context=self.context)
            if registry is None
            else AppHost(registry, community, me, signer, folder=folder, context=self.context)
        )
        self.community = community
        self.members: frozenset[bytes] = frozenset()
        self.time = state.time
        self._sync_members()

    def context(
        self, name: str, sender: bytes = b"", position: tuple[int, int] = (0, 0)
    ) -> FoldContext:
        s = self.state
        rates = {
            subject: str(point_to_wire(value))
            for (kind, subject), value in s.values.items()
            if kind == RATE and isinstance(value, Fraction | int)
        }
        return FoldContext(
            self.community,
            s.time,
            frozenset(s.members),
            self.host.settings(name),
            rates,
            sender,
            position,
        )

    def _sync_members(self) -> None:
        members = frozenset(self.state.members)
        if members != self.members:
            self.members = members
            self.host.set_members(members)

    def after(self, d: Delivery, applied: Applied) -> dict[str, Value] | None:
        """Tell the apps what this delivery did; the app's result if it was an ``AppTx``."""
        s = self.state
        if s.time != self.time:
            self.time = s.time
            self.host.clock()
        for number in applied.closed:
            decision = s.decision(number)
            if decision is None:
                continue
            change = decision.change
            if decision.kind == "app" and isinstance(change, AppChange):
                if decision.adopted and decision.applied:
                    self.host.app_changed(
                        decision.subject, change.enabled, change.settings, change.action
                    )
                continue
            self.host.decision(
                DecisionView(
                    decision.number,
                    decision.kind,
                    decision.subject,
                    decision.adopted,
                    point_to_wire(decision.outcome),
                )
            )
        self._sync_members()
        tx = d.tx
        if applied.rejection is None and isinstance(tx, GovTx) and isinstance(tx.action, AppTx):
            ctx = self.context(tx.action.app, bytes(d.creator), (d.epoch, d.position))
            return self.host.apply_tx(tx.action.app, tx.action.body, ctx)
        return None

    def output(self, out: HostOutput, now_ms: int) -> tuple[tuple[Value, ...], HostOutput]:
        """The host's app transactions as governance transactions to submit."""
        return tuple(GovTx(now_ms, tx) for tx in out.submit if isinstance(tx, AppTx)), out

    def command(self, args: Mapping[str, Value], now_ms: int) -> tuple[Value, HostOutput]:
        app, op = args.get("app"), args.get("command")
        if not isinstance(app, str) or not isinstance(op, str):
            raise AppCommandError("bad_command", "app and command are required")
        given = args.get("args", {})
        if not isinstance(given, dict):
            raise AppCommandError("bad_command", "args is a map")
        return self.host.command(app, op, given, now_ms)

    def close(self) -> None:
        """Stop the apps (their worker process, their threads and files)."""
        self.host.close()

    def listing(self) -> list[dict[str, Value]]:
        """Every installed app, and every app the cooperative decided about, with its status."""
        names = set(self.host.app_names()) | set(self.state.apps)
        out = []
        for name in sorted(names):
            status = self.host.status(name)
            decided = self.state.apps.get(name)
            status["enabled"] = bool(decided and decided[0])
            out.append(status)
        return out


__all__ = ["CoopApps"]
