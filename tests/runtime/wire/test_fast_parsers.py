"""The hand-written fast parsers and header writers give exactly what the general codec gives.

Why: each exists only for speed -- canonical headers read and written by hand, a flat array
decoded in one msgpack call, a record read in place inside a block, the usual ``EpochBlocks``
message read inline -- so each must accept and refuse exactly what :func:`decode` does, with the
same values and the same reasons, on good input and on bad; only the cost may differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.core import (
    EpochBlocks,
    EpochHave,
    _parse_epoch_blocks,
)
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.wire import fast_parsers
from peoplenet.runtime.wire.codec import MAX_DEPTH, Record, Value, decode, encode, wire_type
from peoplenet.runtime.wire.fast_parsers import (
    array_header,
    bin_header,
    record_bytes,
    record_prefix_at,
)
from tests.strategies import mutate_bytes

# -- the usual EpochBlocks message, read inline -----------------------------------------------


LACE = b"c/" + b"\x05" * 32


def general(data: bytes) -> tuple[str, object]:
    try:
        return "ok", decode(data)
    except RemoteProtocolError as exc:
        return "err", exc.reason


def messages() -> list[bytes]:
    blobs = [b"", b"x", bytes(255), bytes(256), bytes(70_000)]
    return [
        encode(EpochBlocks(LACE, ())),
        encode(EpochBlocks(LACE, tuple(blobs))),
        encode(EpochBlocks(LACE, (b"\x01" * 40,) * 16)),
        encode(EpochBlocks(b"", (b"a",))),
    ]


def test_canonical_messages_take_the_fast_path_and_match_decode() -> None:
    for data in messages():
        fast = _parse_epoch_blocks(data)
        assert fast is not None
        assert ("ok", fast) == general(data)


def test_non_canonical_messages_are_left_to_decode() -> None:
    good = encode(EpochBlocks(LACE, (b"ab",)))
    assert good[3:5] == b"\x93\x41"
    for bad in (
        b"\xc8\x00" + good[1:],  # ext16 header for a short body
        good[:5] + b"\xc5\x00" + good[6:],  # lace as bin16 (and now one byte short)
        good[:-3] + b"\xc5\x00\x02ab",  # a block as bin16
        good + b"\x00",
        good[:-1],
    ):
        assert _parse_epoch_blocks(bad) is None
        assert general(bad)[0] == "err"
    too_many = encode(EpochBlocks(LACE, ()))[:-1] + b"\xdc\x00\x41" + b"\xc4\x00" * 65
    assert _parse_epoch_blocks(too_many) is None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    return mutate_bytes(draw, draw(st.sampled_from(messages()[:1] + messages()[2:])))


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_fast_parse_never_disagrees_with_decode(data: bytes) -> None:
    fast = _parse_epoch_blocks(data)
    if fast is not None:
        assert ("ok", fast) == general(data)


# -- canonical headers, written by hand -------------------------------------------------------


SIZES = [0, 1, 2, 3, 4, 5, 8, 15, 16, 17, 255, 256, 257, 65535, 65536]


def test_headers_are_the_ones_msgpack_writes() -> None:
    for size in SIZES:
        blob = b"x" * size
        assert bin_header(size) + blob == msgpack.packb(blob, use_bin_type=True)
        assert record_bytes(blob) == msgpack.packb(msgpack.ExtType(0x50, blob))
    for count in [0, 1, 15, 16, 17, 65535, 65536]:
        items = [None] * count
        assert array_header(count) + b"\xc0" * count == msgpack.packb(items)


# -- EpochBlocks in every header width --------------------------------------------------------


def layout_messages() -> list[bytes]:
    return [
        encode(EpochBlocks(LACE, (b"\x01" * 300,))),  # ext16, one bin16 block
        encode(EpochBlocks(LACE, (b"\x02" * 40, b"\x03" * 300, b""))),  # bin8, bin16, empty
        encode(EpochBlocks(b"", (b"a",))),  # ext8
        encode(EpochBlocks(LACE, (b"\x04" * 70_000,))),  # ext32: the general reader
        encode(EpochBlocks(LACE, (b"\x05",) * 20)),  # array16: the general reader
    ]


def test_usual_messages_parse_as_decode_does() -> None:
    for data in layout_messages():
        assert ("ok", _parse_epoch_blocks(data)) == general(data)


def test_non_canonical_headers_are_left_to_decode() -> None:
    good = encode(EpochBlocks(LACE, (b"\x01" * 300,)))
    lace_end = 4 + 4 + len(LACE)  # ext16 header, 93 41 c4 len, lace
    block_at = lace_end + 1
    assert good[block_at] == 0xC5
    short = encode(EpochBlocks(LACE, (b"\x01" * 40,)))
    for bad in (
        # a 40-byte block as bin16
        short[: lace_end + 1] + b"\xc5\x00\x28" + short[lace_end + 3 :],
        good[:-1],
        good + b"\x00",
        b"\xc9\x00\x00" + good[1:],  # ext32 header for a short body
    ):
        assert _parse_epoch_blocks(bad) is None
        assert general(bad)[0] == "err"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fast_message_parse_never_disagrees_with_decode(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(layout_messages()[:3]))
    mutated = data.draw(mutated_message(original))
    fast = _parse_epoch_blocks(mutated)
    if fast is not None:
        assert ("ok", fast) == general(mutated)


def mutated_message(original: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        return mutate_bytes(draw, original)

    return build()


# -- flat arrays and records read in place ----------------------------------------------------


@wire_type(1_701)  # third-party range: a tag wider than a fixint (uint16)
@dataclass(frozen=True, slots=True)
class WideTagged(Record):
    note: str
    items: tuple[int, ...]


@wire_type(71_001)  # uint32 tag
@dataclass(frozen=True, slots=True)
class WiderTagged(Record):
    txs: Value


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)


FLAT_ITEMS = SCALARS | st.lists(SCALARS, max_size=6).map(tuple)


FLAT = st.lists(FLAT_ITEMS, max_size=12).map(tuple)


BENCH_TXS = tuple(("tx", 3, i) for i in range(1000, 1008))


def general_at(data: bytes, depth: int) -> tuple[str, str]:
    """What :func:`decode` says of ``data`` nested ``depth`` arrays down (the general_at path),
    with the value's repr (``True`` and ``1`` compare equal; their reprs do not)."""
    wrapped = data
    for _ in range(depth):
        wrapped = b"\x91" + wrapped
    try:
        value = decode(wrapped)
    except RemoteProtocolError as exc:
        return "err", exc.reason
    for _ in range(depth):
        assert type(value) is tuple
        value = value[0]
    return "ok", repr(value)


