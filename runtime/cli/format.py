"""How the ``peoplenet`` command line shows things to a person (pure: text in, text out).

One place decides how a member, an amount, a moment, a fraction or a table reads, so every
command prints them alike.  ``--json`` output never goes through here: scripts get the raw
values (hex ids, ``"n/d"`` fractions, milliseconds since the epoch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Final

from peoplenet.runtime.keys.identity import fingerprint

SHORT_ID: Final = 8
"""Hex characters of a member id shown next to its fingerprint."""
DECIMAL_PLACES: Final = 4
"""Places shown for a fraction whose decimal expansion does not end."""


_PETNAMES: dict[bytes, str] = {}
"""The node's petnames by member, set once per command by :func:`use_petnames`."""


def use_petnames(by_name: Mapping[str, bytes]) -> None:
    """Show these petnames (name -> member id, as the data directory keeps them) from now on."""
    _PETNAMES.clear()
    _PETNAMES.update({bytes(member): name for name, member in by_name.items()})


def describe_member(member: bytes | str, *, me: bytes | str | None = None) -> str:
    """A member as a person reads it: petname if any, fingerprint and short id, "you" for oneself.

    The one function every command uses, so the naming scheme changes every listing at once.
    ``member`` is the 32-byte id or its hex; anything else is shown as is.
    """
    raw = _member_bytes(member)
    if raw is None:
        return str(member)
    name = _PETNAMES.get(raw)
    text = f"{fingerprint(raw)} ({raw.hex()[:SHORT_ID]})"
    if name is not None:
        text = f"{name} {text}"
    if me is not None and _member_bytes(me) == raw:
        text += " [you]"
    return text


def _member_bytes(member: bytes | str) -> bytes | None:
    if isinstance(member, bytes):
        return member if len(member) == 32 else None
    if isinstance(member, str) and len(member) == 64:
        try:
            return bytes.fromhex(member)
        except ValueError:
            return None
    return None


