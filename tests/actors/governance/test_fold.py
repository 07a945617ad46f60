"""The governance fold: founding, decisions of every kind, rejections, time, determinism."""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peoplenet.actors.governance.charter import (
    BoardSubject,
    BudgetSubject,
    BylawsSubject,
    Charter,
    Founding,
    InvalidCharter,
    InvalidFounding,
    RankingSubject,
    RateSubject,
    community_id,
    found,
    founding_content_digest,
    verify_founding,
)
from peoplenet.actors.governance.fold import Applied, Governance
from peoplenet.actors.governance.records import (
    Amend,
    AppChange,
    Close,
    ConsensusParams,
    GovTx,
    InvalidGovTx,
    Open,
    Table,
    Vote,
)
from peoplenet.runtime.consensus.constitution import Amendment, Constitution, Genesis
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.wire.codec import Value, decode, encode

PERIOD = 1000
T0 = 10_000

CHARTER = Charter(
    voting_period_ms=PERIOD,
    rates=(RateSubject("fee", "0", "10", "1/2", "5"),),
    budgets=(BudgetSubject("spend", ("ops", "pay", "rnd"), 10, (4, 4, 2)),),
    rankings=(RankingSubject("roadmap", ("a", "b", "c")),),
    boards=(BoardSubject("council", 2),),
    officers=("chair",),
    bylaws=(BylawsSubject("rules", ("c1", "c2", "c3"), ("c1",)),),
)


def ident(i: int) -> Identity:
    return Identity.from_seed(bytes([i + 1]) * 32)


class Community:
    """A founded community and a counter of ordered positions: feeds the fold like consensus."""

    def __init__(self, n: int = 5, charter: Charter = CHARTER) -> None:
        self.people = sorted((ident(i) for i in range(n)), key=lambda p: p.member_id)
        self.founding = found("coop", charter, self.people, at=T0)
        constitution = Constitution.of(p.member_id for p in self.people)
        self.genesis = Genesis.first(community_id(self.founding), constitution)
        self.gov = Governance(self.founding, self.genesis)
        self.position = 0
        self.log: list[tuple[int, int, MemberId, Value]] = []

    def apply(self, who: Identity | bytes, tx: Value) -> Applied:
        creator = MemberId(who.member_id if isinstance(who, Identity) else who)
        epoch = self.gov.state.genesis.epoch
        self.log.append((epoch, self.position, creator, tx))
        applied = self.gov.apply(epoch, self.position, creator, tx)
        self.position += 1
        return applied

    def act(self, who: Identity | bytes, action: object, at: int = T0) -> Applied:
        return self.apply(who, GovTx(at, action))  # type: ignore[arg-type]

    def ok(self, who: Identity | bytes, action: object, at: int = T0) -> Applied:
        applied = self.act(who, action, at)
        assert applied.rejection is None, applied.rejection
        return applied

    def refused(self, who: Identity | bytes, action: object, reason: str, at: int = T0) -> str:
        applied = self.act(who, action, at)
        assert applied.rejection is not None and applied.rejection.reason == reason, applied
        return applied.rejection.detail

    def open(self, kind: str, subject: str = "", **kw: object) -> int:
        action = Open(
            kind,
            subject,
            tuple(kw.get("candidates", ())),  # type: ignore[arg-type]
            kw.get("change"),  # type: ignore[arg-type]
            kw.get("proposal"),  # type: ignore[arg-type]
        )
        number = self.ok(self.people[0], action).opened
        assert number is not None
        return number

    def close(self, number: int) -> Applied:
        """Every member's clock passes the deadline; the last Close closes it."""
        deadline = self.gov.state.decisions[number - 1].deadline
        result = None
        for p in self.people:
            if not self.gov.state.is_member(p.member_id):
                continue
            result = self.act(p, Close(number), at=deadline)
            if number in result.closed:
                return result
        raise AssertionError(f"decision {number} did not close: {result}")

    def vote_all(self, number: int, ballots: Sequence[Value]) -> None:
        for p, b in zip(self.people, ballots, strict=False):
            self.ok(p, Vote(number, b))


