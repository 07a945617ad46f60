"""The conformance kit: an app run through the real :class:`~peoplenet.plugins.host.AppHost` the way
a
member's node runs it, and every way it breaks the platform's contract, listed.

Third-party authors (and every bundled app) call :func:`check_app` from a test::

    check_app(ConformanceCase(plugin, good_txs=[...], bad_txs=[(tx, "reason"), ...]))

It loads the plugin strictly (as a node does), checks the declaration, and then drives two
fresh hosts (two members' nodes, in memory) through the same script -- enable, the good
transactions, closed decisions, the bad transactions, every command, a settings change,
disable and re-enable -- checking on the way that ``check_tx`` changes nothing, that bad
transactions are refused for the expected reason and change nothing, that the state survives
disable/re-enable, that commands fail only with :class:`~peoplenet.plugins.api.AppCommandError`,
that no
hook raises or runs long, and finally that both hosts reached the same snapshot at every step
(determinism).  :class:`ConformanceError` lists every failure found, not just the first.

:class:`AppHarness` (one app in a made-up cooperative) is public too: authors use it to test
their app's behaviour through the same host.  See ``docs/plugins.md``.

Apps with a replicated lace (``uses_lace``) also script blocks their members signed
(:class:`LaceBlock`): the kit signs them with the made-up members' keys, delivers them to the
node as from the network, checks each one's outcome (through the case's ``lace_outcome``
probe), and feeds the same blocks to a third node all at once in another order: an unordered
lace's fold must reach the same state whatever the delivery order.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from pluggy import HookImpl, Result

from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    AppTxRejected,
    ConsentRefused,
    DecisionView,
    FoldContext,
    ParamSpec,
    PluginError,
)
from peoplenet.plugins.guard import DEFAULT_DEADLINE_S, EXPECTED, AppFaulted, PluginFailed
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.manager import AppRegistry, load_apps
from peoplenet.runtime.errors import PeoplenetError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.app_lace import LaceBlocks
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, registered_tags

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
_FOLD_REFUSALS: Final = frozenset({"peoplenet_check_tx", "peoplenet_apply_tx"})


def member_id(index: int) -> bytes:
    """The kit's member ``index`` (0-based; 0 is the node's own member): stable across runs.

    Cases use it where a transaction or an enabling action names a member.
    """
    return bytes(_identity(index).member_id)


def _identity(index: int) -> Identity:
    if not 0 <= index < 255:
        raise PluginError("the kit's members are numbered 0..254")
    return Identity.from_seed(bytes([index + 1]) * 32)


class ConformanceError(PluginError, AssertionError):
    """The app breaks the contract; ``failures`` says every way (pytest shows them all)."""

    reason = "conformance_failed"

    def __init__(self, app: str, failures: Sequence[str]) -> None:
        self.app = app
        self.failures = tuple(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(f"{app} fails the conformance kit ({len(self.failures)}):\n{lines}")


@dataclass(frozen=True, slots=True)
class By:
    """A transaction submitted by member ``member`` (0-based) rather than the first member."""

    member: int
    tx: Record


LacePayload = Record | Callable[[Mapping[str, bytes]], Record]
"""A lace block's record, or a function of the ids of the case's earlier blocks (by label)."""
LaceOutcome = Callable[[Any, bytes], str | None]
"""The case's probe: given the app's state and a block id, ``None`` if the app's fold took the
block, else the reason it refused it (apps record refusals in their state, not as errors)."""


@dataclass(frozen=True, slots=True)
class LaceBlock:
    """A block of the app's lace that member ``member`` signed, delivered to the node.

    Its pointers are its creator's latest block there (or the block labelled ``after``:
    pointing to an earlier own block forks the creator's chain) plus the blocks labelled in
    ``refs``.  Blocks by member 0 (the node's own member) arrive as a restarted node gets its
    own blocks back: from another member.
    """

    member: int
    payload: LacePayload
    label: str = ""
    """A name later blocks use in ``refs``, ``after`` and their payload functions."""
    refs: tuple[str, ...] = ()
    after: str = ""
    expect: str | None = None
    """Why the app's fold refuses the block (``None``: it takes it); checked only when the
    case has a ``lace_outcome`` probe."""


@dataclass(frozen=True)
class ConformanceCase:
    """What the kit needs to know about an app to exercise it."""

    plugin: object
    """The plugin: a module or an object with ``@hookimpl`` functions."""
    good_txs: Sequence[Record | By]
    """Transactions valid in this order (from the first member unless :class:`By`); every
    declared tx type appears at least once."""
    bad_txs: Sequence[tuple[Record | By, str]] = ()
    """Transactions refused after the good ones (and the decisions), with the expected reason;
    each is tried on its own."""
    settings: Mapping[str, Value] = field(default_factory=dict)
    """Settings of the enabling decision (defaults fill the rest)."""
    action: Value = None
    """The enabling decision's one-off action (e.g. the currency's ``{"mint": n, "to": id}``)."""
    members: int = 4
    changed_settings: Mapping[str, Value] | None = None
    """Settings for the settings-change step (default: every parameter moved to another
    valid value)."""
    commands: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    """Arguments a command must succeed with (any transaction it submits must then apply)."""
    decisions: Sequence[DecisionView] = DEFAULT_DECISIONS
    """Closed cooperative decisions fed after the good transactions."""
    lace_records: Sequence[Record] = ()
    """An example of each ``AppSpec.lace_records`` type (they must round-trip the codec); the
    payloads of ``lace_blocks`` count as examples too."""
    source: str = "conformance case"
    lace_blocks: Sequence[LaceBlock] = ()
    """Blocks of the app's lace, delivered in this order after the good transactions."""
    lace_outcome: LaceOutcome | None = None
    """Reads each lace block's outcome from the app's state (see :class:`LaceBlock`)."""


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
    ) -> None:
        """Load ``plugin`` strictly (:class:`PluginError` if it does not load)."""
        if members < 1:
            raise PluginError("a cooperative has at least one member")
        self.registry: AppRegistry = load_apps(
            strict=True, bundled=(), use_entry_points=False, extra=[(source, plugin)]
        )
        (self.name,) = self.registry.names()
        self.spec: AppSpec = self.registry.specs[self.name]
        self.identities = tuple(_identity(i) for i in range(members))
        self.members = tuple(bytes(i.member_id) for i in self.identities)
        self.now_ms = START_MS
        self.position = (1, 0)
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
        self, name: str, sender: bytes = b"", position: tuple[int, int] = (0, 0)
    ) -> FoldContext:
        """The fold's view now (what ``CoopApps.context`` gives the host on a node)."""
        return FoldContext(
            COMMUNITY,
            self.now_ms,
            frozenset(self.members),
            self.settings,
            dict(RATES),
            sender,
            position,
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

    def duties(self) -> list[Record]:
        """The first member's node does its duties now: the app transactions they submitted."""
        with contextlib.suppress(*EXPECTED):  # recorded in self.calls: duties may not refuse
            return _submitted(self.host.duties(self.now_ms).submit)
        return []

    def submit(self, tx: Record, member: int = 0) -> dict[str, Value]:
        """``tx`` from ``member`` comes out of consensus: the host's result for it."""
        self._tick()
        ctx = self.context(self.name, self.members[member], self.position)
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
        )
        hook = self.registry.hook(self.name, "peoplenet_check_tx")
        copy = decode(encode(tx))  # the app sees a decoded copy, as on a node
        try:
            inst.guard.call("peoplenet_check_tx", lambda: hook(state=inst.state, tx=copy, ctx=ctx))
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


