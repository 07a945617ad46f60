"""The cooperative's decision rule: supermajority support against the status quo, then score.

Why this rule (Shapiro & Talmon, "Constitutional Governance in Metric Spaces"; Shahaf,
Shapiro & Talmon on sybil resilience): every member's ballot is an ideal point of the
decision's space; a candidate may replace the status quo s only if more than θ' of the
*eligible* members are strictly closer to it than to s (abstainers count for s, so low turnout
and sybils cannot push a change through), and among those candidates the one that reduces the
total distance to the ballots most wins.  θ' = max(θ, 1/2 + sigma/2) where sigma is the estimated
sybil share.  Pure: the same input gives the same outcome on every phone.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import groupby

from peoplenet.actors.governance.kinds import (
    KINDS,
    YES_NO_KINDS,
    DecisionError,
    check_kind,
    check_params,
    name_list,
    normalize_point,
)
from peoplenet.actors.governance.officer import elect
from peoplenet.actors.governance.spaces import BudgetSpace, RankingSpace, RateSpace, SetSpace, Space
from peoplenet.runtime.wire.codec import encode

__all__ = [
    "KINDS",
    "YES_NO_KINDS",
    "DecisionError",
    "DecisionInput",
    "DecisionOutcome",
    "check_params",
    "decide",
    "effective_threshold",
    "normalize_point",
]


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """One closed decision: who may vote, what stands, how much support a change needs."""

    kind: str
    members: int
    """Eligible members n (>= 1, >= the number of ballots); non-voters count for s."""
    status_quo: object
    threshold: Fraction
    """θ in [0, 1)."""
    sybil_estimate: Fraction
    """sigma in [0, 1)."""
    ballots: tuple[object, ...]
    """One ideal point per voting member (already deduplicated)."""
    proposals: tuple[object, ...]
    params: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """The adopted point (or the kept status quo), with the support and score behind it.

    When the status quo stays, ``support`` and ``score`` are those of the best candidate
    (highest score, then closest to s, then smallest encoding), or 0 with no candidate.
    """

    outcome: object
    adopted: bool
    support: Fraction
    score: Fraction


def effective_threshold(threshold: Fraction, sybil_estimate: Fraction) -> Fraction:
    """θ' = max(θ, 1/2 + sigma/2): a change needs more than half the genuine members."""
    return max(threshold, Fraction(1, 2) + sybil_estimate / 2)


