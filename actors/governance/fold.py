"""The fold: the cooperative's state as a pure function of its ordered transactions.

Why pure: consensus gives every member the same transactions in the same order; if each
step here depends on nothing else -- no clock, no randomness, no I/O -- every member computes
the same state, and ``peoplenet audit`` can replay the lace and compare digests.  Time comes
from the transactions themselves (see :meth:`Governance._advance_time`).  Every refused
transaction is recorded as a :class:`~peoplenet.actors.governance.state.Rejection` and changes
nothing
but the community clock.  See ``docs/governance.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from peoplenet.actors.governance.charter import (
    VACANT,
    BoardSubject,
    Charter,
    Founding,
    InvalidCharter,
    InvalidFounding,
    community_id,
    verify_founding,
)
from peoplenet.actors.governance.decision import (
    YES_NO_KINDS,
    DecisionError,
    DecisionInput,
    check_params,
    decide,
    normalize_point,
)
from peoplenet.actors.governance.records import (
    Action,
    Admit,
    Amend,
    AppChange,
    AppTx,
    Close,
    Contribution,
    Distribute,
    EpochApproval,
    GovTx,
    KeyUpdate,
    Open,
    Remove,
    Surety,
    Table,
    Vote,
    key_update_message,
    point_from_wire,
    surety_message,
)
from peoplenet.actors.governance.state import DecisionState, GovernanceState, Rejection
from peoplenet.runtime.consensus.constitution import (
    Amendment,
    Genesis,
    InvalidConstitution,
    amendment_digest,
)
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import MemberId, verify
from peoplenet.runtime.wire.codec import Value, encode

MAX_PROPOSALS = 256
MAX_APP_SETTINGS = 64 * 1024
"""Largest encoded ``AppChange`` settings, and action, a decision may carry (bytes): the
bound of an app transaction's body, so one opening cannot park a block's worth in the state."""
MAX_DETAIL_LEN = 200
"""Longest rejection detail (characters) kept: details quote the refused input."""
SURPLUS_RATE = "surplus"
"""The rate subject :class:`~peoplenet.actors.governance.records.Distribute` splits."""


class Refused(Exception):
    """Internal: the current transaction is refused (becomes a recorded Rejection)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one transaction did: the decision it opened, those that closed, or its rejection."""

    opened: int | None
    closed: tuple[int, ...]
    rejection: Rejection | None


class Governance:
    """Fold a community's ordered transactions into its :class:`GovernanceState`."""

    def __init__(self, founding: Founding, genesis: Genesis) -> None:
        verify_founding(founding)
        if genesis.epoch != 0 or genesis.community != community_id(founding):
            raise InvalidFounding("genesis_mismatch", "genesis is not epoch 0 of this founding")
        if genesis.constitution.participants != founding.founders:
            raise InvalidFounding("genesis_mismatch", "epoch 0 participants are the founders")
        self._state = GovernanceState(founding, genesis)

    @property
    def state(self) -> GovernanceState:
        """The state; read it, never change it (only :meth:`apply` does)."""
        return self._state

    def next_deadline(self) -> int | None:
        """Community time (ms) at which the earliest open decision may close."""
        deadlines = [d.deadline for d in self._state.open_decisions()]
        return min(deadlines) if deadlines else None

    def start_epoch(self, genesis: Genesis) -> None:
        """Consensus ended the epoch: continue under ``genesis`` (collected approvals reset)."""
        s = self._state
        if genesis.epoch != s.genesis.epoch + 1 or genesis.previous_lace != s.genesis.lace():
            raise LocalError("start_epoch takes the genesis that follows the current epoch")
        s.genesis = genesis
        s.approvals = []
        s.approvals_for = None

    # -- the fold -------------------------------------------------------------------------

    def apply(self, epoch: int, position: int, creator: MemberId, tx: Value) -> Applied:
        """Fold one delivered transaction; refusals are recorded, never raised."""
        s = self._state
        if epoch != s.genesis.epoch:
            raise LocalError(f"delivery of epoch {epoch} while folding epoch {s.genesis.epoch}")
        if isinstance(tx, Amendment):
            return Applied(None, (), None)  # consensus's own business: it ends the epoch
        if not isinstance(tx, GovTx):
            return self._reject(epoch, position, creator, Refused("bad_tx", type(tx).__name__))
        self._advance_time(creator, tx.at)
        closed = self._close_due()
        opened: int | None = None
        try:
            opened = self._act(creator, tx.action, closed)
        except Refused as refusal:
            applied = self._reject(epoch, position, creator, refusal)
            closed += self._close_due()
            return Applied(None, tuple(closed), applied.rejection)
        closed += self._close_due()
        return Applied(opened, tuple(closed), None)

    def _reject(self, epoch: int, position: int, creator: bytes, refusal: Refused) -> Applied:
        detail = refusal.detail
        if len(detail) > MAX_DETAIL_LEN:
            detail = detail[: MAX_DETAIL_LEN - 3] + "..."
        rejection = Rejection(epoch, position, creator, refusal.reason, detail)
        self._state.record_rejection(rejection)
        return Applied(None, (), rejection)

    def _act(self, creator: bytes, action: Action, closed_now: list[int]) -> int | None:
        s = self._state
        if isinstance(action, Surety):
            self._surety(creator, action)
        elif isinstance(action, KeyUpdate):
            self._key_update(action)
        elif isinstance(action, EpochApproval):
            self._epoch_approval(action)
        elif not s.is_member(creator):
            raise Refused("not_member", f"{type(action).__name__} by a non-member")
        elif isinstance(action, Open):
            return self._open(creator, action)
        elif isinstance(action, Table):
            self._table(action)
        elif isinstance(action, Vote):
            self._vote(creator, action)
        elif isinstance(action, Close):
            self._close_tx(action, closed_now)
        elif isinstance(action, AppTx):
            enabled, _settings = s.apps.get(action.app, (False, None))
            if not enabled:
                raise Refused("app_disabled", f"{action.app!r} is not enabled here")
        elif isinstance(action, Contribution):
            reason = s.ledger.contribute(action.period, creator, action.amount)
            if reason is not None:
                raise Refused(reason, f"period {action.period!r} was distributed")
        else:
            assert isinstance(action, Distribute)
            self._distribute(action)
        return None

    # -- time ---------------------------------------------------------------------------------

    def _advance_time(self, creator: bytes, at: int) -> None:
        """Community time: the (f+1)-th largest latest clock claim among current members.

        With at most f = (n-1)//3 members lying, at least one honest member's clock has
        passed it, so liars alone cannot close a vote early; it never decreases.  The claim
        also counts as heard by every decision still waiting for its voting period to start.
        """
        s = self._state
        if s.is_member(creator):
            s.latest_at[creator] = max(s.latest_at.get(creator, 0), at)
            for d in s.open_decisions():
                if not d.anchored:
                    d.heard.add(creator)
        self._recompute_time()

    def _recompute_time(self) -> None:
        s = self._state
        claims = sorted((s.latest_at.get(m, s.founding.at) for m in s.members), reverse=True)
        f = (len(claims) - 1) // 3
        s.time = max(s.time, claims[f])
        self._follow_pending()

    def _follow_pending(self) -> None:
        """Start the voting period of each decision that 2f+1 members were heard on since.

        Why wait: community time is stale after a quiet spell (it moves only with claims),
        and the opener's own claim cannot be trusted, so a deadline set at the opening could
        already be past.  Among 2f+1 members heard since the opening at least f+1 are
        correct, so community time then is at least a correct clock reading taken after the
        opening; and it is at most a correct clock reading, as always.  Until then the
        decision follows community time (``opened_at`` is now) and cannot close.
        """
        s = self._state
        for d in s.open_decisions():
            if d.anchored:
                continue
            period = d.period
            d.opened_at, d.deadline = s.time, s.time + period
            heard, needed = self._heard_needed(d)
            if heard >= needed:
                d.anchored, d.heard = True, set()

    def _heard_needed(self, d: DecisionState) -> tuple[int, int]:
        """(current members heard since the opening, 2f+1) for a pending decision."""
        s = self._state
        return len(d.heard & s.members), 2 * ((len(s.members) - 1) // 3) + 1

    # -- sureties and keys --------------------------------------------------------------------

    def _surety(self, creator: bytes, surety: Surety) -> None:
        s = self._state
        if not (s.is_member(creator) or creator in (surety.a, surety.b)):
            raise Refused("not_member", "a surety comes from a side or a member")
        digest = surety_message(s.community, surety.a, surety.b)
        if not verify(surety.a, digest, surety.signature_a):
            raise Refused("bad_signature", "side a did not sign this surety")
        if not verify(surety.b, digest, surety.signature_b):
            raise Refused("bad_signature", "side b did not sign this surety")
        if (surety.a, surety.b) in s.sureties:
            raise Refused("duplicate", "this surety is already recorded")
        s.sureties.add((surety.a, surety.b))

    def _key_update(self, update: KeyUpdate) -> None:
        s = self._state
        old, new = update.old, update.new
        if not s.is_member(old):
            raise Refused("not_a_member", "the old key is not a member")
        if s.is_member(new):
            raise Refused("already_member", "the new key is already a member")
        digest = key_update_message(s.community, old, new)
        if not verify(new, digest, update.new_signature):
            raise Refused("bad_signature", "the new key did not sign the update")
        vouchers: set[bytes] = set()
        for vouch in update.vouches:
            if not verify(vouch.member, digest, vouch.signature):
                raise Refused("bad_signature", f"vouch by {vouch.member.hex()[:16]} is forged")
            if (
                s.is_member(vouch.member)
                and vouch.member != old
                and s.has_surety(vouch.member, old)
            ):
                vouchers.add(vouch.member)
        k = s.charter.admission_sureties
        if len(vouchers) < k:
            raise Refused("too_few_sureties", f"{len(vouchers)} valid vouches, need {k}")
        self._rename(old, new)

    def _rename(self, old: bytes, new: bytes) -> None:
        """Member ``old`` is now ``new``: membership, sureties, clock, ballots, books and the
        offices they hold follow."""
        s = self._state
        s.members.discard(old)
        s.members.add(new)
        renamed = {tuple(sorted(new if x == old else x for x in pair)) for pair in s.sureties}
        s.sureties = {(a, b) for a, b in renamed if a != b}  # a surety old-new means nothing now
        if old in s.latest_at:
            s.latest_at[new] = s.latest_at.pop(old)
        for d in s.open_decisions():
            if old in d.heard:
                d.heard.discard(old)
                d.heard.add(new)
            if old in d.eligible:
                d.eligible.discard(old)
                d.eligible.add(new)
                if old in d.ballots:
                    d.ballots[new] = d.ballots.pop(old)
        s.ledger.rename(old, new)
        for key, value in list(s.values.items()):  # an office stays with the person
            if key[0] == "officer" and isinstance(value, str) and value.lower() == old.hex():
                s.values[key] = new.hex()

    # -- decisions ----------------------------------------------------------------------------

    def _open(self, creator: bytes, action: Open) -> int:
        s = self._state
        kind = action.kind
        declaration: object = None
        params: dict[str, object] = {}
        status_quo: object = False
        if kind in YES_NO_KINDS:
            self._check_change(kind, action)
        else:
            declaration = s.charter.subject(kind, action.subject)
            if declaration is None:
                raise Refused("unknown_subject", f"no {kind} subject {action.subject!r}")
            status_quo = s.value(kind, action.subject)
            params = _params(declaration, action.candidates, status_quo)
            try:
                check_params(kind, params)
            except DecisionError as exc:
                raise Refused("invalid_proposal", f"{exc.reason}: {exc.detail}") from None
            if kind == "officer" and VACANT in action.candidates:
                raise Refused("invalid_proposal", f"{VACANT!r} is not a candidate")
        decision = DecisionState(
            number=len(s.decisions) + 1,
            kind=kind,
            subject=action.subject,
            opener=creator,
            opened_at=s.time,
            deadline=s.time + s.charter.voting_period_ms,
            eligible=set(s.members),
            params=params,
            declaration=declaration,  # type: ignore[arg-type]
            change=action.change,
            status_quo_at_open=status_quo,
            anchored=False,
            heard={creator},
        )
        if action.proposal is not None:
            decision.proposals.append(self._point(decision, action.proposal, "proposal"))
        s.decisions.append(decision)
        s.open_numbers.append(decision.number)
        self._follow_pending()  # with f = 0 the opener's claim is enough: it starts now
        return decision.number

    def _check_change(self, kind: str, action: Open) -> None:
        s = self._state
        change = action.change
        if isinstance(change, Admit):
            if s.is_member(change.member):
                raise Refused("already_member", "the candidate is already a member")
            self._check_sureties(change.member)
        elif isinstance(change, Remove):
            if not s.is_member(change.member):
                raise Refused("not_a_member", "only a member can be removed")
        elif isinstance(change, Amend) and change.consensus is not None:
            c = change.consensus
            try:
                s.constitution_for(s.members, (c.threshold_num, c.threshold_den, c.timeout_ms))
            except InvalidConstitution as exc:
                raise Refused("invalid_proposal", f"{exc.reason}: {exc.detail}") from None
        elif isinstance(change, AppChange):
            assert kind == "app"
            for what, value in (("settings", change.settings), ("action", change.action)):
                size = len(encode(value))
                if size > MAX_APP_SETTINGS:
                    raise Refused(
                        "invalid_proposal",
                        f"too_large: app {what} of {size} bytes, at most {MAX_APP_SETTINGS}",
                    )

    def _check_sureties(self, candidate: bytes) -> None:
        s = self._state
        have, need = s.surety_count(candidate), s.charter.admission_sureties
        if have < need:
            raise Refused("too_few_sureties", f"{have} sureties with members, need {need}")

    def _open_decision(self, number: int, closed_now: list[int] | None = None) -> DecisionState:
        d = self._state.decision(number)
        if d is None:
            raise Refused("unknown_decision", f"no decision {number}")
        if not d.is_open and (closed_now is None or number not in closed_now):
            raise Refused("closed", f"decision {number} is closed")
        return d

    def _point(self, d: DecisionState, value: Value, what: str) -> object:
        reason = "invalid_ballot" if what == "ballot" else "invalid_proposal"
        try:
            point = point_from_wire(d.kind, value)
            return normalize_point(d.kind, d.params, point, what=what)
        except DecisionError as exc:
            raise Refused(reason, f"{exc.reason}: {exc.detail}") from None
        except InvalidCharter as exc:
            raise Refused(reason, f"{exc.reason}: {exc.detail}") from None

    def _table(self, action: Table) -> None:
        d = self._open_decision(action.decision)
        if d.kind in YES_NO_KINDS:
            raise Refused("invalid_proposal", "a yes/no decision takes no proposals")
        point = self._point(d, action.proposal, "proposal")
        if point in d.proposals:
            raise Refused("duplicate", "this proposal is already tabled")
        if len(d.proposals) >= MAX_PROPOSALS:
            raise Refused("too_many_proposals", f"at most {MAX_PROPOSALS} proposals")
        d.proposals.append(point)

    def _vote(self, creator: bytes, action: Vote) -> None:
        d = self._open_decision(action.decision)
        if creator not in d.eligible:
            raise Refused("not_eligible", "joined after the decision opened")
        d.ballots[creator] = self._point(d, action.ballot, "ballot")

    def _close_tx(self, action: Close, closed_now: list[int]) -> None:
        d = self._open_decision(action.decision, closed_now)
        if d.is_open and not d.anchored:
            heard, needed = self._heard_needed(d)
            raise Refused(
                "too_early",
                f"its voting period starts once {needed} members are heard since the opening"
                f" ({heard} so far)",
            )
        if d.is_open:  # not closed by this transaction's clock: not due yet
            raise Refused("too_early", f"closes at {d.deadline}, community time {self._state.time}")

    def _close_due(self) -> list[int]:
        s = self._state
        closed = []
        for d in s.open_decisions():
            if d.anchored and d.deadline <= s.time:
                self._close(d)
                closed.append(d.number)
        return closed

    def _close(self, d: DecisionState) -> None:
        """Decide with the current status quo and charter, record, and apply the outcome."""
        s = self._state
        d.status = "closed"
        d.closed_at = s.time
        s.open_numbers.remove(d.number)
        yes_no = d.kind in YES_NO_KINDS
        if not yes_no and s.charter.subject(d.kind, d.subject) != d.declaration:
            d.outcome, d.note = None, "subject_changed"
            return
        status_quo = False if yes_no else s.value(d.kind, d.subject)
        if d.kind == "officer" and status_quo != d.status_quo_at_open:
            d.outcome, d.note = status_quo, "status_quo_changed"
            return
        ballots = tuple(p for m, p in sorted(d.ballots.items()) if s.is_member(m))
        outcome = decide(
            DecisionInput(
                kind=d.kind,
                members=len(d.eligible),
                status_quo=status_quo,
                threshold=s.charter.threshold_for(d.kind),
                sybil_estimate=s.charter.sigma,
                ballots=ballots,
                proposals=tuple(d.proposals),
                params=d.params,
            )
        )
        d.outcome, d.adopted = outcome.outcome, outcome.adopted
        d.support, d.score = outcome.support, outcome.score
        if not outcome.adopted:
            return
        note = self._apply_outcome(d)
        d.applied, d.note = note == "", note

    def _apply_outcome(self, d: DecisionState) -> str:
        """Make an adopted outcome true; the reason it cannot be, or ``""``."""
        s = self._state
        change = d.change
        if d.kind not in YES_NO_KINDS:
            s.values[d.kind, d.subject] = d.outcome
        elif isinstance(change, AppChange):
            s.apps[d.subject] = (change.enabled, change.settings)
        elif isinstance(change, Admit):
            if s.is_member(change.member):
                return "already_member"
            if s.surety_count(change.member) < s.charter.admission_sureties:
                return "too_few_sureties"
            return self._set_members(s.members | {change.member})
        elif isinstance(change, Remove):
            if not s.is_member(change.member):
                return "not_a_member"
            if len(s.members) == 1:
                return "last_member"
            return self._set_members(s.members - {change.member})
        else:
            assert isinstance(change, Amend)
            return self._amend(change)
        return ""

    def _set_members(self, members: set[bytes]) -> str:
        s = self._state
        try:
            s.constitution_for(members)
        except InvalidConstitution as exc:
            return f"unsafe_consensus: {exc.reason}"
        for gone in s.members - members:
            s.latest_at.pop(gone, None)
        s.members = set(members)
        self._recompute_time()
        return ""

    def _amend(self, change: Amend) -> str:
        s = self._state
        if change.consensus is not None:
            c = change.consensus
            params = (c.threshold_num, c.threshold_den, c.timeout_ms)
            try:
                s.constitution_for(s.members, params)
            except InvalidConstitution as exc:
                return f"unsafe_consensus: {exc.reason}"
            s.consensus_params = params
        if change.charter is not None:
            self._replace_charter(change.charter)
        return ""

    def _replace_charter(self, charter: Charter) -> None:
        """Subjects declared alike keep their values; new or redeclared ones start afresh."""
        s = self._state
        values = {}
        for key, initial in charter.initial_values().items():
            same = s.charter.subject(*key) == charter.subject(*key)
            values[key] = s.values[key] if same and key in s.values else initial
        s.charter = charter
        s.values = values

    # -- economics and the consensus bridge -------------------------------------------------

    def _distribute(self, action: Distribute) -> None:
        s = self._state
        if s.charter.subject("rate", SURPLUS_RATE) is None:
            raise Refused("unknown_subject", f"the charter declares no {SURPLUS_RATE!r} rate")
        surplus = s.value("rate", SURPLUS_RATE)
        assert isinstance(surplus, Fraction)
        reason = s.ledger.distribute(action.period, surplus)
        if reason is not None:
            raise Refused(reason, f"period {action.period!r}")

    def _epoch_approval(self, action: EpochApproval) -> None:
        s = self._state
        target = s.consensus_target()
        if target is None:
            raise Refused("no_target", "the consensus constitution needs no change")
        collected = s.approvals if s.approvals_for == target else []
        approval = action.approval
        if approval.member not in s.genesis.constitution.participants:
            raise Refused("not_participant", "approval by a non-participant")
        if any(a.member == approval.member for a in collected):
            raise Refused("duplicate", "one approval per participant")
        digest = amendment_digest(s.genesis.lace(), target)
        if not verify(approval.member, digest, approval.signature):
            raise Refused("bad_signature", "approval is not over the current target")
        s.approvals, s.approvals_for = [*collected, approval], target


def _params(
    declaration: object, candidates: tuple[str, ...], status_quo: object
) -> dict[str, object]:
    """The rule's params for a decision on a declared subject."""
    if isinstance(declaration, str):  # an officer role
        return {"candidates": candidates, "status_quo": status_quo}
    if isinstance(declaration, BoardSubject):
        return {"candidates": candidates, "k": declaration.size}
    assert hasattr(declaration, "params")
    params: dict[str, object] = declaration.params()
    return params
