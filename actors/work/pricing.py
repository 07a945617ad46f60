"""Prices as voted rules: every version of an app's price settings, exact money arithmetic.

Why versions: members vote the price rules (``app`` decisions), and a job is priced under the
rules in force when it was quoted, even if a vote changes them before it is paid.  So the fold
keeps every version it adopted, numbered 1, 2, ... in adoption order, and a job carries its
version number; any member can recompute its price from the ordered transactions alone.

Money is integer cents and rates are exact fractions (``"n/d"`` text on the wire, the form
:class:`~peoplenet.plugins.api.ParamSpec` gives a ``rate`` setting): no floats anywhere, so
every phone computes the same cent.  The one rounding rule is :func:`round_half_up`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from peoplenet.actors.coop.apps import AppTxRejected
from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.runtime.errors import EncodeError
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, wire_type

RATE_TEXT: Final = re.compile(r"^-?[0-9]{1,30}(/[0-9]{1,30})?$")
"""A rate as text: an integer or ``n/d`` (``d`` > 0), at most 30 digits each side."""

MAX_TERMS: Final = 64
"""Most named terms one :class:`Breakdown` holds."""


def parse_rate(text: str | Fraction) -> Fraction:
    """The exact value of a rate given as ``"n/d"`` (or ``"n"``) text.

    Raises :class:`AppTxRejected` ``bad_rate`` for anything else (decimals such as ``"0.5"``
    included: the wire form is a fraction, so one value has one text).  A
    :class:`~fractions.Fraction` passes through.
    """
    if isinstance(text, Fraction):
        return text
    if type(text) is not str or not RATE_TEXT.match(text):
        raise AppTxRejected("bad_rate", f"{text!r} is not an integer or n/d text")
    numerator, _, denominator = text.partition("/")
    if denominator and int(denominator) == 0:
        raise AppTxRejected("bad_rate", f"{text!r} divides by zero")
    return Fraction(int(numerator), int(denominator or "1"))


def rate_text(rate: Fraction) -> str:
    """The canonical text of ``rate``: ``"n"`` if whole, else ``"n/d"`` in lowest terms."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def round_half_up(value: Fraction) -> int:
    """The nearest integer; a tie goes up, towards +infinity (2.5 -> 3, -2.5 -> -2).

    One rule for every amount the kit computes: schoolbook rounding for the positive amounts
    money is, and no bias between two parties that round the same fraction.
    """
    return (value + Fraction(1, 2)).__floor__()


def apply_rate(amount_cents: int, rate: str | Fraction) -> int:
    """``amount_cents * rate`` rounded half up to the cent (e.g. a 15% commission of 333 is 50)."""
    _check_cents(amount_cents, "amount_cents")
    return round_half_up(amount_cents * parse_rate(rate))


def prorate(cents_per_unit: int, quantity: int, unit: int) -> int:
    """``cents_per_unit * quantity / unit`` rounded half up once (per_km over meters: unit 1000).

    Rounding once, at the end, is why this exists: rounding per kilometre then adding would
    give a different cent than the exact product.
    """
    _check_cents(cents_per_unit, "cents_per_unit")
    _check_cents(quantity, "quantity")
    _check_cents(unit, "unit")
    if unit <= 0:
        raise KitMisuse(f"unit must be positive, got {unit}")
    return round_half_up(Fraction(cents_per_unit * quantity, unit))


def _check_cents(value: object, name: str) -> None:
    if type(value) is not int:  # bool is an int to Python, not to the codec
        raise KitMisuse(f"{name} must be an integer, got {type(value).__name__}")


@wire_type(171)
@dataclass(frozen=True, slots=True)
class Breakdown(Record):
    """A price as named integer terms (cents) and their total, which must be their sum.

    The formula is the app's (a ride's fare is not a delivery's); the breakdown is the kit's,
    so every app shows the rider, the worker and an auditor the same kind of thing, and a total
    that is not the sum of its terms cannot even be built or decoded.
    """

    terms: tuple[tuple[str, int], ...]
    total: int

    def __post_init__(self) -> None:
        if len(self.terms) > MAX_TERMS:
            raise KitMisuse(f"a breakdown has at most {MAX_TERMS} terms")
        names = [name for name, _ in self.terms]
        named = all(type(name) is str and name for name in names)
        if not named or len(set(names)) != len(names):
            raise KitMisuse("breakdown terms need distinct, non-empty names")
        for name, cents in self.terms:
            _check_cents(cents, name)
        _check_cents(self.total, "total")
        if self.total != sum(cents for _, cents in self.terms):
            raise KitMisuse(f"breakdown total {self.total} is not the sum of its terms")

    @classmethod
    def of(cls, *terms: tuple[str, int]) -> Breakdown:
        """The breakdown of ``terms`` (in the order given), its total computed."""
        for name, cents in terms:
            _check_cents(cents, name)
        return cls(tuple(terms), sum(cents for _, cents in terms))

    def term(self, name: str) -> int:
        """The cents of term ``name`` (0 if there is no such term)."""
        return next((cents for n, cents in self.terms if n == name), 0)

    def as_dict(self) -> dict[str, Value]:
        """``{"terms": {name: cents...}, "total": cents}``: for a command's JSON output."""
        return {"terms": dict(self.terms), "total": self.total}


