"""Community time and deadlines: a decision's voting period starts once 2f+1 members are heard.

Why these tests: community time moves only with clock claims, so after a quiet spell it is
stale; a deadline set from it at the opening was already past with 4 or more members, and
the next transaction closed the decision before anyone could vote.  The opener's own claim
cannot be trusted either (a faulty opener may claim any time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peoplenet.actors.coop.consumer import CoopConsumer
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding
from peoplenet.actors.governance.charter import Charter, Founding, RateSubject, community_id, found
from peoplenet.actors.governance.fold import Applied, Governance
from peoplenet.actors.governance.records import (
    Close,
    Contribution,
    GovTx,
    Open,
    Vote,
    make_key_update,
    make_surety,
)
from peoplenet.plugins.coop_apps import CoopApps
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.consumer import IdentitySigner
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId

T0 = 1_000_000
REPRO_PERIOD = 20_000
"""The repro's charter: ``"voting_period_ms": 20000``."""


def ident(i: int) -> Identity:
    return Identity.from_seed(bytes([i + 41]) * 32)


def charter(period: int) -> Charter:
    return Charter(
        voting_period_ms=period,
        rates=(RateSubject("commission", "0", "10", "1", "5"),),
        admission_sureties=1,
    )


class Coop:
    """``n`` founders and an ordered position counter: feeds the fold as consensus would."""

    def __init__(self, n: int, period: int) -> None:
        self.people = sorted((ident(i) for i in range(n)), key=lambda p: p.member_id)
        self.founding = found("coop", charter(period), self.people, at=T0)
        constitution = Constitution.of(p.member_id for p in self.people)
        self.gov = Governance(
            self.founding, Genesis.first(community_id(self.founding), constitution)
        )
        self.position = 0

    def act(self, who: Identity | int, action: object, at: int) -> Applied:
        person = self.people[who] if isinstance(who, int) else who
        tx = GovTx(at, action)  # type: ignore[arg-type]
        applied = self.gov.apply(0, self.position, MemberId(person.member_id), tx)
        self.position += 1
        return applied

    def ok(self, who: Identity | int, action: object, at: int) -> Applied:
        applied = self.act(who, action, at)
        assert applied.rejection is None, applied.rejection
        return applied

    def propose(self, who: int, at: int) -> int:
        number = self.ok(who, Open("rate", "commission", (), None, "6"), at).opened
        assert number is not None
        return number


# -- the repro: 4 members, 30 s of silence, propose, vote ----------------------------------


def test_a_decision_opened_after_a_quiet_spell_stays_open_for_its_period() -> None:
    c = Coop(4, REPRO_PERIOD)
    for i in range(4):  # everyone active at the start...
        c.ok(i, Contribution("p", 1), at=T0)
    quiet = T0 + 30_000  # ...then 30 s of silence
    number = c.propose(0, at=quiet)
    # The next transaction carries a fresh clock: the vote must be taken, not "closed".
    applied = c.act(1, Vote(number, "6"), at=quiet + 1)
    assert applied.rejection is None, applied.rejection
    assert applied.closed == ()
    c.ok(2, Vote(number, "6"), at=quiet + 2)
    d = c.gov.state.decisions[number - 1]
    assert d.is_open and d.anchored
    view = json.loads(json.dumps(c.gov.state.snapshot()))["decisions"][number - 1]
    assert view["status"] == "open" and view["anchored"] is True
    assert quiet <= view["opened_at"] <= quiet + 2  # real: not the stale time before the spell
    assert view["deadline"] == view["opened_at"] + REPRO_PERIOD
    # Still open late in the period, as the members' clocks measure it.
    c.ok(3, Vote(number, "6"), at=quiet + REPRO_PERIOD - 1)
    assert c.act(0, Close(number), at=quiet + REPRO_PERIOD - 1).rejection is not None
    # f + 1 = 2 clocks past the deadline close it, and the proposal is adopted.
    c.act(0, Close(number), at=d.deadline)
    closing = c.act(1, Close(number), at=d.deadline)
    assert closing.closed == (number,) and closing.rejection is None
    assert c.gov.state.value("rate", "commission") == 6


def test_close_before_the_period_starts_is_too_early_and_says_why() -> None:
    c = Coop(4, 1000)
    number = c.propose(0, at=T0)
    closing = c.act(1, Close(number), at=T0 + 10**6)
    assert closing.rejection is not None and closing.rejection.reason == "too_early"
    assert "3 members are heard" in closing.rejection.detail
    assert "(2 so far)" in closing.rejection.detail
    d = c.gov.state.decisions[number - 1]
    assert not d.anchored and d.is_open
    assert (d.opened_at, d.deadline) == (c.gov.state.time, c.gov.state.time + 1000)
    assert c.gov.next_deadline() == d.deadline


