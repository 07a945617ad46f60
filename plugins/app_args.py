"""Reading an app command's arguments: the few shapes every work app's commands take.

A command gets its arguments as the node converted them (``plugins/command_args.py``: an
``int`` argument is an int, a ``member`` one 32 bytes); what is left to each app is the same
handful of readings -- a place typed as ``LAT,LON``, a whole number with a default, a text, a
member, one of its own records named by an id or a unique prefix of it -- each refused in
words (:class:`AppCommandError` ``bad_argument``, ``unknown_*``, ``ambiguous_*``).  Exported
to apps by :mod:`peoplenet.plugins.kit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeVar

from peoplenet.actors.work.geo import Point, parse_point
from peoplenet.plugins.api import AppCommandError, Value

MIN_PREFIX: Final = 6
"""Hex digits a prefix needs to name one of an app's records (a ride, an order, a task)."""
MEMBER_LEN: Final = 32

T = TypeVar("T")


def point_arg(args: Mapping[str, Value], name: str) -> Point:
    """``--NAME LAT,LON`` in degrees (``BadPoint`` for text that is no place on Earth)."""
    text = args.get(name)
    if not isinstance(text, str) or not text.strip():
        raise AppCommandError("bad_argument", f"--{name} is required: LAT,LON in degrees")
    return parse_point(text)


def text_arg(args: Mapping[str, Value], name: str) -> str:
    """``--NAME TEXT``, stripped; empty when not given."""
    value = args.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def amount_arg(args: Mapping[str, Value], name: str, default: int | None = None) -> int:
    """``--NAME N``, a whole number 0 or more; ``default`` when not given (required if None)."""
    value = args.get(name)
    if (value is None or value == "") and default is not None:
        return default
    if type(value) is not int or value < 0:
        raise AppCommandError("bad_argument", f"--{name} is a whole number, 0 or more")
    return value


def member_arg(args: Mapping[str, Value], name: str, default: bytes | None = None) -> bytes:
    """``--NAME MEMBER``: the 32-byte id the command line resolved (or 64 hex digits)."""
    value = args.get(name)
    if (value is None or value == "") and default is not None:
        return default
    if isinstance(value, bytes) and len(value) == MEMBER_LEN:
        return value
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value.strip())
        except ValueError:
            raw = b""
        if len(raw) == MEMBER_LEN:
            return raw
    raise AppCommandError("bad_argument", f"--{name} is a member (a name or a full id)")


def by_prefix(value: Value, records: Mapping[bytes, T], length: int, what: str) -> T:
    """The one record of ``records`` whose id (``length`` bytes) is ``value``'s hex, or starts
    with it (:data:`MIN_PREFIX` digits at least): ``unknown_WHAT``, ``ambiguous_WHAT``."""
    if not isinstance(value, str) or not value.strip():
        raise AppCommandError("bad_argument", f"--{what} is required (its id or a prefix)")
    prefix = value.strip().lower()
    if len(prefix) < MIN_PREFIX:
        raise AppCommandError("bad_argument", f"--{what} needs {MIN_PREFIX}+ hex digits")
    if len(prefix) == 2 * length:  # a whole id (what phones send): no scan of every record
        try:
            exact = records.get(bytes.fromhex(prefix))
        except ValueError:
            exact = None
        if exact is not None:
            return exact
    found = [r for key, r in records.items() if key.hex().startswith(prefix)]
    if not found:
        raise AppCommandError(f"unknown_{what}", f"no {what} {prefix}")
    if len(found) > 1:
        raise AppCommandError(f"ambiguous_{what}", f"{prefix} names {len(found)} {what}s")
    return found[0]


__all__ = ["MIN_PREFIX", "amount_arg", "by_prefix", "member_arg", "point_arg", "text_arg"]
