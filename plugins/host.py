"""The apps of one cooperative on one member's node: lifecycle, isolation, signing, laces.

Over 700 lines because the host is one object whose parts (the fold's events, the deferred
visits of a delivery, the app laces, commands) all run through the same instances and guards;
the app-lace part is the one to move out next, as a collaborator holding the laces.

The cooperative's consumer (actors/coop/consumer.py) owns one :class:`AppHost` and tells it,
in the cooperative's order, what the governance fold decided: an ``app`` decision enabled,
re-set or disabled an app (:meth:`AppHost.app_changed`), an enabled app's transaction passed
the fold (:meth:`AppHost.apply_tx`), another decision closed (:meth:`AppHost.decision`).  The
host turns these into the app's hooks, each through the instance's
:class:`~peoplenet.plugins.guard.Guard`.

Lifecycle (per community): an app's state is created the first time it is enabled and is kept
when it is disabled, so re-enabling continues where it stopped; while disabled, the fold
refuses its transactions (``app_disabled``) and the host feeds it nothing.  An app that is
enabled but not installed on this node is listed as such; the cooperative goes on.

Signing: an app never holds a key.  It hands a :class:`~peoplenet.plugins.api.Draft` to
:meth:`NodeContext.publish`; the host finds the purpose from the payload's record type (as the
app declared it), signs only automatic purposes or those a command the person is running
grants (one signature per grant), then signs through the runtime's restricted signer (app laces
only) and pushes the block to every member.

Signing waits for the hook to return: ``publish`` answers the block's id at once (an id covers
the unsigned block, so it does not need the key), and the host has every block the hook
published signed in one go afterwards (:meth:`BatchSigner.blocks`, one request to the node
when the apps run in a worker process), then stores and pushes them in that order.  The
blocks of a message and the duties after them run in one visit to the app's thread
(:meth:`~peoplenet.plugins.guard.Guard.call_many`).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from peoplenet.actors.work.sealed import NotARecipient, SealedTampered
from peoplenet.plugins.api import (
    AppChangeView,
    AppCommandError,
    AppSpec,
    AppTxRejected,
    ConsentRefused,
    DecisionView,
    FoldContext,
    LaceBlockView,
    ParamSpec,
)
from peoplenet.plugins.command_args import convert_args
from peoplenet.plugins.funds import funded_call, funded_step
from peoplenet.plugins.guard import (
    DEFAULT_DEADLINE_S,
    DEFAULT_MAX_FAILURES,
    EXPECTED,
    AppFaulted,
    Guard,
    PluginFailed,
)
from peoplenet.plugins.host_api import HostOutput
from peoplenet.plugins.manager import AppRegistry
from peoplenet.plugins.node_context import HookNode
from peoplenet.plugins.signing import (
    BlockSigner,
    sign_all,
    sync_wal,
)
from peoplenet.runtime.errors import (
    EncodeError,
    PeoplenetError,
    RemoteProtocolError,
)
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.app_lace import (
    LaceBlocks,
    LaceHave,
    LaceReplica,
    ReplicaOutput,
    app_lace_id,
    decode_lace_message,
)
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace, Equivocation
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.wire.codec import Record, Value, decode, encode

LAST_RESULTS: Final = 256
COMMAND_REFUSALS: Final = (*EXPECTED, NotARecipient, SealedTampered)
"""What a command may raise on purpose: the refusals, and sealed details it met that are not
the member's or do not open (a refusal with that reason, never a fault of the app)."""
_log = get_logger("peoplenet.plugins.host")


@dataclass(slots=True)
class _Instance:
    spec: AppSpec
    guard: Guard
    state: object = None
    created: bool = False
    enabled: bool = False
    settings: dict[str, Value] = field(default_factory=dict)
    applied: int = 0
    rejected: int = 0
    results: deque[dict[str, Value]] = field(default_factory=lambda: deque(maxlen=LAST_RESULTS))
    replica: LaceReplica | None = None
    blocklace: Blocklace | None = None
    store: SqliteStore | None = None
    fed: set[bytes] = field(default_factory=set)
    purposes: dict[type, str] = field(default_factory=dict)
    sync_started: bool = False
    """The lace replica asked the members how far they hold my chain (after opening)."""


