"""Disputes decided by a jury drawn by lot from the members who are not parties.

A party of a finished job may dispute it within the voted window; the jury is seated at once
(:func:`~peoplenet.actors.work.jury.draw` over the members minus the parties, seeded by the
beacon of the transaction that opened the dispute).  Each juror rules once: ``"worker"``,
``"customer"`` or ``"split:n/d"`` (the customer's share, strictly between 0 and 1, in lowest
terms, so one outcome has one text).  A juror who does not answer within the voted time is
replaced by the next draw of the same stream.  The outcome is the ruling of a strict majority
of the jury's seats, or none yet.

Every draw is kept as a :class:`JuryDraw` record: with the beacon, the pool and the skip it
names, anyone can recompute who was seated and why (``docs/work-kit.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from peoplenet.actors.coop.apps import AppTxRejected
from peoplenet.actors.work.jury import draw
from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

WORKER: Final = "worker"
CUSTOMER: Final = "customer"
SPLIT: Final = "split:"
BEACON_LEN: Final = 32
MAX_ID: Final = 64
MAX_PARTIES: Final = 16


def ruling_share(ruling: str) -> Fraction:
    """The customer's share a ruling gives: ``worker`` 0, ``customer`` 1, ``split:n/d`` n/d.

    Raises :class:`AppTxRejected` ``bad_ruling`` for anything else, a split outside (0, 1) or
    not in lowest terms included.
    """
    share = _share(ruling)
    if share is None:
        raise AppTxRejected(
            "bad_ruling", f"{ruling!r}: worker, customer or split:n/d with 0 < n/d < 1"
        )
    return share


def _share(ruling: object) -> Fraction | None:
    if ruling == WORKER and type(ruling) is str:
        return Fraction(0)
    if ruling == CUSTOMER and type(ruling) is str:
        return Fraction(1)
    if type(ruling) is not str or not ruling.startswith(SPLIT) or len(ruling) > 40:
        return None
    text = ruling.removeprefix(SPLIT)
    numerator, slash, denominator = text.partition("/")
    if not (slash and numerator.isdigit() and denominator.isdigit()):
        return None
    if not numerator.isascii() or not denominator.isascii() or int(denominator) == 0:
        return None
    share = Fraction(int(numerator), int(denominator))
    if not 0 < share < 1 or f"{share.numerator}/{share.denominator}" != text:
        return None
    return share


@wire_type(173)
@dataclass(frozen=True, slots=True)
class Ruling(Record):
    """A juror's ruling on a dispute, as an app may carry it in its own transaction."""

    dispute: bytes
    ruling: str

    def __post_init__(self) -> None:
        _check_id(self.dispute, "dispute")
        if _share(self.ruling) is None:
            raise KitMisuse(f"{self.ruling!r} is not a ruling")


@wire_type(174)
@dataclass(frozen=True, slots=True)
class JuryDraw(Record):
    """One draw of a dispute's jury: ``draw(beacon, dispute, pool, len(drawn), skip)``.

    The first draw seats the jury (``replaces`` empty); each later one seats ``drawn[i]`` in
    the place of ``replaces[i]``, a juror who did not answer in time.
    """

    dispute: bytes
    at_ms: int
    beacon: bytes
    skip: int
    drawn: tuple[bytes, ...]
    replaces: tuple[bytes, ...]


@dataclass(slots=True)
class _Dispute:
    by: bytes
    parties: tuple[bytes, ...]
    opened_ms: int
    size: int
    """The jury size when it opened: its majority stays what it was."""
    beacon: bytes
    pool: tuple[bytes, ...]
    """The eligible members when it opened, sorted: every draw of this dispute is from them."""
    seats: dict[bytes, int] = field(default_factory=dict)
    """Seated juror -> when they were seated (their answer is due ``answer_ms`` later)."""
    rulings: dict[bytes, str] = field(default_factory=dict)
    draws: list[JuryDraw] = field(default_factory=list)

    @property
    def drawn(self) -> int:
        return sum(len(d.drawn) for d in self.draws)