def decision(c: Community, number: int) -> dict[str, object]:
    summary = c.gov.state.snapshot(last=0)["decisions"]
    assert isinstance(summary, list)
    out = summary[number - 1]
    assert isinstance(out, dict)
    return out


# -- founding --------------------------------------------------------------------------------


def test_founding_needs_every_founders_signature() -> None:
    c = Community(3)
    f = c.founding
    verify_founding(f)
    missing = Founding(f.name, f.charter, f.founders, f.at, f.signatures[:2])
    with pytest.raises(InvalidFounding) as err:
        verify_founding(missing)
    assert err.value.reason == "missing_signature"
    with pytest.raises(InvalidFounding):
        Governance(missing, c.genesis)
    stranger = ident(9).sign(founding_content_digest(f.name, f.charter, f.founders, f.at))
    forged = Founding(f.name, f.charter, f.founders, f.at, (*f.signatures[:2], stranger))
    with pytest.raises(InvalidFounding) as err:
        verify_founding(forged)
    assert err.value.reason == "bad_signature"
    # A signature over another charter does not carry over.
    other = found("coop", Charter(threshold="3/5"), c.people, at=T0)
    swapped = Founding(f.name, f.charter, f.founders, f.at, other.signatures)
    with pytest.raises(InvalidFounding):
        verify_founding(swapped)


def test_genesis_is_bound_to_the_founding() -> None:
    c = Community(3)
    assert len(community_id(c.founding)) == 34
    other = found("coop2", CHARTER, c.people, at=T0)
    with pytest.raises(InvalidFounding) as err:
        Governance(other, c.genesis)
    assert err.value.reason == "genesis_mismatch"
    fewer = Genesis.first(community_id(c.founding), Constitution.of([c.people[0].member_id]))
    with pytest.raises(InvalidFounding):
        Governance(c.founding, fewer)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"threshold": "2/4"}, "bad_fraction"),
        ({"threshold": "0.5"}, "bad_fraction"),
        ({"threshold": "1"}, "bad_threshold"),
        ({"threshold": "3/4", "amendment_threshold": "2/3"}, "bad_threshold"),
        ({"voting_period_ms": 0}, "bad_period"),
        ({"kind_thresholds": {"amendment": "1/2"}}, "bad_threshold"),
        ({"kind_thresholds": {"nope": "1/2"}}, "bad_threshold"),
        ({"officers": ("b", "a")}, "not_sorted"),
        (
            {"officers": ("fee",), "rates": (RateSubject("fee", "0", "1", "1", "0"),)},
            "duplicate_name",
        ),
    ],
)
def test_charter_is_validated(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidCharter) as err:
        Charter(**kwargs)  # type: ignore[arg-type]
    assert err.value.reason == reason


def test_subjects_are_validated_by_the_rule() -> None:
    with pytest.raises(InvalidCharter, match="off_step"):
        RateSubject("fee", "0", "10", "1/2", "1/3")
    with pytest.raises(InvalidCharter, match="bad_total"):
        BudgetSubject("b", ("x", "y"), 10, (4, 4))
    with pytest.raises(InvalidCharter, match="unknown_clause"):
        BylawsSubject("r", ("c1",), ("c9",))


def test_records_round_trip_through_the_codec() -> None:
    c = Community(3)
    for value in (
        c.founding,
        GovTx(5, Vote(1, "9/2")),
        GovTx(5, Open("app", "chat", (), AppChange(True, {"max": 3}), None)),
        GovTx(5, Open("amendment", "", (), Amend(CHARTER, ConsensusParams(2, 3, 500)), None)),
    ):
        assert decode(encode(value)) == value
    with pytest.raises(InvalidGovTx):
        Open("app", "chat", (), None, None)
    with pytest.raises(InvalidGovTx):
        Open("rate", "fee", ("x",), None, None)
    with pytest.raises(InvalidGovTx):
        GovTx(-1, Close(1))


# -- decisions of every kind ---------------------------------------------------------------