ODD_ENCODINGS = [
    b"\x93\xa2tx\xcc\x01\x02",  # non-minimal uint8
    b"\x93\xa2tx\xd1\x01\x2c\x02",  # 300 as int16: same length as the canonical uint16
    b"\x92\xa2tx\xcb" + bytes(8),  # float64
    b"\x92\xa2tx\xca" + bytes(4),  # float32
    b"\xdc\x00\x02\x01\x02",  # array16 for two items
    b"\x91\x81\xa1a\x01",  # a map inside
    b"\x91\x82\xa1b\x01\xa1a\x02",  # a map with keys out of order
    b"\x91\x81\xc4\x01a\x01",  # a map with a bytes key
    b"\x91\xd6\xff" + bytes(4),  # a timestamp
    b"\x91\xd4\x05\x00",  # an unknown ext
    b"\x91\x91\x91\x01",  # three levels: not flat
    b"\x93\xd9\x02tx\x01\x02",  # str8 for a short string
    b"\x92\xa1\xff\x01",  # invalid UTF-8
    b"\x93\x01\x02",  # truncated
    b"\x91\x01\x02",  # trailing byte
    b"\xdd" + (70_000).to_bytes(4, "big") + b"\xc0" * 70_000,  # over MAX_CONTAINER_LEN
    b"\x91\xdd" + (70_000).to_bytes(4, "big") + b"\xc0" * 70_000,
]


def check_flat(data: bytes, depth: int) -> str | None:
    got = fast_parsers._flat_exact(data, depth)
    expected = general_at(data, depth)
    if got is not None:
        assert expected == ("ok", repr(got))
    return None if got is None else repr(got)


@pytest.mark.parametrize("data", ODD_ENCODINGS)
def test_flat_exact_refuses_what_is_not_canonical_or_not_flat(data: bytes) -> None:
    for depth in (0, 2, MAX_DEPTH - 2, MAX_DEPTH):
        assert check_flat(data, depth) is None


@settings(max_examples=300, deadline=None)
@given(FLAT, st.integers(0, MAX_DEPTH + 1))
def test_flat_exact_decodes_every_canonical_flat_array(value: Value, depth: int) -> None:
    data = encode(value)
    got = check_flat(data, depth)
    if depth + 2 <= MAX_DEPTH:
        assert got == repr(value)  # the fast path is taken, and gives the value
    else:
        assert got is None  # too deep for the flat rule: the general_at path decides