class DisputeBook:
    """The disputes of an app's jobs; ``window_ms``, ``jury_size``, ``answer_ms`` are voted."""

    def __init__(self, window_ms: int, jury_size: int, answer_ms: int) -> None:
        _check_parameters(window_ms, jury_size, answer_ms)
        self.window_ms = window_ms
        self.jury_size = jury_size
        self.answer_ms = answer_ms
        self._disputes: dict[bytes, _Dispute] = {}

    # -- the fold ------------------------------------------------------------------------------

    def check_open(  # noqa: PLR0917 - the kit's documented order, as open's
        self,
        job: bytes,
        by: bytes,
        parties: Sequence[bytes],
        now_ms: int,
        beacon: bytes,
        members: frozenset[bytes] | Sequence[bytes],
        *,
        finished_ms: int,
    ) -> tuple[bytes, ...]:
        """Raise what :meth:`open` would raise; change nothing.  The eligible pool, sorted.

        Refusals, in this order: ``not_a_party``, ``already_disputed``,
        ``dispute_window_closed`` (``now_ms`` at or after ``finished_ms + window_ms``),
        ``not_enough_jurors`` (fewer non-parties than ``jury_size``).
        """
        _check_id(job, "job")
        for name, value in (("now_ms", now_ms), ("finished_ms", finished_ms)):
            if type(value) is not int:
                raise KitMisuse(f"{name} must be an integer")
        if not 1 <= len(parties) <= MAX_PARTIES:
            raise KitMisuse(f"a job has 1..{MAX_PARTIES} parties")
        if type(beacon) is not bytes or len(beacon) != BEACON_LEN:
            raise KitMisuse("the beacon is the 32 bytes of FoldContext.beacon (an app tx's)")
        if by not in parties:
            raise AppTxRejected("not_a_party", f"{_hex(by)} is not a party of {_hex(job)}")
        if job in self._disputes:
            raise AppTxRejected("already_disputed", _hex(job))
        if now_ms >= finished_ms + self.window_ms:
            raise AppTxRejected("dispute_window_closed", f"{_hex(job)} finished at {finished_ms}")
        pool = tuple(sorted(set(members) - set(parties)))
        if len(pool) < self.jury_size:
            raise AppTxRejected(
                "not_enough_jurors",
                f"{len(pool)} members are not parties; a jury is {self.jury_size}",
            )
        return pool

    def open(  # noqa: PLR0917 - the kit's documented interface (docs/work-kit.md)
        self,
        job: bytes,
        by: bytes,
        parties: Sequence[bytes],
        now_ms: int,
        beacon: bytes,
        members: frozenset[bytes] | Sequence[bytes],
        *,
        finished_ms: int,
    ) -> tuple[bytes, ...]:
        """``by`` disputes ``job`` (its id is the dispute's); the jury seated, in draw order."""
        pool = self.check_open(job, by, parties, now_ms, beacon, members, finished_ms=finished_ms)
        entry = _Dispute(by, tuple(parties), now_ms, self.jury_size, beacon, pool)
        jurors = draw(beacon, job, pool, self.jury_size)
        entry.draws.append(JuryDraw(job, now_ms, beacon, 0, jurors, ()))
        entry.seats = dict.fromkeys(jurors, now_ms)
        self._disputes[job] = entry
        return jurors

    def check_rule(self, dispute: bytes, juror: bytes, ruling: str, now_ms: int) -> None:
        """Raise what :meth:`rule` would raise; change nothing.

        In this order: ``bad_ruling``, ``no_such_dispute``, ``not_a_juror`` (never seated, or
        replaced), ``already_ruled``.  A juror late but not replaced yet may still rule.
        """
        if type(now_ms) is not int:
            raise KitMisuse("now_ms must be an integer")
        ruling_share(ruling)
        entry = self._dispute(dispute)
        if juror not in entry.seats:
            raise AppTxRejected("not_a_juror", f"{_hex(juror)} on {_hex(dispute)}")
        if juror in entry.rulings:
            raise AppTxRejected("already_ruled", f"{_hex(juror)} on {_hex(dispute)}")

    def rule(self, dispute: bytes, juror: bytes, ruling: str, now_ms: int) -> None:
        """A seated juror's ruling; refused as :meth:`check_rule` says."""
        self.check_rule(dispute, juror, ruling, now_ms)
        self._disputes[dispute].rulings[juror] = ruling

    def replace_late(self, now_ms: int) -> tuple[JuryDraw, ...]:
        """Replace every juror whose answer is overdue, on every undecided dispute.

        One draw per dispute that has late jurors (the next ones of its stream), recorded and
        returned; when the pool runs out the remaining late jurors keep their seats.
        """
        if type(now_ms) is not int:
            raise KitMisuse("now_ms must be an integer")
        done: list[JuryDraw] = []
        for dispute, entry in sorted(self._disputes.items()):
            if self._majority(entry) is not None:
                continue
            late = sorted(
                juror
                for juror, seated in entry.seats.items()
                if juror not in entry.rulings and now_ms >= seated + self.answer_ms
            )
            if not late:
                continue
            skip = entry.drawn
            fresh = draw(entry.beacon, dispute, entry.pool, len(late), skip)
            if not fresh:
                continue
            record = JuryDraw(dispute, now_ms, entry.beacon, skip, fresh, tuple(late[: len(fresh)]))
            for gone, new in zip(record.replaces, fresh, strict=True):
                del entry.seats[gone]
                entry.seats[new] = now_ms
            entry.draws.append(record)
            done.append(record)
        return tuple(done)

    # -- what anyone may see --------------------------------------------------------------------

    def outcome(self, dispute: bytes) -> str | None:
        """The ruling of more than half of the jury's seats (as many as when it opened), or
        ``None``: not yet, or never (a hung jury: every seat ruled and no majority)."""
        return self._majority(self._dispute(dispute))

    def jury(self, dispute: bytes) -> tuple[bytes, ...]:
        """The jurors seated now, in the order they were drawn."""
        return tuple(self._dispute(dispute).seats)

    def rulings(self, dispute: bytes) -> dict[bytes, str]:
        return dict(self._dispute(dispute).rulings)

    def draws(self, dispute: bytes) -> tuple[JuryDraw, ...]:
        """Every draw of the dispute's jury, oldest first (the audit trail)."""
        return tuple(self._dispute(dispute).draws)

    def parties(self, dispute: bytes) -> tuple[bytes, ...]:
        return self._dispute(dispute).parties

    def awaiting(self, juror: bytes) -> tuple[bytes, ...]:
        """Undecided disputes where ``juror`` sits and has not ruled (their inbox)."""
        return tuple(
            dispute
            for dispute, entry in sorted(self._disputes.items())
            if juror in entry.seats and juror not in entry.rulings and self._majority(entry) is None
        )

    def next_due_ms(self) -> int | None:
        """The earliest time :meth:`replace_late` would replace someone (for the app's wake)."""
        due = [
            seated + self.answer_ms
            for entry in self._disputes.values()
            if self._majority(entry) is None
            for juror, seated in entry.seats.items()
            if juror not in entry.rulings
        ]
        return min(due, default=None)

    def set_parameters(self, window_ms: int, jury_size: int, answer_ms: int) -> None:
        """A vote changed the settings: new disputes follow them; an open dispute keeps its jury
        size (so its majority), and late answers are judged by the new ``answer_ms``."""
        _check_parameters(window_ms, jury_size, answer_ms)
        self.window_ms, self.jury_size, self.answer_ms = window_ms, jury_size, answer_ms

    # -- snapshots ------------------------------------------------------------------------------

    def to_value(self) -> dict[str, Value]:
        """The book in codec form: equal on two nodes iff the books are equal."""
        return {
            "window_ms": self.window_ms,
            "jury_size": self.jury_size,
            "answer_ms": self.answer_ms,
            "disputes": tuple(
                {
                    "dispute": dispute,
                    "by": e.by,
                    "parties": e.parties,
                    "opened_ms": e.opened_ms,
                    "size": e.size,
                    "beacon": e.beacon,
                    "pool": e.pool,
                    "seats": tuple(e.seats.items()),
                    "rulings": tuple(sorted(e.rulings.items())),
                    "draws": tuple(e.draws),
                }
                for dispute, e in sorted(self._disputes.items())
            ),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DisputeBook):
            return NotImplemented
        return encode(self.to_value()) == encode(other.to_value())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _dispute(self, dispute: bytes) -> _Dispute:
        entry = self._disputes.get(dispute) if type(dispute) is bytes else None
        if entry is None:
            raise AppTxRejected("no_such_dispute", _hex(dispute))
        return entry

    def _majority(self, entry: _Dispute) -> str | None:
        counts: dict[str, int] = {}
        for ruling in entry.rulings.values():
            counts[ruling] = counts.get(ruling, 0) + 1
        for ruling, count in sorted(counts.items()):
            if 2 * count > entry.size:
                return ruling
        return None


def _check_parameters(window_ms: int, jury_size: int, answer_ms: int) -> None:
    for name, value in (
        ("window_ms", window_ms),
        ("jury_size", jury_size),
        ("answer_ms", answer_ms),
    ):
        if type(value) is not int or value < 1:
            raise KitMisuse(f"{name} must be an integer >= 1, got {value!r}")


def _check_id(value: object, what: str) -> None:
    if type(value) is not bytes or not 1 <= len(value) <= MAX_ID:
        raise KitMisuse(f"a {what} id is 1..{MAX_ID} bytes")


def _hex(value: object) -> str:
    return value.hex()[:16] if isinstance(value, bytes) else repr(value)


__all__ = [
    "BEACON_LEN",
    "CUSTOMER",
    "SPLIT",
    "WORKER",
    "DisputeBook",
    "JuryDraw",
    "Ruling",
    "ruling_share",
]
