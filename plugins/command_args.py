"""A command's arguments converted to the kinds its :class:`~peoplenet.plugins.api.CommandSpec`
declares.

The command line hands every value over as text (``--arg number=3``, ``--amount 5``); control
callers (the demo, tests) may hand typed values.  The app host converts both here, before the
app's ``peoplenet_command`` runs, so an app gets ``3`` (not ``"3"``) for an ``int`` argument
and never sees a name it did not declare.  Pure: members come in as an argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from peoplenet.plugins.api import AppCommandError, Arg, ArgKind, CommandSpec
from peoplenet.runtime.wire.codec import Value

MIN_PREFIX: Final = 8
"""Hex digits of a member id prefix that may stand for the whole id."""
MEMBER_LEN: Final = 32

EXPECTED: Final[Mapping[ArgKind, str]] = {
    "any": "any value",
    "text": "text",
    "int": "a whole number",
    "amount": "a whole number, 0 or more",
    "decimal": "a number such as 2.5 or 5/2",
    "bool": "true or false",
    "member": "a member id (64 hex digits, or a unique prefix of at least 8)",
    "members": "member ids separated by commas",
    "block": "a block id (hex)",
}
"""What each kind accepts, in words (error messages and ``peoplenet apps info``)."""

_HEX_DIGITS: Final = frozenset("0123456789abcdef")
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})


def convert_args(
    command: CommandSpec, given: Mapping[str, Value], members: Iterable[bytes]
) -> dict[str, Value]:
    """``given`` with each value converted to its declared kind.

    Raises :class:`AppCommandError`: ``unknown_argument`` (a name the command does not
    declare; the known ones are listed), ``bad_argument`` (a value not of its kind: the
    argument and the expected kind are named), ``unknown_member`` (not a member id, or no
    member's) and ``ambiguous_member`` (a prefix of several).
    """
    declared = {a.name: a for a in command.arguments}
    unknown = sorted(k for k in given if k not in declared)
    if unknown:
        known = ", ".join(declared) or "no arguments"
        raise AppCommandError(
            "unknown_argument", f"{command.name} takes {known}; not {', '.join(unknown)}"
        )
    pool = frozenset(members)
    return {name: convert(declared[name], value, pool) for name, value in given.items()}


def convert(arg: Arg, value: Value, members: frozenset[bytes]) -> Value:
    """One argument's value as its kind (see :class:`~peoplenet.plugins.api.Arg`)."""
    kind = arg.kind
    if kind == "any" or value is None:
        return value
    if kind == "text":
        if isinstance(value, str):
            return value
    elif kind in ("int", "amount"):
        number = _whole(value)
        if number is not None and (kind == "int" or number >= 0):
            return number
    elif kind == "decimal":
        exact = _decimal(value)
        if exact is not None:
            return str(exact)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif kind == "member":
        return _member(arg.name, value, members)
    elif kind == "members":
        return tuple(_member(arg.name, v, members) for v in _items(arg.name, value))
    else:
        block = _hex(value)
        if block is not None:
            return block
    raise AppCommandError("bad_argument", f"{arg.name} is {EXPECTED[kind]}, not {_shown(value)}")


def _whole(value: Value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isdigit() and digits.isascii():
            return int(text)
    return None


def _decimal(value: Value) -> Fraction | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if "/" in text:
            return Fraction(text)
        exact = Decimal(text)
    except (ValueError, ZeroDivisionError, InvalidOperation):
        return None
    return Fraction(exact) if exact.is_finite() else None


def _member(name: str, value: Value, members: frozenset[bytes]) -> bytes:
    if isinstance(value, bytes) and len(value) == MEMBER_LEN:
        if value in members:
            return value
        raise AppCommandError("unknown_member", f"{name}: {value.hex()} is not a member")
    text = value.strip().lower() if isinstance(value, str) else ""
    if not MIN_PREFIX <= len(text) <= 2 * MEMBER_LEN or not set(text) <= _HEX_DIGITS:
        # the reason member ids have always been refused with (apps and scripts rely on it)
        raise AppCommandError(
            "unknown_member", f"{name} is {EXPECTED['member']}, not {_shown(value)}"
        )
    matches = [m for m in members if m.hex().startswith(text)]
    if len(matches) > 1:
        raise AppCommandError("ambiguous_member", f"{name}: {text} starts several member ids")
    if not matches:
        raise AppCommandError("unknown_member", f"{name}: no member's id starts with {text}")
    return matches[0]


def _items(name: str, value: Value) -> tuple[Value, ...]:
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, bytes):
        return (value,)
    if not isinstance(value, str):
        raise AppCommandError("bad_argument", f"{name} is {EXPECTED['members']}")
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise AppCommandError("bad_argument", f"{name} is {EXPECTED['members']}")
        return tuple(parsed)
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _hex(value: Value) -> bytes | None:
    if isinstance(value, bytes) and value:
        return value
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        return None
    return raw or None


def _shown(value: Value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:40] + "..." if len(text) > 40 else text)


__all__ = ["EXPECTED", "MIN_PREFIX", "convert", "convert_args"]