@dataclass(frozen=True, slots=True)
class _Version:
    at_ms: int
    settings: Mapping[str, Value]
    canonical: bytes
    """The settings' canonical encoding: what "identical settings" compares (``True != 1``)."""


class RulesBook:
    """Every version of an app's voted price rules, 1, 2, ... in adoption order.

    ``keys``: the settings that are price rules (others, such as an offer timeout, change no
    price and so make no new version); ``None`` keeps every setting.  Deterministic and pure:
    the app calls :meth:`adopt` from its ``peoplenet_app_changed`` hook, in order, on every node.
    """

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        self._keys: tuple[str, ...] | None = None if keys is None else tuple(sorted(set(keys)))
        self._versions: list[_Version] = []

    @property
    def current(self) -> int:
        """The version in force now (0 before the first adoption)."""
        return len(self._versions)

    def adopt(self, settings: Mapping[str, Value], now_ms: int) -> int:
        """Record ``settings`` as the rules from ``now_ms`` on; the version now in force.

        Settings identical (canonically) to the current version's keep that version; any
        change, even back to an older version's, makes a new one: versions are a history.
        """
        _check_cents(now_ms, "now_ms")
        if self._versions and now_ms < self._versions[-1].at_ms:
            raise KitMisuse(f"community time went back: {now_ms} < {self._versions[-1].at_ms}")
        chosen = self._chosen(settings)
        try:
            canonical = encode(chosen)
        except EncodeError as exc:
            raise KitMisuse(f"settings are not codec values: {exc}") from None
        if self._versions and self._versions[-1].canonical == canonical:
            return self.current
        value = decode(canonical)  # a private deep copy: the caller's map may change later
        assert isinstance(value, dict)
        self._versions.append(_Version(now_ms, MappingProxyType(value), canonical))
        return self.current

    def get(self, version: int) -> Mapping[str, Value]:
        """The settings of ``version`` (read-only); ``unknown_rules_version`` if there is none."""
        return self._version(version).settings

    def adopted_at(self, version: int) -> int:
        """When ``version`` was adopted (community time, ms)."""
        return self._version(version).at_ms

    def version_at(self, now_ms: int) -> int:
        """The version in force at community time ``now_ms`` (0 if none was adopted yet)."""
        found = 0
        for number, version in enumerate(self._versions, start=1):
            if version.at_ms <= now_ms:
                found = number
        return found

    def to_value(self) -> dict[str, Value]:
        """The book in codec form: equal on two nodes iff their books are equal."""
        return {
            "keys": None if self._keys is None else self._keys,
            "versions": tuple(
                {"at_ms": v.at_ms, "settings": dict(v.settings)} for v in self._versions
            ),
        }

    @classmethod
    def from_value(cls, value: Value) -> RulesBook:
        """The book :meth:`to_value` gave (:class:`KitMisuse` if ``value`` is not one)."""
        if not isinstance(value, dict) or set(value) != {"keys", "versions"}:
            raise KitMisuse("not a rules book snapshot")
        keys, versions = value["keys"], value["versions"]
        if keys is not None and not isinstance(keys, tuple):
            raise KitMisuse("rules book keys are a tuple of names")
        names = None if keys is None else [k for k in keys if isinstance(k, str)]
        if keys is not None and names is not None and len(names) != len(keys):
            raise KitMisuse("rules book keys are a tuple of names")
        book = cls(names)
        if not isinstance(versions, tuple):
            raise KitMisuse("rules book versions are a tuple")
        for item in versions:
            if not isinstance(item, dict) or set(item) != {"at_ms", "settings"}:
                raise KitMisuse("a rules version is {at_ms, settings}")
            at_ms, settings = item["at_ms"], item["settings"]
            if type(at_ms) is not int or not isinstance(settings, dict):
                raise KitMisuse("a rules version is {at_ms: int, settings: map}")
            before = book.current
            if book.adopt(settings, at_ms) == before:
                raise KitMisuse("two consecutive rules versions are identical")
        if book.to_value() != value:
            raise KitMisuse("rules book snapshot is not in normal form")
        return book

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RulesBook):
            return NotImplemented
        return encode(self.to_value()) == encode(other.to_value())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _chosen(self, settings: Mapping[str, Value]) -> dict[str, Value]:
        if not isinstance(settings, Mapping):
            raise KitMisuse("settings are a map of names to values")
        if self._keys is None:
            return {str(k): v for k, v in settings.items()}
        missing = [k for k in self._keys if k not in settings]
        if missing:
            raise KitMisuse(f"settings lack price rules {missing}")
        return {k: settings[k] for k in self._keys}

    def _version(self, version: int) -> _Version:
        if type(version) is not int or not 1 <= version <= len(self._versions):
            raise AppTxRejected(
                "unknown_rules_version", f"{version!r} (versions 1..{len(self._versions)})"
            )
        return self._versions[version - 1]


__all__ = [
    "MAX_TERMS",
    "RATE_TEXT",
    "Breakdown",
    "RulesBook",
    "apply_rate",
    "parse_rate",
    "prorate",
    "rate_text",
    "round_half_up",
]
