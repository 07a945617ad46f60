"""The conformance kit's harness: one app in a made-up cooperative, run through the real host.

:class:`AppHarness` drives an :class:`~peoplenet.plugins.host.AppHost` (in memory) the way a
member's node does -- enable, transactions, decisions, commands, lace blocks -- and records
every hook call with its error and duration, so :mod:`peoplenet.plugins.testing` can check the
app against the platform's contract.  Authors use it directly too (``docs/plugins.md``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pluggy import HookImpl, Result

from peoplenet.actors.governance.charter import VACANT
from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    AppTxRejected,
    ConsentRefused,
    DecisionView,
    FoldContext,
    PluginError,
)
from peoplenet.plugins.guard import DEFAULT_DEADLINE_S, EXPECTED, AppFaulted, PluginFailed
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.manager import AppRegistry, load_apps
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.app_lace import LaceBlocks
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Record, Value, decode, encode

HOOK_BUDGET_S: Final = DEFAULT_DEADLINE_S / 4
"""Longest a hook may take under the kit: well within the node's deadline."""
COMMUNITY: Final = b"f/conformance-kit"
START_MS: Final = 1_700_000_000_000
"""Community time of the kit's first event; each event adds a second."""
RATES: Final[Mapping[str, str]] = {"commission": "1/10"}
DEFAULT_DECISIONS: Final = (
    DecisionView(1, "rate", "commission", adopted=True, outcome="1/10"),
    DecisionView(2, "budget", "outreach", adopted=False, outcome=None),
)
_FOLD_REFUSALS: Final = frozenset({"peoplenet_check_tx", "peoplenet_apply_tx", "peoplenet_funds"})


def member_id(index: int) -> bytes:
    """The kit's member ``index`` (0-based; 0 is the node's own member): stable across runs.

    Cases use it where a transaction or an enabling action names a member.
    """
    return bytes(_identity(index).member_id)


def _identity(index: int) -> Identity:
    if not 0 <= index < 255:
        raise PluginError("the kit's members are numbered 0..254")
    return Identity.from_seed(bytes([index + 1]) * 32)


@dataclass(frozen=True, slots=True)
class HookCall:
    """One call of one of the app's hooks, as the kit saw it (pluggy call monitoring)."""

    hook: str
    kwargs: Mapping[str, Any]
    implemented: bool
    error: BaseException | None
    seconds: float

    def label(self) -> str:
        tx = self.kwargs.get("tx")
        if tx is not None:
            return f"{self.hook}({type(tx).__name__})"
        command = self.kwargs.get("command")
        return f"{self.hook}({command!r})" if command is not None else self.hook


