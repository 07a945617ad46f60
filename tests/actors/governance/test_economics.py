"""Economics: pro rata surplus distribution by largest remainder, folded from transactions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.actors.governance.charter import Charter, RateSubject, community_id, found
from peoplenet.actors.governance.economics import split_pro_rata
from peoplenet.actors.governance.fold import Applied, Governance
from peoplenet.actors.governance.records import Close, Contribution, Distribute, GovTx, Open, Vote
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.keys.identity import Identity, MemberId

PERIOD = 1000
T0 = 10_000
A, B, C = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def test_split_is_exact_with_remainders_to_the_largest_then_lowest_id() -> None:
    assert split_pro_rata(100, {A: 1, B: 1, C: 2}) == {A: 25, B: 25, C: 50}
    # 10 / 3 each: remainders tie, the lowest ids get the spare units.
    assert split_pro_rata(10, {C: 1, B: 1, A: 1}) == {A: 4, B: 3, C: 3}
    # 7 * (5, 3, 2) / 10 = 3.5, 2.1, 1.4: floors 3, 2, 1, the spare unit to A's .5.
    assert split_pro_rata(7, {A: 5, B: 3, C: 2}) == {A: 4, B: 2, C: 1}
    assert split_pro_rata(0, {A: 3}) == {A: 0}
    with pytest.raises(ValueError, match="positive sum"):
        split_pro_rata(5, {A: 0})


@given(
    st.integers(0, 10**9),
    st.dictionaries(st.binary(min_size=32, max_size=32), st.integers(0, 10**6), min_size=1),
)
def test_split_sums_to_the_total_and_each_share_is_within_one_unit(
    total: int, weights: dict[bytes, int]
) -> None:
    if sum(weights.values()) == 0:
        return
    shares = split_pro_rata(total, weights)
    assert sum(shares.values()) == total and shares.keys() == weights.keys()
    whole = sum(weights.values())
    for m, w in weights.items():
        exact = Fraction(total * w, whole)
        assert exact - 1 < shares[m] < exact + 1


def _community(charter: Charter) -> tuple[list[Identity], Governance]:
    people = sorted(
        (Identity.from_seed(bytes([i + 1]) * 32) for i in range(3)), key=lambda p: p.member_id
    )
    founding = found("coop", charter, people, at=T0)
    genesis = Genesis.first(community_id(founding), Constitution.of(p.member_id for p in people))
    return people, Governance(founding, genesis)


class Feed:
    def __init__(self, gov: Governance) -> None:
        self.gov, self.position = gov, 0

    def __call__(self, who: Identity, action: object, at: int = T0) -> Applied:
        tx = GovTx(at, action)  # type: ignore[arg-type]
        applied = self.gov.apply(0, self.position, MemberId(who.member_id), tx)
        self.position += 1
        return applied


def test_surplus_set_by_decision_is_distributed_once_per_period() -> None:
    charter = Charter(
        voting_period_ms=PERIOD, rates=(RateSubject("surplus", "0", "1000", "1", "0"),)
    )
    people, gov = _community(charter)
    feed = Feed(gov)
    n = feed(people[0], Open("rate", "surplus", (), None, None)).opened
    assert n is not None
    for p in people:
        feed(p, Vote(n, "100"))
    for p in people:
        feed(p, Close(n), at=T0 + PERIOD)
    assert gov.state.value("rate", "surplus") == 100
    x, y, z = people
    feed(x, Contribution("2026-05", 2))
    feed(y, Contribution("2026-05", 3))
    feed(x, Contribution("2026-05", 1))  # contributions add up
    feed(z, Contribution("2026-05", 3))
    assert feed(x, Distribute("2026-05")).rejection is None
    paid = gov.state.ledger.distributions["2026-05"]
    # 100 * (3, 3, 3) / 9: 33 each and one spare unit to the lowest id.
    assert paid == {x.member_id: 34, y.member_id: 33, z.member_id: 33}
    assert sum(paid.values()) == 100
    again = feed(y, Distribute("2026-05")).rejection
    assert again is not None and again.reason == "duplicate"
    late = feed(z, Contribution("2026-05", 5)).rejection
    assert late is not None and late.reason == "closed"
    empty = feed(z, Distribute("2026-06")).rejection
    assert empty is not None and empty.reason == "nothing_to_distribute"
    snap = gov.state.snapshot()
    assert snap["distributions"] == {
        "2026-05": {x.member_id.hex(): 34, y.member_id.hex(): 33, z.member_id.hex(): 33}
    }
    outsider = Identity.from_seed(b"\x99" * 32)
    refused = feed(outsider, Contribution("2026-06", 1)).rejection
    assert refused is not None and refused.reason == "not_member"


def test_distribution_needs_a_surplus_rate() -> None:
    people, gov = _community(Charter())
    feed = Feed(gov)
    feed(people[0], Contribution("p", 1))
    rejection = feed(people[0], Distribute("p")).rejection
    assert rejection is not None and rejection.reason == "unknown_subject"
    assert gov.state.ledger.contributions == {"p": {people[0].member_id: 1}}


def test_fractional_surplus_pays_whole_units() -> None:
    charter = Charter(rates=(RateSubject("surplus", "0", "10", "1/4", "21/4"),))
    people, gov = _community(charter)
    feed = Feed(gov)
    for p, amount in zip(people, (1, 1, 2), strict=True):
        feed(p, Contribution("q", amount))
    feed(people[0], Distribute("q"))
    paid = gov.state.ledger.distributions["q"]
    assert sum(paid.values()) == 5  # floor(21/4)
    assert paid[people[2].member_id] == 3  # 1.25, 1.25, 2.5: the spare unit to the 0.5
