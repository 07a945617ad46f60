"""The cooperative's founding records: the governance charter and the founders' signatures.

Why records: the charter travels in the founding and in amendments, is hashed into the
community's identity (``Genesis.community = b"f/" + founding_digest(f)``) and must mean the
same thing on every phone, so it is a canonical record validated on construction -- a
charter no member could run decisions under is refused, whether built here or decoded.
Fractions are canonical ``"n/d"`` strings (``str(Fraction)``: ``"1/2"``, ``"0"``, ``"5"``)
because the codec refuses floats and a second spelling of a value would be a second digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from peoplenet.actors.governance.decision import (
    KINDS,
    DecisionError,
    check_params,
    normalize_point,
)
from peoplenet.actors.governance.kinds import MAX_NAME_LEN
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, Identity, verify
from peoplenet.runtime.wire.codec import Record, encode, wire_type

MAX_ITEMS: Final = 256
MAX_SUBJECTS: Final = 256
MAX_FOUNDERS: Final = 1024
MAX_VOTING_PERIOD_MS: Final = 366 * 86_400_000
VACANT: Final = "vacant"
"""The status quo of an officer role nobody holds."""

_FOUNDING_PERSON: Final = b"peoplenet.found1"


class InvalidCharter(RemoteProtocolError):
    """A charter (or one of its subjects) that no member could run decisions under."""

    reason = "invalid_charter"


class InvalidFounding(RemoteProtocolError):
    """A founding record that is malformed, or lacks a valid signature of every founder."""

    reason = "invalid_founding"


# -- fractions as canonical text ------------------------------------------------------------


def fraction_text(value: Fraction | int) -> str:
    """The canonical text of a fraction (``"9/2"``, ``"5"``): what records carry."""
    return str(Fraction(value))


def parse_fraction(text: str, *, what: str) -> Fraction:
    """Read a canonical ``"n/d"`` string; anything else raises :class:`InvalidCharter`."""
    if type(text) is not str or len(text) > 64:
        raise InvalidCharter("bad_fraction", f"{what}: a fraction is an 'n/d' string")
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidCharter("bad_fraction", f"{what}: {text!r} is not 'n/d'") from None
    if str(value) != text:
        raise InvalidCharter("bad_fraction", f"{what}: write {text!r} as {str(value)!r}")
    return value


def _check_name(name: object, what: str) -> None:
    if type(name) is not str or not 1 <= len(name) <= MAX_NAME_LEN:
        raise InvalidCharter("bad_name", f"{what}: a name is 1..{MAX_NAME_LEN} characters")


def _check_names(names: tuple[str, ...], what: str, *, sorted_: bool = False) -> None:
    if len(names) > MAX_ITEMS:
        raise InvalidCharter("too_many", f"{what}: at most {MAX_ITEMS}")
    for n in names:
        _check_name(n, what)
    if len(set(names)) != len(names):
        raise InvalidCharter("duplicate_name", f"{what}: names must be distinct")
    if sorted_ and list(names) != sorted(names):
        raise InvalidCharter("not_sorted", f"{what}: list them sorted")


def _check_point(kind: str, params: Mapping[str, object], point: object, what: str) -> object:
    try:
        check_params(kind, params)
        return normalize_point(kind, params, point, what=what)
    except DecisionError as exc:
        raise InvalidCharter("bad_subject", f"{what}: {exc.reason}: {exc.detail}") from None


# -- subjects ----------------------------------------------------------------------------------


@wire_type(101)
@dataclass(frozen=True, slots=True)
class RateSubject(Record):
    """A number members set by decision (a fee, a pay rate, the surplus to distribute)."""

    name: str
    lo: str
    hi: str
    step: str
    initial: str

    def __post_init__(self) -> None:
        _check_name(self.name, "rate")
        _check_point("rate", self.params(), self.initial_value(), f"rate {self.name} initial")

    def params(self) -> dict[str, object]:
        w = f"rate {self.name}"
        return {
            "lo": parse_fraction(self.lo, what=f"{w} lo"),
            "hi": parse_fraction(self.hi, what=f"{w} hi"),
            "step": parse_fraction(self.step, what=f"{w} step"),
        }

    def initial_value(self) -> Fraction:
        return parse_fraction(self.initial, what=f"rate {self.name} initial")


@wire_type(102)
@dataclass(frozen=True, slots=True)
class BudgetSubject(Record):
    """A fixed total split over named items (integer allocations, in item order)."""

    name: str
    items: tuple[str, ...]
    total: int
    initial: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_name(self.name, "budget")
        _check_names(self.items, f"budget {self.name} items")
        _check_point("budget", self.params(), self.initial, f"budget {self.name} initial")

    def params(self) -> dict[str, object]:
        return {"items": self.items, "total": self.total}


@wire_type(103)
@dataclass(frozen=True, slots=True)
class RankingSubject(Record):
    """An order of priorities; ``items`` in their initial order."""

    name: str
    items: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name, "ranking")
        _check_names(self.items, f"ranking {self.name} items")
        _check_point("ranking", self.params(), self.items, f"ranking {self.name} initial")

    def params(self) -> dict[str, object]:
        return {"items": self.items}


@wire_type(104)
@dataclass(frozen=True, slots=True)
class BoardSubject(Record):
    """A board of ``size`` seats, elected from the candidates each decision names."""

    name: str
    size: int

    def __post_init__(self) -> None:
        _check_name(self.name, "board")
        if type(self.size) is not int or not 1 <= self.size <= MAX_ITEMS:
            raise InvalidCharter("bad_subject", f"board {self.name}: size 1..{MAX_ITEMS}")


@wire_type(105)
@dataclass(frozen=True, slots=True)
class BylawsSubject(Record):
    """A set of clauses in force, drawn from the declared clause ids."""

    name: str
    clauses: tuple[str, ...]
    initial: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name, "bylaws")
        _check_names(self.clauses, f"bylaws {self.name} clauses", sorted_=True)
        _check_names(self.initial, f"bylaws {self.name} initial", sorted_=True)
        _check_point("bylaws", self.params(), self.initial, f"bylaws {self.name} initial")

    def params(self) -> dict[str, object]:
        return {"clauses": self.clauses}


Subject = RateSubject | BudgetSubject | RankingSubject | BoardSubject | BylawsSubject


@wire_type(100)
@dataclass(frozen=True, slots=True)
class Charter(Record):
    """The governance constitution: thresholds, clock, admission rule and declared subjects.

    Every subject list is sorted by name and all subject names (officer roles included) are
    distinct, so ``(kind, name)`` and ``name`` alone both identify a subject.
    """

    threshold: str = "1/2"
    """θ for every kind without an override: a change needs support above it."""
    amendment_threshold: str = "2/3"
    """θ for amendments (of this charter or of the consensus parameters); >= threshold."""
    sybil_estimate: str = "0"
    """sigma: the estimated sybil share; the rule raises θ to at least 1/2 + sigma/2."""
    voting_period_ms: int = 86_400_000
    """How long a decision stays open, in community time."""
    admission_sureties: int = 2
    """k: mutual sureties with current members a candidate (or a key update) needs."""
    kind_thresholds: dict[str, str] = field(default_factory=dict)
    """Per-kind θ overrides (any kind but ``amendment``)."""
    rates: tuple[RateSubject, ...] = ()
    budgets: tuple[BudgetSubject, ...] = ()
    rankings: tuple[RankingSubject, ...] = ()
    boards: tuple[BoardSubject, ...] = ()
    officers: tuple[str, ...] = ()
    """Officer roles; each starts vacant."""
    bylaws: tuple[BylawsSubject, ...] = ()

    def __post_init__(self) -> None:
        theta = self._fraction(self.threshold, "threshold")
        amend = self._fraction(self.amendment_threshold, "amendment_threshold")
        self._fraction(self.sybil_estimate, "sybil_estimate")
        if amend < theta:
            raise InvalidCharter("bad_threshold", "amendment_threshold below threshold")
        period = self.voting_period_ms
        if type(period) is not int or not 1 <= period <= MAX_VOTING_PERIOD_MS:
            raise InvalidCharter("bad_period", f"voting_period_ms 1..{MAX_VOTING_PERIOD_MS}")
        k = self.admission_sureties
        if type(k) is not int or not 0 <= k <= MAX_FOUNDERS:
            raise InvalidCharter("bad_admission", f"admission_sureties 0..{MAX_FOUNDERS}")
        for kind, text in self.kind_thresholds.items():
            if kind not in KINDS or kind == "amendment":
                raise InvalidCharter("bad_threshold", f"no threshold override for {kind!r}")
            self._fraction(text, f"threshold of {kind}")
        names: list[str] = list(self.officers)
        for group in (self.rates, self.budgets, self.rankings, self.boards, self.bylaws):
            group_names = [s.name for s in group]
            if group_names != sorted(group_names):
                raise InvalidCharter("not_sorted", "list subjects sorted by name")
            names.extend(group_names)
        _check_names(self.officers, "officers", sorted_=True)
        if len(names) > MAX_SUBJECTS:
            raise InvalidCharter("too_many", f"at most {MAX_SUBJECTS} subjects")
        if len(set(names)) != len(names):
            raise InvalidCharter("duplicate_name", "subject names must be distinct")

    @staticmethod
    def _fraction(text: str, what: str) -> Fraction:
        value = parse_fraction(text, what=what)
        if not 0 <= value < 1:
            raise InvalidCharter("bad_threshold", f"{what} must be in [0, 1)")
        return value

    def threshold_for(self, kind: str) -> Fraction:
        """θ of a decision of ``kind``."""
        if kind == "amendment":
            return Fraction(self.amendment_threshold)
        return Fraction(self.kind_thresholds.get(kind, self.threshold))

    @property
    def sigma(self) -> Fraction:
        return Fraction(self.sybil_estimate)

    def subject(self, kind: str, name: str) -> Subject | str | None:
        """The declared subject ``name`` of ``kind`` (an officer role is its name), or None."""
        if kind == "officer":
            return name if name in self.officers else None
        groups: dict[str, tuple[Subject, ...]] = {
            "rate": self.rates,
            "budget": self.budgets,
            "ranking": self.rankings,
            "board": self.boards,
            "bylaws": self.bylaws,
        }
        group = groups.get(kind, ())
        for s in group:
            if s.name == name:
                return s
        return None

    def initial_values(self) -> dict[tuple[str, str], object]:
        """Every subject's starting value, in the decision rule's normal form."""
        values: dict[tuple[str, str], object] = {}
        for r in self.rates:
            values["rate", r.name] = r.initial_value()
        for b in self.budgets:
            values["budget", b.name] = b.initial
        for k in self.rankings:
            values["ranking", k.name] = k.items
        for d in self.boards:
            values["board", d.name] = ()
        for role in self.officers:
            values["officer", role] = VACANT
        for y in self.bylaws:
            values["bylaws", y.name] = y.initial
        return values


# -- founding ----------------------------------------------------------------------------------


@wire_type(106)
@dataclass(frozen=True, slots=True)
class Founding(Record):
    """A community's birth certificate: its name, charter and founders, signed by each.

    ``at`` (ms) is the founders' agreed start of community time, so the first decisions do
    not close the moment members' real clocks are first heard.  ``signatures[i]`` is
    ``founders[i]``'s signature of :func:`founding_content_digest`.
    """

    name: str
    charter: Charter
    founders: tuple[bytes, ...]
    at: int
    signatures: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= MAX_NAME_LEN:
            raise InvalidFounding("bad_name", f"community name 1..{MAX_NAME_LEN} characters")
        fs = self.founders
        if not 1 <= len(fs) <= MAX_FOUNDERS:
            raise InvalidFounding("bad_founders", f"need 1..{MAX_FOUNDERS} founders")
        for i, f in enumerate(fs):
            if len(f) != ID_LEN:
                raise InvalidFounding("bad_founders", "founders are 32-byte member ids")
            if i and fs[i - 1] >= f:
                raise InvalidFounding("bad_founders", "founders sorted and distinct")
        if self.at < 0:
            raise InvalidFounding("bad_time", "negative founding time")
        if len(self.signatures) > len(fs) or any(len(s) != SIGNATURE_LEN for s in self.signatures):
            raise InvalidFounding("bad_signature", "one 64-byte signature per founder")


def founding_content_digest(
    name: str, charter: Charter, founders: Iterable[bytes], at: int
) -> bytes:
    """What each founder signs: a domain-separated hash of everything but the signatures."""
    data = encode((name, charter, tuple(sorted(founders)), at))
    return hashlib.blake2b(data, digest_size=32, person=_FOUNDING_PERSON).digest()


def founding_digest(founding: Founding) -> bytes:
    """The community's 32-byte identity; the lead uses ``b"f/" + it`` as Genesis.community."""
    return founding_content_digest(founding.name, founding.charter, founding.founders, founding.at)


def community_id(founding: Founding) -> bytes:
    """The consensus community name for epoch 0's genesis: binds the lace to the charter."""
    return b"f/" + founding_digest(founding)


def verify_founding(founding: Founding) -> None:
    """Raise :class:`InvalidFounding` unless every founder signed this founding."""
    if len(founding.signatures) != len(founding.founders):
        raise InvalidFounding(
            "missing_signature",
            f"{len(founding.signatures)} signatures for {len(founding.founders)} founders",
        )
    digest = founding_digest(founding)
    for member, signature in zip(founding.founders, founding.signatures, strict=True):
        if not verify(member, digest, signature):
            raise InvalidFounding("bad_signature", f"founder {member.hex()[:16]} did not sign")


def found(name: str, charter: Charter, founders: Iterable[Identity], *, at: int) -> Founding:
    """A founding signed by every founder (all keys at hand: tests and single-phone demos)."""
    by_id = {i.member_id: i for i in founders}
    ids = tuple(sorted(by_id))
    digest = founding_content_digest(name, charter, ids, at)
    return Founding(name, charter, ids, at, tuple(by_id[m].sign(digest) for m in ids))