def _share(value: object, *, what: str, reason: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise DecisionError(reason, f"{what} must be an exact number, not {value!r}")
    share = Fraction(value)
    if not 0 <= share < 1:
        raise DecisionError(reason, f"{what} must be in [0, 1), not {share}")
    return share


def _check_input(inp: DecisionInput) -> Fraction:
    """Validate what every kind shares; returns θ'."""
    check_kind(inp.kind)
    members = inp.members
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise DecisionError("bad_members", f"members must be an integer >= 1, not {members!r}")
    for name in ("ballots", "proposals"):
        if not isinstance(getattr(inp, name), tuple | list):
            raise DecisionError("not_a_list", f"{name} must be a list")
    if len(inp.ballots) > members:
        raise DecisionError(
            "too_many_ballots", f"{len(inp.ballots)} ballots from {members} eligible members"
        )
    theta = _share(inp.threshold, what="threshold", reason="bad_threshold")
    sigma = _share(inp.sybil_estimate, what="sybil estimate", reason="bad_sybil_estimate")
    check_params(inp.kind, inp.params)
    return effective_threshold(theta, sigma)


def decide(inp: DecisionInput) -> DecisionOutcome:
    """Validate everything, then apply the rule for ``inp.kind``; raises DecisionError."""
    theta = _check_input(inp)
    kind, params = inp.kind, inp.params
    if kind in YES_NO_KINDS:
        return _yes_no(inp, theta)
    if kind == "officer":
        return _officer(inp, theta)
    space: Space
    if kind == "rate":
        space = RateSpace(params, inp.status_quo, inp.ballots, inp.proposals)
    elif kind == "budget":
        space = BudgetSpace(params, inp.status_quo, inp.ballots, inp.proposals)
    elif kind == "ranking":
        space = RankingSpace(params, inp.status_quo, inp.ballots, inp.proposals)
    else:
        space = SetSpace(kind, params, inp.status_quo, inp.ballots, inp.proposals)
    return metric_rule(space, space.status_quo, inp.members, theta)


def metric_rule(
    space: Space, status_quo: Hashable, members: int, theta: Fraction
) -> DecisionOutcome:
    """Highest score among candidates with support > θ' and score > 0, else keep s.

    Candidates are visited by score (then distance to s, then encoding), so support -- the
    O(n) part -- is counted only until the first one qualifies.
    """
    base = space.total_distance(status_quo)
    scored = [
        (base - space.total_distance(p), space.distance(p, status_quo), p)
        for p in space.candidates()
        if p != status_quo
    ]
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    best: tuple[Hashable, int, int] | None = None
    for (score, _), group in groupby(scored, key=lambda entry: (entry[0], entry[1])):
        tied = [entry[2] for entry in group]
        if len(tied) > 1:
            tied.sort(key=lambda p: encode(space.codec_form(p)))
        for p in tied:
            support = space.support_count(p) if score > 0 or best is None else 0
            if best is None:
                best = (p, support, score)
            if score <= 0:
                break
            if Fraction(support, members) > theta:
                return DecisionOutcome(
                    space.external(p), True, Fraction(support, members), score * space.unit
                )
        if score <= 0:
            break
    outcome = space.external(status_quo)
    if best is None:
        return DecisionOutcome(outcome, False, Fraction(0), Fraction(0))
    _, support, score = best
    return DecisionOutcome(outcome, False, Fraction(support, members), score * space.unit)


def _yes_no(inp: DecisionInput, theta: Fraction) -> DecisionOutcome:
    """Adopt the change when the yes share of the eligible members exceeds θ'."""
    params = inp.params
    normalize_point(inp.kind, params, inp.status_quo, what="status quo")
    ballots = [
        normalize_point(inp.kind, params, v, what=f"ballot {i}")
        for i, v in enumerate(inp.ballots, start=1)
    ]
    for i, p in enumerate(inp.proposals, start=1):
        normalize_point(inp.kind, params, p, what=f"proposal {i}")
    yes = sum(1 for b in ballots if b is True)
    no = len(ballots) - yes
    support = Fraction(yes, inp.members)
    score = Fraction(yes - no)
    adopted = support > theta and score > 0
    return DecisionOutcome(adopted, adopted, support, score)


def _officer(inp: DecisionInput, theta: Fraction) -> DecisionOutcome:
    params = dict(inp.params)
    status_quo = normalize_point("officer", params, inp.status_quo, what="status quo")
    assert isinstance(status_quo, str)
    if params.setdefault("status_quo", status_quo) != status_quo:
        raise DecisionError(
            "status_quo_mismatch", f"params name {params['status_quo']!r}, not {status_quo!r}"
        )
    # An incumbent standing again is simply the status quo.
    candidates = tuple(c for c in name_list(params, "candidates") if c != status_quo)
    params["candidates"] = candidates
    ballots: list[Sequence[str]] = []
    for i, v in enumerate(inp.ballots, start=1):
        ballot = normalize_point("officer", params, v, what=f"ballot {i}")
        assert isinstance(ballot, tuple)
        ballots.append(ballot)
    for i, p in enumerate(inp.proposals, start=1):
        normalize_point("officer", params, p, what=f"proposal {i}")
    result = elect(candidates, status_quo, ballots, inp.members, theta)
    outcome = result.winner if result.winner is not None else status_quo
    return DecisionOutcome(
        outcome,
        result.winner is not None,
        Fraction(result.support, inp.members),
        Fraction(result.score),
    )
