"""The conformance kit: an app run through the real :class:`~peoplenet.plugins.host.AppHost` the
way a member's node runs it, and every way it breaks the platform's contract, listed.

Third-party authors (and every bundled app) call :func:`check_app` from a test::

    check_app(ConformanceCase(plugin, good_txs=[...], bad_txs=[(tx, "reason"), ...]))

It loads the plugin strictly (as a node does), checks the declaration, and then drives two
fresh hosts (two members' nodes, in memory) through the same script -- enable, the good
transactions, closed decisions, the bad transactions, every command, a settings change,
disable and re-enable -- checking on the way that ``check_tx`` changes nothing, that bad
transactions are refused for the expected reason and change nothing, that the state survives
disable/re-enable, that commands fail only with :class:`~peoplenet.plugins.api.AppCommandError`,
that no hook raises or runs long, and finally that both hosts reached the same snapshot at every
step (determinism).  :class:`ConformanceError` lists every failure found, not just the first.

:class:`AppHarness` (one app in a made-up cooperative, in :mod:`peoplenet.plugins.harness`) is
public too, importable from here: authors use it to test their app's behaviour through the
same host.  See ``docs/plugins.md``.

Apps with a replicated lace (``uses_lace``) also script blocks their members signed
(:class:`LaceBlock`): the kit signs them with the made-up members' keys, delivers them to the
node as from the network, checks each one's outcome (through the case's ``lace_outcome``
probe), and feeds the same blocks to a third node all at once in another order: an unordered
lace's fold must reach the same state whatever the delivery order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from nacl.signing import SigningKey

from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    AppTxRejected,
    DecisionView,
    ParamSpec,
    PluginError,
)
from peoplenet.plugins.harness import (
    COMMUNITY,
    DEFAULT_DECISIONS,
    HOOK_BUDGET_S,
    START_MS,
    AppHarness,
    HookCall,
    member_id,
)
from peoplenet.plugins.manager import load_apps
from peoplenet.runtime.errors import PeoplenetError
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, registered_tags


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


SEED_LEN: Final = 32


class CustomerKey:
    """A customer who is not a member, for an app's tests: their own Ed25519 key from a fixed
    ``seed`` (what :func:`peoplenet.plugins.kit.sign_request` needs: ``member_id``, ``sign``)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_LEN:
            raise PluginError(f"a customer's seed is {SEED_LEN} bytes")
        self._key = SigningKey(seed)
        self.member_id = bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)


@dataclass(frozen=True)
class OtherApp:
    """Another app of the cooperative, enabled before the app under test (with ``settings``
    and the enabling decision's ``action``): the funds provider a work app's money needs."""

    plugin: object
    settings: Mapping[str, Value] = field(default_factory=dict)
    action: Value = None


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
    officers: Mapping[str, int] = field(default_factory=dict)
    """Offices held from the start (role -> member index): ``ctx.officers`` on every host."""
    others: Sequence[OtherApp] = ()
    """The cooperative's other apps on every host of the kit, enabled first (the currency
    for an app that moves coins through ``ctx.funds``); their snapshots count as part of the
    state the kit compares (a refused transaction changes none of them)."""


def _harness(case: ConformanceCase) -> AppHarness:
    """A harness for ``case``: the app, and its other apps enabled."""
    others = [o.plugin for o in case.others]
    h = AppHarness(case.plugin, members=case.members, source=case.source, others=others)
    for name, other in zip(h.others, case.others, strict=True):
        h.enable_app(name, other.settings, other.action)
    for role, member in case.officers.items():
        h.officers[role] = h.members[member]
    return h


# -- the checks -------------------------------------------------------------------------------


def check_app(case: ConformanceCase) -> None:
    """Run the whole kit on ``case``; :class:`ConformanceError` lists every failure."""
    try:
        load_apps(
            strict=True, bundled=(), use_entry_points=False, extra=[(case.source, case.plugin)]
        )
    except PluginError as exc:
        raise ConformanceError(case.source, [f"does not load: {exc}"]) from None
    first = _harness(case)
    second = _harness(case)
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
        if snap is not None and self.h.others:  # a refusal changes none of them either
            snap = (snap, *(self.h.snapshot_of(n) for n in self.h.others))
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
    h = _harness(case)
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
    "COMMUNITY",
    "DEFAULT_DECISIONS",
    "HOOK_BUDGET_S",
    "START_MS",
    "AppHarness",
    "By",
    "ConformanceCase",
    "ConformanceError",
    "CustomerKey",
    "HookCall",
    "LaceBlock",
    "LaceOutcome",
    "LacePayload",
    "OtherApp",
    "check_app",
    "member_id",
]