# -- one faulty member cannot move a decision's period ------------------------------------


def test_an_opener_claiming_the_far_future_cannot_stretch_the_period() -> None:
    c = Coop(4, 1000)
    liar = 3
    number = c.propose(liar, at=10**13)
    c.ok(0, Vote(number, "6"), at=T0 + 5)
    c.ok(1, Vote(number, "6"), at=T0 + 6)
    d = c.gov.state.decisions[number - 1]
    assert d.anchored and d.opened_at == T0 + 6  # the second largest claim: a correct one
    assert c.act(0, Close(number), at=T0 + 6 + 999).closed == ()
    # The liar's claim is one of the f + 1: one correct clock past the deadline closes it.
    assert c.act(0, Close(number), at=T0 + 6 + 1000).closed == (number,)


def test_an_opener_claiming_the_far_past_cannot_close_it_early() -> None:
    c = Coop(4, 1000)
    liar = 3
    for i in range(3):
        c.ok(i, Contribution("p", 1), at=T0)
    spell = T0 + 50_000  # a quiet spell, then the liar opens claiming time zero
    number = c.propose(liar, at=0)
    for i in range(3):  # the correct members are heard: the period starts now
        c.ok(i, Vote(number, "6"), at=spell + i)
    d = c.gov.state.decisions[number - 1]
    assert d.anchored and spell <= d.opened_at <= spell + 2
    assert c.act(0, Vote(number, "7"), at=spell + 999).rejection is None
    assert c.gov.state.decisions[number - 1].is_open


def test_small_cooperatives_start_the_period_at_the_opening() -> None:
    """With f = 0 the opener alone is 2f+1: the decision is as it always was."""
    c = Coop(3, 1000)
    c.ok(1, Contribution("p", 1), at=T0 + 40)
    number = c.propose(0, at=T0 + 70)
    d = c.gov.state.decisions[number - 1]
    assert d.anchored and (d.opened_at, d.deadline) == (T0 + 70, T0 + 1070)
    canonical = d.canonical()
    assert isinstance(canonical, dict) and "heard" not in canonical


def test_a_key_update_carries_being_heard_to_the_new_key() -> None:
    c = Coop(4, 1000)
    old, new = c.people[1], ident(30)
    c.ok(0, make_surety(c.people[0], old, c.gov.state.community), at=T0)
    number = c.propose(0, at=T0)
    c.ok(old, Vote(number, "6"), at=T0)
    rekey = make_key_update(old.member_id, new, [c.people[0]], c.gov.state.community)
    c.ok(2, rekey, at=T0)  # people[2] is heard: 3 members, one of them under its new key
    d = c.gov.state.decisions[number - 1]
    assert d.anchored
    assert c.act(new, Vote(number, "6"), at=T0 + 1).rejection is None


# -- the property: open for the whole period by correct clocks, closed soon after ----------

PERIOD = 1000


@dataclass
class Run:
    """What the test knows from outside the fold: real time and who said what when."""

    coop: Coop
    faulty: frozenset[int]
    now: int = T0
    correct_latest: dict[int, int] = field(default_factory=dict)
    opened_real: dict[int, int] = field(default_factory=dict)
    heard_correct: dict[int, dict[int, int]] = field(default_factory=dict)
    """Decision -> correct member -> the real time it was first heard after the opening."""

    @property
    def f(self) -> int:
        return (len(self.coop.people) - 1) // 3

    def step(self, who: int, action: object, claim: int) -> Applied:
        at = claim if who in self.faulty else self.now
        applied = self.coop.act(who, action, at)
        if who not in self.faulty:
            self.correct_latest[who] = self.now
            for heard in self.heard_correct.values():
                heard.setdefault(who, self.now)
        if applied.opened is not None:
            self.opened_real[applied.opened] = self.now
            self.heard_correct[applied.opened] = {} if who in self.faulty else {who: self.now}
        self.check(who, action, applied)
        return applied

    def check(self, who: int, action: object, applied: Applied) -> None:
        state = self.coop.gov.state
        if isinstance(action, Vote) and who not in self.faulty:
            opened = self.opened_real.get(action.decision)
            if opened is not None and self.now < opened + PERIOD:
                # Open for the whole period as the correct clocks measure it.
                assert applied.rejection is None, (applied.rejection, self.now, opened)
        for d in state.decisions:
            opened = self.opened_real[d.number]
            if not d.is_open:
                assert d.closed_at >= opened + PERIOD
                assert self.now >= opened + PERIOD  # a correct clock had passed it
                continue
            # Closed soon after: once 2f+1 correct members were heard since the opening
            # (by real time h), f + 1 correct clocks past h + PERIOD have closed it.
            heard = sorted(self.heard_correct[d.number].values())
            if len(heard) >= 2 * self.f + 1:
                h = heard[2 * self.f]
                past = [t for t in self.correct_latest.values() if t >= h + PERIOD]
                assert len(past) <= self.f, (d.number, h, past, d.deadline, state.time)