def test_rate_worked_example_adopts_the_median() -> None:
    c = Community(5)
    n = c.open("rate", "fee")
    c.vote_all(n, ["3", "4", "9/2", "6", "7"])
    applied = c.close(n)
    assert applied.closed == (n,)
    assert c.gov.state.value("rate", "fee") == Fraction(9, 2)
    d = decision(c, n)
    assert (d["outcome"], d["adopted"], d["applied"]) == ("9/2", True, True)
    assert (d["support"], d["score"]) == ("3/5", "1/2")
    assert c.gov.state.snapshot()["params"] == {"fee": "9/2"}


def test_rate_kept_under_a_two_thirds_threshold() -> None:
    c = Community(
        5, Charter(voting_period_ms=PERIOD, kind_thresholds={"rate": "2/3"}, rates=CHARTER.rates)
    )
    n = c.open("rate", "fee")
    c.vote_all(n, ["3", "4", "9/2", "6", "7"])
    c.close(n)
    assert c.gov.state.value("rate", "fee") == 5
    d = decision(c, n)
    assert (d["outcome"], d["adopted"], d["support"]) == ("5", False, "3/5")


def test_ballots_replace_until_close_and_late_or_foreign_ones_are_refused() -> None:
    c = Community(5)
    n = c.open("rate", "fee")
    c.vote_all(n, ["10", "10", "10", "5", "5"])
    for p in c.people[:3]:  # they change their minds
        c.ok(p, Vote(n, "1"))
    assert decision(c, n)["ballots"] == 5
    outsider = ident(20)
    assert c.refused(outsider, Vote(n, "1"), "not_member") == "Vote by a non-member"
    assert "off_step" in c.refused(c.people[0], Vote(n, "1/3"), "invalid_ballot")
    assert "out_of_range" in c.refused(c.people[0], Vote(n, "11"), "invalid_ballot")
    assert "bad_fraction" in c.refused(c.people[0], Vote(n, "2/2"), "invalid_ballot")
    assert "not_a_number" in c.refused(c.people[0], Vote(n, (1,)), "invalid_ballot")
    c.refused(c.people[0], Vote(n + 1, "1"), "unknown_decision")
    c.close(n)
    c.refused(c.people[4], Vote(n, "10"), "closed")
    c.refused(c.people[4], Close(n), "closed")
    assert c.gov.state.value("rate", "fee") == 1
    assert decision(c, n)["ballots"] == 5
    # 6 above, one early Close while closing (f + 1 = 2 clocks needed), 2 after the close.
    assert c.gov.state.rejection_count == 9
    rejections = c.gov.state.snapshot(last=3)["rejections"]
    assert isinstance(rejections, dict) and rejections["count"] == 9
    assert [r["reason"] for r in rejections["last"]] == ["too_early", "closed", "closed"]


def test_budget_ranking_bylaws_decisions() -> None:
    c = Community(5)
    b = c.open("budget", "spend")
    r = c.open("ranking", "roadmap")
    y = c.open("bylaws", "rules")
    c.vote_all(b, [(2, 6, 2), (2, 6, 2), (2, 6, 2), (4, 4, 2), (10, 0, 0)])
    c.vote_all(r, [("c", "b", "a")] * 4 + [("a", "b", "c")])
    c.vote_all(y, [("c1", "c2")] * 3 + [(), ("c3",)])
    assert c.gov.next_deadline() == T0 + PERIOD
    c.close(b)
    state = c.gov.state
    assert state.value("budget", "spend") == (2, 6, 2)
    assert state.value("ranking", "roadmap") == ("c", "b", "a")
    assert state.value("bylaws", "rules") == ("c1", "c2")
    assert [decision(c, i)["status"] for i in (b, r, y)] == ["closed"] * 3
    assert c.gov.next_deadline() is None


def test_invalid_proposals_and_unknown_subjects() -> None:
    c = Community(3)
    c.refused(c.people[0], Open("rate", "nope", (), None, None), "unknown_subject")
    c.refused(c.people[0], Open("budget", "fee", (), None, None), "unknown_subject")
    detail = c.refused(
        c.people[0], Open("budget", "spend", (), None, (1, 1, 1)), "invalid_proposal"
    )
    assert "bad_total" in detail
    assert "bad_params" in c.refused(
        c.people[0], Open("board", "council", ("x",), None, None), "invalid_proposal"
    )
    n = c.open("budget", "spend", proposal=(0, 5, 5))
    c.refused(c.people[1], Table(n, (0, 5, 5)), "duplicate")
    c.ok(c.people[1], Table(n, (5, 5, 0)))
    assert decision(c, n)["proposals"] == 2
    assert len(c.gov.state.decisions) == 1