# -- the checks -------------------------------------------------------------------------------


def check_app(case: ConformanceCase) -> None:
    """Run the whole kit on ``case``; :class:`ConformanceError` lists every failure."""
    try:
        load_apps(
            strict=True, bundled=(), use_entry_points=False, extra=[(case.source, case.plugin)]
        )
    except PluginError as exc:
        raise ConformanceError(case.source, [f"does not load: {exc}"]) from None
    first = AppHarness(case.plugin, members=case.members, source=case.source)
    second = AppHarness(case.plugin, members=case.members, source=case.source)
    failures = _check_spec(first, case)
    try:
        run = _Run(first, case, failures)
        steps = run.run()
        again = _Run(second, case, []).run()
        failures.extend(first.problems())
        failures.extend(p for p in second.problems() if p not in failures)
        failures.extend(_compare(steps, again))
        lace_types = tuple(r for r, _ in first.spec.lace_records)
        examples = (*case.lace_records, *run.lace_payloads)
        failures.extend(_check_records("lace record", lace_types, examples, "lace_records"))
        if run.lace_blocks:
            failures.extend(_lace_order(case, run))
    finally:
        first.close()
        second.close()
    if failures:
        raise ConformanceError(first.name, list(dict.fromkeys(failures)))


def _txs(case: ConformanceCase) -> list[Record]:
    return [_unpack(t)[0] for t in (*case.good_txs, *(b for b, _ in case.bad_txs))]