class _Signer:
    """Signs app-lace blocks for the first member with a test key (the node's role)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        return Block.create(self.identity, lace, payload, pointers)

    def open_sealed_box(self, box: bytes) -> bytes | None:
        """Opens what is sealed to the first member (``NodeContext.unseal``), as a node does."""
        return self.identity.open_sealed_box(box)


class AppHarness:
    """One app in a made-up cooperative of ``members`` members, on the first member's node.

    Everything goes through the real :class:`AppHost` (in memory) with :class:`FoldContext` s
    built here: community time starts at :data:`START_MS` and each event adds a second.
    Every hook call is recorded in :attr:`calls`; :meth:`problems` reads them.
    """

    def __init__(
        self,
        plugin: object,
        *,
        members: int = 4,
        source: str = "conformance case",
        deadline_s: float = DEFAULT_DEADLINE_S,
        others: Sequence[object] = (),
    ) -> None:
        """Load ``plugin`` strictly (:class:`PluginError` if it does not load), and ``others``
        beside it: the cooperative's other apps (a funds provider), driven by name through
        :meth:`enable_app` and :meth:`snapshot_of`."""
        if members < 1:
            raise PluginError("a cooperative has at least one member")
        extra = [(source, plugin)]
        extra.extend((f"{source}: other app {i}", p) for i, p in enumerate(others))
        self.registry: AppRegistry = load_apps(
            strict=True, bundled=(), use_entry_points=False, extra=extra
        )
        by_source = {s: n for n, s in self.registry.sources.items()}
        self.name = by_source[source]
        self.others: tuple[str, ...] = tuple(by_source[s] for s, _ in extra[1:])
        """The names of ``others``, in their order."""
        self.spec: AppSpec = self.registry.specs[self.name]
        self.identities = tuple(_identity(i) for i in range(members))
        self.members = tuple(bytes(i.member_id) for i in self.identities)
        self.now_ms = START_MS
        self.position = (1, 0)
        self.officers: dict[str, bytes] = {}
        """Role -> the member holding it, as ``ctx.officers`` shows it (:meth:`elect`)."""
        self.calls: list[HookCall] = []
        self._started: dict[int, list[float]] = {}
        self.registry.manager.add_hookcall_monitoring(self._before, self._after)
        self.host = AppHost(
            self.registry,
            COMMUNITY,
            self.members[0],
            _Signer(self.identities[0]),
            folder=None,
            context=self.context,
            deadline_s=deadline_s,
        )
        self.host.set_members(self.members)

    # -- hook monitoring ------------------------------------------------------------------------

    def _before(self, hook: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        self._started.setdefault(threading.get_ident(), []).append(time.perf_counter())

    def _after(
        self, outcome: Result[Any], hook: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        started = self._started[threading.get_ident()].pop()
        seconds = time.perf_counter() - started
        self.calls.append(HookCall(hook, dict(kwargs), bool(impls), outcome.exception, seconds))

    # -- the cooperative -----------------------------------------------------------------------

    def context(
        self,
        name: str,
        sender: bytes = b"",
        position: tuple[int, int] = (0, 0),
        beacon: bytes = b"",
    ) -> FoldContext:
        """The fold's view now (what ``CoopApps.context`` gives the host on a node)."""
        return FoldContext(
            COMMUNITY,
            self.now_ms,
            frozenset(self.members),
            self.host.settings(name),
            dict(RATES),
            sender,
            position,
            beacon,
            dict(self.officers),
        )

    @property
    def settings(self) -> dict[str, Value]:
        inst = self.host.instances.get(self.name)
        return dict(inst.settings) if inst is not None else {}

    def _tick(self) -> None:
        self.now_ms += 1000
        self.position = (self.position[0], self.position[1] + 1)

    def enable(self, settings: Mapping[str, Value] | None = None, action: Value = None) -> None:
        """An adopted ``app`` decision enables the app (or re-sets it) with ``settings``."""
        self._tick()
        given = dict(self.settings if settings is None else settings)
        self._lifecycle(True, given, action)

    def enable_app(
        self, name: str, settings: Mapping[str, Value] | None = None, action: Value = None
    ) -> None:
        """An adopted ``app`` decision enables another of the cooperative's apps (``others``)."""
        self._tick()
        with contextlib.suppress(*EXPECTED):  # recorded in self.calls: this hook may not refuse
            self.host.app_changed(name, True, dict(settings or {}), action)

    def snapshot_of(self, name: str) -> Value:
        """Another app's snapshot (``others``)."""
        return self.host.snapshot(name)

    def disable(self) -> None:
        """An adopted ``app`` decision disables the app (its state is kept)."""
        self._tick()
        self._lifecycle(False, self.settings, None)

    def _lifecycle(self, enabled: bool, settings: dict[str, Value], action: Value) -> None:
        with contextlib.suppress(*EXPECTED):  # recorded in self.calls: this hook may not refuse
            self.host.app_changed(self.name, enabled, settings, action)

    def decide(self, decision: DecisionView) -> None:
        """Another cooperative decision closed."""
        self._tick()
        with contextlib.suppress(*EXPECTED):  # recorded in self.calls: this hook may not refuse
            self.host.decision(decision)

    def elect(self, role: str, member: int | None, number: int = 1) -> None:
        """An ``officer`` decision numbered ``number`` closed: ``member`` (an index; None:
        nobody) holds ``role`` from now on, in ``ctx.officers`` too, and the app hears the
        decision with the outcome a node gives it (the member's full id, or ``"vacant"``)."""
        if member is None:
            self.officers.pop(role, None)
            outcome = VACANT
        else:
            self.officers[role] = self.members[member]
            outcome = self.members[member].hex()
        self.decide(DecisionView(number, "officer", role, adopted=True, outcome=outcome))

    def duties(self) -> list[Record]:
        """The first member's node does its duties now: the app transactions they submitted."""
        with contextlib.suppress(*EXPECTED):  # recorded in self.calls: duties may not refuse
            return _submitted(self.host.duties(self.now_ms).submit)
        return []

    def submit(self, tx: Record, member: int = 0) -> dict[str, Value]:
        """``tx`` from ``member`` comes out of consensus: the host's result for it."""
        self._tick()
        ctx = self.context(
            self.name, self.members[member], self.position, harness_beacon(self.position)
        )
        return self.host.apply_tx(self.name, encode(tx), ctx)

    def check(self, tx: Record, member: int = 0) -> str | None:
        """``peoplenet_check_tx`` alone, at the next position: the refusal's reason, or None."""
        inst = self.host.instances.get(self.name)
        if inst is None or not inst.created:
            return "no_state"
        position = (self.position[0], self.position[1] + 1)  # where submit() would put it
        ctx = FoldContext(
            COMMUNITY,
            self.now_ms + 1000,
            frozenset(self.members),
            self.settings,
            dict(RATES),
            self.members[member],
            position,
            harness_beacon(position),
            dict(self.officers),
        )
        copy = decode(encode(tx))  # the app sees a decoded copy, as on a node
        try:
            self.host.check_tx(self.name, copy, ctx)
        except AppTxRejected as exc:
            return exc.reason
        except (PluginFailed, AppFaulted):
            return "plugin_failed"
        return None

    def command(
        self, op: str, args: Mapping[str, Value] | None = None
    ) -> tuple[Value, list[Record]]:
        """The first member runs ``op``: its result and the app transactions it submitted."""
        result, out = self.host.command(self.name, op, dict(args or {}), self.now_ms)
        return result, _submitted(out.submit)

    def snapshot(self) -> Value:
        return self.host.snapshot(self.name)

    @property
    def state(self) -> object:
        """The app's state object on this node (for a case's probes; ``None`` before enabling)."""
        inst = self.host.instances.get(self.name)
        return inst.state if inst is not None else None

    # -- the app's lace ---------------------------------------------------------------------------

    def sign(self, member: int, payload: Record, pointers: Sequence[bytes] = ()) -> Block:
        """A block of the app's lace signed by ``member`` (:class:`PluginError` without a lace)."""
        inst = self.host.instances.get(self.name)
        if inst is None or inst.replica is None:
            raise PluginError(f"{self.name} has no lace here (uses_lace, and enable it first)")
        return Block.create(self.identities[member], inst.replica.lace, payload, tuple(pointers))

    def latest(self, member: int) -> bytes | None:
        """``member``'s latest block in the app's lace on this node (``None``: none, or forked)."""
        inst = self.host.instances.get(self.name)
        if inst is None or inst.replica is None or inst.blocklace is None:
            return None
        tip = inst.blocklace.latest(inst.replica.lace, self.identities[member].member_id)
        return None if tip is None else bytes(tip)

    def deliver(self, blocks: Sequence[Block]) -> None:
        """``blocks`` arrive in one message from the network (one event): stored, fed to the app.

        They come from their creator, or from another member when the node's own member (or
        several members) signed them.
        """
        inst = self.host.instances.get(self.name)
        if inst is None or inst.replica is None or not blocks:
            return
        self._tick()
        creators = {bytes(b.creator) for b in blocks}
        me = self.members[0]
        peer = next(iter(creators)) if len(creators) == 1 and me not in creators else None
        if peer is None:
            peer = next((m for m in self.members if m != me), me)
        message = LaceBlocks(inst.replica.lace, tuple(b.to_bytes() for b in blocks))
        self.host.receive(peer, message, self.now_ms)

    def faulted(self) -> str:
        inst = self.host.instances.get(self.name)
        return inst.guard.faulted if inst is not None else ""

    def problems(self) -> list[str]:
        """Hook calls that broke the rules: raised, or ran longer than :data:`HOOK_BUDGET_S`."""
        out: list[str] = []
        for call in self.calls:
            if not call.implemented:
                continue
            error = call.error
            if error is not None and not _allowed(call.hook, error):
                out.append(f"{call.label()} raised {error!r}{_hint(call.hook)}")
            if call.seconds > HOOK_BUDGET_S:
                out.append(
                    f"{call.label()} took {call.seconds:.2f} s (the kit allows "
                    f"{HOOK_BUDGET_S} s; the node's deadline is {DEFAULT_DEADLINE_S} s)"
                )
        if self.faulted():
            out.append(f"the node stopped running the app: {self.faulted()}")
        return list(dict.fromkeys(out))

    def close(self) -> None:
        self.host.close()

    def __enter__(self) -> AppHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def harness_beacon(position: tuple[int, int]) -> bytes:
    """The beacon the harness gives the transaction at ``position`` (a node's comes from the
    order's blocks): 32 bytes, different at every position, the same in every run."""
    data = b"peoplenet-harness" + b"".join(p.to_bytes(8, "big") for p in position)
    return hashlib.blake2b(data, digest_size=32).digest()


def _submitted(app_txs: Sequence[Record]) -> list[Record]:
    """The app's own records inside the ``AppTx`` es the host queued for submission."""
    out = []
    for app_tx in app_txs:
        body = getattr(app_tx, "body", None)
        value = decode(body) if isinstance(body, bytes) else None
        if isinstance(value, Record):
            out.append(value)
    return out


def _allowed(hook: str, error: BaseException) -> bool:
    if isinstance(error, AppTxRejected):
        return hook in _FOLD_REFUSALS
    return isinstance(error, AppCommandError | ConsentRefused) and hook == "peoplenet_command"


def _hint(hook: str) -> str:
    if hook in _FOLD_REFUSALS:
        return " (refuse a transaction with AppTxRejected; anything else is a plugin failure)"
    if hook == "peoplenet_command":
        return " (a command refuses with AppCommandError)"
    if hook == "peoplenet_duties":
        return " (duties must not raise: catch ConsentRefused and the like)"
    if hook in {"peoplenet_decision", "peoplenet_app_changed"}:
        return " (this hook cannot refuse anything: it must not raise)"
    return ""
