"""Membership: sureties, admission, removal, key updates, and the consensus bridge."""

from __future__ import annotations

from fractions import Fraction

from peoplenet.actors.governance.charter import Charter, community_id, found
from peoplenet.actors.governance.fold import Applied, Governance
from peoplenet.actors.governance.records import (
    Admit,
    AppChange,
    Close,
    Contribution,
    EpochApproval,
    GovTx,
    KeyUpdate,
    Open,
    Remove,
    Surety,
    Vote,
    Vouch,
    make_key_update,
    make_surety,
    surety_digest,
)
from peoplenet.runtime.consensus.constitution import (
    Approval,
    Constitution,
    Genesis,
    approve_amendment,
    check_amendment,
)
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.wire.codec import Value

PERIOD = 1000
T0 = 10_000
CHARTER = Charter(voting_period_ms=PERIOD, admission_sureties=2)


def ident(i: int) -> Identity:
    return Identity.from_seed(bytes([i + 1]) * 32)


class Community:
    """Founders 0..n-1 and a position counter: feeds the fold like consensus would."""

    def __init__(self, n: int = 4) -> None:
        self.people = sorted((ident(i) for i in range(n)), key=lambda p: p.member_id)
        self.founding = found("coop", CHARTER, self.people, at=T0)
        constitution = Constitution.of(p.member_id for p in self.people)
        self.genesis = Genesis.first(community_id(self.founding), constitution)
        self.gov = Governance(self.founding, self.genesis)
        self.community = self.gov.state.community
        self.position = 0
        self.now = T0

    def act(self, who: Identity, action: object) -> Applied:
        epoch = self.gov.state.genesis.epoch
        tx: Value = GovTx(self.now, action)  # type: ignore[arg-type]
        applied = self.gov.apply(epoch, self.position, MemberId(who.member_id), tx)
        self.position += 1
        return applied

    def ok(self, who: Identity, action: object) -> Applied:
        applied = self.act(who, action)
        assert applied.rejection is None, applied.rejection
        return applied

    def refused(self, who: Identity, action: object, reason: str) -> str:
        applied = self.act(who, action)
        assert applied.rejection is not None and applied.rejection.reason == reason, applied
        return applied.rejection.detail

    def clock(self, at: int) -> None:
        """Every current member is heard at ``at`` (a contribution carries the claim)."""
        self.now = at
        for p in self.members():
            if self.gov.state.is_member(p.member_id):
                applied = self.act(p, Contribution("clock", 1))
                # Its own clock claim may close the member's removal before it counts.
                assert applied.rejection is None or applied.rejection.reason == "not_member"

    def members(self) -> list[Identity]:
        return [p for p in self.people if self.gov.state.is_member(p.member_id)]

    def decide(self, action: Open, yes: int) -> int:
        """Open, let ``yes`` current members vote yes (others no), and close by the clock."""
        voters = self.members()
        number = self.ok(voters[0], action).opened
        assert number is not None
        for i, p in enumerate(voters):
            self.ok(p, Vote(number, i < yes))
        self.now += PERIOD
        for p in voters:
            if number in self.act(p, Close(number)).closed:
                return number
        raise AssertionError("did not close")


def admit(member: bytes) -> Open:
    return Open("admission", "", (), Admit(member), None)


def remove(member: bytes) -> Open:
    return Open("removal", "", (), Remove(member), None)


# -- sureties and admission -------------------------------------------------------------


def test_surety_signatures_are_checked() -> None:
    c = Community()
    alice, newcomer = c.people[0], ident(10)
    good = make_surety(alice, newcomer, c.community)
    assert (good.a, good.b) == tuple(sorted((alice.member_id, newcomer.member_id)))
    forged_half = Surety(good.a, good.b, good.signature_a, ident(11).sign(b"x" * 32))
    c.refused(alice, forged_half, "bad_signature")
    other_coop = make_surety(alice, newcomer, b"another community")
    c.refused(alice, other_coop, "bad_signature")
    c.refused(ident(14), make_surety(ident(12), ident(13), c.community), "not_member")
    # The candidate itself may submit (a side), as may any member.
    c.ok(newcomer, good)
    c.refused(c.people[2], good, "duplicate")
    assert c.gov.state.surety_count(newcomer.member_id) == 1
    assert surety_digest(c.community, good.a, good.b) == surety_digest(c.community, good.b, good.a)


def test_admission_needs_k_sureties_and_a_vote() -> None:
    c = Community()
    newcomer = ident(10)
    c.ok(c.people[0], make_surety(c.people[0], newcomer, c.community))
    detail = c.refused(c.people[0], admit(newcomer.member_id), "too_few_sureties")
    assert "1 sureties with members, need 2" in detail
    c.ok(c.people[1], make_surety(c.people[1], newcomer, c.community))
    # A surety between the newcomer and a non-member does not count.
    c.ok(c.people[1], make_surety(ident(11), newcomer, c.community))
    assert c.gov.state.surety_count(newcomer.member_id) == 2
    rejected = c.decide(admit(newcomer.member_id), yes=2)  # 2 of 4 is not a majority
    assert not c.gov.state.is_member(newcomer.member_id)
    assert c.gov.state.decisions[rejected - 1].adopted is False
    c.decide(admit(newcomer.member_id), yes=3)
    assert c.gov.state.is_member(newcomer.member_id)
    c.refused(c.people[0], admit(newcomer.member_id), "already_member")
    target = c.gov.state.consensus_target()
    assert target is not None and newcomer.member_id in target.participants
    assert target.n == 5