def _unpack(item: Record | By) -> tuple[Record, int]:
    return (item.tx, item.member) if isinstance(item, By) else (item, 0)


def _check_spec(h: AppHarness, case: ConformanceCase) -> list[str]:
    spec, out = h.spec, []
    if not spec.version.strip():
        out.append("AppSpec.version is empty")
    if not spec.summary.strip():
        out.append("AppSpec.summary is empty")
    for p in spec.params:
        out.extend(_check_param(p))
    names = [c.name for c in spec.commands]
    if len(set(names)) != len(names):
        out.append(f"command names repeat: {names}")
    if spec.commands and not h.registry.implements(h.name, "peoplenet_command"):
        out.append("commands are declared but peoplenet_command is not implemented")
    if spec.tx_types:
        for hook in ("peoplenet_check_tx", "peoplenet_apply_tx"):
            if not h.registry.implements(h.name, hook):
                out.append(f"tx_types are declared but {hook} is not implemented")
    if spec.uses_lace and not h.registry.implements(h.name, "peoplenet_lace_block"):
        out.append("uses_lace is set but peoplenet_lace_block is not implemented")
    out.extend(_check_records("tx type", spec.tx_types, _txs(case), "good_txs"))
    if case.lace_blocks and not spec.uses_lace:
        out.append("the case has lace_blocks but AppSpec.uses_lace is false")
    if case.lace_blocks and case.members < 2:
        out.append("the case has lace_blocks with fewer than two members")
    for tx in _txs(case):
        if type(tx) not in spec.tx_types:
            out.append(f"the case's {type(tx).__name__} is not one of AppSpec.tx_types")
    if case.members < 2 and any(isinstance(t, By) for t in case.good_txs):
        out.append("the case uses By(member) with fewer than two members")
    try:
        spec.settings(case.settings)
    except AppTxRejected as exc:
        out.append(f"the case's settings are refused: {exc}")
    return out


def _check_param(p: ParamSpec) -> list[str]:
    out = []
    if p.kind == "choice" and not p.choices:
        out.append(f"parameter {p.name}: a choice without choices")
    if p.minimum is not None and p.maximum is not None:
        try:
            if Fraction(p.minimum) > Fraction(p.maximum):
                out.append(f"parameter {p.name}: minimum {p.minimum} > maximum {p.maximum}")
        except (ValueError, ZeroDivisionError):
            out.append(f"parameter {p.name}: bounds are not numbers")
    try:
        if p.check(p.default) != p.default:
            out.append(f"parameter {p.name}: default {p.default!r} is not in normal form")
    except AppTxRejected as exc:
        out.append(f"parameter {p.name}: default refused: {exc}")
    return out


