"""Round 4 of consensus speed: the receiver's parse and the creator's encoding.

Why: every fast path here (a flat array decoded in one msgpack call, a record read in place
inside a block, a block assembled from its parts) must accept and refuse exactly what the
general decoder does, with the same values and the same reasons; only the cost may differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import peoplenet.runtime.lace.block as block_module
import peoplenet.runtime.wire.codec as codec
from peoplenet.runtime.consensus.core import EpochBlocks, EpochHave
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import MAX_BLOCK_SIZE, Block, block_id_of
from peoplenet.runtime.wire.codec import (
    MAX_DEPTH,
    Record,
    Value,
    decode,
    decode_as,
    encode,
    encode_many_nested,
    record_prefix_at,
    wire_type,
)
from tests.strategies import canonical_values, mutate_bytes


@wire_type(1_701)  # third-party range: a tag wider than a fixint (uint16)
@dataclass(frozen=True, slots=True)
class WideTagged(Record):
    note: str
    items: tuple[int, ...]


@wire_type(71_001)  # uint32 tag
@dataclass(frozen=True, slots=True)
class WiderTagged(Record):
    txs: Value


ALICE = Identity.from_seed(bytes(range(32)))
LACE = hashlib.blake2b(b"epoch", digest_size=32).digest()
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


def general(data: bytes, depth: int) -> tuple[str, str]:
    """What :func:`decode` says of ``data`` nested ``depth`` arrays down (the general path),
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
    got = codec._flat_exact(data, depth)
    expected = general(data, depth)
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
        assert got is None  # too deep for the flat rule: the general path decides


@st.composite
def mutated_flat(draw: st.DrawFn) -> bytes:
    return mutate_bytes(draw, encode(draw(FLAT)))


@settings(max_examples=400, deadline=None)
@given(st.one_of(mutated_flat(), st.binary(max_size=40), st.sampled_from(ODD_ENCODINGS)))
def test_flat_exact_never_disagrees_with_decode(data: bytes) -> None:
    for depth in (0, 1, MAX_DEPTH - 2, MAX_DEPTH - 1):
        check_flat(data, depth)


# -- records read in place -------------------------------------------------------------------


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
    """record_prefix_at against the general decoder; True if it took the value."""
    found = record_prefix_at(data, start, stop, depth)
    if found is None:
        return False
    record, end = found
    assert start < end <= stop
    assert general(data[start:end], depth) == ("ok", repr(record))
    return True


@pytest.mark.parametrize("value", RECORDS, ids=lambda v: type(v).__name__)
def test_record_prefix_at_reads_records_in_place(value: Value) -> None:
    data = encode(value)
    framed = b"\xc0\xc0" + data + b"\x01\x02\x03"
    for depth in (0, 1, MAX_DEPTH - 4, MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH):
        accepted = general(data, depth)[0] == "ok"  # a canonical record, unless too deep
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


# -- blocks ----------------------------------------------------------------------------------


def slow_outcome(data: bytes) -> tuple[str, object]:
    try:
        block = decode_as(Block, data, max_size=MAX_BLOCK_SIZE)
    except RemoteProtocolError as exc:
        return "err", (type(exc), exc.reason)
    bid = block_id_of(block.creator, block.lace, block.payload, block.pointers)
    return "ok", (block, repr(block.payload), bid)


def fast_outcome(data: bytes) -> tuple[str, object]:
    try:
        block = Block.from_bytes(data)
    except RemoteProtocolError as exc:
        return "err", (type(exc), exc.reason)
    assert block.to_bytes() == data
    return "ok", (block, repr(block.payload), block.id)


def pointers(count: int) -> tuple[bytes, ...]:
    return tuple(sorted(hashlib.blake2b(bytes([i]), digest_size=32).digest() for i in range(count)))


BENCH_PAYLOAD = RoundPayload(BENCH_TXS)


def bench_block(payload: Value = BENCH_PAYLOAD, count: int = 3) -> Block:
    return Block.create(ALICE, LACE, payload, pointers(count))


@st.composite
def mutated_blocks(draw: st.DrawFn) -> bytes:
    payload = draw(st.sampled_from(RECORDS) | FLAT.map(RoundPayload))
    count = draw(st.sampled_from([0, 1, 3, 15, 16, 20]))
    return mutate_bytes(draw, bench_block(payload, count).to_bytes())


@settings(max_examples=500, deadline=None)
@given(mutated_blocks())
def test_from_bytes_with_round_payloads_agrees_with_decode_as(data: bytes) -> None:
    assert fast_outcome(data) == slow_outcome(data)


