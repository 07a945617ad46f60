"""The hand-written fast parsers of the wire format, in one place, and the header writers
they mirror.

Why they exist: the general decoder (:func:`~peoplenet.runtime.wire.codec.decode`) pays for
msgpack's hooks, the limits and a walk of the value, which for the usual shapes -- a block's
payload, an array of flat transactions, the usual ``EpochBlocks`` message -- cost more than the
decoding itself.  Each parser here reads only bytes laid out exactly as the encoder writes them
(the smallest header for each length) and returns ``None`` for anything else, so the caller
falls back to the general decoder, which accepts or refuses the input with its usual reason:
a value returned here is always the one the general path returns.  Their parity tests are in
tests/runtime/wire/test_fast_parsers.py.

What is here: :func:`decode_prefix` (a value at the start of some bytes) with the in-place
record reader :func:`record_prefix_at` and the flat-array reader; the canonical header readers
(:func:`record_body_at`, :func:`record_tag_at`, :func:`read_bin`, :func:`read_array_header`)
and their mirrors, the writers (:func:`record_bytes`, :func:`bin_header`, :func:`array_header`);
the ``EpochBlocks`` layout (:func:`usual_epoch_blocks`, :func:`epoch_blocks_parts`).
``Block.from_bytes``'s own layout parse stays with the block (runtime/lace/block.py): it fills
the block's private id and bytes as it goes.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Final

import msgpack

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.wire.codec import (  # the codec's own tables: this module is its fast side
    _BY_TAG,
    _FIELDS,
    _IS_TUPLE,
    _POOL,
    _SCALARS,
    _SCALARS_AND_TUPLE,
    _SCAN_ABOVE,
    _TUPLE_ONLY,
    MAX_CONTAINER_LEN,
    MAX_DEPTH,
    RECORD_EXT,
    Record,
    Value,
    _check_decoded,
    _Checker,
    _Extra,
    _NoCanonicalForm,
    _pack,
    _pack_record,
    _unpack,
)
from peoplenet.runtime.wire.decode_cost import check_decode_cost


def decode_prefix(data: bytes, *, depth: int = 0) -> tuple[Value, int]:
    """Decode the canonical value at the start of ``data``; return it and its length.

    Why: a record with one free-form field among fixed ones (a block's payload) can parse the
    fixed ones by hand and have only that field decoded and re-encoded, instead of the whole
    record.  ``depth`` is the nesting the value sits at (the same limits as :func:`decode`).
    Malformed or non-canonical input raises :class:`RemoteProtocolError`.
    """
    if not data:
        raise RemoteProtocolError("truncated", "empty input")
    if len(data) > _SCAN_ABOVE:
        check_decode_cost(data)
    if data[0] in _EXT_HEADS:
        found = _record_prefix(data, depth)
        if found is not None:
            return found
    try:
        value = _unpack(data, depth, prefix=True)
        size = len(data)
    except _Extra as extra:
        value, size = extra.value, extra.size
    try:
        _check_decoded(value, depth)
        again = _pack(value)
    except EncodeError as exc:
        reason = exc.reason if isinstance(exc, _NoCanonicalForm) else "not_canonical"
        raise RemoteProtocolError(reason, str(exc)) from None
    if again != data[:size]:
        raise RemoteProtocolError("not_canonical", "input is not the canonical encoding")
    return value, size


def _record_prefix(data: bytes, depth: int) -> tuple[Record, int] | None:
    """A record at the start of ``data`` decoded field by field, or ``None`` (use the general path).

    Why: through msgpack a record costs a second unpacking call, a Python hook and a re-encoding
    hook; its header and tag are quicker read by hand, leaving only the fields to
    :func:`decode_prefix`.  Everything is checked to be in canonical form, so a record returned
    here is the one the general path returns; anything else (bad input included) gets ``None``,
    and the general path then accepts it or raises its usual error.
    """
    return record_prefix_at(data, 0, len(data), depth)


def record_prefix_at(data: bytes, start: int, stop: int, depth: int) -> tuple[Record, int] | None:
    """``decode_prefix(data[start:stop], depth=depth)`` for a record, without the slice.

    Returns the record and the offset in ``data`` where it ends, or ``None`` when the general
    path must decide (not a record, not canonical, malformed: :func:`decode_prefix` of the
    slice then accepts or refuses it with its usual reason).  Why: a block's payload is a
    record in the middle of the block; reading it in place spares a copy and a layer.
    """
    if stop - start > _SCAN_ABOVE:
        check_decode_cost(data[start:stop])
    if (  # the usual payload: ext8, [tag, one field], a fixint tag, a flat array as the field
        start + 5 <= stop
        and data[start] == 0xC7
        and data[start + 2] == RECORD_EXT
        and data[start + 3] == 0x92
        and data[start + 4] < 0x80
    ):
        body = data[start + 1]
        end = start + 3 + body
        cls = _BY_TAG.get(data[start + 4])
        if end <= stop and body not in _FIXEXT_SIZES and cls is not None:
            fields = _FIELDS[cls]
            value = _flat_exact(data[start + 5 : end], depth + 1) if len(fields) == 1 else None
            if value is not None:  # what _record_at would find: the same checks follow
                try:
                    return (cls(value), end) if fields[0][1](value, depth + 1) else None  # type: ignore[call-arg]
                except (RemoteProtocolError, ValueError, TypeError, LocalError):
                    return None
    return _record_at(data, start, stop, depth)


def _record_at(data: bytes, start: int, stop: int, depth: int) -> tuple[Record, int] | None:
    """:func:`record_prefix_at` for any record: every header form, any number of fields."""
    if depth + 1 > MAX_DEPTH or start >= stop:
        return None
    kind = data[start]
    if kind == 0xC7:  # the usual header (a body of 17..255 bytes): read inline
        if start + 3 > stop:
            return None
        body = data[start + 1]
        if body in _FIXEXT_SIZES or data[start + 2] != RECORD_EXT:
            return None
        at = start + 3
        end = at + body
        if end > stop:
            return None
    else:
        span = _ext_span(data, start, stop)
        if span is None:
            return None
        at, end = span
    if at >= end:
        return None
    count = data[at]
    if 0x91 <= count <= 0x9F:  # fixarray: a tag and up to 14 fields
        count -= 0x90
        at += 1
    else:
        array = read_array_header(data[:end], at)
        if array is None or not array[0]:
            return None
        count, at = array
    if at >= end:
        return None
    tag = data[at]
    if tag < 0x80:  # the usual tag, a fixint
        at += 1
    else:
        found = _wide_tag(data, at, end)
        if found is None:
            return None
        tag, at = found
    cls = _BY_TAG.get(tag)
    if cls is None:
        return None
    fields = _FIELDS[cls]
    last = len(fields)
    if last != count - 1:
        return None
    inner = depth + 1
    if last == 1 and at < end:  # one field (a block's payload): nothing to loop over
        return _one_field_record(cls, fields[0][1], data[at:end], inner, end)
    return _fields_record(cls, data, at, end, inner)


def _fields_record(
    cls: type[Record], data: bytes, at: int, end: int, depth: int
) -> tuple[Record, int] | None:
    """The record whose fields lie exactly in ``data[at:end]``, for :func:`record_prefix_at`."""
    fields = _FIELDS[cls]
    last = len(fields)
    items: list[Any] = []
    try:
        for index, (_name, check) in enumerate(fields, 1):
            if at >= end:
                return None
            if index == last:  # the last field is all that is left: its exact bytes
                item = _flat_exact(data[at:end], depth)
                if item is None:
                    item, used = decode_prefix(data[at:end], depth=depth)
                    if at + used != end:
                        return None
                at = end
            else:
                item, used = decode_prefix(data[at:end], depth=depth)
                at += used
            if not check(item, depth):
                return None
            items.append(item)
        if at != end:
            return None
        return cls(*items), end
    except (RemoteProtocolError, ValueError, TypeError, LocalError):
        return None


def _wide_tag(data: bytes, at: int, end: int) -> tuple[int, int] | None:
    """A record tag wider than a fixint at ``data[at]`` and the offset after it (canonical)."""
    tag = data[at]
    if tag == 0xCC and at + 2 <= end and data[at + 1] >= 0x80:
        return data[at + 1], at + 2
    if tag == 0xCD and at + 3 <= end:
        tag = int.from_bytes(data[at + 1 : at + 3], "big")
        return (tag, at + 3) if tag >= 0x100 else None
    if tag == 0xCE and at + 5 <= end:
        tag = int.from_bytes(data[at + 1 : at + 5], "big")
        return (tag, at + 5) if tag >= 0x10000 else None
    return None  # not a canonical tag (or a 64-bit one): the general path decides


def _one_field_record(
    cls: type[Record], check: _Checker, field: bytes, depth: int, end: int
) -> tuple[Record, int] | None:
    """The record of one field whose exact bytes are ``field``, for :func:`record_prefix_at`."""
    item = _flat_exact(field, depth)
    try:
        if item is None:
            item, used = decode_prefix(field, depth=depth)
            if used != len(field):
                return None
        if not check(item, depth):
            return None
        return cls(item), end  # type: ignore[call-arg]
    except (RemoteProtocolError, ValueError, TypeError, LocalError):
        return None


_unpackb: Final = msgpack.unpackb


def _flat_exact(data: bytes, depth: int) -> Value | None:
    """``decode(data)`` (at ``depth``) if ``data`` is an array of scalars and flat arrays of
    scalars -- the usual transactions of a block -- else ``None`` (the general path decides).

    Why: the general path's layers (hooks, limits, a walk of the value) cost more than the
    decoding itself for this shape.  The same msgpack decoding, the same shape test as
    :func:`_check_decoded`, the same re-encoding compared with the input: a value returned
    here is exactly the one :func:`decode_prefix` returns for these bytes.
    """
    if depth + 2 > MAX_DEPTH:
        return None
    if len(data) > _SCAN_ABOVE:
        check_decode_cost(data)
    try:
        value = _unpackb(data, use_list=False, raw=False, max_array_len=MAX_CONTAINER_LEN)
    except Exception:  # anything odd: the general path gives the reason
        return None
    if type(value) is not tuple:
        return None
    kinds = set(map(type, value))
    if kinds == _TUPLE_ONLY:  # the usual transactions: every one a flat tuple
        if not _SCALARS.issuperset(map(type, chain.from_iterable(value))):
            return None
    elif not _SCALARS_AND_TUPLE.issuperset(kinds) or not _SCALARS.issuperset(
        map(type, chain.from_iterable(filter(_IS_TUPLE, value)))
    ):
        return None
    free = _POOL.free
    packer = free.pop() if free else msgpack.Packer(use_bin_type=True, default=_pack_record)
    again = packer.pack(value)  # scalars only: packing cannot fail
    free.append(packer)
    return value if again == data else None


def _ext_span(data: bytes, start: int = 0, stop: int | None = None) -> tuple[int, int] | None:
    """Where the body of the ext ``0x50`` at ``data[start]`` lies (canonical header), within
    ``data[:stop]``: offsets in ``data``."""
    size = len(data) if stop is None else stop
    if start >= size:
        return None
    kind = data[start]
    if kind in _FIXEXT:
        head, body = 2, _FIXEXT[kind]
    elif kind == 0xC7 and start + 3 <= size:
        head, body = 3, data[start + 1]
        if body in (1, 2, 4, 8, 16):
            return None
    elif kind == 0xC8 and start + 4 <= size:
        head, body = 4, int.from_bytes(data[start + 1 : start + 3], "big")
        if body < 0x100:
            return None
    elif kind == 0xC9 and start + 6 <= size:
        head, body = 6, int.from_bytes(data[start + 1 : start + 5], "big")
        if body < 0x10000:
            return None
    else:
        return None
    head += start
    if head > size or data[head - 1] != RECORD_EXT or head + body > size:
        return None
    return head, head + body


# -- canonical headers, for hand-written fast paths -----------------------------------------
#
# A record whose fields are mostly bytes (a block, a batch of blocks) can be parsed by hand in
# a fraction of the generic decoder's time.  These readers accept a header only in the form
# the encoder writes (the smallest one for the length), and return ``None`` for anything else,
# so a fast path built on them falls back to :func:`decode` -- and its usual error -- whenever
# the input is not exactly canonical.

_FIXEXT: Final = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_FIXEXT_SIZES: Final = frozenset(_FIXEXT.values())
_EXT_HEADS: Final = frozenset({*_FIXEXT, 0xC7, 0xC8, 0xC9})


def record_body_at(data: bytes) -> int | None:
    """Where the body of the record that is the whole of ``data`` starts (canonical header)."""
    if len(data) < 3:
        return None
    span = _ext_span(data)
    if span is None or span[1] != len(data):
        return None
    return span[0]


def read_bin(data: bytes, at: int) -> tuple[bytes, int] | None:
    """The ``bin`` at ``data[at]`` and the offset after it (canonical header, within data)."""
    head = data[at : at + 1]
    if head == b"\xc4" and at + 2 <= len(data):
        start, size = at + 2, data[at + 1]
    elif head == b"\xc5":
        start, size = at + 3, int.from_bytes(data[at + 1 : at + 3], "big")
        if size < 0x100:
            return None
    elif head == b"\xc6":
        start, size = at + 5, int.from_bytes(data[at + 1 : at + 5], "big")
        if size < 0x10000:
            return None
    else:
        return None
    end = start + size
    if end > len(data):
        return None
    return data[start:end], end


def read_array_header(data: bytes, at: int) -> tuple[int, int] | None:
    """The item count of the array at ``data[at]`` and where its items start (canonical)."""
    if at >= len(data):
        return None
    head = data[at]
    if 0x90 <= head <= 0x9F:
        return head - 0x90, at + 1
    if head == 0xDC and at + 3 <= len(data):
        count = int.from_bytes(data[at + 1 : at + 3], "big")
        return (count, at + 3) if count >= 16 else None
    if head == 0xDD and at + 5 <= len(data):
        count = int.from_bytes(data[at + 1 : at + 5], "big")
        return (count, at + 5) if count >= 0x10000 else None
    return None


_UINT_WIDTH: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4}


def record_tag_at(data: bytes) -> tuple[int, int] | None:
    """The tag of the record that is the whole of ``data`` and where its first field starts,
    read from the headers alone (nothing is decoded or checked beyond them), else ``None``."""
    body = record_body_at(data)
    if body is None:
        return None
    head = read_array_header(data, body)
    if head is None or head[0] < 1 or head[1] >= len(data):
        return None
    at = head[1]
    first = data[at]
    if first < 0x80:
        return first, at + 1
    width = _UINT_WIDTH.get(first)
    if width is None:
        return None
    return int.from_bytes(data[at + 1 : at + 1 + width], "big"), at + 1 + width


_FIXEXT_HEAD: Final = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}


def record_bytes(body: bytes) -> bytes:
    """A record from its canonical body ``[tag, fields...]``: the ext header the encoder writes.

    The mirror of :func:`record_body_at`, for code that assembles a record from parts it has
    already encoded (a block around its payload, a message around its blocks).
    """
    size = len(body)
    fixed = _FIXEXT_HEAD.get(size)
    if fixed is not None:
        return bytes((fixed, RECORD_EXT)) + body
    if size < 0x100:
        return bytes((0xC7, size, RECORD_EXT)) + body
    if size < 0x10000:
        return b"\xc8" + size.to_bytes(2, "big") + b"\x50" + body
    return b"\xc9" + size.to_bytes(4, "big") + b"\x50" + body


def bin_header(size: int) -> bytes:
    """The canonical header of a ``bin`` of ``size`` bytes (the mirror of :func:`read_bin`)."""
    if size < 0x100:
        return bytes((0xC4, size))
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def array_header(count: int) -> bytes:
    """The canonical header of an array of ``count`` items (mirror of :func:`read_array_header`)."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


# -- the usual EpochBlocks message (tag 65) ---------------------------------------------------


def epoch_blocks_parts(data: bytes, max_blocks: int) -> tuple[bytes, tuple[bytes, ...]] | None:
    """The lace and blocks of ``data`` if it is an ``EpochBlocks`` laid out canonically, else
    ``None``.

    The common message, parsed by hand: ``[65, lace, [block, ...]]`` (at most ``max_blocks``
    blocks) with canonical headers throughout and nothing after.  ``None`` sends the input to
    :func:`~peoplenet.runtime.wire.codec.decode`, which accepts or refuses it as usual.
    """
    parts = usual_epoch_blocks(data)
    if parts is None:
        head = record_body_at(data)
        if head is None or data[head : head + 2] != b"\x93\x41":
            return None
        lace = read_bin(data, head + 2)
        if lace is None:
            return None
        array = read_array_header(data, lace[1])
        if array is None or array[0] > max_blocks:
            return None
        count, at = array
        blocks: list[bytes] = []
        for _ in range(count):
            item = read_bin(data, at)
            if item is None:
                return None
            blocks.append(item[0])
            at = item[1]
        if at != len(data):
            return None
        parts = lace[0], tuple(blocks)
    return parts


def usual_epoch_blocks(data: bytes, tag: int = 65) -> tuple[bytes, tuple[bytes, ...]] | None:
    """The usual layout read inline: ext8/ext16, a ``bin8`` lace, a fixarray of ``bin8`` or
    ``bin16`` blocks, all canonical.  ``None``: anything else (the general reader decides).

    ``tag``: the record's tag, a fixint (an app lace's ``LaceBlocks``, tag 67, is laid out
    as ``EpochBlocks`` is)."""
    size = len(data)
    if size < 8:
        return None
    kind = data[0]
    if kind == 0xC8:
        body = (data[1] << 8) | data[2]
        if body < 0x100 or data[3] != 0x50:
            return None
        at = 4
    elif kind == 0xC7:
        body = data[1]
        if body in (1, 2, 4, 8, 16) or data[2] != 0x50:
            return None
        at = 3
    else:
        return None
    if at + body != size or data[at] != 0x93 or data[at + 1] != tag or data[at + 2] != 0xC4:
        return None
    start = at + 4
    at = start + data[at + 3]
    if at >= size:
        return None
    lace = data[start:at]
    count = data[at] - 0x90
    if not 0 <= count <= 15:
        return None
    at += 1
    blocks: list[bytes] = []
    for _ in range(count):
        if at + 3 > size:
            return None
        head = data[at]
        if head == 0xC5:
            length = (data[at + 1] << 8) | data[at + 2]
            if length < 0x100:
                return None
            start = at + 3
        elif head == 0xC4:
            length = data[at + 1]
            start = at + 2
        else:
            return None
        at = start + length
        if at > size:
            return None
        blocks.append(data[start:at])
    if at != size:
        return None
    return lace, tuple(blocks)
