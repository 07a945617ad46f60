"""Refuse, before submitting, a transaction the cooperative's order would certainly reject.

A member who submits without waiting never hears that the order rejected their ballot; so
the node first checks the transaction against its current view of the cooperative with the
same rules the fold applies (:mod:`peoplenet.actors.governance.fold`).  Only what the current state
decides for sure is refused here -- what only grows or only ends (a closed decision stays
closed, a tabled proposal stays tabled, a distributed period stays distributed).  Whether a
decision may be closed yet depends on the community clock when the transaction is ordered,
and sureties or contributions may still be on their way: those are left to the order.

Pure: a state and a transaction in, a :class:`WouldBeRejected` (or nothing) out.
"""

from __future__ import annotations

from peoplenet.actors.governance.charter import InvalidCharter
from peoplenet.actors.governance.fold import MAX_PROPOSALS, SURPLUS_RATE
from peoplenet.actors.governance.kinds import YES_NO_KINDS, DecisionError, normalize_point
from peoplenet.actors.governance.records import (
    Admit,
    Close,
    Contribution,
    Distribute,
    GovTx,
    Open,
    Remove,
    Surety,
    Table,
    Vote,
    point_from_wire,
)
from peoplenet.actors.governance.state import DecisionState, GovernanceState
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.wire.codec import Value


class WouldBeRejected(LocalError):
    """The cooperative would reject this transaction: it was not submitted.

    ``rule`` is the rejection's own stable code (``invalid_ballot``, ``not_member``...), the one
    the order would have recorded; the message starts with it.  The error's ``reason`` stays
    ``would_be_rejected``: what the command line needs to know to say "refused" (exit 1).
    """

    reason = "would_be_rejected"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}" if detail else rule)
        self.rule = rule
        self.detail = detail


def check(state: GovernanceState, me: bytes, tx: GovTx) -> None:
    """Raise :class:`WouldBeRejected` if ``me`` submitting ``tx`` now is sure to be refused."""
    action = tx.action
    member_only = (Open, Table, Vote, Close, Contribution, Distribute)
    if isinstance(action, member_only) and not state.is_member(me):
        raise WouldBeRejected("not_member", "only members of the cooperative may do this")
    if isinstance(action, Vote):
        d = _open_decision(state, action.decision)
        if me not in d.eligible:
            raise WouldBeRejected("not_eligible", "you joined after the decision opened")
        _point(d.kind, d.params, action.ballot, "ballot")
    elif isinstance(action, Table):
        d = _open_decision(state, action.decision)
        if d.kind in YES_NO_KINDS:
            raise WouldBeRejected("invalid_proposal", "a yes/no decision takes no proposals")
        point = _point(d.kind, d.params, action.proposal, "proposal")
        if point in d.proposals:
            raise WouldBeRejected("duplicate", "this proposal is already tabled")
        if len(d.proposals) >= MAX_PROPOSALS:
            raise WouldBeRejected("too_many_proposals", f"at most {MAX_PROPOSALS} proposals")
    elif isinstance(action, Close):
        _open_decision(state, action.decision)
    elif isinstance(action, Open):
        _check_open(state, action)
    elif isinstance(action, Contribution):
        if action.period in state.ledger.distributions:
            raise WouldBeRejected("closed", f"period {action.period!r} was distributed")
    elif isinstance(action, Distribute):
        _check_distribute(state, action)
    elif isinstance(action, Surety) and (action.a, action.b) in state.sureties:
        raise WouldBeRejected("duplicate", "this surety is already recorded")


def _open_decision(state: GovernanceState, number: int) -> DecisionState:
    d = state.decision(number)
    if d is None:
        raise WouldBeRejected("unknown_decision", f"there is no decision #{number}")
    if not d.is_open:
        raise WouldBeRejected("closed", f"decision #{number} is closed")
    return d


def _point(kind: str, params: dict[str, object], value: Value, what: str) -> object:
    reason = "invalid_ballot" if what == "ballot" else "invalid_proposal"
    try:
        return normalize_point(kind, params, point_from_wire(kind, value), what=what)
    except (DecisionError, InvalidCharter) as exc:
        raise WouldBeRejected(reason, exc.detail) from None


def _check_open(state: GovernanceState, action: Open) -> None:
    change = action.change
    # Sureties may still be on their way to the order: too few of them is the order's call.
    if isinstance(change, Admit) and state.is_member(change.member):
        raise WouldBeRejected("already_member", "the candidate is already a member")
    if isinstance(change, Remove) and not state.is_member(change.member):
        raise WouldBeRejected("not_a_member", "only a member can be removed")
    if action.kind in YES_NO_KINDS:
        return
    declaration = state.charter.subject(action.kind, action.subject)
    if declaration is None:
        raise WouldBeRejected("unknown_subject", f"no {action.kind} subject {action.subject!r}")
    params = getattr(declaration, "params", None)
    if action.proposal is not None and callable(params) and action.kind not in ("board",):
        _point(action.kind, params(), action.proposal, "proposal")


def _check_distribute(state: GovernanceState, action: Distribute) -> None:
    if state.charter.subject("rate", SURPLUS_RATE) is None:
        raise WouldBeRejected("unknown_subject", f"the charter declares no {SURPLUS_RATE!r} rate")
    # Contributions may still be on their way: an empty period is the order's call.
    if action.period in state.ledger.distributions:
        raise WouldBeRejected("duplicate", f"period {action.period!r} was already distributed")


__all__ = ["WouldBeRejected", "check"]