def test_board_and_officer_elections() -> None:
    c = Community(5)
    b = c.open("board", "council", candidates=("ann", "bob", "cy"))
    o = c.open("officer", "chair", candidates=("ann", "bob"))
    c.vote_all(b, [("ann", "bob")] * 3 + [("cy",), ("cy", "bob")])
    c.vote_all(o, [("bob", "ann", "vacant")] * 3 + [("vacant", "ann", "bob")] * 2)
    c.refused(c.people[0], Vote(o, ("bob", "ann")), "invalid_ballot")
    c.close(b)
    assert c.gov.state.value("board", "council") == ("ann", "bob")
    assert c.gov.state.value("officer", "chair") == "bob"
    snap = c.gov.state.snapshot()
    assert snap["officers"] == {"chair": "bob"} and snap["boards"] == {"council": ["ann", "bob"]}
    # The incumbent is now the status quo a challenger must beat.
    o2 = c.open("officer", "chair", candidates=("ann",))
    c.vote_all(o2, [("ann", "bob")] * 2 + [("bob", "ann")] * 3)
    c.close(o2)
    assert c.gov.state.value("officer", "chair") == "bob"
    assert decision(c, o2)["adopted"] is False


def test_app_enable_then_disable_with_settings() -> None:
    c = Community(3)
    on = c.open("app", "market", change=AppChange(True, {"commission": "1/20"}))
    c.vote_all(on, [True, True, False])
    c.close(on)
    assert c.gov.state.apps == {"market": (True, {"commission": "1/20"})}
    off = c.open("app", "market", change=AppChange(False, {}))
    c.vote_all(off, [True, False, False])
    c.close(off)
    assert c.gov.state.apps["market"][0] is True  # 1/3 yes is not a majority
    off = c.open("app", "market", change=AppChange(False, {}))
    c.vote_all(off, [True, True, True])
    c.close(off)
    assert c.gov.state.snapshot()["apps"] == {"market": {"enabled": False, "settings": {}}}


def test_amendment_replaces_the_charter_and_needs_two_thirds() -> None:
    c = Community(3)
    stricter = Charter(
        threshold="3/4",
        amendment_threshold="3/4",
        voting_period_ms=2 * PERIOD,
        rates=CHARTER.rates,
        rankings=(RankingSubject("roadmap", ("c", "b", "a")),),
    )
    a = c.open("amendment", change=Amend(stricter, None))
    c.vote_all(a, [True, True, False])  # 2/3 is not more than 2/3
    c.close(a)
    assert c.gov.state.charter == CHARTER
    r = c.open("rate", "fee")
    c.vote_all(r, ["6", "6", "6"])
    c.close(r)
    a = c.open("amendment", change=Amend(stricter, None))
    c.vote_all(a, [True, True, True])
    c.close(a)
    state = c.gov.state
    assert state.charter == stricter
    assert state.value("rate", "fee") == 6  # declared alike: keeps its value
    assert state.value("ranking", "roadmap") == ("c", "b", "a")  # redeclared: new initial
    assert ("budget", "spend") not in state.values
    n = c.open("rate", "fee")
    assert state.decisions[n - 1].deadline - state.decisions[n - 1].opened_at == 2 * PERIOD
    c.refused(c.people[0], Open("budget", "spend", (), None, None), "unknown_subject")