@st.composite
def mutated_flat(draw: st.DrawFn) -> bytes:
    return mutate_bytes(draw, encode(draw(FLAT)))


@settings(max_examples=400, deadline=None)
@given(st.one_of(mutated_flat(), st.binary(max_size=40), st.sampled_from(ODD_ENCODINGS)))
def test_flat_exact_never_disagrees_with_decode(data: bytes) -> None:
    for depth in (0, 1, MAX_DEPTH - 2, MAX_DEPTH - 1):
        check_flat(data, depth)


RECORDS: list[Value] = [
    RoundPayload(BENCH_TXS),
    RoundPayload(()),
    RoundPayload(("a", 1, None, (b"x", True))),
    RoundPayload(({"k": 1},)),
    RoundPayload(tuple(range(300))),  # ext16
    RoundPayload(((1, (2,)),)),  # not flat
    EpochBlocks(b"lace", (b"a", b"b" * 300)),
    EpochHave(b"lace", ((b"c" * 32, 1),), (b"w" * 32,)),
    WideTagged("n", (1, 2, 3)),
    WiderTagged(BENCH_TXS),
]


def check_record_at(data: bytes, start: int, stop: int, depth: int) -> bool:
    """record_prefix_at against the general_at decoder; True if it took the value."""
    found = record_prefix_at(data, start, stop, depth)
    if found is None:
        return False
    record, end = found
    assert start < end <= stop
    assert general_at(data[start:end], depth) == ("ok", repr(record))
    return True


@pytest.mark.parametrize("value", RECORDS, ids=lambda v: type(v).__name__)
def test_record_prefix_at_reads_records_in_place(value: Value) -> None:
    data = encode(value)
    framed = b"\xc0\xc0" + data + b"\x01\x02\x03"
    for depth in (0, 1, MAX_DEPTH - 4, MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH):
        accepted = general_at(data, depth)[0] == "ok"  # a canonical record, unless too deep
        assert accepted or depth > 1
        assert check_record_at(framed, 2, len(framed), depth) == accepted
        assert check_record_at(framed, 2, 2 + len(data), depth) == accepted
        assert not check_record_at(framed, 2, 1 + len(data), depth)  # cut short


def test_record_prefix_at_refuses_what_decode_refuses() -> None:
    payload = encode(RoundPayload(BENCH_TXS))
    for bad in [
        b"\xc7\x04\x50\x92\x40\x90",  # a body shorter than it says
        b"\xc8\x00\x03\x50\x92\x40\x90",  # ext16 for a small body
        b"\xd6\x50\x92\x40\x90\x00",  # fixext with trailing junk in the body
        b"\xc7\x03\x51\x92\x40\x90",  # another ext code
        b"\xc7\x03\x50\x92\x3f\x90",  # tag 63: no such record
        b"\xc7\x04\x50\x93\x40\x90\x90",  # a field too many
        b"\xc7\x04\x50\x92\xcc\x40\x90",  # a non-minimal tag
        payload.replace(b"\x98", b"\xdc\x00\x08"),  # array16 for the txs
        payload[:-1],
    ]:
        assert not check_record_at(bad, 0, len(bad), 1), bad.hex()
        with pytest.raises(RemoteProtocolError):
            decode(bad)


@st.composite
def mutated_records(draw: st.DrawFn) -> bytes:
    value = draw(st.sampled_from(RECORDS) | FLAT.map(RoundPayload))
    return mutate_bytes(draw, encode(value))


@settings(max_examples=400, deadline=None)
@given(mutated_records(), st.binary(max_size=3), st.binary(max_size=3))
def test_record_prefix_at_never_disagrees_with_decode(
    data: bytes, before: bytes, after: bytes
) -> None:
    framed = before + data + after
    for depth in (0, 1):
        check_record_at(framed, len(before), len(framed), depth)
        check_record_at(framed, len(before), len(before) + len(data), depth)


@pytest.mark.parametrize("value", RECORDS, ids=lambda v: type(v).__name__)
def test_record_tag_at_reads_the_tag_and_the_first_field_from_the_headers(value: Value) -> None:
    data = encode(value)
    found = fast_parsers.record_tag_at(data)
    assert found is not None
    tag, first = found
    assert isinstance(value, Record) and tag == value.wire_tag
    field = fast_parsers.decode_prefix(data[first:], depth=1)[0]
    assert field == getattr(value, dataclasses.fields(value)[0].name)  # type: ignore[arg-type]
    assert fast_parsers.record_tag_at(data[: first - 1]) is None  # cut inside the headers
