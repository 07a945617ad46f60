"""Blocks: signing, canonical parsing, and every self-contained validity rule.

Why: a block is the only thing a phone accepts from a peer, so each rule it can check on its
own must hold for crafted bytes too, not just for blocks this code built.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import peoplenet.runtime.lace.block as block_module
import peoplenet.runtime.wire.fast_parsers as fast_parsers
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import EncodeError, InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import (
    BLOCK_ID_LEN,
    MAX_BLOCK_SIZE,
    MAX_LACE_LEN,
    MAX_POINTERS,
    Block,
    BlockId,
    LaceId,
    block_id_of,
    verify_block,
)
from peoplenet.runtime.wire.codec import (
    RECORD_EXT,
    Value,
    decode_as,
    encode,
    encode_many_nested,
)
from tests.runtime.wire.test_fast_parsers import BENCH_TXS, FLAT, RECORDS
from tests.strategies import canonical_values, mutate_bytes

ALICE = Identity.from_seed(bytes(range(32)))
BOB = Identity.from_seed(b"\x01" * 32)
LACE = b"lace-1"
P1, P2, P3 = (bytes([i]) * BLOCK_ID_LEN for i in (1, 2, 3))


def make(payload: Value = "hi", pointers: tuple[bytes, ...] = (), lace: bytes = LACE) -> Block:
    return Block.create(ALICE, lace, payload, pointers)


def packb(obj: object) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def raw_block(**changes: Any) -> bytes:
    """A block's wire bytes, built field by field so that any field can be made invalid."""
    good = make({"n": 1}, (P1, P2))
    fields = {
        "creator": good.creator,
        "lace": good.lace,
        "payload": good.payload,
        "pointers": list(good.pointers),
        "signature": good.signature,
    }
    fields.update(changes)
    return packb(msgpack.ExtType(RECORD_EXT, packb([Block.wire_tag, *fields.values()])))


def invalid(data: bytes, reason: str) -> InvalidBlock:
    with pytest.raises(InvalidBlock) as info:
        Block.from_bytes(data)
    assert info.value.reason == reason, info.value
    return info.value


# -- creating and verifying -------------------------------------------------------------------


def test_create_and_verify() -> None:
    block = make({"amount": 5}, (P2, P1))
    assert block.creator == ALICE.member_id
    assert block.lace == LACE
    assert block.payload == {"amount": 5}
    assert block.pointers == (P1, P2)  # sorted on creation
    assert len(block.signature) == 64
    assert len(block.id) == BLOCK_ID_LEN
    assert block.id == block_id_of(ALICE.member_id, LACE, {"amount": 5}, (P1, P2))
    assert block.signature_ok()
    verify_block(block)
    assert not block.is_initial
    assert make().is_initial


def test_create_refuses_bad_arguments_as_local_errors() -> None:
    """The caller's own mistake must never look like a peer's fault."""
    bad: list[dict[str, Any]] = [
        {"lace": b""},
        {"lace": b"x" * (MAX_LACE_LEN + 1)},
        {"pointers": (b"short",)},
        {"pointers": (P1, P1)},
        {"pointers": tuple(i.to_bytes(BLOCK_ID_LEN, "big") for i in range(MAX_POINTERS + 1))},
    ]
    for kwargs in bad:
        with pytest.raises(LocalError) as info:
            make(**kwargs)
        assert not isinstance(info.value, RemoteProtocolError)


def test_create_refuses_unencodable_and_oversize_payloads() -> None:
    with pytest.raises(EncodeError):
        make(1.5)  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        make(b"x" * MAX_BLOCK_SIZE)


def _nested(levels: int) -> Value:
    value: Value = 1
    for _ in range(levels):
        value = (value,)
    return value


def test_create_counts_payload_depth_from_inside_the_block() -> None:
    """The payload sits at depth 1: create must refuse what every receiver would refuse."""
    deepest = next(k for k in range(40, 0, -1) if _fits(k))
    block = make(_nested(deepest))
    assert Block.from_bytes(block.to_bytes()).id == block.id
    with pytest.raises(EncodeError, match="nesting"):
        make(_nested(deepest + 1))


def _fits(levels: int) -> bool:
    try:
        make(_nested(levels))
    except EncodeError:
        return False
    return True