def test_admission_not_applied_when_sureties_leave_before_the_close() -> None:
    c = Community()
    newcomer, surety = ident(10), c.people[1]
    for p in c.people[:2]:
        c.ok(p, make_surety(p, newcomer, c.community))
    removal = c.ok(c.people[0], remove(surety.member_id)).opened
    assert removal is not None
    c.clock(T0)  # the members are heard on the removal: its voting period starts
    c.clock(T0 + PERIOD // 2)
    number = c.ok(c.people[0], admit(newcomer.member_id)).opened
    assert number is not None
    for p in c.people:
        c.ok(p, Vote(removal, True))
        c.ok(p, Vote(number, True))
    c.clock(T0 + PERIOD)  # the removal closes first: one of the sureties is gone
    assert not c.gov.state.is_member(surety.member_id)
    c.clock(T0 + PERIOD + PERIOD // 2)
    d = c.gov.state.decisions[number - 1]
    assert d.status == "closed" and d.adopted and not d.applied
    assert d.note == "too_few_sureties"
    assert not c.gov.state.is_member(newcomer.member_id)


def test_removal_and_what_a_removed_member_can_no_longer_do() -> None:
    c = Community()
    gone = c.people[3]
    c.refused(c.people[0], remove(ident(10).member_id), "not_a_member")
    c.decide(remove(gone.member_id), yes=3)
    assert not c.gov.state.is_member(gone.member_id)
    # Still a consensus participant until the epoch ends, but not a member: refused.
    c.refused(gone, Vote(1, True), "not_member")
    c.refused(gone, remove(c.people[0].member_id), "not_member")
    target = c.gov.state.consensus_target()
    assert target is not None and gone.member_id not in target.participants


def test_ballot_of_a_member_removed_before_the_close_is_dropped() -> None:
    c = Community()
    gone = c.people[3]
    removal = c.ok(c.people[0], remove(gone.member_id)).opened
    assert removal is not None
    for p in c.people[:3]:
        c.ok(p, Vote(removal, True))
    for p in c.people[:2]:
        c.ok(p, make_surety(p, ident(10), c.community))
    c.clock(T0 + PERIOD // 2)
    number = c.ok(c.people[0], admit(ident(10).member_id)).opened
    assert number is not None
    for p in (c.people[0], c.people[1], gone):
        c.ok(p, Vote(number, True))
    c.clock(T0 + PERIOD)
    assert not c.gov.state.is_member(gone.member_id)
    c.clock(T0 + PERIOD + PERIOD // 2)
    d = c.gov.state.decisions[number - 1]
    assert d.status == "closed" and len(d.eligible) == 4
    assert d.adopted is False  # 2 of the 4 eligible: the removed member's yes is dropped
    assert d.support == Fraction(2, 4)


# -- key updates ------------------------------------------------------------------------------


def _with_sureties(c: Community, who: Identity, holders: list[Identity]) -> None:
    for h in holders:
        c.ok(h, make_surety(h, who, c.community))


def test_key_update_with_vouches_moves_membership_and_ballots() -> None:
    c = Community()
    lost, new_key = c.people[3], ident(20)
    _with_sureties(c, lost, c.people[:2])
    number = c.ok(c.people[0], Open("app", "chat", (), AppChange(True, {}), None)).opened
    assert number is not None
    c.ok(lost, Vote(number, True))
    update = make_key_update(lost.member_id, new_key, c.people[:2], c.community)
    c.ok(c.people[2], update)
    state = c.gov.state
    assert not state.is_member(lost.member_id) and state.is_member(new_key.member_id)
    assert state.surety_count(new_key.member_id) == 2
    d = state.decisions[number - 1]
    assert new_key.member_id in d.eligible and d.ballots[new_key.member_id] is True
    c.ok(new_key, Vote(number, False))  # the new key votes as the same person
    assert len(d.ballots) == 1
    target = state.consensus_target()
    assert target is not None and new_key.member_id in target.participants


def test_key_update_keeps_the_offices_the_person_holds() -> None:
    c = Community()
    lost, new_key = c.people[3], ident(20)
    _with_sureties(c, lost, c.people[:2])
    state = c.gov.state
    state.values[("officer", "dispatcher")] = lost.member_id.hex()
    state.values[("officer", "treasurer")] = c.people[0].member_id.hex()
    c.ok(c.people[2], make_key_update(lost.member_id, new_key, c.people[:2], c.community))
    assert state.values[("officer", "dispatcher")] == new_key.member_id.hex()
    assert state.values[("officer", "treasurer")] == c.people[0].member_id.hex()


def test_key_update_refused_with_too_few_or_forged_vouches() -> None:
    c = Community()
    lost, new_key = c.people[3], ident(20)
    _with_sureties(c, lost, c.people[:1])
    # people[1] vouches but holds no surety with the lost key: only one vouch counts.
    update = make_key_update(lost.member_id, new_key, c.people[:2], c.community)
    assert "1 valid vouches" in c.refused(c.people[0], update, "too_few_sureties")
    _with_sureties(c, lost, c.people[1:2])
    forged = KeyUpdate(
        update.old,
        update.new,
        update.new_signature,
        (update.vouches[0], Vouch(c.people[1].member_id, ident(30).sign(b"y"))),
    )
    c.refused(c.people[0], forged, "bad_signature")
    doubled = KeyUpdate(update.old, update.new, update.new_signature, (update.vouches[0],) * 2)
    c.refused(c.people[0], doubled, "too_few_sureties")
    wrong_new = make_key_update(lost.member_id, new_key, c.people[:2], c.community)
    bad_new = KeyUpdate(
        wrong_new.old, ident(21).member_id, wrong_new.new_signature, wrong_new.vouches
    )
    c.refused(c.people[0], bad_new, "bad_signature")
    c.refused(
        c.people[0], make_key_update(ident(40).member_id, new_key, [], c.community), "not_a_member"
    )
    c.refused(
        c.people[0],
        make_key_update(lost.member_id, c.people[0], c.people[1:3], c.community),
        "already_member",
    )
    assert c.gov.state.is_member(lost.member_id)
    c.ok(c.people[0], update)
    assert c.gov.state.is_member(new_key.member_id)


# -- the consensus bridge ----------------------------------------------------------------


def test_ready_amendment_after_a_quorum_of_valid_approvals() -> None:
    c = Community()  # n = 4, quorum 3
    newcomer = ident(10)
    _with_sureties(c, newcomer, c.people[:2])
    state = c.gov.state
    assert state.consensus_target() is None
    c.refused(
        c.people[0],
        EpochApproval(
            approve_amendment(c.people[0], state.genesis.lace(), state.genesis.constitution)
        ),
        "no_target",
    )
    c.decide(admit(newcomer.member_id), yes=4)
    target = state.consensus_target()
    assert target is not None
    lace = state.genesis.lace()
    approvals = [approve_amendment(p, lace, target) for p in c.people]
    c.ok(c.people[3], EpochApproval(approvals[3]))
    c.refused(c.people[0], EpochApproval(approvals[3]), "duplicate")
    forged = Approval(c.people[1].member_id, ident(31).sign(b"z"))
    c.refused(c.people[1], EpochApproval(forged), "bad_signature")
    stale = approve_amendment(c.people[1], lace, c.genesis.constitution)
    c.refused(c.people[1], EpochApproval(stale), "bad_signature")
    outsider = approve_amendment(newcomer, lace, target)  # a member, not yet a participant
    c.refused(c.people[0], EpochApproval(outsider), "not_participant")
    c.ok(c.people[0], EpochApproval(approvals[0]))
    assert state.ready_amendment() is None
    c.ok(c.people[1], EpochApproval(approvals[1]))
    c.ok(c.people[2], EpochApproval(approvals[2]))
    amendment = state.ready_amendment()
    assert amendment is not None
    check_amendment(amendment, state.genesis)
    assert [a.member for a in amendment.approvals] == sorted(
        p.member_id for p in (c.people[3], c.people[0], c.people[1])
    )
    # Consensus ends the epoch; the fold continues under the new genesis.
    nxt = state.genesis.successor(amendment.constitution, b"\x01" * 32, 7)
    c.gov.start_epoch(nxt)
    assert state.genesis.epoch == 1 and state.consensus_target() is None
    assert state.ready_amendment() is None and state.snapshot()["epoch"] == 1
    c.position = 0
    c.refused(newcomer, Close(1), "closed")


def test_a_target_that_changes_restarts_collection() -> None:
    c = Community(4)
    a, b = ident(10), ident(11)
    _with_sureties(c, a, c.people[:2])
    _with_sureties(c, b, c.people[:2])
    c.decide(admit(a.member_id), yes=4)
    state = c.gov.state
    lace = state.genesis.lace()
    first = state.consensus_target()
    assert first is not None
    for p in c.people[:2]:
        c.ok(p, EpochApproval(approve_amendment(p, lace, first)))
    c.decide(admit(b.member_id), yes=4)
    second = state.consensus_target()
    assert second is not None and second != first
    assert state.ready_amendment() is None
    c.refused(
        c.people[2], EpochApproval(approve_amendment(c.people[2], lace, first)), "bad_signature"
    )
    for p in c.people[:3]:
        c.ok(p, EpochApproval(approve_amendment(p, lace, second)))
    amendment = state.ready_amendment()
    assert amendment is not None and amendment.constitution == second
    check_amendment(amendment, state.genesis)
