"""Bounds on what one transaction can put in the cooperative's state: names, settings, details."""

from __future__ import annotations

import pytest

from peoplenet.actors.governance.charter import (
    BoardSubject,
    Charter,
    RateSubject,
    community_id,
    found,
)
from peoplenet.actors.governance.decision import DecisionError, check_params, normalize_point
from peoplenet.actors.governance.fold import MAX_APP_SETTINGS, MAX_DETAIL_LEN, Applied, Governance
from peoplenet.actors.governance.kinds import MAX_NAME_LEN
from peoplenet.actors.governance.records import AppChange, GovTx, Open, Vote
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.wire.codec import Value, decode, encode

T0 = 10_000
CHARTER = Charter(
    voting_period_ms=1000,
    rates=(RateSubject("fee", "0", "10", "1", "5"),),
    boards=(BoardSubject("council", 2),),
    officers=("chair",),
)


class Coop:
    def __init__(self, n: int = 3) -> None:
        self.people = sorted(
            (Identity.from_seed(bytes([i + 71]) * 32) for i in range(n)),
            key=lambda p: p.member_id,
        )
        founding = found("coop", CHARTER, self.people, at=T0)
        constitution = Constitution.of(p.member_id for p in self.people)
        self.gov = Governance(founding, Genesis.first(community_id(founding), constitution))
        self.position = 0

    def act(self, action: object, who: int = 0) -> Applied:
        tx = GovTx(T0, action)  # type: ignore[arg-type]
        member = MemberId(self.people[who].member_id)
        applied = self.gov.apply(0, self.position, member, tx)
        self.position += 1
        return applied


def officer(*candidates: str) -> Open:
    return Open("officer", "chair", candidates, None, None)


def test_an_officer_candidate_of_50000_characters_is_refused_with_a_reason() -> None:
    c = Coop()
    applied = c.act(officer("ann", "x" * 50_000))
    assert applied.opened is None and applied.rejection is not None
    assert applied.rejection.reason == "invalid_proposal"
    assert applied.rejection.detail.startswith("bad_name: params.candidates")
    assert "at most 64 characters, not 50000" in applied.rejection.detail
    assert c.gov.state.decisions == []
    assert len(encode(c.gov.state.canonical())) < 5_000  # nothing of it was kept


@pytest.mark.parametrize("kind", ["officer", "board"])
def test_candidate_names_are_bounded_at_64_characters(kind: str) -> None:
    c = Coop()
    subject = "chair" if kind == "officer" else "council"
    longest = "é" * MAX_NAME_LEN
    applied = c.act(Open(kind, subject, ("ann", longest), None, None))
    assert applied.opened is not None, applied.rejection
    applied = c.act(Open(kind, subject, ("ann", "bob", longest + "é"), None, None))
    assert applied.rejection is not None and "bad_name" in applied.rejection.detail


def test_the_decision_rule_bounds_names_itself() -> None:
    long = "n" * (MAX_NAME_LEN + 1)
    with pytest.raises(DecisionError) as err:
        check_params("officer", {"candidates": ("ann", long)})
    assert err.value.reason == "bad_name"
    with pytest.raises(DecisionError) as err:
        normalize_point("officer", {"candidates": ("ann",)}, long, what="status quo")
    assert err.value.reason == "bad_name"
    with pytest.raises(DecisionError) as err:
        normalize_point("bylaws", {"clauses": ("c1",)}, ("c1", long), what="ballot 1")
    assert err.value.reason == "bad_name"
    assert len(str(err.value)) < 200  # the message quotes a prefix, not the name


def test_oversized_app_settings_are_refused() -> None:
    c = Coop()
    fits: dict[str, Value] = {"blob": b"\x00" * (MAX_APP_SETTINGS - 100)}
    assert c.act(Open("app", "chat", (), AppChange(True, fits), None)).opened is not None
    big: dict[str, Value] = {"blob": b"\x00" * MAX_APP_SETTINGS}
    applied = c.act(Open("app", "chat", (), AppChange(True, big), None))
    assert applied.rejection is not None and applied.rejection.reason == "invalid_proposal"
    assert applied.rejection.detail.startswith("too_large: app settings")
    action = c.act(Open("app", "chat", (), AppChange(True, {}, ("mint", b"\x00" * 70_000)), None))
    assert action.rejection is not None and "app action" in action.rejection.detail


def test_rejection_details_are_bounded() -> None:
    c = Coop()
    number = c.act(Open("rate", "fee", (), None, None)).opened
    assert number is not None
    applied = c.act(Vote(number, tuple(range(300))))  # the detail quotes the ballot
    assert applied.rejection is not None and applied.rejection.reason == "invalid_ballot"
    assert len(applied.rejection.detail) <= MAX_DETAIL_LEN
    assert applied.rejection.detail.endswith("...")


def test_a_stored_opening_with_a_long_name_still_decodes_and_folds() -> None:
    """The bound is the fold's: laces stored before it was added replay, with a rejection."""
    stored = encode(GovTx(T0, officer("ann", "x" * 50_000)))
    tx = decode(stored)
    assert isinstance(tx, GovTx)
    c = Coop()
    applied = c.gov.apply(0, 0, MemberId(c.people[0].member_id), tx)
    assert applied.rejection is not None and applied.rejection.reason == "invalid_proposal"