def _check_records(
    what: str, types: Sequence[type[Record]], examples: Sequence[Record], where: str
) -> list[str]:
    out = []
    tags = registered_tags()
    for t in types:
        tag = getattr(t, "wire_tag", None)
        if tags.get(tag) is not t:  # type: ignore[arg-type]
            out.append(f"{what} {t.__name__} is not registered with @wire_type (tag {tag})")
        elif tag < 200:  # type: ignore[operator]
            out.append(f"{what} {t.__name__} has tag {tag}, below the apps' range (>= 200)")
        if not any(type(e) is t for e in examples):
            out.append(f"{what} {t.__name__} has no example in the case's {where}")
    for e in examples:
        try:
            back = decode(encode(e))
        except PeoplenetError as exc:
            out.append(f"{type(e).__name__} does not round-trip the codec: {exc}")
            continue
        if back != e:
            out.append(f"{type(e).__name__} decodes to a different value: {back!r} != {e!r}")
    return out


_Steps = list[tuple[str, bytes | str]]


class _Run:
    """The kit's script on one host: the snapshot after each step, failures noted on the way."""

    def __init__(self, h: AppHarness, case: ConformanceCase, failures: list[str]) -> None:
        self.h, self.case, self.failures = h, case, failures
        self.steps: _Steps = []
        self.stable = True
        """Whether two snapshots of an unchanged state are equal (else no before/after test)."""
        self.lace_ids: dict[str, bytes] = {}
        self.lace_payloads: list[Record] = []
        self.lace_blocks: list[Block] = []
        self.lace_state: bytes | str = ""
        """The snapshot after the last scripted lace block (the order check compares it)."""

    def state(self, step: str, *, note: bool = True) -> bytes | str:
        """The snapshot in canonical bytes (or a description of why there is none)."""
        snap = self.h.snapshot()
        if snap is None:
            if note:
                self.failures.append(
                    f"no snapshot after {step} (peoplenet_snapshot returned None or failed)"
                )
            return "<none>"
        try:
            data = encode(snap)
            decode(data)
        except PeoplenetError as exc:
            if note:
                self.failures.append(f"the snapshot after {step} is not a codec value: {exc}")
            return repr(snap)
        return data

    def record(self, step: str) -> bytes | str:
        state = self.state(step)
        self.steps.append((step, state))
        return state

    def unchanged(self, before: bytes | str, step: str, what: str) -> None:
        if self.stable and self.state(step, note=False) != before:
            self.failures.append(f"{step}: {what} changed the state")

    def run(self) -> _Steps:
        h, case = self.h, self.case
        h.enable(case.settings, case.action)
        if self.record("enable") != self.state("enable", note=False):
            self.stable = False
            self.failures.append("peoplenet_snapshot differs for one unchanged state")
        for i, item in enumerate(case.good_txs):
            self.good(f"good tx #{i}", *_unpack(item))
        if case.lace_blocks and h.spec.uses_lace and case.members >= 2:
            for i, block in enumerate(case.lace_blocks):
                self.lace(i, block)
            self.lace_state = self.state("the lace blocks", note=False)
        for d in case.decisions:
            h.decide(d)
            self.record(f"decision {d.number}")
        for i, (item, expected) in enumerate(case.bad_txs):
            self.bad(f"bad tx #{i}", *_unpack(item), expected)
        self.commands()
        self.settings_change()
        self.disable_enable()
        return self.steps

    def good(self, label: str, tx: Record, member: int) -> None:
        step = f"{label} {type(tx).__name__}"
        before = self.state(step, note=False)
        reason = self.h.check(tx, member)
        self.unchanged(before, step, "peoplenet_check_tx")
        if reason is not None:
            self.failures.append(f"{step}: peoplenet_check_tx refused it ({reason})")
        result = self.h.submit(tx, member)
        if result.get("status") != "applied":
            why = f"{result.get('reason')!s}: {result.get('detail')!r}"
            self.failures.append(f"{step}: not applied ({why})")
        self.record(step)

    def lace(self, i: int, item: LaceBlock) -> None:
        h, ids = self.h, self.lace_ids
        step = f"lace block #{i}" + (f" {item.label!r}" if item.label else "")
        if not 0 <= item.member < len(h.members):
            self.failures.append(f"{step}: no member {item.member}")
            return
        try:
            payload = item.payload if isinstance(item.payload, Record) else item.payload(ids)
            refs = [ids[r] for r in item.refs]
            parent = ids[item.after] if item.after else h.latest(item.member)
        except KeyError as exc:
            self.failures.append(f"{step}: refers to {exc} (no earlier block has that label)")
            return
        if parent is None and not item.after:  # none yet, or forked: its last scripted block
            parent = self.own_last(item.member)
        if type(payload) not in {r for r, _ in h.spec.lace_records}:
            self.failures.append(f"{step}: {type(payload).__name__} is not in lace_records")
        pointers = sorted({*refs, *([parent] if parent is not None else [])})
        block = h.sign(item.member, payload, pointers)
        h.deliver([block])
        if item.label:
            ids[item.label] = bytes(block.id)
        self.lace_payloads.append(payload)
        self.lace_blocks.append(block)
        probe = self.case.lace_outcome
        if probe is not None:
            try:
                got = probe(h.state, bytes(block.id))
            except Exception as exc:  # the case's own probe broke: report it, go on
                self.failures.append(f"{step}: lace_outcome raised {exc!r}")
            else:
                if got != item.expect:
                    want = "taken" if item.expect is None else f"refused ({item.expect})"
                    had = "taken" if got is None else f"refused ({got})"
                    self.failures.append(f"{step} {type(payload).__name__}: expected {want}, {had}")
        self.record(step)

    def own_last(self, member: int) -> bytes | None:
        creator = self.h.identities[member].member_id
        mine = [b for b in self.lace_blocks if b.creator == creator]
        return bytes(mine[-1].id) if mine else None

    def bad(self, label: str, tx: Record, member: int, expected: str) -> None:
        step = f"{label} {type(tx).__name__}"
        before = self.state(step, note=False)
        reason = self.h.check(tx, member)
        self.unchanged(before, step, "peoplenet_check_tx")
        result = self.h.submit(tx, member)
        got = result.get("reason") if result.get("status") == "rejected" else "(applied)"
        if got != expected:
            self.failures.append(f"{step}: expected rejection {expected!r}, got {got!r}")
        elif reason not in (None, expected):
            self.failures.append(f"{step}: check_tx said {reason!r}, the host {got!r}")
        self.unchanged(before, step, "the refused transaction")
        self.record(step)

    def commands(self) -> None:
        h = self.h
        h.duties()  # node-side: whatever it submits is this node's business, not the fold's
        self.record("duties")
        for c in h.spec.commands:
            step = f"command {c.name!r} with no arguments"
            try:
                result, _ = h.command(c.name)
                self.encodable(step, result)
            except AppCommandError:
                pass  # refusing is right; any other exception is in h.problems()
            self.record(step)
        for name, args in self.case.commands.items():
            step = f"command {name!r} with {dict(args)}"
            try:
                result, txs = h.command(name, args)
            except AppCommandError as exc:
                self.failures.append(f"{step}: refused: {exc}")
                continue
            self.encodable(step, result)
            for tx in txs:
                applied = h.submit(tx)
                if applied.get("status") != "applied":
                    self.failures.append(f"{step}: its {type(tx).__name__} was refused: {applied}")
            self.record(step)

    def encodable(self, step: str, result: Value) -> None:
        try:
            encode(result)
        except PeoplenetError as exc:
            self.failures.append(f"{step}: the result is not a codec value: {exc}")

    def settings_change(self) -> None:
        h = self.h
        previous = h.settings
        given = dict(self.case.changed_settings or _moved(h.spec, previous))
        try:
            expected = h.spec.settings(given)
        except AppTxRejected as exc:
            self.failures.append(f"the case's changed_settings are refused: {exc}")
            return
        seen = len(h.calls)
        h.enable(given)
        self.record("settings changed")
        if h.registry.implements(h.name, "peoplenet_app_changed"):
            calls = [c for c in h.calls[seen:] if c.hook == "peoplenet_app_changed"]
            change = calls[-1].kwargs.get("change") if calls else None
            got = None if change is None else (dict(change.settings), dict(change.previous))
            if got != (expected, previous):
                self.failures.append("a settings change did not reach peoplenet_app_changed")
        h.enable(previous)
        self.record("settings restored")

    def disable_enable(self) -> None:
        h = self.h
        h.disable()  # may still fold (e.g. time-based accounting up to now); then it is kept
        before = self.record("disabled")
        for c in h.spec.commands:
            if not c.read_only:
                continue
            try:
                _, txs = h.command(c.name)
            except AppCommandError:
                continue
            if txs:
                self.failures.append(f"read-only command {c.name!r} submitted transactions")
        h.enable()
        if self.stable and self.record("re-enabled") != before:
            self.failures.append("disable then re-enable lost or changed the state")