class AppHost:
    """Every app of one cooperative on this node."""

    def __init__(
        self,
        registry: AppRegistry,
        community: bytes,
        me: bytes,
        signer: BlockSigner,
        *,
        folder: Path | None,
        context: Callable[[str], FoldContext],
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self.registry = registry
        self.community = community
        self.me = me
        self.signer = signer
        self.folder = folder
        self.context = context
        """The cooperative's current view for an app (members, settings, rates, time)."""
        self.deadline_s = deadline_s
        self.max_failures = max_failures
        self.instances: dict[str, _Instance] = {}
        self.members: frozenset[bytes] = frozenset()
        self.pending_feed: list[tuple[_Instance, Block]] = []
        self._done: list[dict[str, Value]] = []
        """The results of :meth:`later_apply` since the last :meth:`deliver`."""
        self._deferring = False
        self._deferred: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        """Per app, the clock and decision hooks of a delivery not run yet (:meth:`deferring`):
        they run in the app's next visit, before anything else of it."""

    # -- instances ----------------------------------------------------------------------------

    def _instance(self, name: str) -> _Instance | None:
        inst = self.instances.get(name)
        if inst is not None:
            return inst
        spec = self.registry.spec(name)
        if spec is None:
            return None
        guard = Guard(name, deadline_s=self.deadline_s, max_failures=self.max_failures)
        inst = _Instance(spec, guard)
        for record, purpose in _lace_records(spec):
            inst.purposes[record] = purpose
        self.instances[name] = inst
        return inst

    def _call(self, inst: _Instance, hook: str, *args: Any) -> Any:
        """One hook of ``inst`` through its guard; failures are logged, never raised."""
        fn = self.registry.hook(inst.spec.name, hook)
        try:
            # No refusal is expected here: an app refusing a lifecycle event is a failure.
            return inst.guard.call(
                hook, lambda: fn(**dict(zip(_ARGS[hook], args, strict=True))), expected=()
            )
        except (PluginFailed, AppFaulted) as exc:
            _log.warning("app_hook_failed", app=inst.spec.name, hook=hook, error=str(exc))
            return None

    def _call_all(self, inst: _Instance, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """:meth:`_call` for each ``(hook, args)`` in order, in one visit to the app's thread
        when none fails (:meth:`Guard.call_many`); None for each that failed or did not run."""
        hooks = self.registry.hook
        name = inst.spec.name

        def bound(hook: str, args: tuple[Any, ...]) -> Callable[[], Any]:
            fn = hooks(name, hook)
            kwargs = dict(zip(_ARGS[hook], args, strict=True))
            return lambda: fn(**kwargs)

        outcomes = inst.guard.call_many([(hook, bound(hook, args)) for hook, args in calls])
        results: list[Any] = []
        for (hook, _), outcome in zip(calls, outcomes, strict=True):
            if isinstance(outcome, PluginFailed | AppFaulted):
                _log.warning("app_hook_failed", app=name, hook=hook, error=str(outcome))
                results.append(None)
            else:
                results.append(outcome)
        return results

    def _ensure_state(self, inst: _Instance) -> bool:
        if inst.created:
            return True
        if inst.guard.faulted:
            return False
        state = self._call(inst, "peoplenet_new_state", self.community, dict(inst.settings))
        if state is None:
            return False
        inst.state, inst.created = state, True
        if inst.spec.uses_lace:
            self._open_lace(inst)
        return True

    def _open_lace(self, inst: _Instance) -> None:
        lace = app_lace_id(self.community, inst.spec.name)
        if self.folder is None:
            from peoplenet.runtime.lace.store import MemoryStore  # noqa: PLC0415 - tests without a folder

            inst.blocklace = Blocklace(MemoryStore())
        else:
            # Received blocks commit without a sync of their own (a power cut may lose the
            # last few: peers send them again); our own are synced before they leave.
            path = self.folder / f"{lace.hex()}.app.sqlite"
            inst.store = SqliteStore(path, durability="normal")
            inst.blocklace = Blocklace(inst.store)
        # learn_own_first: this store may be an old backup (docs/security.md)
        inst.replica = LaceReplica(
            LaceId(lace),
            inst.blocklace,
            MemberId(self.me),
            (MemberId(m) for m in self.members),
            learn_own_first=True,
        )
        # Blocks stored before a restart are fed again, pointees first.
        stored = inst.blocklace.topological(inst.blocklace.iter_lace(LaceId(lace)))
        for bid in stored:
            self.pending_feed.append((inst, inst.blocklace.get(bid)))
        for ev in inst.blocklace.equivocations(LaceId(lace)):
            self._equivocation(inst, ev)

    def app_names(self) -> list[str]:
        """Every installed app."""
        return self.registry.names()

    def params(self, name: str) -> tuple[ParamSpec, ...] | None:
        """The parameters the app declares, or None if it is not installed here."""
        spec = self.registry.spec(name)
        return None if spec is None else spec.params

    def settings(self, name: str) -> dict[str, Value]:
        """The app's settings as the cooperative last decided them (with defaults), or {}."""
        inst = self.instances.get(name)
        return dict(inst.settings) if inst is not None else {}

    def usable(self, inst: _Instance) -> bool:
        return inst.enabled and inst.created and not inst.guard.faulted

    # -- the fold side (called in the cooperative's order) -----------------------------------

    def app_changed(self, name: str, enabled: bool, given: Value, action: Value) -> None:
        inst = self._instance(name)
        if inst is None:
            _log.warning("app_not_installed", app=name, enabled=enabled)
            return
        was, previous = inst.enabled, dict(inst.settings)
        try:
            settings = inst.spec.settings(given)
        except AppTxRejected as exc:
            # The consumer checks first (peoplenet.plugins.api.checked_settings, the same check): a
            # refused change leaves the app exactly as it was, enabled state and settings.
            _log.warning("app_settings_refused", app=name, reason=exc.reason, detail=exc.detail)
            return
        inst.enabled, inst.settings = enabled, settings
        if enabled and not self._ensure_state(inst):
            return
        if not inst.created:
            return
        view = AppChangeView(enabled, was, settings, previous, action)
        self._call(inst, "peoplenet_app_changed", inst.state, view, self.context(name))
        if enabled:
            self._drain_feed()

    def apply_tx(self, name: str, body: bytes, ctx: FoldContext) -> dict[str, Value]:
        """An ``AppTx`` the fold let through (the app is enabled); what became of it."""
        inst = self._instance(name)
        if inst is None:
            return self._result(None, "rejected", "app_not_installed", "", ctx)
        if not inst.enabled:  # its enabling decision was refused (settings it does not take)
            return self._result(inst, "rejected", "app_disabled", "not enabled here", ctx)
        if not self._ensure_state(inst) or inst.guard.faulted:
            return self._result(inst, "rejected", "app_faulted", inst.guard.faulted, ctx)
        try:
            tx = decode(body)
        except RemoteProtocolError as exc:
            return self._refused_before(inst, "bad_tx", exc.reason, ctx)
        if type(tx) not in inst.spec.tx_types:
            return self._refused_before(inst, "unknown_tx", type(tx).__name__, ctx)
        self.run_deferred(but=name)  # (another app's state may be read through the funds)
        try:
            result = self._check_then_apply(inst, tx, ctx)
        except _FaultedBefore as exc:
            return self._result(inst, "rejected", "app_faulted", str(exc), ctx)
        except AppTxRejected as exc:
            return self._result(inst, "rejected", exc.reason, exc.detail, ctx)
        except (PluginFailed, AppFaulted) as exc:
            return self._result(inst, "rejected", "plugin_failed", str(exc), ctx)
        return self._result(inst, "applied", "", "", ctx, result=result)

    def _refused_before(
        self, inst: _Instance, reason: str, detail: str, ctx: FoldContext
    ) -> dict[str, Value]:
        """A transaction refused before its hooks: after the app's deferred hooks, which may
        have faulted it (then it is refused as an out-of-service app's)."""
        self._run_deferred(inst)
        if inst.guard.faulted:
            return self._result(inst, "rejected", "app_faulted", inst.guard.faulted, ctx)
        return self._result(inst, "rejected", reason, detail, ctx)

    # -- money between apps: FoldContext.funds (plugins/funds.py) ------------------------------

    def check_tx(self, name: str, tx: Value, ctx: FoldContext) -> None:
        """``peoplenet_check_tx`` alone, as :meth:`apply_tx` runs it (``ctx.funds`` a dry
        run): the conformance kit's probe.  Raises the app's ``AppTxRejected``."""
        funded_call(self, self.instances[name], "peoplenet_check_tx", tx, ctx, commit=False)

    def _strict(self, inst: _Instance, hook: str, *args: Any) -> Any:
        fn = self.registry.hook(inst.spec.name, hook)
        names = _ARGS[hook]
        # A fold refuses only with AppTxRejected: a node-side refusal raised here is a fault.
        return inst.guard.call(
            hook, lambda: fn(**dict(zip(names, args, strict=True))), expected=(AppTxRejected,)
        )

    def _result(
        self,
        inst: _Instance | None,
        status: str,
        reason: str,
        detail: str,
        ctx: FoldContext,
        *,
        result: Value = None,
    ) -> dict[str, Value]:
        out: dict[str, Value] = {
            "status": status,
            "epoch": ctx.position[0],
            "position": ctx.position[1],
            "sender": ctx.sender.hex(),
        }
        if status == "applied":
            out["result"] = _jsonable(result)
        else:
            out["reason"], out["detail"] = reason, detail
        if inst is not None:
            if status == "applied":
                inst.applied += 1
            else:
                inst.rejected += 1
            inst.results.append(out)
        return out

    def clock(self) -> None:
        """Community time moved: apps with periodic rules apply them (in order, everywhere)."""
        for name, inst in sorted(self.instances.items()):
            if self.usable(inst) and self.registry.implements(name, "peoplenet_clock"):
                self._event_hook(inst, "peoplenet_clock", inst.state, self.context(name))

    def decision(self, view: DecisionView) -> None:
        for name, inst in sorted(self.instances.items()):
            if self.usable(inst):
                self._event_hook(inst, "peoplenet_decision", inst.state, view, self.context(name))

    # -- a delivery's hooks in as few visits as its order allows ------------------------------

    def _event_hook(self, inst: _Instance, hook: str, *args: Any) -> None:
        """A clock or decision hook: now, or (while :meth:`deferring`) in the app's next visit.

        Why that is the same: such a hook answers nothing and touches only its own app's state,
        which nothing reads before the app's next hook (another app reads it only through
        ``FoldContext.funds``, and :meth:`apply_tx` runs the other apps' deferred hooks before
        it); a hook that faults the app leaves the hooks after it unrun, as the app's being out
        of service would have."""
        if self._deferring:
            self._deferred.setdefault(inst.spec.name, []).append((hook, args))
        else:
            self._call(inst, hook, *args)

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Within: clock and decision hooks wait for their app's next visit (one ordered
        delivery in the worker); every one left runs on the way out."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            self.run_deferred()

    def run_deferred(self, but: str = "") -> None:
        """Run every app's deferred hooks (but ``but``'s), one visit per app, in name order."""
        for name in sorted(self._deferred):
            if name != but:
                self._run_deferred(self.instances[name])

    def _run_deferred(self, inst: _Instance) -> None:
        calls = self._deferred.pop(inst.spec.name, [])
        if calls:
            self._log_deferred(inst, calls, self._call_all_outcomes(inst, calls))

    def _bound(self, inst: _Instance, hook: str, args: tuple[Any, ...]) -> Callable[[], Any]:
        fn = self.registry.hook(inst.spec.name, hook)
        kwargs = dict(zip(_ARGS[hook], args, strict=True))
        return lambda: fn(**kwargs)

    def _call_all_outcomes(
        self, inst: _Instance, calls: Sequence[tuple[str, tuple[Any, ...]]]
    ) -> list[Any]:
        return inst.guard.call_many([(h, self._bound(inst, h, a)) for h, a in calls])

    def _log_deferred(
        self, inst: _Instance, calls: Sequence[tuple[str, tuple[Any, ...]]], outcomes: list[Any]
    ) -> None:
        """As :meth:`_call` logs each failure; a hook not run because the app faulted before it
        is not logged (unrun, as an out-of-service app's hooks are)."""
        for (hook, _), outcome in zip(calls, outcomes, strict=False):
            if isinstance(outcome, PluginFailed):
                _log.warning("app_hook_failed", app=inst.spec.name, hook=hook, error=str(outcome))

    def _check_then_apply(self, inst: _Instance, tx: Value, ctx: FoldContext) -> Any:
        """``check_tx`` then ``apply_tx`` as :func:`funded_call` runs each, in one visit with
        the app's deferred hooks before them; raises what either raises (the apply runs only if
        the check returned), or :class:`_FaultedBefore` if a deferred hook faulted the app."""
        before = self._deferred.pop(inst.spec.name, [])
        check, end_check = funded_step(self, inst, "peoplenet_check_tx", tx, ctx)
        ends: list[Callable[..., None]] = []

        def applying() -> Any:
            end_check()  # the check's funds are over before the apply starts, as in two calls
            # routed as a call of its own would route it now (the check may have faulted the
            # funds provider)
            apply, end_apply = funded_step(self, inst, "peoplenet_apply_tx", tx, ctx)
            ends.append(end_apply)
            return apply()

        calls = [(h, self._bound(inst, h, a)) for h, a in before]
        calls += [("peoplenet_check_tx", check), ("peoplenet_apply_tx", applying)]
        refusals = [()] * len(before) + [(AppTxRejected,), (AppTxRejected,)]
        try:
            outcomes = inst.guard.call_many(calls, refusals=refusals, chain_from=len(before))
        finally:
            end_check()
            for end in ends:
                end(False)
        self._log_deferred(inst, before, outcomes)
        checked, applied = outcomes[-2], outcomes[-1]
        if isinstance(checked, AppFaulted) and before:
            raise _FaultedBefore(inst.guard.faulted)
        if isinstance(checked, BaseException):
            raise checked
        if isinstance(applied, BaseException):
            raise applied
        ends[0](True)
        return applied

    # -- one ordered delivery (the worker's host batches these: one call to its process) --------

    def later_clock(self) -> None:
        """:meth:`clock`: in this process it runs at once."""
        self.clock()

    def later_decision(self, view: DecisionView) -> None:
        """:meth:`decision`: in this process it runs at once."""
        self.decision(view)

    def later_apply(
        self, name: str, body: bytes, sender: bytes, position: tuple[int, int], beacon: bytes
    ) -> None:
        """:meth:`apply_tx` at once, in the app's view with the transaction's sender, position
        and beacon; its result comes from :meth:`deliver`."""
        ctx = replace(self.context(name), sender=sender, position=position, beacon=beacon)
        self._done.append(self.apply_tx(name, body, ctx))

    def deliver(self, now_ms: int | None) -> tuple[list[dict[str, Value]], HostOutput]:
        """The results of the ``later_apply`` calls since the last time, in order, and the
        duties at ``now_ms`` if given."""
        done, self._done = self._done, []
        return done, HostOutput() if now_ms is None else self.duties(now_ms)

    # -- the app laces -------------------------------------------------------------------------

    def set_members(self, members: Iterable[bytes]) -> None:
        self.members = frozenset(members)
        for inst in self.instances.values():
            if inst.replica is not None:
                inst.replica.set_members(MemberId(m) for m in self.members)

    def laces(self) -> tuple[bytes, ...]:
        return tuple(
            bytes(inst.replica.lace) for inst in self.instances.values() if inst.replica is not None
        )

    def _by_lace(self, lace: bytes) -> _Instance | None:
        for inst in self.instances.values():
            if inst.replica is not None and inst.replica.lace == lace:
                return inst
        return None

    def receive(
        self, peer: bytes, msg: LaceBlocks | LaceHave, now_ms: int, *, feed: bool = True
    ) -> HostOutput:
        out = HostOutput()
        inst = self._by_lace(msg.lace)
        if inst is None or inst.replica is None:
            return out
        result = inst.replica.receive(MemberId(peer), msg, now_ms / 1000)
        self.replica_output(inst, result, out, feed=feed)
        return out

    def receive_then_duties(
        self, peer: bytes, msg: bytes | LaceBlocks | LaceHave, now_ms: int
    ) -> HostOutput:
        """:meth:`receive`, then :meth:`duties`: what a peer's lace message asks of the node.

        The blocks it brought reach the app in the same visit as its duties.  The message comes
        as the bytes that arrived (this host, the replicas' owner, decodes them: a malformed one
        raises :class:`~peoplenet.runtime.errors.RemoteProtocolError`) or already decoded."""
        if isinstance(msg, bytes):
            msg = decode_lace_message(msg)
        out = self.receive(peer, msg, now_ms, feed=False)
        out.merge(self.duties(now_ms))
        return out

    def peer_up(self, peer: bytes, now_ms: int) -> HostOutput:
        out = HostOutput()
        for inst in self.instances.values():
            if inst.replica is not None and peer in self.members:
                self.replica_output(inst, inst.replica.peer_up(MemberId(peer), now_ms / 1000), out)
        return out

    def replica_output(
        self, inst: _Instance, result: ReplicaOutput, out: HostOutput, *, feed: bool = True
    ) -> None:
        out.sends.extend((bytes(p), m) for p, m in result.sends)
        if result.wake_at is not None:
            out.merge(HostOutput(wake_at_ms=int(result.wake_at * 1000)))
        for peer, error in result.rejected:
            _log.info(
                "app_lace_refused", app=inst.spec.name, peer=peer.hex()[:16], error=str(error)
            )
        for block in result.added:
            self.pending_feed.append((inst, block))
        for ev in result.equivocations:
            self._equivocation(inst, ev)
        for problem in result.own_problems:
            _log.error(
                "own_chain_problem",
                app=inst.spec.name,
                kind=problem.kind,
                detail=problem.detail,
                advice=problem.advice(),
            )
        if feed:
            self._drain_feed()

    def _equivocation(self, inst: _Instance, ev: Equivocation) -> None:
        if self.usable(inst):
            self._call(
                inst,
                "peoplenet_lace_equivocation",
                inst.state,
                bytes(ev.creator),
                bytes(ev.first),
                bytes(ev.second),
                self.context(inst.spec.name),
            )

    def _drain_feed(self) -> None:
        """Feed stored lace blocks to apps that can take them (enabled ones), pointees first."""
        for name, calls in self._feed_calls().items():
            self._call_all(self.instances[name], calls)

    def _feed_calls(self) -> dict[str, list[tuple[str, tuple[Any, ...]]]]:
        """The ``peoplenet_lace_block`` calls due now, per instance, in feeding order (taken
        from the pending feed: an instance that cannot take them keeps them waiting)."""
        waiting: list[tuple[_Instance, Block]] = []
        calls: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        contexts: dict[str, FoldContext] = {}
        for inst, block in self.pending_feed:
            bid = bytes(block.id)
            if bid in inst.fed:
                continue
            if not self.usable(inst):
                waiting.append((inst, block))
                continue
            inst.fed.add(bid)
            view = LaceBlockView(bid, bytes(block.creator), block.payload, block.pointers, block)
            name = inst.spec.name
            ctx = contexts.get(name)
            if ctx is None:
                ctx = contexts[name] = self.context(name)
            calls.setdefault(name, []).append(("peoplenet_lace_block", (inst.state, view, ctx)))
        self.pending_feed = waiting
        return calls

    # -- the node side --------------------------------------------------------------------------

    def duties(self, now_ms: int) -> HostOutput:
        """Feed what is pending, then each app's duties: one visit to each app's thread, and
        one more to feed the blocks the duties published."""
        feeds = self._feed_calls()
        out = HostOutput()
        for name, inst in list(self.instances.items()):
            if inst.replica is not None and not inst.sync_started:
                inst.sync_started = True
                self.replica_output(inst, inst.replica.start(now_ms / 1000), out)
            calls = feeds.pop(name, [])
            node: HookNode | None = None
            # my own chain here not learnt yet (or forked): duties wait
            may_sign = inst.replica is None or inst.replica.may_sign()
            if (
                self.usable(inst)
                and self.registry.implements(name, "peoplenet_duties")
                and may_sign
            ):
                node = HookNode(self, inst, now_ms)
                calls.append(("peoplenet_duties", (inst.state, node)))
            if not calls:
                continue
            try:
                self._call_all(inst, calls)
            finally:
                if node is not None:
                    node.live = False
            if node is not None:
                self._store_published(inst, node, now_ms)
                out.merge(node.out)
        for name, calls in feeds.items():
            self._call_all(self.instances[name], calls)
        self._drain_feed()
        return out

    def tick(self, now_ms: int) -> HostOutput:
        out = HostOutput()
        for inst in self.instances.values():
            if inst.replica is not None:
                self.replica_output(inst, inst.replica.tick(now_ms / 1000), out, feed=False)
        out.merge(self.duties(now_ms))
        return out

    def command(
        self, name: str, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, HostOutput]:
        inst = self._instance(name)
        if inst is None:
            raise AppCommandError("unknown_app", f"no app {name!r} is installed")
        spec = inst.spec.command(op)
        if spec is None:
            known = ", ".join(c.name for c in inst.spec.commands) or "none"
            raise AppCommandError("unknown_command", f"{name} has no command {op!r} ({known})")
        if inst.guard.faulted:
            raise AppCommandError("app_faulted", inst.guard.faulted)
        if not inst.enabled and not spec.read_only:
            raise AppCommandError("app_disabled", f"{name} is not enabled in this cooperative")
        if not self._ensure_state(inst):
            raise AppCommandError("app_faulted", inst.guard.faulted or "no state")
        typed = convert_args(spec, args, self.members)
        self._drain_feed()
        node = HookNode(self, inst, now_ms, spec.consents)
        fn = self.registry.hook(name, "peoplenet_command")
        try:
            result = inst.guard.call(
                "peoplenet_command",
                lambda: fn(state=inst.state, command=op, args=typed, node=node),
                expected=COMMAND_REFUSALS,
            )
        except AppCommandError:
            raise
        except ConsentRefused as exc:  # (its subclasses keep their reason: unseal_refused)
            raise AppCommandError(exc.reason, str(exc)) from None
        except PluginFailed as exc:
            raise command_failed(name, op, exc) from None
        except PeoplenetError as exc:  # e.g. not_a_recipient, sealed_tampered
            detail = getattr(exc, "detail", "") or str(exc)
            raise AppCommandError(getattr(exc, "reason", "app_failed"), detail) from None
        finally:
            node.live = False
            refused = self._store_published(inst, node, now_ms)
        if refused is not None:
            self._drain_feed()
            raise AppCommandError("consent_refused", str(refused))
        answer = _jsonable(result)
        try:
            encode(answer)  # it crosses to the node: a result that cannot is the app's failure
        except EncodeError as exc:
            self._drain_feed()
            raise AppCommandError("bad_result", f"{name} {op} answered {exc}") from None
        out = node.out
        out.merge(self.duties(now_ms))  # (feeds what the command published, with the duties)
        return answer, out

    def _store_published(
        self, inst: _Instance, node: HookNode, now_ms: int
    ) -> ConsentRefused | None:
        """Sign, store and push what the call published (on the host's thread, in order).

        The app's own checks came first (``publish``); should the signer still refuse one
        (a signer that judges for itself), it and the blocks after it are dropped, and the
        refusal is returned.
        """
        requests, node.requests = node.requests, []
        if inst.replica is None or not requests:
            return None
        blocks, refused = sign_all(self.signer, requests)
        for block in blocks:
            self.replica_output(
                inst, inst.replica.add_own(block, now_ms / 1000), node.out, feed=False
            )
        if blocks and inst.store is not None:
            sync_wal(inst.store.path)  # on disk before anyone sees them: no fork after a crash
        if refused is not None:
            _log.warning("app_block_refused", app=inst.spec.name, error=str(refused))
        return refused

    # -- views ----------------------------------------------------------------------------------

    def app_tx(self, name: str, tx: Record) -> Record:
        from peoplenet.actors.governance.records import AppTx  # noqa: PLC0415 - the layer above

        return AppTx(name, encode(tx))

    def status(self, name: str) -> dict[str, Value]:
        inst = self.instances.get(name)
        spec = self.registry.spec(name)
        out: dict[str, Value] = {
            "name": name,
            "installed": spec is not None,
            "version": spec.version if spec is not None else None,
            "enabled": bool(inst and inst.enabled),
            "settings": dict(inst.settings) if inst else {},
            "faulted": inst.guard.faulted if inst else "",
            "applied": inst.applied if inst else 0,
            "rejected": inst.rejected if inst else 0,
        }
        if inst is not None and inst.replica is not None and inst.blocklace is not None:
            out["lace"] = bytes(inst.replica.lace).hex()
            out["lace_blocks"] = len(inst.blocklace)
            own = inst.replica.own
            out["own_chain"] = own.status("app lace")
            out["problems"] = () if own.problem is None else (own.problem.to_value("app lace"),)
        out["state_digest"] = self._state_digest(name)
        return out

    def _state_digest(self, name: str) -> str | None:
        """A short hash of the app's snapshot: equal on two nodes iff their states are (the
        snapshot's contract), so phones can be compared without moving the whole state."""
        snapshot = self.snapshot(name)
        if snapshot is None:
            return None
        try:
            return hashlib.blake2b(encode(snapshot), digest_size=16).hexdigest()
        except EncodeError as exc:
            _log.warning("app_snapshot_unencodable", app=name, error=str(exc))
            return None

    def snapshot(self, name: str) -> Value:
        inst = self.instances.get(name)
        if inst is None or not inst.created or inst.guard.faulted:
            return None
        return self._call(inst, "peoplenet_snapshot", inst.state)  # type: ignore[no-any-return]

    def recent(self, name: str) -> list[dict[str, Value]]:
        inst = self.instances.get(name)
        return list(inst.results) if inst else []

    def close(self) -> None:
        for inst in self.instances.values():
            inst.guard.close()
            if inst.store is not None:
                inst.store.close()


class _FaultedBefore(AppFaulted):
    """A deferred hook faulted the app before its transaction's check (internal: the
    transaction is refused ``app_faulted``, as it would have been had the hook run first)."""


_ARGS: Final[Mapping[str, tuple[str, ...]]] = {
    "peoplenet_new_state": ("community", "settings"),
    "peoplenet_check_tx": ("state", "tx", "ctx"),
    "peoplenet_apply_tx": ("state", "tx", "ctx"),
    "peoplenet_decision": ("state", "decision", "ctx"),
    "peoplenet_clock": ("state", "ctx"),
    "peoplenet_app_changed": ("state", "change", "ctx"),
    "peoplenet_lace_block": ("state", "block", "ctx"),
    "peoplenet_lace_equivocation": ("state", "creator", "first", "second", "ctx"),
    "peoplenet_snapshot": ("state",),
    "peoplenet_duties": ("state", "node"),
}


def command_failed(app: str, op: str, failure: PluginFailed) -> AppCommandError:
    """An app's command that broke (raised something other than a refusal), in words.

    The reason is the error's own stable ``reason`` when it has one (codec and protocol
    errors do), else ``app_failed``; the detail says which command of which app failed and
    why, with the error's message rather than its Python representation.
    """
    error = failure.error
    if error is None:
        return AppCommandError("app_failed", f"{app} {op}: {failure.detail}")
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        detail = getattr(error, "detail", "")
        why = detail if isinstance(detail, str) and detail else str(error)
        return AppCommandError(reason, f"{app} {op} failed: {why}")
    why = str(error) or type(error).__name__
    return AppCommandError("app_failed", f"{app} {op} failed ({type(error).__name__}): {why}")


def _lace_records(spec: AppSpec) -> list[tuple[type, str]]:
    return list(spec.lace_records)


def _jsonable(value: Any) -> Value:
    """Bytes as hex, tuples as lists: what a command or result prints as JSON."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return tuple(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value  # type: ignore[no-any-return]


__all__ = ["AppHost", "command_failed"]