def test_usual_blocks_never_reach_the_general_decoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bench block is parsed without decode_as and without decode_prefix (read in place)."""
    calls: list[str] = []

    def no_decode_as(*args: object, **kwargs: object) -> None:
        calls.append("decode_as")

    def no_decode_prefix(*args: object, **kwargs: object) -> None:
        calls.append("decode_prefix")

    monkeypatch.setattr(block_module, "decode_as", no_decode_as)
    monkeypatch.setattr(block_module, "decode_prefix", no_decode_prefix)
    monkeypatch.setattr(codec, "decode_prefix", no_decode_prefix)
    for count in (0, 3, 16):
        for payload in (RoundPayload(BENCH_TXS), RoundPayload(()), RoundPayload(("a", b"b"))):
            block = bench_block(payload, count)
            parsed = Block.from_bytes(block.to_bytes())
            assert parsed == block and parsed.id == block.id
    assert calls == []


@pytest.mark.parametrize(
    "payload",
    [
        RoundPayload(BENCH_TXS),
        RoundPayload(({"a": 1}, ("x", -1))),
        ("plain", 1),
        {"map": (1, 2)},
        RoundPayload((("tx", b"\x00" * 2_000, 5),)),
    ],
    ids=repr,
)
def test_canonical_blocks_parse_as_decode_as(payload: Value) -> None:
    for count in (0, 1, 15, 16, 17):
        data = bench_block(payload, count).to_bytes()
        assert fast_outcome(data) == slow_outcome(data)
        assert fast_outcome(data)[0] == "ok"


# -- the creator's side ----------------------------------------------------------------------


@pytest.mark.parametrize("lace_len", [1, 32, 64])
@pytest.mark.parametrize("count", [0, 1, 15, 16, 17])
def test_create_encoded_across_header_widths(lace_len: int, count: int) -> None:
    """Body sizes on both sides of the ext8/ext16 and ext16/ext32 boundaries."""
    lace = bytes([7]) * lace_len
    base = len(Block.create(ALICE, lace, b"", pointers(count)).to_bytes())
    for target in (0xFF, 0x100, 0x101, 0xFFFF, 0x10000, 0x10001):
        for slack in (-2, -1, 0, 1, 2):
            blob = b"\x05" * max(0, target - base + 3 + slack)
            payload_raw = encode(blob)
            block = Block.create_encoded(ALICE, lace, blob, payload_raw, pointers(count))
            assert block.to_bytes() == encode(block)
            assert block.id == block_id_of(block.creator, block.lace, blob, block.pointers)
            assert block.signature_ok()
            again = Block.from_bytes(block.to_bytes())
            assert again == block and again.id == block.id


def test_create_encoded_odd_arguments_take_the_general_path() -> None:
    raw = encode(RoundPayload(BENCH_TXS))
    lace: bytes = bytearray(b"lace")  # type: ignore[assignment]  # a caller's odd argument
    odd = Block.create_encoded(ALICE, lace, RoundPayload(BENCH_TXS), raw)
    assert odd.to_bytes() == encode(odd) and type(odd.lace) is bytes
    assert odd == Block.create(ALICE, b"lace", RoundPayload(BENCH_TXS))
    with pytest.raises(LocalError):
        Block.create_encoded(ALICE, b"", RoundPayload(()), encode(RoundPayload(())))
    with pytest.raises(LocalError):
        Block.create_encoded(ALICE, b"x" * 65, RoundPayload(()), encode(RoundPayload(())))
    with pytest.raises(LocalError):
        Block.create_encoded(ALICE, b"l", 1, b"\x01", (b"p" * 32, b"p" * 32))
    with pytest.raises(LocalError):
        Block.create_encoded(ALICE, b"l", 1, b"\x01", (b"p" * 31,))


@settings(max_examples=100, deadline=None)
@given(st.lists(canonical_values(), max_size=10), st.integers(0, 20))
def test_block_of_encoded_txs_is_the_block_of_the_txs(txs: list[Value], count: int) -> None:
    encoded = encode_many_nested(txs, 3)
    payload_raw = encode(RoundPayload(tuple(txs)))
    assert payload_raw.endswith(b"".join(encoded))
    block = Block.create_encoded(
        ALICE, LACE, RoundPayload(tuple(txs)), payload_raw, pointers(count)
    )
    assert block == Block.create(ALICE, LACE, RoundPayload(tuple(txs)), pointers(count))
    assert fast_outcome(block.to_bytes()) == slow_outcome(block.to_bytes())