def test_largest_block_is_accepted_and_one_byte_more_is_not() -> None:
    probe = encode(dataclasses.replace(make(b""), payload=b"x" * 100_000))
    n = MAX_BLOCK_SIZE - (len(probe) - 100_000)  # overhead is constant for bin32 payloads
    block = make(b"x" * n)
    data = block.to_bytes()
    assert len(data) == MAX_BLOCK_SIZE
    assert Block.from_bytes(data) == block
    with pytest.raises(EncodeError):
        make(b"x" * (n + 1))
    big = Block(block.creator, block.lace, b"x" * (n + 1), block.pointers, block.signature)
    with pytest.raises(RemoteProtocolError) as info:
        Block.from_bytes(encode(big))
    assert info.value.reason == "oversize"


def test_golden_id() -> None:
    """Pins the id scheme (encoding, hash, personalisation): changing it forks every lace."""
    assert ALICE.member_id.hex() == (
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    )
    assert make({"n": 1}).id.hex() == (
        "e296cac06cefbe1351370d31684cdc99c9195cced508e03d4d8696fc7b2935f4"
    )


# -- parsing ----------------------------------------------------------------------------------


def test_from_bytes_round_trip_keeps_id_and_signature() -> None:
    block = make(("x", {"k": b"v"}), (P3, P1))
    data = block.to_bytes()
    back = Block.from_bytes(data)
    assert back == block
    assert back.id == block.id
    assert back.id == block_id_of(back.creator, back.lace, back.payload, back.pointers)
    assert back.signature == block.signature
    assert back.to_bytes() == data
    verify_block(back)
    for like in (bytearray(data), memoryview(data)):
        assert Block.from_bytes(like).id == block.id  # type: ignore[arg-type]


def test_id_is_right_across_ext_header_widths() -> None:
    """Blocks of every size class (ext8, ext16, ext32) parse to the id they were signed with."""
    seen = set()
    for n in [*range(130, 160), *range(65_400, 65_440), 200_000]:
        block = make(b"\x07" * n)
        data = block.to_bytes()
        assert data == encode(block)
        seen.add(data[0])
        back = Block.from_bytes(data)
        assert back.id == block.id
        assert back.id == block_id_of(back.creator, back.lace, back.payload, back.pointers)
    assert seen == {0xC7, 0xC8, 0xC9}


def test_from_bytes_requires_a_block() -> None:
    for value in (1, ("a",), {"creator": ALICE.member_id}):
        with pytest.raises(RemoteProtocolError) as info:
            Block.from_bytes(encode(value))
        assert info.value.reason == "wrong_type"
    with pytest.raises(RemoteProtocolError) as info:
        Block.from_bytes(make().to_bytes()[:-1])
    assert info.value.reason == "truncated"


def test_raw_block_helper_builds_valid_bytes() -> None:
    assert raw_block() == make({"n": 1}, (P1, P2)).to_bytes()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"pointers": [P2, P1]}, "unsorted_pointers"),
        ({"pointers": [P1, P1]}, "unsorted_pointers"),
        ({"pointers": [P1, P3, P2]}, "unsorted_pointers"),
        ({"pointers": [P1[:-1]]}, "bad_pointer"),
        ({"pointers": [P1 + b"\x00"]}, "bad_pointer"),
        ({"pointers": [b""]}, "bad_pointer"),
        (
            {"pointers": [i.to_bytes(32, "big") for i in range(MAX_POINTERS + 1)]},
            "too_many_pointers",
        ),
        ({"lace": b""}, "bad_lace"),
        ({"lace": b"x" * (MAX_LACE_LEN + 1)}, "bad_lace"),
        ({"creator": ALICE.member_id[:-1]}, "bad_creator"),
        ({"creator": ALICE.member_id + b"\x00"}, "bad_creator"),
        ({"creator": b""}, "bad_creator"),
        ({"signature": b"\x00" * 63}, "bad_signature"),
        ({"signature": b"\x00" * 65}, "bad_signature"),
        ({"signature": b""}, "bad_signature"),
    ],
)
def test_malformed_blocks_are_invalid_on_decode(changes: dict[str, object], reason: str) -> None:
    invalid(raw_block(**changes), reason)


