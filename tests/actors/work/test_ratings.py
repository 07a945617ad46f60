"""Double-blind ratings: only a party, only once, hidden until all rated or the window closed."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.actors.work.ratings import Rating, RatingBook
from peoplenet.plugins.api import AppTxRejected
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.wire.codec import decode, encode

RIDER, DRIVER, OTHER = b"r" * 32, b"d" * 32, b"o" * 32
JOB = b"job-1"
WINDOW = 1_000


def _book() -> RatingBook:
    book = RatingBook(window_ms=WINDOW, min_count=2)
    book.open(JOB, (RIDER, DRIVER), now_ms=100)
    return book


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda b: b.rate(b"nope", RIDER, 5, 200), "no_such_job"),
        (lambda b: b.rate(JOB, OTHER, 5, 200), "not_a_party"),
        (lambda b: b.rate(JOB, DRIVER, 4, 200), "already_rated"),
        (lambda b: b.rate(JOB, RIDER, 5, 100 + WINDOW), "rating_window_closed"),
        (lambda b: b.rate(JOB, RIDER, 0, 200), "bad_score"),
        (lambda b: b.rate(JOB, RIDER, 6, 200), "bad_score"),
        (lambda b: b.rate(JOB, RIDER, True, 200), "bad_score"),
        (lambda b: b.open(JOB, (RIDER, DRIVER), 300), "job_already_open"),
        (lambda b: b.visible(b"nope", 200), "no_such_job"),
    ],
)
def test_every_refusal_is_typed_and_changes_nothing(
    call: Callable[[RatingBook], object], reason: str
) -> None:
    book = _book()
    book.rate(JOB, DRIVER, 3, 150)
    before = encode(book.to_value())
    with pytest.raises(AppTxRejected) as caught:
        call(book)
    assert caught.value.reason == reason
    assert encode(book.to_value()) == before


def test_check_rate_says_what_rate_would_and_changes_nothing() -> None:
    book = _book()
    before = encode(book.to_value())
    book.check_rate(JOB, RIDER, 5, 200)
    with pytest.raises(AppTxRejected, match="not_a_party"):
        book.check_rate(JOB, OTHER, 5, 200)
    assert encode(book.to_value()) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda: RatingBook(0, 1),
        lambda: RatingBook(10, 0),
        lambda: RatingBook(10, True),
        lambda: _book().open(b"j2", (RIDER,), 0),
        lambda: _book().open(b"j2", (RIDER, RIDER), 0),
        lambda: _book().open(b"", (RIDER, DRIVER), 0),
        lambda: _book().rate(JOB, RIDER, 5, 1.5),  # type: ignore[arg-type]
    ],
)
def test_misuse_is_a_kit_misuse(call: Callable[[], object]) -> None:
    with pytest.raises(KitMisuse):
        call()


def test_scores_show_when_both_rated_and_not_before() -> None:
    book = _book()
    book.rate(JOB, RIDER, 5, 200)
    assert book.visible(JOB, 200) is None
    assert book.count(DRIVER, 200) == 0
    book.rate(JOB, DRIVER, 2, 300)
    assert book.visible(JOB, 300) == {RIDER: 5, DRIVER: 2}
    assert book.received(DRIVER, 300) == (5,)
    assert book.received(RIDER, 300) == (2,)


def test_scores_show_when_the_window_closes() -> None:
    book = _book()
    book.rate(JOB, RIDER, 5, 200)
    assert book.visible(JOB, 100 + WINDOW - 1) is None
    assert book.visible(JOB, 100 + WINDOW) == {RIDER: 5}
    assert book.count(DRIVER, 100 + WINDOW) == 1


def test_the_average_hides_below_min_count_and_is_exact() -> None:
    book = RatingBook(window_ms=WINDOW, min_count=2)
    for n, score in enumerate((5, 4, 4)):
        job = bytes([n + 1])
        book.open(job, (RIDER, DRIVER), 0)
        book.rate(job, RIDER, score, 1)
        book.rate(job, DRIVER, 1, 1)
        if n == 0:
            assert book.average(DRIVER, 1) is None
    assert book.average(DRIVER, 1) == Fraction(13, 3)
    assert book.average(RIDER, 1) == 1


def test_a_rating_travels_and_a_bad_one_does_not_decode() -> None:
    rating = Rating(JOB, 4)
    assert decode(encode(rating)) == rating
    with pytest.raises(KitMisuse):
        Rating(JOB, 9)
    forged = encode(rating).replace(b"\x04", b"\x09")
    with pytest.raises(RemoteProtocolError, match="bad_record"):
        decode(forged)


ratings = st.lists(
    st.tuples(st.sampled_from([b"j1", b"j2"]), st.sampled_from([RIDER, DRIVER]), st.integers(1, 5)),
    max_size=4,
    unique_by=lambda r: r[:2],
)


@given(ratings, ratings, st.randoms(use_true_random=False))
def test_snapshots_are_equal_iff_the_books_are(
    first: list[tuple[bytes, bytes, int]], second: list[tuple[bytes, bytes, int]], rnd: Any
) -> None:
    def book(given_ratings: list[tuple[bytes, bytes, int]]) -> RatingBook:
        b = RatingBook(window_ms=WINDOW, min_count=1)
        for job in (b"j2", b"j1"):
            b.open(job, (RIDER, DRIVER), 0)
        for job, rater, score in given_ratings:
            b.rate(job, rater, score, 1)
        return b

    shuffled = list(first)
    rnd.shuffle(shuffled)
    one = book(first)
    assert encode(book(shuffled).to_value()) == encode(one.to_value())  # order: no matter
    snapshot = one.to_value()
    assert decode(encode(snapshot)) == snapshot
    same = sorted(first) == sorted(second)
    assert (encode(book(second).to_value()) == encode(snapshot)) == same


# -- the state machine -----------------------------------------------------------------------

PEOPLE = (b"a" * 32, b"b" * 32, b"c" * 32)


class Ratings(RuleBasedStateMachine):
    """Random opens, ratings and time against a plain model of what must be true."""

    def __init__(self) -> None:
        super().__init__()
        self.book = RatingBook(window_ms=50, min_count=2)
        self.twin = RatingBook(window_ms=50, min_count=2)
        """Fed only the accepted calls: a refusal must leave the books equal."""
        self.now = 0
        self.jobs: dict[bytes, tuple[tuple[bytes, ...], int, dict[bytes, int]]] = {}

    @rule(parties=st.permutations(PEOPLE).map(lambda p: p[:2]))
    def open_job(self, parties: tuple[bytes, ...]) -> None:
        job = len(self.jobs).to_bytes(2, "big")
        self.book.open(job, parties, self.now)
        self.twin.open(job, parties, self.now)
        self.jobs[job] = (parties, self.now, {})

    @rule(step=st.integers(0, 30))
    def time_passes(self, step: int) -> None:
        self.now += step

    @rule(pick=st.integers(0, 50), rater=st.sampled_from(PEOPLE), score=st.integers(0, 6))
    def rate(self, pick: int, rater: bytes, score: int) -> None:
        job = pick.to_bytes(2, "big")
        before = encode(self.book.to_value())
        model = self.jobs.get(job)
        expected = ""
        if not 1 <= score <= 5:
            expected = "bad_score"
        elif model is None:
            expected = "no_such_job"
        elif rater not in model[0]:
            expected = "not_a_party"
        elif rater in model[2]:
            expected = "already_rated"
        elif self.now >= model[1] + 50:
            expected = "rating_window_closed"
        refused = ""
        try:
            self.book.rate(job, rater, score, self.now)
        except AppTxRejected as exc:
            refused = exc.reason
        assert refused == expected
        if refused:
            assert encode(self.book.to_value()) == before
            return
        assert model is not None
        model[2][rater] = score
        self.twin.rate(job, rater, score, self.now)

    @invariant()
    def refusals_changed_nothing(self) -> None:
        assert self.book == self.twin

    @invariant()
    def hidden_until_all_rated_or_closed(self) -> None:
        for job, (parties, opened, scores) in self.jobs.items():
            shown = len(scores) == len(parties) or self.now >= opened + 50
            assert self.book.visible(job, self.now) == (dict(scores) if shown else None)

    @invariant()
    def averages_need_min_count(self) -> None:
        for member in PEOPLE:
            got = [
                s
                for parties, opened, scores in self.jobs.values()
                if member in parties and (len(scores) == len(parties) or self.now >= opened + 50)
                for rater, s in scores.items()
                if rater != member
            ]
            average = self.book.average(member, self.now)
            if len(got) < 2:
                assert average is None
            else:
                assert average == Fraction(sum(got), len(got))


Ratings.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestRatings = Ratings.TestCase
