"""Disputes: only a party, in the window, a jury of non-parties by lot, late jurors replaced by
the next draw (recorded), the outcome the majority."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from peoplenet.actors.work.disputes import DisputeBook, JuryDraw, Ruling, ruling_share
from peoplenet.actors.work.jury import draw
from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.plugins.api import AppTxRejected
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.wire.codec import decode, encode

MEMBERS = tuple(bytes([i]) * 32 for i in range(1, 9))
RIDER, DRIVER = MEMBERS[0], MEMBERS[1]
BEACON = b"\xbe" * 32
JOB = b"ride-1"


def _book(jury_size: int = 3) -> DisputeBook:
    return DisputeBook(window_ms=1_000, jury_size=jury_size, answer_ms=100)


def _opened() -> tuple[DisputeBook, tuple[bytes, ...]]:
    book = _book()
    jury = book.open(JOB, RIDER, (RIDER, DRIVER), 500, BEACON, MEMBERS, finished_ms=0)
    return book, jury


def test_the_jury_is_the_draw_over_the_members_who_are_not_parties() -> None:
    book, jury = _opened()
    assert jury == draw(BEACON, JOB, MEMBERS[2:], 3)
    assert not {RIDER, DRIVER} & set(jury)
    assert book.jury(JOB) == jury
    assert book.draws(JOB) == (JuryDraw(JOB, 500, BEACON, 0, jury, ()),)
    assert book.awaiting(jury[0]) == (JOB,)


def _open_other(book: DisputeBook) -> object:
    return book.open(b"ride-2", RIDER, (RIDER, DRIVER), 500, BEACON, MEMBERS, finished_ms=0)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (
            lambda b, j: b.open(
                b"r2", MEMBERS[5], (RIDER, DRIVER), 5, BEACON, MEMBERS, finished_ms=0
            ),
            "not_a_party",
        ),
        (
            lambda b, j: b.open(JOB, DRIVER, (RIDER, DRIVER), 5, BEACON, MEMBERS, finished_ms=0),
            "already_disputed",
        ),
        (
            lambda b, j: b.open(
                b"r2", RIDER, (RIDER, DRIVER), 1_000, BEACON, MEMBERS, finished_ms=0
            ),
            "dispute_window_closed",
        ),
        (
            lambda b, j: b.open(
                b"r2", RIDER, (RIDER, DRIVER), 5, BEACON, MEMBERS[:4], finished_ms=0
            ),
            "not_enough_jurors",
        ),
        (lambda b, j: b.rule(JOB, RIDER, "worker", 600), "not_a_juror"),
        (lambda b, j: b.rule(JOB, j[0], "customer", 600), "already_ruled"),
        (lambda b, j: b.rule(JOB, j[1], "nobody", 600), "bad_ruling"),
        (lambda b, j: b.rule(JOB, j[1], "split:2/4", 600), "bad_ruling"),
        (lambda b, j: b.rule(JOB, j[1], "split:1/1", 600), "bad_ruling"),
        (lambda b, j: b.rule(JOB, j[1], "split:0/3", 600), "bad_ruling"),
        (lambda b, j: b.rule(b"nope", j[1], "worker", 600), "no_such_dispute"),
        (lambda b, j: b.outcome(b"nope"), "no_such_dispute"),
    ],
)
def test_every_refusal_is_typed_and_changes_nothing(
    call: Callable[[DisputeBook, tuple[bytes, ...]], object], reason: str
) -> None:
    book, jury = _opened()
    book.rule(JOB, jury[0], "worker", 550)
    before = encode(book.to_value())
    with pytest.raises(AppTxRejected) as caught:
        call(book, jury)
    assert caught.value.reason == reason
    assert encode(book.to_value()) == before


def test_a_replaced_juror_is_no_longer_a_juror() -> None:
    book, jury = _opened()
    (record,) = book.replace_late(600)
    assert set(record.replaces) == set(jury)
    before = encode(book.to_value())
    with pytest.raises(AppTxRejected, match="not_a_juror"):
        book.rule(JOB, jury[0], "worker", 601)
    assert encode(book.to_value()) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda: DisputeBook(0, 3, 10),
        lambda: DisputeBook(10, 0, 10),
        lambda: DisputeBook(10, 3, True),
        lambda: _book().open(JOB, RIDER, (RIDER, DRIVER), 5, b"", MEMBERS, finished_ms=0),
        lambda: _book().open(JOB, RIDER, (RIDER, DRIVER), 5, BEACON, MEMBERS, finished_ms=0.5),  # type: ignore[arg-type]
        lambda: _book().open(b"", RIDER, (RIDER, DRIVER), 5, BEACON, MEMBERS, finished_ms=0),
        lambda: _book().replace_late(1.5),  # type: ignore[arg-type]
    ],
)
def test_misuse_is_a_kit_misuse(call: Callable[[], object]) -> None:
    with pytest.raises(KitMisuse):
        call()


def test_late_jurors_are_replaced_by_the_next_draw_and_it_is_recorded() -> None:
    book, jury = _opened()
    book.rule(JOB, jury[0], "worker", 550)
    assert book.next_due_ms() == 600
    assert book.replace_late(599) == ()
    (record,) = book.replace_late(600)
    late = tuple(sorted(jury[1:]))
    assert record == JuryDraw(JOB, 600, BEACON, 3, draw(BEACON, JOB, MEMBERS[2:], 2, 3), late)
    assert draw(BEACON, JOB, MEMBERS[2:], 5) == jury + record.drawn
    assert book.jury(JOB) == (jury[0], *record.drawn)
    assert book.draws(JOB)[-1] == record
    assert book.next_due_ms() == 700


def test_when_the_pool_runs_out_the_late_keep_their_seats() -> None:
    book = _book(jury_size=3)
    jury = book.open(JOB, RIDER, (RIDER, DRIVER), 0, BEACON, MEMBERS[:6], finished_ms=0)
    (first,) = book.replace_late(100)  # 4 eligible: one left to draw for three late jurors
    assert len(first.drawn) == 1 and len(first.replaces) == 1
    assert len(book.jury(JOB)) == 3
    assert set(book.jury(JOB)) | set(first.replaces) == set(jury) | set(first.drawn)
    assert book.replace_late(500) == ()  # nothing left: no draw, no record
    assert len(book.draws(JOB)) == 2


def test_the_outcome_is_the_majority_of_the_seats() -> None:
    book, jury = _opened()
    book.rule(JOB, jury[0], "split:1/3", 510)
    assert book.outcome(JOB) is None
    book.rule(JOB, jury[1], "customer", 520)
    assert book.outcome(JOB) is None
    book.rule(JOB, jury[2], "split:1/3", 530)
    assert book.outcome(JOB) == "split:1/3"
    assert ruling_share("split:1/3") == Fraction(1, 3)
    assert book.replace_late(10_000) == ()  # decided: nobody is replaced
    assert book.awaiting(jury[1]) == ()


def test_a_hung_jury_has_no_outcome() -> None:
    book = _book(jury_size=2)
    jury = book.open(JOB, RIDER, (RIDER, DRIVER), 0, BEACON, MEMBERS, finished_ms=0)
    book.rule(JOB, jury[0], "worker", 1)
    book.rule(JOB, jury[1], "customer", 1)
    assert book.outcome(JOB) is None
    assert book.next_due_ms() is None


def test_a_new_jury_size_keeps_an_open_disputes_majority() -> None:
    book, jury = _opened()
    book.set_parameters(1_000, 1, 100)
    book.rule(JOB, jury[0], "worker", 510)
    assert book.outcome(JOB) is None  # still two of three


def test_rulings_and_draws_travel_and_a_bad_ruling_does_not_decode() -> None:
    book, _ = _opened()
    for record in (Ruling(JOB, "split:3/4"), *book.draws(JOB)):
        assert decode(encode(record)) == record
    with pytest.raises(KitMisuse):
        Ruling(JOB, "split:3/3")
    forged = encode(Ruling(JOB, "split:3/4")).replace(b"3/4", b"6/8")
    with pytest.raises(RemoteProtocolError, match="bad_record"):
        decode(forged)
    assert decode(encode(book.to_value())) == book.to_value()


def test_snapshots_are_equal_iff_the_books_are() -> None:
    one, jury = _opened()
    two, _ = _opened()
    three, _ = _opened()
    for juror, ruling in zip(jury, ("worker", "customer", "split:1/2"), strict=True):
        one.rule(JOB, juror, ruling, 600)
    for juror, ruling in reversed(
        list(zip(jury, ("worker", "customer", "split:1/2"), strict=True))
    ):
        two.rule(JOB, juror, ruling, 600)
    for juror, ruling in zip(jury, ("worker", "customer", "worker"), strict=True):
        three.rule(JOB, juror, ruling, 600)
    assert encode(one.to_value()) == encode(two.to_value()) and one == two
    assert encode(one.to_value()) != encode(three.to_value()) and one != three


# -- the state machine -----------------------------------------------------------------------

POOL = tuple(bytes([i]) * 32 for i in range(1, 8))
RULINGS = ("worker", "customer", "split:1/2")


class Disputes(RuleBasedStateMachine):
    """Random disputes, rulings, time and replacements, against what must always hold."""

    def __init__(self) -> None:
        super().__init__()
        self.book = DisputeBook(window_ms=500, jury_size=3, answer_ms=40)
        self.twin = DisputeBook(window_ms=500, jury_size=3, answer_ms=40)
        """The same calls as :attr:`book`, only those accepted: refusals must change nothing."""
        self.now = 0
        self.parties: dict[bytes, tuple[bytes, bytes]] = {}
        self.beacons: dict[bytes, bytes] = {}
        self.draw_calls: Counter[bytes] = Counter()

    @rule(
        a=st.sampled_from(POOL),
        b=st.sampled_from(POOL),
        by_a=st.booleans(),
        n=st.integers(0, 9),
        beacon=st.binary(min_size=32, max_size=32),
        age=st.integers(0, 600),
    )
    def open_dispute(self, a: bytes, b: bytes, by_a: bool, n: int, beacon: bytes, age: int) -> None:
        jury: tuple[bytes, ...]
        job = bytes([n + 1])
        by = a if by_a else POOL[n % len(POOL)]
        finished = self.now - age
        args = (job, by, (a, b), self.now, beacon, POOL)
        if a == b:
            return
        expected = ""
        if by not in (a, b):
            expected = "not_a_party"
        elif job in self.parties:
            expected = "already_disputed"
        elif age >= 500:
            expected = "dispute_window_closed"
        before = encode(self.book.to_value())
        refused, jury = "", ()
        try:
            jury = self.book.open(*args, finished_ms=finished)
        except AppTxRejected as exc:
            refused = exc.reason
        assert refused == expected
        if refused:
            assert encode(self.book.to_value()) == before
            return
        self.twin.open(*args, finished_ms=finished)
        self.parties[job] = (a, b)
        self.beacons[job] = beacon
        self.draw_calls[job] += 1
        assert jury == draw(beacon, job, sorted(set(POOL) - {a, b}), 3)

    @precondition(lambda self: bool(self.parties))
    @rule(n=st.integers(0, 9), juror=st.sampled_from(POOL), ruling=st.sampled_from(RULINGS))
    def rule_on(self, n: int, juror: bytes, ruling: str) -> None:
        job = bytes([n + 1])
        before = encode(self.book.to_value())
        refused = ""
        try:
            self.book.rule(job, juror, ruling, self.now)
        except AppTxRejected as exc:
            refused = exc.reason
        if refused:
            assert refused in {"no_such_dispute", "not_a_juror", "already_ruled"}
            if refused == "not_a_juror":
                assert juror not in self.book.jury(job)
            assert encode(self.book.to_value()) == before
            return
        self.twin.rule(job, juror, ruling, self.now)

    @rule(step=st.integers(0, 60))
    def time_passes(self, step: int) -> None:
        self.now += step
        records = self.book.replace_late(self.now)
        assert self.twin.replace_late(self.now) == records
        for record in records:
            self.draw_calls[record.dispute] += 1

    @invariant()
    def refusals_changed_nothing(self) -> None:
        assert self.book == self.twin

    @invariant()
    def juries_never_hold_a_party_nor_anyone_twice(self) -> None:
        for job, parties in self.parties.items():
            drawn = [m for d in self.book.draws(job) for m in d.drawn]
            assert len(drawn) == len(set(drawn))
            assert not set(parties) & set(drawn)
            assert len(self.book.jury(job)) == 3
            assert set(self.book.jury(job)) <= set(drawn)

    @invariant()
    def one_record_per_draw_and_each_recomputes(self) -> None:
        for job, parties in self.parties.items():
            draws = self.book.draws(job)
            assert len(draws) == self.draw_calls[job]
            pool = sorted(set(POOL) - set(parties))
            skip = 0
            for record in draws:
                assert record.skip == skip
                assert record.drawn == draw(self.beacons[job], job, pool, len(record.drawn), skip)
                skip += len(record.drawn)

    @invariant()
    def the_outcome_is_the_majority(self) -> None:
        for job in self.parties:
            counts = Counter(self.book.rulings(job).values())
            winners = [r for r, c in counts.items() if 2 * c > 3]
            assert self.book.outcome(job) == (winners[0] if winners else None)


Disputes.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestDisputes = Disputes.TestCase
