"""What a member is shown of a decision: the summary, plus what is proposed and their ballot.

:meth:`DecisionState.summary` is the audit's view (counts); a member deciding how to vote
also needs the options (a rate's range and step, the items, the candidates), the proposals
tabled, who is being admitted or removed, and their own ballot.  Pure, JSON-ready.
"""

from __future__ import annotations

from typing import Any

from peoplenet.actors.governance.kinds import YES_NO_KINDS
from peoplenet.actors.governance.records import Admit, Remove
from peoplenet.actors.governance.state import DecisionState, GovernanceState, to_json


def decision_view(d: DecisionState, me: bytes) -> dict[str, Any]:
    """``d.summary()`` (keys unchanged) with ``options``, ``tabled``, ``candidate`` and
    ``my_ballot``/``voted``/``eligible_me`` for the member ``me``."""
    view: dict[str, Any] = dict(d.summary())
    view["options"] = to_json(d.params)
    view["tabled"] = [to_json(p) for p in d.proposals]
    view["status_quo"] = None if d.kind in YES_NO_KINDS else to_json(d.status_quo_at_open)
    change = d.change
    view["candidate"] = change.member.hex() if isinstance(change, Admit | Remove) else None
    view["voted"] = me in d.ballots
    view["my_ballot"] = to_json(d.ballots[me]) if me in d.ballots else None
    view["eligible_me"] = me in d.eligible
    return view


def decisions_view(state: GovernanceState, me: bytes) -> list[dict[str, Any]]:
    """Every decision, oldest first, as :func:`decision_view` shows it."""
    return [decision_view(d, me) for d in state.decisions]


def unvoted(state: GovernanceState, me: bytes) -> list[dict[str, Any]]:
    """The open decisions ``me`` may vote in and has not yet: what waits for their ballot."""
    return [
        decision_view(d, me)
        for d in state.open_decisions()
        if me in d.eligible and me not in d.ballots and state.is_member(me)
    ]


__all__ = ["decision_view", "decisions_view", "unvoted"]