def _lace_order(case: ConformanceCase, run: _Run) -> list[str]:
    """A third node gets the same lace blocks in one message, last first: same state?

    The blocklace releases them pointees first, but in its own order, not the script's: an
    unordered lace's fold must not depend on which causal order a node sees.
    """
    h = AppHarness(case.plugin, members=case.members, source=case.source)
    try:
        h.enable(case.settings, case.action)
        for item in case.good_txs:
            h.submit(*_unpack(item))
        h.now_ms += 1000 * (len(run.lace_blocks) - 1)  # the clock where the script's ended
        h.deliver(run.lace_blocks[::-1])
        after = _Run(h, case, []).state("the lace blocks", note=False)
        problems = h.problems()
    finally:
        h.close()
    if after == run.lace_state:
        return problems
    one, two = _around_difference(_text(run.lace_state), _text(after))
    return [
        *problems,
        f"the lace fold depends on delivery order: the script's order gave {one}, "
        f"the same blocks in one message gave {two}",
    ]


def _moved(spec: AppSpec, current: Mapping[str, Value]) -> dict[str, Value]:
    """Every parameter moved to another valid value (where one can be found)."""
    out = dict(current)
    for p in spec.params:
        value = current.get(p.name, p.default)
        candidates: list[Value] = []
        if p.kind == "bool":
            candidates = [not value]
        elif p.kind == "choice":
            candidates = list(p.choices)
        elif p.kind == "text" and isinstance(value, str):
            candidates = [value + " (changed)"]
        elif p.kind in ("int", "rate"):
            candidates = [p.minimum, p.maximum]
            if isinstance(value, int):
                candidates += [value + 1, value - 1]
        for candidate in candidates:
            try:
                normal = p.check(candidate)
            except AppTxRejected:
                continue
            if normal != value:
                out[p.name] = normal
                break
    return out