def test_decision_on_a_subject_redeclared_meanwhile_is_void() -> None:
    c = Community(3)
    r = c.open("rate", "fee")
    c.vote_all(r, ["1", "1", "1"])
    wider = Charter(voting_period_ms=PERIOD, rates=(RateSubject("fee", "0", "20", "1", "5"),))
    a = c.open("amendment", change=Amend(wider, None))
    c.vote_all(a, [True, True, True])
    c.close(r)  # both close together, in number order: the rate first
    assert c.gov.state.value("rate", "fee") == 5
    assert c.gov.state.charter == wider
    c2 = Community(3)
    a = c2.open("amendment", change=Amend(wider, None))
    c2.vote_all(a, [True, True, True])
    c2.act(c2.people[0], Close(a), at=T0 + PERIOD // 2)
    r = c2.open("rate", "fee")
    c2.vote_all(r, ["1", "1", "1"])
    c2.close(a)
    c2.close(r)
    assert decision(c2, r)["note"] == "subject_changed"
    assert c2.gov.state.value("rate", "fee") == 5


def test_consensus_parameters_amendment_sets_a_target() -> None:
    c = Community(4)
    c.refused(
        c.people[0],
        Open("amendment", "", (), Amend(None, ConsensusParams(1, 3, 900)), None),
        "invalid_proposal",
    )
    assert c.gov.state.consensus_target() is None
    a = c.open("amendment", change=Amend(None, ConsensusParams(7, 10, 900)))
    c.vote_all(a, [True, True, True, True])
    c.close(a)
    target = c.gov.state.consensus_target()
    assert target is not None
    assert (target.threshold_num, target.threshold_den, target.timeout_ms) == (7, 10, 900)
    assert target.participants == c.genesis.constitution.participants


def test_non_governance_values_are_rejected_and_amendments_pass_through() -> None:
    c = Community(3)
    assert c.apply(c.people[0], "hello").rejection is not None
    assert c.apply(c.people[0], (1, 2)).rejection is not None
    lace = c.genesis.lace()
    amendment = Amendment(lace, c.genesis.constitution, ())
    assert c.apply(c.people[0], amendment) == Applied(None, (), None)
    assert c.gov.state.rejection_count == 2
    with pytest.raises(LocalError):
        c.gov.apply(1, 0, c.people[0].member_id, GovTx(0, Close(1)))


# -- community time ---------------------------------------------------------------------


def test_liars_cannot_close_a_vote_early() -> None:
    c = Community(4)  # f = 1: community time is the second largest clock claim
    n = c.open("rate", "fee")
    for p in c.people[1:3]:  # 2f+1 = 3 members heard: the voting period starts
        c.ok(p, Vote(n, "5"))
    liar = c.people[3]
    c.refused(liar, Close(n), "too_early", at=10**15)
    c.ok(liar, Vote(n, "1"), at=10**15)
    assert c.gov.state.time == T0
    c.ok(c.people[0], Vote(n, "1"), at=T0 + PERIOD - 1)
    assert c.gov.state.time == T0 + PERIOD - 1
    assert c.gov.next_deadline() == T0 + PERIOD
    # An honest clock past the deadline: the decision closes before this late ballot counts.
    applied = c.act(c.people[1], Vote(n, "1"), at=T0 + PERIOD)
    assert applied.closed == (n,) and applied.rejection is not None
    assert applied.rejection.reason == "closed"
    assert c.gov.state.time == T0 + PERIOD
    assert c.gov.state.value("rate", "fee") == 5  # two ballots of four are no majority


def test_time_never_goes_back_and_silent_members_do_not_block() -> None:
    c = Community(4)
    n = c.open("rate", "fee")
    for p in c.people[1:3]:  # 2f+1 = 3 members heard: the voting period starts
        c.ok(p, Vote(n, "1"))
    c.ok(c.people[0], Vote(n, "1"), at=T0 + 500)
    c.ok(c.people[1], Vote(n, "1"), at=T0 + 600)
    assert c.gov.state.time == T0 + 500
    c.ok(c.people[1], Vote(n, "1"), at=T0 + 100)  # an older claim is clamped
    assert c.gov.state.time == T0 + 500
    c.ok(c.people[2], Vote(n, "1"), at=T0 + PERIOD + 5)
    assert c.gov.state.time == T0 + 600
    # people[3] never speaks; two clocks past the deadline are enough.
    applied = c.act(c.people[0], Close(n), at=T0 + PERIOD)
    assert applied.closed == (n,) and applied.rejection is None
    assert c.gov.state.value("rate", "fee") == 1


# -- snapshot and determinism ----------------------------------------------------------------


def test_snapshot_is_json_ready() -> None:
    c = Community(3)
    n = c.open("app", "chat", change=AppChange(True, {"key": b"\x01", "n": 3}))
    c.vote_all(n, [True, True, True])
    c.close(n)
    snap = c.gov.state.snapshot()
    text = json.dumps(snap, sort_keys=True)
    assert json.loads(text)["apps"]["chat"] == {"enabled": True, "settings": {"key": "01", "n": 3}}
    assert snap["members"] == sorted(p.member_id.hex() for p in c.people)
    assert snap["digest"] == c.gov.state.digest().hex()
    assert snap["epoch"] == 0 and snap["community_time"] == T0 + PERIOD


_ACTIONS = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(["rate", "budget", "bylaws", "app"])),
    st.tuples(st.just("vote"), st.integers(1, 4), st.integers(0, 12)),
    st.tuples(st.just("vote"), st.integers(1, 4), st.integers(0, 12)),
    st.tuples(st.just("table"), st.integers(1, 4), st.integers(0, 12)),
    st.tuples(st.just("close"), st.integers(1, 4)),
    st.tuples(st.just("junk"), st.integers(0, 3)),
)


