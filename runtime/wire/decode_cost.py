"""How much memory decoding msgpack bytes would take, found by a scan that builds nothing.

Why: a peer chooses the bytes, and msgpack's smallest containers blow up when decoded (a
two-byte ``[nil]`` becomes a 48-byte tuple; a three-byte ``{"": nil}`` a 184-byte dict), so a
1 MiB message can become 28 MiB or more of Python objects.  The wire-size limit alone does not
bound that; this scan does, before any object exists.  It charges every msgpack object an upper
estimate of its CPython size (measured on CPython 3.11, 64-bit) and stops as soon as the total
passes the budget.

The scan is only needed for inputs that could exceed the budget at all: no object costs more
than :data:`MAX_COST_PER_BYTE` per wire byte, so :func:`check_decode_cost` returns at once for
inputs up to ``budget // MAX_COST_PER_BYTE`` bytes (every block and nearly every message).
"""

from __future__ import annotations

from typing import Final

from peoplenet.runtime.errors import RemoteProtocolError

MAX_COST_PER_BYTE: Final = 96
"""No msgpack object's estimated cost exceeds this many bytes per byte of its encoding (the
worst is an empty map: 1 byte, charged 64 + its slot in the parent)."""

MAX_DECODED_COST: Final = MAX_COST_PER_BYTE * 256 * 1024
"""Default budget (24 MiB): estimated bytes of Python objects one decoded value may take.
Chosen so that nothing up to 256 KiB (the largest block) ever needs the scan."""

_SLOT: Final = 8  # the pointer a container holds for each child
_TUPLE: Final = 40  # sys.getsizeof(()) with its GC header
_DICT: Final = 64  # sys.getsizeof({})
_DICT_BASE: Final = 136  # a dict of n >= 1 entries is charged 136 + 48 n (one: 184 bytes)
_DICT_ENTRY: Final = 48
_INT: Final = 36  # sys.getsizeof(2**64 - 1)
_FLOAT: Final = 24
_STR: Final = 80  # a compact non-ASCII str header is up to 76 bytes
_STR_CHAR: Final = 4  # a UTF-8 byte may become a 4-byte code point (UCS-4 strings)
_BYTES: Final = 33
_RECORD: Final = 48  # a slotted record, plus one slot per field
_EXT: Final = 48

# Payload sizes of fixed-width scalars, by type byte (cost charged: _INT or _FLOAT).
_FIXED: Final[dict[int, tuple[int, int]]] = {
    0xCA: (4, _FLOAT),
    0xCB: (8, _FLOAT),
    0xCC: (1, _INT),
    0xCD: (2, _INT),
    0xCE: (4, _INT),
    0xCF: (8, _INT),
    0xD0: (1, _INT),
    0xD1: (2, _INT),
    0xD2: (4, _INT),
    0xD3: (8, _INT),
}
_FIXEXT: Final[dict[int, int]] = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_LEN_BYTES: Final[dict[int, int]] = {
    0xC4: 1,  # bin 8
    0xC5: 2,
    0xC6: 4,
    0xD9: 1,  # str 8
    0xDA: 2,
    0xDB: 4,
    0xDC: 2,  # array 16
    0xDD: 4,
    0xDE: 2,  # map 16
    0xDF: 4,
    0xC7: 1,  # ext 8
    0xC8: 2,
    0xC9: 4,
}
_RECORD_EXT: Final = 0x50


class TooCostly(RemoteProtocolError):
    """Decoding the input would take more memory than its budget allows."""

    reason = "too_costly"

    def __init__(self, reason: str = "too_costly", detail: str = "") -> None:
        super().__init__(reason, detail)


def check_decode_cost(data: bytes, budget: int = MAX_DECODED_COST) -> None:
    """Refuse ``data`` (:class:`TooCostly`) if decoding it could take more than ``budget``."""
    if len(data) * MAX_COST_PER_BYTE <= budget:
        return
    cost = decode_cost(data, budget)
    if cost > budget:
        raise TooCostly("too_costly", f"decoding would take over {budget} bytes of memory")


def decode_cost(data: bytes, stop_above: int | None = None) -> int:
    """The estimated memory of decoding the first msgpack value of ``data``.

    Scans headers only (strings and binaries are skipped, not read); truncated or malformed
    input ends the scan with what was counted (the decoder itself refuses such input).  With
    ``stop_above``, returns as soon as the estimate exceeds it.
    """
    limit = (1 << 62) if stop_above is None else stop_above
    size = len(data)
    pos = 0
    cost = 0
    todo = 1  # objects still to scan
    while todo and pos < size:
        todo -= 1
        b = data[pos]
        pos += 1
        if b <= 0x7F or b >= 0xE0:  # fixint
            if b >= 0xE0:
                cost += _INT
            continue
        if b <= 0x8F:  # fixmap
            n = b & 0x0F
            cost += _DICT_BASE + _DICT_ENTRY * n if n else _DICT
            todo += 2 * n
        elif b <= 0x9F:  # fixarray
            n = b & 0x0F
            cost += _TUPLE + _SLOT * n
            todo += n
        elif b <= 0xBF:  # fixstr ("" is a shared singleton)
            n = b & 0x1F
            cost += _STR + _STR_CHAR * n if n else 0
            pos += n
        elif b <= 0xC3:  # nil, (never used), false, true
            continue
        elif b in _FIXED:
            width, charge = _FIXED[b]
            cost += charge
            pos += width
        elif b in _FIXEXT:
            n = _FIXEXT[b]
            cost, pos, todo = _ext(data, pos, n, cost, todo)
        else:
            cost, pos, todo = _sized(data, b, pos, cost, todo)
        if cost > limit:
            return cost
    return cost


def _sized(data: bytes, b: int, pos: int, cost: int, todo: int) -> tuple[int, int, int]:
    """Charge an object with a length field (bin, str, array, map, ext) of type byte ``b``."""
    width = _LEN_BYTES[b]
    n = int.from_bytes(data[pos : pos + width], "big")
    pos += width
    if b <= 0xC6:  # bin
        return cost + _BYTES + n, pos + n, todo
    if b <= 0xC9:  # ext 8/16/32: a code byte, then the body
        return _ext(data, pos, n, cost, todo)
    if b <= 0xDB:  # str
        return cost + _STR + _STR_CHAR * n, pos + n, todo
    if b <= 0xDD:  # array
        return cost + _TUPLE + _SLOT * n, pos, todo + n
    return cost + _DICT_BASE + _DICT_ENTRY * n, pos, todo + 2 * n  # map (n >= 16)


def _ext(data: bytes, pos: int, n: int, cost: int, todo: int) -> tuple[int, int, int]:
    """Charge an ext whose code byte is at ``pos`` and body of ``n`` bytes follows it.

    A record (ext 0x50) decodes its body, one msgpack array ``[tag, fields...]``, into a
    temporary tuple and then the record: the scan goes on into the body (the tuple is charged
    there) and charges the record here by the body's array count.
    """
    code = data[pos] if pos < len(data) else -1
    pos += 1
    if code != _RECORD_EXT:
        return cost + _EXT + n, pos + n, todo
    head = data[pos] if pos < len(data) else 0
    fields = head & 0x0F if 0x90 <= head <= 0x9F else n
    return cost + _RECORD + _SLOT * fields, pos, todo + 1
