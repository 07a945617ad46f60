"""Double-blind ratings: each party of a finished job rates the others once, 1 to 5.

Why blind: a rider who sees the driver's score before giving their own rates back in kind.
So the scores of a job stay hidden until every party rated or the voted window closed; then
all of them show at once.  Why ``min_count``: an average of two ratings says more about luck
than about a person, so none is shown below the voted count.  Ratings inform members and
customers; they never deactivate anyone (removing a member is a cooperative decision).

A rating is about every *other* party of the job (two parties: the counterpart).  Pure and
deterministic: the app calls it from its fold with community time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from peoplenet.actors.coop.apps import AppTxRejected
from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

MIN_SCORE: Final = 1
MAX_SCORE: Final = 5
MAX_PARTIES: Final = 16
MAX_ID: Final = 64
"""Longest job or party id, in bytes (member ids are 32)."""


@wire_type(172)
@dataclass(frozen=True, slots=True)
class Rating(Record):
    """A party's rating of a job, as an app may carry it in its own transaction."""

    job: bytes
    score: int

    def __post_init__(self) -> None:
        _check_id(self.job, "job")
        if type(self.score) is not int or not MIN_SCORE <= self.score <= MAX_SCORE:
            raise KitMisuse(f"a score is {MIN_SCORE}..{MAX_SCORE}, got {self.score!r}")


@dataclass(slots=True)
class _Job:
    parties: tuple[bytes, ...]
    opened_ms: int
    scores: dict[bytes, int] = field(default_factory=dict)
    """Rater -> score (hidden until :meth:`RatingBook.visible`)."""


