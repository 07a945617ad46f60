"""Between a cooperative's governance fold and its apps: what the fold decided, the apps hear.

:class:`CoopApps` is the app platform's side of the cooperative's port
(:class:`~peoplenet.actors.coop.apps.CooperativeApps`): the composer gives it to the
cooperative's consumer, which owns one per cooperative.  On a node the apps run in a keyless
worker process (:class:`~peoplenet.plugins.worker.remote_host.RemoteAppHost`); given a ``registry``
(tests with
their own plugins), they run in this process (:class:`~peoplenet.plugins.host.AppHost`).  After each
delivered transaction it looks at what the fold did: an adopted ``app`` decision enables,
re-sets or disables an app; any other closed decision is told to the enabled apps; an
``AppTx`` the fold let through (the app is enabled, the sender a member) goes to its app; a
change of members reaches the app laces.  The app host does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from fractions import Fraction
from pathlib import Path
from typing import Final

from peoplenet.actors.coop.apps import AppOutcome, AppsOutput
from peoplenet.actors.governance.fold import Applied
from peoplenet.actors.governance.records import AppChange, AppTx, GovTx, point_to_wire
from peoplenet.actors.governance.state import GovernanceState
from peoplenet.plugins.api import (
    AppCommandError,
    AppTxRejected,
    DecisionView,
    FoldContext,
    checked_settings,
)
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.host_api import AppHostApi, HostOutput
from peoplenet.plugins.manager import AppRegistry
from peoplenet.plugins.signing import BlockSigner
from peoplenet.plugins.worker.remote_host import RemoteAppHost
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.wire.codec import Value

RATE: Final = "rate"
OFFICER: Final = "officer"
_MEMBER_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")
"""How a member stands for an office: their full id (``coop propose --candidates`` writes it)."""
_log = get_logger("peoplenet.plugins.coop_apps")


class AppProposalRefused(AppCommandError):
    """An ``app`` proposal this node's app would refuse (not installed, settings it refuses)."""

    reason = "app_proposal_refused"


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
        self._views: dict[str, FoldContext] = {}
        """App -> its fold view, until the state changes (:meth:`changed`)."""
        self._last_views: dict[str, FoldContext] = {}
        """App -> the view it was given last (kept while an equal one would be built)."""
        self._shared: tuple[frozenset[bytes], dict[str, str], dict[str, bytes]] | None = None
        """The members, rates and officers of the views of this state (one computation for
        all apps)."""
        self._members_seen: frozenset[bytes] | None = None
        self._officers_seen: dict[str, bytes] | None = None
        # The worker's host receives views as wire copies: it may share one per state.  An
        # app in this process gets a fresh one per call (it could change its dicts).
        self.host: AppHostApi = (
            RemoteAppHost(community, me, signer, folder=folder, context=self._view)
            if registry is None
            else AppHost(registry, community, me, signer, folder=folder, context=self.context)
        )
        self.community = community
        self.members: frozenset[bytes] = frozenset()
        self.time = state.time
        self.outcomes: dict[str, AppOutcome] = {}
        """App -> its latest adopted ``app`` decision, applied or refused (rebuilt on replay)."""
        self._sync_members()

    def context(
        self,
        name: str,
        sender: bytes = b"",
        position: tuple[int, int] = (0, 0),
        beacon: bytes = b"",
    ) -> FoldContext:
        s = self.state
        return FoldContext(
            self.community,
            s.time,
            frozenset(s.members),
            self.host.settings(name),
            self.context_rates(),
            sender,
            position,
            beacon,
            self.context_officers(),
        )

    def _view(self, name: str) -> FoldContext:
        """:meth:`context`, computed once per state: every call to the worker asks for it.

        A view equal to the app's last one is that very object (the worker's host then has
        nothing to compare or send): most deliveries move only the time, or nothing."""
        view = self._views.get(name)
        if view is not None:
            return view
        s = self.state
        shared = self._shared
        if shared is None:
            members = frozenset(s.members)
            last = self._members_seen
            if last is not None and last == members:
                members = last  # one object while the members stay
            self._members_seen = members
            officers = self.context_officers()
            if officers == self._officers_seen:
                officers = self._officers_seen  # one object while the offices stay
            self._officers_seen = officers
            shared = self._shared = (members, self.context_rates(), officers)
        members, rates, officers = shared
        view = FoldContext(
            self.community,
            s.time,
            members,
            self.host.settings(name),
            rates,
            b"",
            (0, 0),
            b"",
            officers,
        )
        last_view = self._last_views.get(name)
        if last_view is not None and last_view == view:
            view = last_view
        self._views[name] = self._last_views[name] = view
        return view

    def context_rates(self) -> dict[str, str]:
        """The cooperative's rates as the apps see them (``"n/d"`` text, by subject)."""
        return {
            subject: str(point_to_wire(value))
            for (kind, subject), value in self.state.values.items()
            if kind == RATE and isinstance(value, Fraction | int)
        }

    def context_officers(self) -> dict[str, bytes]:
        """Who holds the cooperative's offices as the apps see them (role -> member id)."""
        return officers_of(self.state.values, self.state.members)

    def changed(self) -> None:
        """The fold's state (or an app's settings) changed: the views are recomputed."""
        self._views.clear()
        self._shared = None

    def _sync_members(self) -> None:
        members = frozenset(self.state.members)
        if members != self.members:
            self.members = members
            self.host.set_members(members)

    def after(self, d: Delivery, applied: Applied, beacon: bytes = b"") -> bool:
        """Tell the apps what this delivery did, whose fold sees ``beacon`` (the consensus
        actor's, for the step of the order that carried it); whether it was an ``AppTx`` the
        apps took, whose result :meth:`settle` gives.

        What the apps hear is queued (``later_*``): a node's worker gets the whole delivery
        in one call (:meth:`settle`); an ``app`` decision or a change of members is sent
        after what came before it."""
        s = self.state
        host = self.host
        if s.time != self.time:
            self.time = s.time
            host.later_clock()
        for number in applied.closed:
            decision = s.decision(number)
            if decision is None:
                continue
            change = decision.change
            if decision.kind == "app" and isinstance(change, AppChange):
                if decision.adopted and decision.applied:
                    self._app_decision(decision.number, decision.subject, change)
                continue
            host.later_decision(
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
            position = (d.epoch, d.position)
            host.later_apply(tx.action.app, tx.action.body, bytes(d.creator), position, beacon)
            return True
        return False

    def settle(self, now_ms: int | None) -> tuple[list[dict[str, Value]], HostOutput]:
        """The delivery told since the last call reaches the apps, then their duties at
        ``now_ms`` (if given): the results of the ``AppTx`` :meth:`after` took, in order."""
        return self.host.deliver(now_ms)

    def _app_decision(self, number: int, name: str, change: AppChange) -> None:
        """An adopted ``app`` decision: the app takes it whole, or refuses it whole.

        Its settings are checked against the app's declared parameters here, in the order, so
        every node that has the app decides alike; a refused change reaches no app (the app
        keeps its enabled state and settings) and is shown with its reason.  A node without
        the app cannot check: the record stands there, shown as not installed.
        """
        params = self.host.params(name)
        if params is None:  # not installed here: the host notes it, nothing to check against
            self.host.app_changed(name, change.enabled, change.settings, change.action)
            self.changed()
            return
        try:
            checked_settings(params, change.settings)
        except AppTxRejected as exc:
            self.outcomes[name] = AppOutcome(number, exc.reason, exc.detail)
            _log.warning("app_decision_refused", app=name, decision=number, reason=exc.reason)
            return
        self.outcomes[name] = AppOutcome(number)
        self.host.app_changed(name, change.enabled, change.settings, change.action)
        self.changed()

    def check_proposal(self, name: str, settings: Value) -> None:
        """Refuse, before anything is submitted, an ``app`` proposal this node's app refuses."""
        params = self.host.params(name)
        if params is None:
            installed = ", ".join(self.host.app_names()) or "none"
            raise AppProposalRefused(
                "app_not_installed", f"no app {name!r} is installed on this node ({installed})"
            )
        try:
            checked_settings(params, settings)
        except AppTxRejected as exc:
            raise AppProposalRefused(exc.reason, f"{name}: {exc.detail}") from None

    def enabled(self, name: str) -> bool:
        """Whether the app runs in this cooperative here (as it took the decisions)."""
        return bool(self.host.status(name).get("enabled"))

    def refused(self) -> dict[int, AppOutcome]:
        """Adopted ``app`` decisions the app refused, by number (the latest per app)."""
        return {o.decision: o for o in self.outcomes.values() if o.reason}

    def output(self, out: AppsOutput, now_ms: int) -> tuple[tuple[Value, ...], AppsOutput]:
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
            if not status.get("installed"):  # nothing here to disagree with the record
                decided = self.state.apps.get(name)
                status["enabled"] = bool(decided and decided[0])
            outcome = self.outcomes.get(name)
            if outcome is not None:
                status["decision"] = outcome.wire()
            out.append(status)
        return out


def officers_of(values: Mapping[tuple[str, str], object], members: Set[bytes]) -> dict[str, bytes]:
    """Role -> holder of each office a current member holds, by role name.

    An ``officer`` decision makes its winning candidate's name the role's value: a member
    stands under their full id (64 hex digits), anyone else under a plain name, and a role
    nobody holds is ``"vacant"``.  Only a name that is a current member's id counts: an
    officer who left (removed, or moved to a new key) holds no office an app could trust.
    Pure, and read only from the fold's state: the same on every node.
    """
    held: list[tuple[str, bytes]] = []
    for (kind, role), value in values.items():
        if kind != OFFICER or not isinstance(value, str) or not _MEMBER_HEX.fullmatch(value):
            continue
        holder = bytes.fromhex(value)
        if holder in members:
            held.append((role, holder))
    return dict(sorted(held))


__all__ = ["AppProposalRefused", "CoopApps", "officers_of"]
