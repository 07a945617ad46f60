"""A cooperative on a member's node: the governance fold behind the consensus actor.

The consensus actor (actors/community/consensus_actor.py) orders the cooperative's transactions and
hands each delivery here, in order; this shell folds them with the pure
:class:`~peoplenet.actors.governance.fold.Governance` and does the member's duties that follow from
the
state:

* **closing**: when the member's own clock passes an open decision's deadline it submits a
  ``Close`` -- the fold closes the decision once enough members' clocks agree (community
  time, docs/governance.md); the submission repeats every :data:`CLOSE_RETRY_MS` while the
  decision stays open.  A decision whose voting period has not started (it waits to hear
  2f+1 members after its opening) gets one ``Close`` at once from each member not heard on
  it yet: that clock claim is what starts the period;
* **the consensus bridge**: when admissions, removals, key updates or an amendment change
  what the consensus constitution must be, every current participant signs an approval of
  the target (:class:`EpochApproval`), and once a quorum is ordered the first f+1
  participants (so at least one correct one) submit the consensus ``Amendment``, which ends
  the epoch.

It also turns members' commands (``peoplenet coop ...``) into signed transactions.  It never
sees the member's key: signatures come from the runtime's restricted :class:`Signer`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from peoplenet.actors.coop.apps import AppRefusal, AppsFactory, AppsOutput
from peoplenet.actors.coop.charter_json import charter_from_json, number_text
from peoplenet.actors.coop.customer_desk import CustomerDesk
from peoplenet.actors.coop.halves import SuretyHalf
from peoplenet.actors.coop.precheck import check as precheck
from peoplenet.actors.coop.views import decisions_view, unvoted
from peoplenet.actors.governance.charter import Founding, InvalidCharter, community_id
from peoplenet.actors.governance.fold import Applied, Governance
from peoplenet.actors.governance.records import (
    SURETY_DOMAIN,
    Admit,
    Amend,
    AppChange,
    AppTx,
    Close,
    ConsensusParams,
    Contribution,
    Distribute,
    EpochApproval,
    GovTx,
    Open,
    Remove,
    Surety,
    Table,
    Vote,
    surety_digest,
    surety_message,
)
from peoplenet.actors.member.command_errors import CommandError
from peoplenet.actors.work.customers import CUSTOMER_COMMAND
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.consumer import ConsumerOutput, Signer
from peoplenet.runtime.consensus.core import Delivery, tx_key
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import member_id, verify
from peoplenet.runtime.net.peer_message import CONSUMER_TAGS, record_tag
from peoplenet.runtime.wire.codec import Value, decode_as, encode

CLOSE_RETRY_MS: Final = 5_000
MAX_JSON: Final = 64 * 1024
INBOX_COMMAND: Final = "inbox"
"""An app's read-only command listing what waits for the member (``peoplenet inbox``)."""


class CoopCommandRefused(CommandError):
    """A member's command that cannot become a transaction (bad argument, not allowed now)."""

    reason = "coop_command_refused"


def fold_history(founding: Founding, genesis: Genesis, history: Sequence[Delivery]) -> Governance:
    """Fold a whole delivered order from scratch (``peoplenet audit``, tests).

    Later epochs' geneses are recomputed from the amendments in the order itself, exactly as
    consensus does, so the audit needs nothing but the founding and the first genesis.
    """
    governance = Governance(founding, genesis)
    current = genesis
    for d in history:
        while d.epoch > current.epoch:
            amendment = governance.state.ready_amendment()
            if amendment is None:
                raise LocalError(f"epoch {d.epoch} starts without an amendment in the order")
            current = _successor(current, amendment, history, d.epoch - 1)
            governance.start_epoch(current)
        governance.apply(d.epoch, d.position, d.creator, d.tx)
    return governance


def _successor(
    genesis: Genesis, amendment: object, history: Sequence[Delivery], epoch: int
) -> Genesis:
    """The genesis consensus derived from the amendment that ended ``epoch``."""
    from peoplenet.runtime.consensus.constitution import Amendment  # noqa: PLC0415

    ends = [
        d
        for d in history
        if d.epoch == epoch and isinstance(d.tx, Amendment) and d.tx.lace == genesis.lace()
    ]
    if not ends:
        raise LocalError(f"no amendment ended epoch {epoch}")
    last = ends[-1]
    assert isinstance(last.tx, Amendment)
    return genesis.successor(last.tx.constitution, bytes(last.block), last.position)