_CLAIMS = st.one_of(
    st.just(0),
    st.integers(0, 10**13),
    st.integers(T0 - 10 * PERIOD, T0 + 100 * PERIOD),
)
_STEP = st.tuples(
    st.integers(0, 6),  # who (modulo n)
    st.one_of(st.integers(0, 30), st.integers(0, 5 * PERIOD)),  # quiet spells
    st.sampled_from(["open", "vote", "vote", "close", "tick"]),
    st.integers(1, 6),  # which decision
    _CLAIMS,  # a faulty member's claim
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([4, 5, 7]),
    faulty_draw=st.lists(st.integers(0, 6), max_size=2, unique=True),
    steps=st.lists(_STEP, min_size=5, max_size=60),
)
def test_every_decision_is_open_for_its_period_and_closes_soon_after(
    n: int, faulty_draw: list[int], steps: list[tuple[int, int, str, int, int]]
) -> None:
    f = (n - 1) // 3
    run = Run(Coop(n, PERIOD), frozenset(i % n for i in faulty_draw[:f]))
    for drawn, dt, op, which, claim in steps:
        run.now += dt
        who = drawn % n
        number = len(run.coop.gov.state.decisions)
        target = max(1, number - which % max(number, 1))
        action: object
        if op == "open" or number == 0:
            action = Open("rate", "commission", (), None, None)
        elif op == "vote":
            action = Vote(target, str(which % 10))
        elif op == "close":
            action = Close(target)
        else:
            action = Contribution("p", 1)
        run.step(who, action, claim)
    # Every correct member is heard, then every correct clock passes every deadline.
    correct = [i for i in range(n) if i not in run.faulty]
    for _ in range(2):
        run.now += PERIOD + 1
        for i in correct:
            run.step(i, Contribution("p", 1), 0)
    assert all(not d.is_open for d in run.coop.gov.state.decisions)


# -- the member's shell gives its clock claim at once ---------------------------------------


def _shell(tmp_path: Path, people: list[Identity], who: Identity) -> CoopConsumer:
    ids = tuple(sorted(bytes(p.member_id) for p in people))
    coop = CoopFile(Founding("t", charter(1000), ids, T0, ()), 500)
    for p in people:
        coop = sign_founding(coop, p)
    genesis = coop.genesis()
    (tmp_path / f"{genesis.lace().hex()}.founding").write_bytes(coop.founding_bytes())
    return CoopConsumer(genesis, tmp_path, IdentitySigner(who), apps=CoopApps)


def test_a_shell_not_heard_on_a_new_decision_speaks_at_once_then_waits(tmp_path: Path) -> None:
    people = sorted((ident(i) for i in range(4)), key=lambda p: p.member_id)
    shell = _shell(tmp_path, people, people[1])
    quiet = T0 + 30_000
    opening = GovTx(quiet, Open("rate", "commission", (), None, None))
    state = shell.governance.state
    delivery = Delivery(0, 0, BlockId(bytes(32)), MemberId(people[0].member_id), opening)
    submitted = shell.delivered([delivery], [state.genesis], quiet + 5).submit
    assert [type(tx.action) for tx in submitted if isinstance(tx, GovTx)] == [Close]
    assert shell.tick(quiet + 6).submit == ()  # asked once; heard when it is ordered
    mine = submitted[0]
    others = [(people[1], mine), (people[2], GovTx(quiet + 7, Close(1)))]
    batch = [
        Delivery(0, 1 + i, BlockId(bytes(32)), MemberId(p.member_id), tx)
        for i, (p, tx) in enumerate(others)
    ]
    after = shell.delivered(batch, [state.genesis], quiet + 8).submit
    d = state.decisions[0]
    assert d.anchored and d.deadline >= quiet + 1000
    assert after == ()  # the period has started: nothing to say until the deadline
    assert shell.tick(d.deadline - 1).submit == ()
    assert shell.tick(d.deadline).submit  # its clock passed the deadline: ask to close