def _compare(first: _Steps, second: _Steps) -> list[str]:
    """Two nodes fed the same must agree at every step: the first step where they do not."""
    for (step, a), (_, b) in zip(first, second, strict=False):
        if a != b:
            one, two = _around_difference(_text(a), _text(b))
            return [
                f"not deterministic: two nodes fed the same differ after {step}: {one} != {two}"
            ]
    if len(first) != len(second):
        return ["not deterministic: the two runs took different steps"]
    return []


def _text(state: bytes | str) -> str:
    return repr(decode(state)) if isinstance(state, bytes) else str(state)


def _around_difference(a: str, b: str, width: int = 60) -> tuple[str, str]:
    """Both texts cut to where they first differ (what a reader needs to see)."""
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    start = max(0, at - width)

    def cut(text: str) -> str:
        head = "..." if start else ""
        tail = "..." if len(text) > at + width else ""
        return head + text[start : at + width] + tail

    return cut(a), cut(b)


__all__ = [
    "DEFAULT_DECISIONS",
    "HOOK_BUDGET_S",
    "AppHarness",
    "By",
    "ConformanceCase",
    "ConformanceError",
    "HookCall",
    "LaceBlock",
    "LaceOutcome",
    "LacePayload",
    "check_app",
    "member_id",
]