def test_boundary_shapes_are_valid() -> None:
    shapes: list[dict[str, object]] = [
        {"lace": b"x"},
        {"lace": b"x" * MAX_LACE_LEN},
        {"pointers": []},
        {"pointers": [i.to_bytes(32, "big") for i in range(MAX_POINTERS)]},
    ]
    for changes in shapes:
        block = Block.from_bytes(raw_block(**changes))
        assert not block.signature_ok()  # shaped right, but nobody signed this content


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"creator": "alice"}, "bad_field"),
        ({"lace": "lace-1"}, "bad_field"),
        ({"pointers": P1}, "bad_field"),
        ({"pointers": ["x" * 32]}, "bad_field"),
        ({"signature": None}, "bad_field"),
        ({"payload": 1.5}, "not_canonical"),
    ],
)
def test_wrongly_typed_fields(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        Block.from_bytes(raw_block(**changes))
    assert info.value.reason == reason


def test_wrong_field_count() -> None:
    good = make()
    for items in (
        [good.creator, good.lace, good.payload, list(good.pointers)],
        [good.creator, good.lace, good.payload, list(good.pointers), good.signature, 0],
    ):
        data = packb(msgpack.ExtType(RECORD_EXT, packb([Block.wire_tag, *items])))
        with pytest.raises(RemoteProtocolError) as info:
            Block.from_bytes(data)
        assert info.value.reason == "bad_record"


def test_oversize_bytes_are_refused_before_parsing() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        Block.from_bytes(b"\xc0" * (MAX_BLOCK_SIZE + 1))
    assert info.value.reason == "oversize"


# -- forgery ----------------------------------------------------------------------------------


def forged(block: Block) -> InvalidBlock:
    assert not block.signature_ok()
    with pytest.raises(InvalidBlock) as info:
        verify_block(block)
    assert info.value.reason == "forged_signature"
    assert info.value.block_id == block.id
    return info.value


def test_signed_by_another_key() -> None:
    good = make("pay 5")
    forged(dataclasses.replace(good, signature=BOB.sign(good.id)))
    forged(dataclasses.replace(good, creator=BOB.member_id))


@pytest.mark.parametrize("at", [0, 1, 31, 32, 63])
def test_flipped_signature_byte(at: int) -> None:
    good = make("pay 5")
    sig = bytearray(good.signature)
    sig[at] ^= 0x01
    forged(dataclasses.replace(good, signature=bytes(sig)))


def test_payload_changed_after_signing() -> None:
    good = make({"amount": 5}, (P1,))
    forged(dataclasses.replace(good, payload={"amount": 500}))
    forged(dataclasses.replace(good, lace=LaceId(b"lace-2")))
    forged(dataclasses.replace(good, pointers=(BlockId(P2),)))
    # The same tampering done on the wire: the bytes parse, the signature does not verify.
    tampered = Block.from_bytes(raw_block(payload={"n": 2}))
    forged(tampered)


def test_garbage_creator_key_is_a_forgery_not_a_crash() -> None:
    good = make()
    for creator in (b"\xff" * 32, b"\x00" * 32, b"\x01" + b"\x00" * 31):
        forged(dataclasses.replace(good, creator=MemberId(creator)))


# -- ids --------------------------------------------------------------------------------------


def test_id_changes_with_every_field() -> None:
    base = make(1, (P1,))
    variants = [
        base,
        Block.create(BOB, LACE, 1, (P1,)),
        make(1, (P1,), lace=b"lace-2"),
        make(2, (P1,)),
        make(True, (P1,)),
        make("1", (P1,)),
        make(b"1", (P1,)),
        make((1,), (P1,)),
        make(None, (P1,)),
        make(1, ()),
        make(1, (P1, P2)),
        make(1, (P2,)),
    ]
    assert len({b.id for b in variants}) == len(variants)


def test_signature_is_not_part_of_the_id() -> None:
    base = make()
    other = dataclasses.replace(base, signature=b"\x00" * 64)
    assert other.id == base.id
    assert other != base


payloads = canonical_values()


@settings(max_examples=150, deadline=None)
@given(
    payloads,
    st.lists(st.binary(min_size=32, max_size=32), max_size=4, unique=True),
    st.binary(min_size=1, max_size=MAX_LACE_LEN),
)
def test_random_blocks_round_trip(payload: Value, pointers: list[bytes], lace: bytes) -> None:
    block = Block.create(ALICE, lace, payload, tuple(pointers))
    assert block.to_bytes() == encode(block)  # create builds the bytes itself: must agree
    back = Block.from_bytes(block.to_bytes())
    assert back == block
    assert back.id == block.id
    assert back.pointers == tuple(sorted(pointers))
    verify_block(back)


# -- the fast canonical path of from_bytes ----------------------------------------------------
#
# ``Block.from_bytes`` parses canonical bytes by hand and sends everything else to the generic
# decoder.  These tests hold it to that: the same answer as ``decode_as`` for any input, and
# refusal of every non-canonical spelling of a real block.


def bin8(x: bytes) -> bytes:
    return b"\xc4" + bytes([len(x)]) + x


def bin16(x: bytes) -> bytes:
    return b"\xc5" + len(x).to_bytes(2, "big") + x


def ext(body: bytes, width: int | None = None) -> bytes:
    """Ext 0x50 around ``body``: the canonical header, or a forced 1/2/4-byte length."""
    if width is None:
        width = 1 if len(body) < 0x100 else 2 if len(body) < 0x10000 else 4
    kind = {1: b"\xc7", 2: b"\xc8", 4: b"\xc9"}[width]
    return kind + len(body).to_bytes(width, "big") + bytes([RECORD_EXT]) + body


def spelled(block: Block, **parts: bytes) -> bytes:
    """The block's bytes from parts; any part can be replaced by another spelling."""
    default = {
        "head": b"\x96\x01",
        "creator": bin8(block.creator),
        "lace": bin8(block.lace),
        "payload": encode(block.payload),
        "count": bytes([0x90 + len(block.pointers)]),
        "pointers": b"".join(bin8(p) for p in block.pointers),
        "signature": bin8(block.signature),
    }
    default.update(parts)
    return ext(b"".join(default.values()))


SAMPLE = make(("tx", 1, 2), (P1, P2, P3))


def test_spelled_helper_gives_the_canonical_bytes() -> None:
    assert spelled(SAMPLE) == SAMPLE.to_bytes()
    assert fast_outcome(spelled(SAMPLE)) == slow_outcome(spelled(SAMPLE))


@pytest.mark.parametrize(
    "parts",
    [
        {"head": b"\xdc\x00\x06\x01"},  # body array as array16
        {"head": b"\x96\xcc\x01"},  # tag as uint8
        {"creator": bin16(SAMPLE.creator)},
        {"lace": bin16(SAMPLE.lace)},
        {"lace": b"\xc6" + len(SAMPLE.lace).to_bytes(4, "big") + SAMPLE.lace},
        {"payload": b"\xdc\x00\x03\xa2tx\x01\x02"},  # array16 for 3 items
        {"payload": b"\x93\xd9\x02tx\x01\x02"},  # str8 for a 2-byte string
        {"payload": b"\x93\xa2tx\xcb" + bytes(8) + b"\x02"},  # a float
        {"payload": b"\x82\xa1b\x01\xa1a\x02"},  # map keys out of order
        {"payload": b"\xd6\x50\x93\x40\x90\x00"},  # a record with trailing junk
        {"count": b"\xdc\x00\x03"},  # array16 for 3 pointers
        {"count": b"\xdd\x00\x00\x00\x03"},
        {"pointers": bin16(P1) + bin8(P2) + bin8(P3)},
        {"signature": bin16(SAMPLE.signature)},
    ],
)
def test_non_canonical_spellings_are_refused_like_decode_as(parts: dict[str, bytes]) -> None:
    data = spelled(SAMPLE, **parts)
    assert data != SAMPLE.to_bytes()
    outcome = fast_outcome(data)
    assert outcome[0] == "err"
    assert outcome == slow_outcome(data)


def test_non_minimal_payload_int_is_refused() -> None:
    block = make(("tx", 1, 2))
    canonical = encode(block.payload)
    assert canonical == b"\x93\xa2tx\x01\x02"
    data = spelled(block, payload=b"\x93\xa2tx\xcc\x01\x02")
    assert fast_outcome(data) == ("err", (RemoteProtocolError, "not_canonical"))
    assert fast_outcome(data) == slow_outcome(data)


def test_wider_ext_header_is_refused() -> None:
    body = SAMPLE.to_bytes()[3:]
    for width in (2, 4):
        data = ext(body, width)
        assert fast_outcome(data) == ("err", (RemoteProtocolError, "not_canonical"))
        assert fast_outcome(data) == slow_outcome(data)


def test_semantic_faults_get_decode_as_reasons() -> None:
    cases = {
        "unsorted_pointers": {"pointers": bin8(P2) + bin8(P1) + bin8(P3)},
        "bad_pointer": {"pointers": bin8(P1) + bin8(P2) + bin8(P3[:31])},
        "bad_lace": {"lace": bin8(b"x" * (MAX_LACE_LEN + 1))},
        "bad_signature": {"signature": bin8(SAMPLE.signature[:63])},
    }
    for reason, parts in cases.items():
        data = spelled(SAMPLE, **parts)
        outcome = fast_outcome(data)
        assert outcome == slow_outcome(data)
        assert outcome[0] == "err" and outcome[1][1] == reason  # type: ignore[index]


def test_trailing_and_missing_bytes_are_refused() -> None:
    data = SAMPLE.to_bytes()
    for bad in (data + b"\x00", data[:-1], data[:40], ext(data[3:] + b"\xc0")):
        outcome = fast_outcome(bad)
        assert outcome[0] == "err"
        assert outcome == slow_outcome(bad)


def test_fast_path_is_taken_for_canonical_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canonical blocks never reach the generic decoder; anything else always does."""
    calls: list[bytes] = []

    def counting(cls: type[Block], data: bytes, *, max_size: int) -> Block:
        calls.append(data)
        return decode_as(cls, data, max_size=max_size)

    monkeypatch.setattr(block_module, "decode_as", counting)
    for block in (SAMPLE, make(b"\x07" * 70_000), make({"k": (1, None, True)}, (P1,))):
        assert Block.from_bytes(block.to_bytes()) == block
    assert calls == []
    bad = spelled(SAMPLE, count=b"\xdc\x00\x03")
    with pytest.raises(RemoteProtocolError):
        Block.from_bytes(bad)
    assert calls == [bad]


@st.composite
def mutated_blocks(draw: st.DrawFn) -> bytes:
    """A real block's bytes with a few bytes flipped, inserted, removed or cut off."""
    choices: list[Value] = [("tx", 1, 2), {"n": 1}, b"\x00" * 300, None, ("a", (1,))]
    payload = draw(st.sampled_from(choices))
    pointers = draw(
        st.sampled_from([(), (P1,), (P1, P2, P3), tuple(bytes([i]) * 32 for i in range(20))])
    )
    return mutate_bytes(draw, make(payload, pointers).to_bytes())


@settings(max_examples=400, deadline=None)
@given(mutated_blocks())
def test_fast_path_agrees_with_decode_as_on_mutations(data: bytes) -> None:
    assert fast_outcome(data) == slow_outcome(data)


def test_every_cut_of_a_real_block_gets_the_generic_answer() -> None:
    """Short input never reaches past its end on the fast path (no IndexError, same reason)."""
    data = make(("tx", 1, 2), (P1, P2)).to_bytes()
    body = data[3:]
    assert data[:3] == block_module._ext_header(len(body))
    for end in range(len(data)):
        cut = data[:end]  # every proper prefix
        assert fast_outcome(cut) == slow_outcome(cut)
        # The body cut short under a header that says so: canonical framing, short content.
        framed = block_module._ext_header(end) + body[:end]
        assert fast_outcome(framed) == slow_outcome(framed)
        assert fast_outcome(framed)[0] == ("ok" if end == len(body) else "err")


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


# -- blocks with round payloads: parsed in place, created from encoded parts ------------------


EPOCH_LACE = hashlib.blake2b(b"epoch", digest_size=32).digest()


def pointers(count: int) -> tuple[bytes, ...]:
    return tuple(sorted(hashlib.blake2b(bytes([i]), digest_size=32).digest() for i in range(count)))


BENCH_PAYLOAD = RoundPayload(BENCH_TXS)


def bench_block(payload: Value = BENCH_PAYLOAD, count: int = 3) -> Block:
    return Block.create(ALICE, EPOCH_LACE, payload, pointers(count))


@st.composite
def mutated_round_blocks(draw: st.DrawFn) -> bytes:
    payload = draw(st.sampled_from(RECORDS) | FLAT.map(RoundPayload))
    count = draw(st.sampled_from([0, 1, 3, 15, 16, 20]))
    return mutate_bytes(draw, bench_block(payload, count).to_bytes())


@settings(max_examples=500, deadline=None)
@given(mutated_round_blocks())
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
    monkeypatch.setattr(fast_parsers, "decode_prefix", no_decode_prefix)
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
        ALICE, EPOCH_LACE, RoundPayload(tuple(txs)), payload_raw, pointers(count)
    )
    assert block == Block.create(ALICE, EPOCH_LACE, RoundPayload(tuple(txs)), pointers(count))
    assert fast_outcome(block.to_bytes()) == slow_outcome(block.to_bytes())


@settings(max_examples=60, deadline=None)
@given(canonical_values(), st.integers(0, 70), st.binary(min_size=1, max_size=64))
def test_create_encoded_is_create(payload: object, count: int, lace: bytes) -> None:
    pointers = tuple(os.urandom(32) for _ in range(count))
    made = Block.create_encoded(BOB, lace, payload, encode(payload), pointers)  # type: ignore[arg-type]
    assert made.to_bytes() == encode(made)
    assert made.id == block_id_of(made.creator, lace, made.payload, made.pointers)
    assert made.signature_ok()
    again = Block.from_bytes(made.to_bytes())
    assert again == made and again.id == made.id


def test_create_still_refuses_bad_arguments() -> None:
    with pytest.raises(LocalError):
        Block.create(BOB, b"", (), ())  # empty lace
    with pytest.raises(LocalError):
        Block.create(BOB, LACE, (), (b"short",))
    with pytest.raises(LocalError):
        Block.create(BOB, LACE, (), (b"\x01" * 32, b"\x01" * 32))