def _ballot(c: Community, number: int, v: int) -> Value:
    """A valid point for the decision's kind, except now and then (or for no decision)."""
    d = c.gov.state.decision(number)
    if d is None or v == 12:
        return ("bad", v)
    ballots: dict[str, Value] = {
        "rate": str(v % 3 + 1),
        "budget": (v % 3, 10 - v % 3, 0),
        "bylaws": ("c1",) if v % 2 else ("c2", "c3"),
        "app": v % 3 != 0,
    }
    return ballots[d.kind]


def _tx(c: Community, step: tuple[object, ...], at: int) -> Value:
    op = step[0]
    if op == "open":
        kind = str(step[1])
        change = AppChange(True, {}) if kind == "app" else None
        subject = {"rate": "fee", "budget": "spend", "bylaws": "rules", "app": "x"}[kind]
        return GovTx(at, Open(kind, subject, (), change, None))
    if op in ("vote", "table"):
        number, v = step[1], step[2]
        assert isinstance(number, int) and isinstance(v, int)
        ballot = _ballot(c, number, v)
        return GovTx(at, Vote(number, ballot) if op == "vote" else Table(number, ballot))
    if op == "close":
        assert isinstance(step[1], int)
        return GovTx(at, Close(step[1]))
    junk = step[1]
    assert isinstance(junk, int)
    return ("junk", junk)


_STEPS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 60), _ACTIONS), min_size=20, max_size=80
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STEPS)
def test_fold_is_deterministic_and_outcomes_never_change(
    steps: list[tuple[int, int, tuple[object, ...]]],
) -> None:
    c = Community(5)
    opening = [(0, 0, ("open", kind)) for kind in ("rate", "budget", "bylaws", "app")]
    # Every member's clock jumps at the end, twice: every decision's voting period has
    # started after the first round, and it has passed after the second.
    ending = [(who, 2 * PERIOD if who == 0 else 0, ("close", 1)) for who in range(5)] * 2
    digests = []
    outcomes: dict[int, tuple[object, ...]] = {}
    at = T0
    for who, dt, step in [*opening, *steps, *ending]:
        at += dt
        c.apply(c.people[who], _tx(c, step, at))
        digests.append(c.gov.state.digest())
        for d in c.gov.state.decisions:
            if not d.is_open:
                seen = (d.outcome, d.adopted, d.applied, d.support, d.score, d.note)
                assert outcomes.setdefault(d.number, seen) == seen
    assert all(not d.is_open for d in c.gov.state.decisions)
    replay = Community(5)
    for i, (epoch, position, creator, tx) in enumerate(c.log):
        replay.gov.apply(epoch, position, creator, tx)
        assert replay.gov.state.digest() == digests[i]
    assert replay.gov.state.snapshot() == c.gov.state.snapshot()