def decimal_text(value: object) -> str:
    """A fraction as decimals: ``"15/2"`` reads ``7.5``; ``1/3`` reads ``0.3333…``.

    Accepts a :class:`Fraction`, an int, a :class:`Decimal` or the ``"n/d"`` text records
    carry; anything else comes back unchanged as text.
    """
    fraction = _fraction(value)
    if fraction is None:
        return str(value)
    if fraction.denominator == 1:
        return str(fraction.numerator)
    den = fraction.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den == 1:  # a terminating expansion: exact
        text = format(Decimal(fraction.numerator) / Decimal(fraction.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    rounded = round(fraction, DECIMAL_PLACES)
    return f"{format(Decimal(rounded.numerator) / Decimal(rounded.denominator), 'f')}…"


def _fraction(value: object) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Fraction | int | Decimal):
        return Fraction(value)
    if isinstance(value, str):
        num, sep, den = value.partition("/")
        try:
            if sep:
                return Fraction(int(num), int(den))
            return Fraction(int(num))
        except (ValueError, ZeroDivisionError):
            return None
    return None


def amount_text(amount: int, unit: str = "") -> str:
    """A whole amount with thousands separated and its unit: ``1,250 coins``, ``1 hour``."""
    text = f"{amount:,}"
    if not unit:
        return text
    if abs(amount) == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{text} {unit}"


def local_time(ms: int, zone: tzinfo | None = None) -> str:
    """Milliseconds since the epoch as a moment in the reader's zone (or ``zone``)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()


def relative_time(ms: int, now_ms: int) -> str:
    """How far ``ms`` is from ``now_ms`` in words: ``in 5 min``, ``2 h ago``, ``now``."""
    delta = (ms - now_ms) // 1000
    span = abs(delta)
    if span < 1:
        return "now"
    for size, name in ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")):
        if span >= size:
            words = f"{span // size} {name}"
            break
    return f"in {words}" if delta > 0 else f"{words} ago"


def when_text(ms: int, now_ms: int, zone: tzinfo | None = None) -> str:
    """A moment in local time with how far it is: ``2026-12-07 17:05:00 CET (in 5 min)``."""
    return f"{local_time(ms, zone)} ({relative_time(ms, now_ms)})"


def point_text(value: object) -> str:
    """A ballot, proposal or outcome as words: decimals, yes/no, lists with commas."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(point_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {point_text(v)}" for k, v in value.items())
    if isinstance(value, str) and _fraction(value) is None:
        return value
    return decimal_text(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under headers, columns aligned (numbers to the right); no trailing spaces."""
    cells = [[str(c) for c in headers], *[[_cell(c) for c in row] for row in rows]]
    columns = max(len(r) for r in cells)
    for r in cells:
        r.extend([""] * (columns - len(r)))
    widths = [max(len(r[i]) for r in cells) for i in range(columns)]
    numeric = [
        all(_is_number(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(columns)
    ]
    lines = []
    for r in cells:
        parts = [
            r[i].rjust(widths[i]) if numeric[i] else r[i].ljust(widths[i]) for i in range(columns)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _is_number(text: str) -> bool:
    stripped = text.replace(",", "").replace(".", "", 1).lstrip("-")
    return stripped.isdigit() or text == "-"


def tree_text(value: object, *, me: bytes | str | None = None, indent: int = 0) -> str:
    """Any JSON-ready answer as indented ``key: value`` lines a person can read.

    Member ids (64 hex characters under a key that names a person) read through
    :func:`describe_member`; ``"n/d"`` fractions as decimals; ``true``/``false`` as yes/no.
    """
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return f"{pad}(none)"
        lines = []
        for raw_key, item in value.items():
            key = _key_text(raw_key, me)
            if isinstance(item, list | tuple) and item and not any(_nested(v) for v in item):
                inline = ", ".join(_leaf(str(key), v, me) for v in item)
                lines.append(f"{pad}{key}: {inline}")
            elif isinstance(item, dict | list | tuple) and item:
                lines.append(f"{pad}{key}:")
                lines.append(tree_text(item, me=me, indent=indent + 1))
            else:
                lines.append(f"{pad}{key}: {_leaf(str(key), item, me)}")
        return "\n".join(lines)
    if isinstance(value, list | tuple):
        if not value:
            return f"{pad}(none)"
        lines = []
        for item in value:
            if isinstance(item, dict | list | tuple) and item:
                inner = tree_text(item, me=me, indent=indent + 1)
                lines.append(f"{pad}- {inner.lstrip()}")
            else:
                lines.append(f"{pad}- {_leaf('', item, me)}")
        return "\n".join(lines)
    return f"{pad}{_leaf('', value, me)}"


def _key_text(key: object, me: bytes | str | None) -> str:
    """A map key; a member id as a key (a currency's coins, say) reads as the member."""
    text = str(key)
    return describe_member(text, me=me) if _member_bytes(text) is not None else text


def _nested(value: object) -> bool:
    return isinstance(value, dict | list | tuple)


_PERSON_KEYS: Final = frozenset(
    {"member", "to", "from", "with", "payer", "payee", "sovereign", "creator", "counterparty"}
)


def _leaf(key: str, value: object, me: bytes | str | None) -> str:
    if isinstance(value, str) and key in _PERSON_KEYS and _member_bytes(value) is not None:
        return describe_member(value, me=me)
    if isinstance(value, str) and "/" in value and _fraction(value) is not None:
        return decimal_text(value)
    if isinstance(value, dict | list | tuple):
        return "(none)"
    return _cell(value)


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    """``label: value`` lines with the labels aligned (one record, read top to bottom)."""
    if not pairs:
        return ""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.rjust(width)}: {_cell(value)}" for label, value in pairs)


__all__ = [
    "amount_text",
    "decimal_text",
    "describe_member",
    "fields",
    "local_time",
    "point_text",
    "relative_time",
    "table",
    "tree_text",
    "when_text",
]