class CoopConsumer:
    """The :class:`~peoplenet.runtime.consensus.consumer.Consumer` of a cooperative's order.

    ``apps`` builds the cooperative's apps (the app platform's, given from above: see
    :mod:`peoplenet.actors.coop.apps`).
    """

    def __init__(
        self, genesis: Genesis, folder: Path, signer: Signer, *, apps: AppsFactory
    ) -> None:
        lace_hex = genesis.lace().hex()
        path = folder / f"{lace_hex}.founding"
        try:
            founding = decode_as(Founding, path.read_bytes())
        except OSError as exc:
            raise LocalError(f"cannot read the founding {path}: {exc}") from exc
        if community_id(founding) != genesis.community:
            raise LocalError(f"{path} is not the founding of this community")
        self.founding = founding
        self.governance = Governance(founding, genesis)
        self.signer = signer
        self.me = bytes(signer.member)
        self.delivered_count = 0
        self.results: dict[bytes, dict[str, Value]] = {}
        """What became of each delivered transaction, by :func:`tx_key` (for ``--wait``)."""
        self.close_requested: dict[tuple[int, bool], int] = {}
        """(Decision, whether its voting period had started) -> when (my clock, ms) I last
        asked to close it."""
        self.approved: set[bytes] = set()
        self.amended: set[bytes] = set()
        self._changes = 0
        """How many times the fold's state changed in a way the consensus bridge reads (each
        new epoch, each delivery but an app transaction that closed nothing)."""
        self._bridged = -1
        """``_changes`` when the consensus bridge duties last ran: on an unchanged state they
        submit nothing new (what they would submit is already in ``approved``/``amended``)."""
        self._told: list[tuple[Delivery, dict[str, Value], bool]] = []
        """Transactions folded whose apps' results are not in yet (:meth:`_settle`)."""
        self.apps = apps(self.governance.state, genesis.community, self.me, signer, folder=folder)
        self.desk = CustomerDesk(genesis.community, signer)
        """Customers' requests and receipts (actors/coop/customer_desk.py)."""

    # -- Consumer ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.founding.name

    def replay(
        self,
        geneses: Sequence[Genesis],
        history: Sequence[Delivery],
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> None:
        beacon = (beacons or {}).get
        for d in history:
            self._apply(d, geneses, beacon(bytes(d.block), b""))
        self._settle(None)

    def delivered(
        self,
        deliveries: Sequence[Delivery],
        geneses: Sequence[Genesis],
        now_ms: int,
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> ConsumerOutput:
        beacon = (beacons or {}).get
        for d in deliveries:
            self._apply(d, geneses, beacon(bytes(d.block), b""))
        state = self.governance.state
        while len(geneses) > state.genesis.epoch + 1:
            self.governance.start_epoch(geneses[state.genesis.epoch + 1])
            self._changed()
        return self._duties(now_ms, self._settle(now_ms))

    def tick(self, now_ms: int) -> ConsumerOutput:
        return self._duties(now_ms, self.apps.host.tick(now_ms))

    def laces(self) -> tuple[bytes, ...]:
        """The apps' laces, and the community id: customers' messages are routed by it."""
        return (self.desk.community, *self.apps.host.laces())

    def close(self) -> None:
        self.apps.close()

    def receive(self, peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
        """A peer's app-lace message, as its bytes: the apps' host decodes it (once), or raises
        :class:`~peoplenet.runtime.errors.RemoteProtocolError` if it is malformed.  A customer's
        message goes to the desk, which answers the customer with a receipt."""
        if record_tag(data) in CONSUMER_TAGS:
            return self._customer(peer, data, now_ms)
        return self._duties(now_ms, self.apps.host.receive_then_duties(peer, data, now_ms))

    def _customer(self, peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
        carried: list[AppsOutput] = []

        def carry(app: str, raw: bytes) -> str:
            args: dict[str, Value] = {
                "app": app,
                "command": CUSTOMER_COMMAND,
                "args": {"request": raw},
            }
            _answer, out = self.apps.command(args, now_ms)
            carried.append(out)
            keys = [tx_key(tx).hex() for tx in self.apps.output(out, now_ms)[0]]
            return keys[0] if keys else ""

        member = self.governance.state.is_member(self.me)
        receipt = self.desk.receive(peer, data, carry, member=member)
        done = self._duties(now_ms, carried[0] if carried else None)
        return ConsumerOutput(done.submit, done.wake_at_ms, (*done.sends, (peer, receipt)))

    def peer_up(self, peer: bytes, now_ms: int) -> ConsumerOutput:
        return self._duties(now_ms, self.apps.host.peer_up(peer, now_ms))

    def status(self) -> dict[str, Value]:
        state = self.governance.state
        return {
            "coop": self.name,
            "epoch": state.genesis.epoch,
            "members": len(state.members),
            "open_decisions": len(state.open_numbers),
            "community_time": state.time,
        }

    # -- folding ------------------------------------------------------------------------------

    def _apply(self, d: Delivery, geneses: Sequence[Genesis], beacon: bytes = b"") -> None:
        state = self.governance.state
        while d.epoch > state.genesis.epoch:
            self.governance.start_epoch(geneses[state.genesis.epoch + 1])
        applied = self.governance.apply(d.epoch, d.position, d.creator, d.tx)
        tx = d.tx
        # An app's transaction that closed nothing leaves what the bridge reads (members, their
        # keys, the consensus parameters, the approvals) as it was.
        app_only = isinstance(tx, GovTx) and isinstance(tx.action, AppTx) and not applied.closed
        self._changed(bridge=not app_only)
        self.delivered_count += 1
        result = _result(d, applied)
        self._told.append((d, result, self.apps.after(d, applied, beacon)))
        self.results[tx_key(d.tx)] = result

    def _settle(self, now_ms: int | None) -> AppsOutput:
        """The apps take the transactions folded since the last time (one call to a node's
        worker) and do their duties at ``now_ms`` if given; each app transaction's result is
        recorded with its transaction's, in order."""
        told, self._told = self._told, []
        app_results, out = self.apps.settle(now_ms)
        taken = iter(app_results)
        for d, result, took in told:
            app_result = next(taken, None) if took else None
            if took and app_result is None:
                raise LocalError("the apps answered fewer results than they took transactions")
            if app_result is not None:
                result["app"] = app_result
            self.desk.delivered(d, app_result)
        return out

    def _changed(self, *, bridge: bool = True) -> None:
        """The fold's state changed: views derived from it are stale (and, with ``bridge``,
        what the consensus bridge reads may have changed)."""
        if bridge:
            self._changes += 1
        self.apps.changed()

    # -- duties -------------------------------------------------------------------------------

    def _duties(self, now_ms: int, apps: AppsOutput | None = None) -> ConsumerOutput:
        state = self.governance.state
        submit: list[Value] = []
        sends: tuple[tuple[bytes, Value], ...] = ()
        app_wake: int | None = None
        if apps is not None:
            app_txs, _ = self.apps.output(apps, now_ms)
            submit.extend(app_txs)
            sends, app_wake = tuple(apps.sends), apps.wake_at_ms
        participants = state.genesis.constitution.participants
        if self.me in participants and self._bridged != self._changes:
            self._bridge(now_ms, submit)
            self._bridged = self._changes
        wake: int | None = None
        if self.me in participants:
            # One Close carries my clock claim, and the fold closes every due decision on any
            # transaction once community time has passed: one per round of asking is enough.
            closing: int | None = None
            # A decision's voting period starts once 2f+1 members are heard after its
            # opening: a member not heard yet gives its clock claim at once.
            for d in state.open_decisions():
                asked = self.close_requested.get((d.number, d.anchored))
                if asked is not None:
                    due = asked + CLOSE_RETRY_MS
                elif d.anchored or self.me in d.heard:
                    due = d.deadline
                else:
                    due = now_ms
                if now_ms >= due:
                    self.close_requested[d.number, d.anchored] = now_ms
                    closing = d.number if closing is None else closing
                    due = now_ms + CLOSE_RETRY_MS
                wake = due if wake is None else min(wake, due)
            if closing is not None:
                submit.append(GovTx(now_ms, Close(closing)))
        if app_wake is not None:
            wake = app_wake if wake is None else min(wake, app_wake)
        return ConsumerOutput(tuple(submit), wake, sends)

    def _bridge(self, now_ms: int, submit: list[Value]) -> None:
        """The consensus bridge: approve the target constitution, submit the amendment."""
        state = self.governance.state
        participants = state.genesis.constitution.participants
        lace = bytes(state.genesis.lace())
        target = state.consensus_target()
        if target is not None:
            key = lace + encode(target)
            mine = any(a.member == self.me for a in state.approvals)
            if not (mine and state.approvals_for == target) and key not in self.approved:
                self.approved.add(key)
                approval = self.signer.approve(lace, target)
                submit.append(GovTx(now_ms, EpochApproval(approval)))
        amendment = state.ready_amendment()
        f = state.genesis.constitution.f
        leads = self.me in participants[: f + 1]
        if amendment is not None and leads and lace not in self.amended:
            self.amended.add(lace)
            submit.append(amendment)

    # -- commands -----------------------------------------------------------------------------

    def command(
        self, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, ConsumerOutput]:
        state = self.governance.state
        if op == "coop_show":
            snapshot = state.snapshot()
            snapshot["delivered"] = self.delivered_count
            return _value(self._app_outcomes(snapshot)), ConsumerOutput()
        if op == "coop_decisions":
            rows = decisions_view(state, self.me)
            return _value(self._decisions_as_applied(rows)), ConsumerOutput()
        if op == "coop_inbox":
            return _value(self._inbox(now_ms)), ConsumerOutput()
        if op == "coop_tx":
            key = bytes.fromhex(_text(args, "key"))
            result = self.results.get(key, {"status": "pending"})
            return {"key": key.hex(), **result}, ConsumerOutput()
        if op == "coop_vouch":
            return self._vouch(_member(args, "member")), ConsumerOutput()
        if op == "coop_apps":
            return _value(self.apps.listing()), ConsumerOutput()
        if op == "coop_app_status":
            name = _text(args, "app")
            return _value(
                {**self.apps.host.status(name), "recent": self.apps.host.recent(name)[-20:]}
            ), ConsumerOutput()
        if op == "coop_app":
            try:
                answer, out = self.apps.command(args, now_ms)
            except AppRefusal as exc:
                raise CoopCommandRefused(str(exc)) from None
            more = self._duties(now_ms, out)
            keys = tuple(tx_key(tx).hex() for tx in more.submit if isinstance(tx, GovTx))
            return {"result": answer, "submitted": keys}, more  # the answer is JSON-ready
        try:
            tx = self._transaction(op, args, now_ms)
        except (RemoteProtocolError, InvalidCharter) as exc:
            raise CoopCommandRefused(str(exc)) from None
        if args.get("check") is True:
            precheck(state, self.me, tx)
        key = tx_key(tx)
        return {"submitted": True, "key": key.hex()}, ConsumerOutput((tx,))

    def _app_outcomes(self, snapshot: dict[str, object]) -> dict[str, object]:
        """``coop show`` as the apps took it: an ``app`` decision an app refused (settings it
        does not declare or allow) is shown refused, with the settings still in force."""
        apps = snapshot.get("apps")
        if isinstance(apps, dict):
            for name, entry in apps.items():
                outcome = self.apps.outcomes.get(name)
                if outcome is None or not isinstance(entry, dict):
                    continue
                entry["decision"] = outcome.wire()
                if outcome.reason:
                    entry["enabled"] = self.apps.enabled(name)
                    entry["settings"] = self.apps.host.settings(name)
        decisions = snapshot.get("decisions")
        if isinstance(decisions, list):
            snapshot["decisions"] = self._decisions_as_applied(decisions)
        return snapshot

    def _decisions_as_applied(self, rows: list[dict[str, object]]) -> list[dict[str, object]]:
        refused = self.apps.refused()
        for row in rows:
            number = row.get("number")
            outcome = refused.get(number) if isinstance(number, int) else None
            if outcome is not None:
                row["applied"] = False
                row["note"] = f"refused by the app: {outcome.reason}: {outcome.detail}"
        return rows

    def _transaction(self, op: str, args: Mapping[str, Value], now_ms: int) -> GovTx:
        state = self.governance.state
        if op == "coop_countersign":
            return GovTx(now_ms, self._countersign(_text(args, "half")))
        if op == "coop_propose":
            return GovTx(now_ms, self._open(args))
        if op in ("coop_table", "coop_vote"):
            number = _int(args, "decision")
            d = state.decision(number)
            if d is None:
                raise CoopCommandRefused(f"there is no decision #{number}")
            field = "proposal" if op == "coop_table" else "ballot"
            point = _wire_point(d.kind, _json(args, field))
            return GovTx(
                now_ms, Table(number, point) if op == "coop_table" else Vote(number, point)
            )
        if op == "coop_close":
            return GovTx(now_ms, Close(_int(args, "decision")))
        if op == "coop_contribute":
            hours = _int(args, "hours")
            if hours < 1:
                raise CoopCommandRefused(f"hours must be positive (at least 1), not {hours}")
            return GovTx(now_ms, Contribution(_text(args, "period"), hours))
        if op == "coop_distribute":
            return GovTx(now_ms, Distribute(_text(args, "period")))
        raise CoopCommandRefused(f"unknown cooperative operation {op!r}")

    def _open(self, args: Mapping[str, Value]) -> Open:
        kind = _text(args, "kind")
        subject = _text(args, "subject")
        candidates = tuple(str(c) for c in _list(args, "candidates"))
        proposal: Value = None
        if "proposal" in args:
            proposal = _wire_point(kind, _json(args, "proposal"))
        if kind in ("admission", "removal"):
            who = bytes(_member({"member": subject}, "member"))
            change: Admit | Remove | AppChange | Amend = (
                Admit(who) if kind == "admission" else Remove(who)
            )
            return Open(kind, "", (), change, None)
        if kind == "app":
            settings = _json(args, "settings") if "settings" in args else {}
            if not isinstance(settings, dict):
                raise CoopCommandRefused("app settings are a JSON object")
            enabled = not bool(args.get("disable", False))
            action = _wire_settings(_json(args, "action")) if "action" in args else None
            change = AppChange(enabled, _wire_settings(settings), action)
            self.apps.check_proposal(subject, change.settings)
            return Open(kind, subject, (), change, None)
        if kind == "amendment":
            charter = charter_from_json(_json(args, "charter")) if "charter" in args else None
            consensus = None
            if "threshold" in args or "timeout_ms" in args:
                num, den, timeout = self.governance.state.consensus_params
                if "threshold" in args:
                    value = Fraction(number_text(args["threshold"], "threshold"))
                    num, den = value.numerator, value.denominator
                if "timeout_ms" in args:
                    timeout = _int(args, "timeout_ms")
                consensus = ConsensusParams(num, den, timeout)
            return Open(kind, "", (), Amend(charter, consensus), None)
        return Open(kind, subject, candidates, None, proposal)

    def _inbox(self, now_ms: int) -> dict[str, Any]:
        """What waits for me here: decisions I have not voted in, and the apps' requests."""
        requests: list[dict[str, Any]] = []
        for app in self.apps.listing():
            name = app.get("name")
            if not (app.get("enabled") and app.get("installed")) or not isinstance(name, str):
                continue
            try:
                answer, _ = self.apps.host.command(name, INBOX_COMMAND, {}, now_ms)
            except AppRefusal:
                continue  # no inbox command, or the app is out of service here
            if answer:
                requests.append({"app": name, "waiting": answer})
        return {
            "coop": self.name,
            "now": now_ms,
            "decisions": unvoted(self.governance.state, self.me),
            "apps": requests,
        }

    # -- sureties -----------------------------------------------------------------------------

    def _vouch(self, other: bytes) -> dict[str, Value]:
        if other == self.me:
            raise CoopCommandRefused("a surety is between two different people")
        community = self.governance.state.community
        signature = self.signer.sign(SURETY_DOMAIN, surety_digest(community, self.me, other))
        half = SuretyHalf(self.me, other, signature)
        return {
            "half": encode(half).hex(),
            "with": other.hex(),
            "next": "the other person runs: peoplenet coop vouch COOP --countersign HALF",
        }

    def _countersign(self, text: str) -> Surety:
        try:
            half = decode_as(SuretyHalf, bytes.fromhex(text.strip()))
        except (ValueError, RemoteProtocolError) as exc:
            raise CoopCommandRefused(f"not a surety half: {exc}") from None
        if half.other != self.me:
            raise CoopCommandRefused("this half names someone else, not you")
        community = self.governance.state.community
        message = surety_message(community, half.signer, self.me)
        if not verify(half.signer, message, half.signature):
            raise CoopCommandRefused("the half's signature does not verify")
        mine = self.signer.sign(SURETY_DOMAIN, surety_digest(community, half.signer, self.me))
        sigs = {half.signer: half.signature, self.me: mine}
        a, b = sorted(sigs)
        return Surety(a, b, sigs[a], sigs[b])


# -- helpers --------------------------------------------------------------------------------


def _result(d: Delivery, applied: Applied) -> dict[str, Value]:
    where = {"epoch": d.epoch, "position": d.position}
    if applied.rejection is not None:
        r = applied.rejection
        return {**where, "status": "rejected", "reason": r.reason, "detail": r.detail}
    result: dict[str, Value] = {**where, "status": "applied"}
    if applied.opened is not None:
        result["opened"] = applied.opened
    if applied.closed:
        result["closed"] = tuple(applied.closed)
    return result


def _value(data: Any) -> Value:
    """JSON-ready data (lists, dicts, str, int, bool, None) as a codec value."""
    if isinstance(data, dict):
        return {str(k): _value(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return tuple(_value(v) for v in data)
    if isinstance(data, float):
        return str(Fraction(Decimal(repr(data))))
    assert data is None or isinstance(data, str | int | bool | bytes), type(data)
    return data


def _text(args: Mapping[str, Value], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise CoopCommandRefused(f"{key} is required (text)")
    return value


def _int(args: Mapping[str, Value], key: str) -> int:
    value = args.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CoopCommandRefused(f"{key} is required (a whole number)")
    return value


def _list(args: Mapping[str, Value], key: str) -> list[Value]:
    value = args.get(key, ())
    if not isinstance(value, list | tuple):
        raise CoopCommandRefused(f"{key} is a list")
    return list(value)


def _member(args: Mapping[str, Value], key: str) -> bytes:
    text = _text(args, key)
    try:
        return bytes(member_id(bytes.fromhex(text.strip())))
    except ValueError as exc:
        raise CoopCommandRefused(f"{key} {text!r} is not a 64-hex member id: {exc}") from None


def _json(args: Mapping[str, Value], key: str) -> object:
    text = _text(args, key)
    if len(text) > MAX_JSON:
        raise CoopCommandRefused(f"{key} is too long")
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise CoopCommandRefused(f"{key} is not JSON: {exc}") from None


def _wire_point(kind: str, value: object) -> Value:
    """A JSON point as records carry it: rates as exact ``"n/d"`` text, lists as tuples."""
    if kind == "rate":
        try:
            return number_text(value, "rate")
        except LocalError as exc:
            raise CoopCommandRefused(str(exc)) from None
    if isinstance(value, list):
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
            raise CoopCommandRefused("a list point holds names or whole numbers")
        return tuple(value)
    if isinstance(value, bool | str | int):
        return value
    raise CoopCommandRefused(f"{value!r} is not a point of a {kind} decision")


def _wire_settings(value: object) -> Value:
    if isinstance(value, dict):
        return {str(k): _wire_settings(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_wire_settings(v) for v in value)
    if isinstance(value, Decimal):
        return number_text(value, "setting")
    if value is None or isinstance(value, str | int | bool):
        return value
    raise CoopCommandRefused(f"unsupported setting value {value!r}")


__all__ = ["CoopCommandRefused", "CoopConsumer", "fold_history"]
