"""A charter written by people, as JSON, turned into the canonical :class:`Charter` record.

Numbers may be JSON numbers (read exactly: ``0.5`` is 1/2, never a float) or ``"n/d"``
strings; lists of subjects may come in any order (the record wants them sorted).  Anything
else -- an unknown key, a wrong type -- is a :class:`CharterFileError` naming the key.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

from peoplenet.actors.governance.charter import (
    BoardSubject,
    BudgetSubject,
    BylawsSubject,
    Charter,
    InvalidCharter,
    RankingSubject,
    RateSubject,
    fraction_text,
)
from peoplenet.runtime.errors import LocalError

_TOP: Final = frozenset(
    {
        "threshold",
        "amendment_threshold",
        "sybil_estimate",
        "voting_period_ms",
        "admission_sureties",
        "kind_thresholds",
        "rates",
        "budgets",
        "rankings",
        "boards",
        "officers",
        "bylaws",
    }
)


class CharterFileError(LocalError):
    """A charter file that does not describe a valid charter."""

    reason = "charter_file_invalid"


def number_text(value: object, what: str) -> str:
    """A JSON number (exact) or ``"n/d"`` string as canonical fraction text."""
    if isinstance(value, bool):
        raise CharterFileError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, int | Decimal):
        return fraction_text(Fraction(value))
    if isinstance(value, float):  # a caller that did not parse with Decimal: go via repr
        return fraction_text(Fraction(Decimal(repr(value))))
    if isinstance(value, str):
        try:
            return fraction_text(Fraction(value))
        except (ValueError, ZeroDivisionError):
            pass
    raise CharterFileError(f"{what}: expected a number or 'n/d', got {value!r}")


def _names(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CharterFileError(f"{what}: expected a list of names")
    return tuple(value)


def _ints(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise CharterFileError(f"{what}: expected a list of integers")
    return tuple(value)


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CharterFileError(f"{what}: expected an integer")
    return value


def _entries(doc: dict[str, Any], key: str, fields: frozenset[str]) -> list[dict[str, Any]]:
    entries = doc.get(key, [])
    if not isinstance(entries, list):
        raise CharterFileError(f"{key}: expected a list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise CharterFileError(f"{key}: every entry is an object with a 'name'")
        unknown = set(entry) - fields - {"name"}
        if unknown:
            raise CharterFileError(f"{key} {entry['name']}: unknown keys {sorted(unknown)}")
    return sorted(entries, key=lambda e: str(e["name"]))


def charter_from_json(doc: object) -> Charter:
    """Build and validate a charter; defaults fill whatever the document leaves out."""
    if not isinstance(doc, dict):
        raise CharterFileError("a charter is a JSON object")
    unknown = set(doc) - _TOP
    if unknown:
        raise CharterFileError(f"unknown charter keys {sorted(unknown)}")
    kw: dict[str, Any] = {}
    for key in ("threshold", "amendment_threshold", "sybil_estimate"):
        if key in doc:
            kw[key] = number_text(doc[key], key)
    for key in ("voting_period_ms", "admission_sureties"):
        if key in doc:
            kw[key] = _int(doc[key], key)
    overrides = doc.get("kind_thresholds", {})
    if not isinstance(overrides, dict):
        raise CharterFileError("kind_thresholds: expected an object")
    kw["kind_thresholds"] = {
        str(k): number_text(v, f"kind_thresholds.{k}") for k, v in overrides.items()
    }
    try:
        kw["rates"] = tuple(
            RateSubject(
                e["name"],
                number_text(e.get("lo"), f"rate {e['name']} lo"),
                number_text(e.get("hi"), f"rate {e['name']} hi"),
                number_text(e.get("step"), f"rate {e['name']} step"),
                number_text(e.get("initial"), f"rate {e['name']} initial"),
            )
            for e in _entries(doc, "rates", frozenset({"lo", "hi", "step", "initial"}))
        )
        kw["budgets"] = tuple(
            BudgetSubject(
                e["name"],
                _names(e.get("items"), f"budget {e['name']} items"),
                _int(e.get("total"), f"budget {e['name']} total"),
                _ints(e.get("initial"), f"budget {e['name']} initial"),
            )
            for e in _entries(doc, "budgets", frozenset({"items", "total", "initial"}))
        )
        kw["rankings"] = tuple(
            RankingSubject(e["name"], _names(e.get("items"), f"ranking {e['name']} items"))
            for e in _entries(doc, "rankings", frozenset({"items"}))
        )
        kw["boards"] = tuple(
            BoardSubject(e["name"], _int(e.get("size"), f"board {e['name']} size"))
            for e in _entries(doc, "boards", frozenset({"size"}))
        )
        kw["officers"] = tuple(sorted(_names(doc.get("officers", []), "officers")))
        kw["bylaws"] = tuple(
            BylawsSubject(
                e["name"],
                tuple(sorted(_names(e.get("clauses"), f"bylaws {e['name']} clauses"))),
                tuple(sorted(_names(e.get("initial", []), f"bylaws {e['name']} initial"))),
            )
            for e in _entries(doc, "bylaws", frozenset({"clauses", "initial"}))
        )
        return Charter(**kw)
    except InvalidCharter as exc:
        raise CharterFileError(f"invalid charter: {exc}") from None


__all__ = ["CharterFileError", "charter_from_json", "number_text"]