class RatingBook:
    """The ratings of an app's jobs.  ``window_ms``, ``min_count``: the app's voted settings."""

    def __init__(self, window_ms: int, min_count: int) -> None:
        _check_parameters(window_ms, min_count)
        self.window_ms = window_ms
        self.min_count = min_count
        self._jobs: dict[bytes, _Job] = {}
        self._of: dict[bytes, list[bytes]] = {}
        """Party -> the jobs they are a party of, in opening order."""

    # -- the fold ------------------------------------------------------------------------------

    def check_open(self, job: bytes, parties: Sequence[bytes], now_ms: int) -> None:
        """Raise what :meth:`open` would raise; change nothing."""
        _check_id(job, "job")
        _check_time(now_ms)
        if job in self._jobs:
            raise AppTxRejected("job_already_open", job.hex())
        if not 2 <= len(parties) <= MAX_PARTIES or len(set(parties)) != len(parties):
            raise KitMisuse(f"a job has 2..{MAX_PARTIES} distinct parties")
        for party in parties:
            _check_id(party, "party")

    def open(self, job: bytes, parties: Sequence[bytes], now_ms: int) -> None:
        """The job finished at ``now_ms``: its parties may rate it within the window."""
        self.check_open(job, parties, now_ms)
        self._jobs[job] = _Job(tuple(parties), now_ms)
        for party in parties:
            self._of.setdefault(party, []).append(job)

    def check_rate(self, job: bytes, rater: bytes, score: int, now_ms: int) -> None:
        """Raise what :meth:`rate` would raise; change nothing.

        In this order: ``bad_score`` (not an integer 1..5), ``no_such_job``, ``not_a_party``,
        ``already_rated``, ``rating_window_closed``.
        """
        _check_time(now_ms)
        if type(score) is not int or not MIN_SCORE <= score <= MAX_SCORE:
            raise AppTxRejected("bad_score", f"a score is {MIN_SCORE}..{MAX_SCORE}, got {score!r}")
        entry = self._job(job)
        if rater not in entry.parties:
            raise AppTxRejected("not_a_party", f"{_hex(rater)} is not a party of {_hex(job)}")
        if rater in entry.scores:
            raise AppTxRejected("already_rated", f"{_hex(rater)} rated {_hex(job)} already")
        if now_ms >= entry.opened_ms + self.window_ms:
            raise AppTxRejected("rating_window_closed", f"{_hex(job)}: closed")

    def rate(self, job: bytes, rater: bytes, score: int, now_ms: int) -> None:
        """``rater`` (a party) rates the other parties of ``job``; refused as :meth:`check_rate`."""
        self.check_rate(job, rater, score, now_ms)
        self._jobs[job].scores[rater] = score

    # -- what anyone may see --------------------------------------------------------------------

    def visible(self, job: bytes, now_ms: int) -> Mapping[bytes, int] | None:
        """Rater -> score once every party rated or the window closed; ``None`` while hidden."""
        entry = self._job(job)
        if not self._shown(entry, now_ms):
            return None
        return dict(entry.scores)

    def received(self, member: bytes, now_ms: int) -> tuple[int, ...]:
        """The visible scores others gave ``member``, in job order."""
        out: list[int] = []
        for job in self._of.get(member, ()):
            entry = self._jobs[job]
            if self._shown(entry, now_ms):
                out.extend(s for rater, s in entry.scores.items() if rater != member)
        return tuple(out)

    def count(self, member: bytes, now_ms: int) -> int:
        """How many visible ratings ``member`` received."""
        return len(self.received(member, now_ms))

    def average(self, member: bytes, now_ms: int) -> Fraction | None:
        """The exact mean of ``member``'s visible ratings; ``None`` below ``min_count`` of them."""
        scores = self.received(member, now_ms)
        if len(scores) < self.min_count:
            return None
        return Fraction(sum(scores), len(scores))

    def set_parameters(self, window_ms: int, min_count: int) -> None:
        """A vote changed the settings: the new window applies to every job from now on (a
        shorter one may close some, and show their scores, at once)."""
        _check_parameters(window_ms, min_count)
        self.window_ms, self.min_count = window_ms, min_count

    # -- snapshots ------------------------------------------------------------------------------

    def to_value(self) -> dict[str, Value]:
        """The book in codec form (hidden scores included: it is the fold's state, compared
        between nodes, not something to show): equal on two nodes iff the books are equal."""
        return {
            "window_ms": self.window_ms,
            "min_count": self.min_count,
            "jobs": tuple(
                {
                    "job": job,
                    "parties": entry.parties,
                    "opened_ms": entry.opened_ms,
                    "scores": tuple(sorted(entry.scores.items())),
                }
                for job, entry in sorted(self._jobs.items())
            ),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RatingBook):
            return NotImplemented
        return encode(self.to_value()) == encode(other.to_value())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _job(self, job: bytes) -> _Job:
        entry = self._jobs.get(job) if type(job) is bytes else None
        if entry is None:
            raise AppTxRejected("no_such_job", _hex(job))
        return entry

    def _shown(self, entry: _Job, now_ms: int) -> bool:
        return len(entry.scores) == len(entry.parties) or (
            now_ms >= entry.opened_ms + self.window_ms
        )


def _check_parameters(window_ms: int, min_count: int) -> None:
    if type(window_ms) is not int or window_ms <= 0:
        raise KitMisuse(f"window_ms must be a positive integer, got {window_ms!r}")
    if type(min_count) is not int or min_count < 1:
        raise KitMisuse(f"min_count must be an integer >= 1, got {min_count!r}")


def _check_id(value: object, what: str) -> None:
    if type(value) is not bytes or not 1 <= len(value) <= MAX_ID:
        raise KitMisuse(f"a {what} id is 1..{MAX_ID} bytes")


def _check_time(now_ms: object) -> None:
    if type(now_ms) is not int:
        raise KitMisuse(f"now_ms must be an integer, got {type(now_ms).__name__}")


def _hex(value: object) -> str:
    return value.hex()[:16] if isinstance(value, bytes) else repr(value)


__all__ = ["MAX_PARTIES", "MAX_SCORE", "MIN_SCORE", "Rating", "RatingBook"]
