"""Round 3's fast paths give exactly what the general paths give, on good input and on bad.

Why: each exists only for speed -- encodings assembled from already-encoded parts, a block
built without re-checking what its layout guarantees, store rows without ``StoredBlock``
objects, a hand-read message, set-based graph walks -- so each is pinned to the path it
short-cuts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.consensus.core import (
    EpochBlocks,
    _parse_epoch_blocks,
    _round_payload_bytes,
    epoch_blocks_bytes,
)
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, block_id_of
from peoplenet.runtime.lace.blocklace import Blocklace, _row_writer
from peoplenet.runtime.lace.store import MemoryStore, SqliteStore
from peoplenet.runtime.lace.store_api import StoredBlock
from peoplenet.runtime.wire.codec import (
    MAX_DEPTH,
    Value,
    array_header,
    bin_header,
    decode,
    encode,
    encode_many_nested,
    encode_nested,
    record_bytes,
)
from tests.strategies import canonical_values, mutate_bytes

ALICE = Identity.from_seed(b"\x01" * 32)
LACE = b"c/" + b"\x05" * 32
SIZES = [0, 1, 2, 3, 4, 5, 8, 15, 16, 17, 255, 256, 257, 65535, 65536]


# -- codec writers --------------------------------------------------------------------------


def test_headers_are_the_ones_msgpack_writes() -> None:
    for size in SIZES:
        blob = b"x" * size
        assert bin_header(size) + blob == msgpack.packb(blob, use_bin_type=True)
        assert record_bytes(blob) == msgpack.packb(msgpack.ExtType(0x50, blob))
    for count in [0, 1, 15, 16, 17, 65535, 65536]:
        items = [None] * count
        assert array_header(count) + b"\xc0" * count == msgpack.packb(items)


def _outcome(f: object) -> object:
    assert callable(f)
    try:
        return f()
    except EncodeError:
        return "refused"


@settings(max_examples=60, deadline=None)
@given(st.lists(canonical_values(), max_size=6), st.integers(0, MAX_DEPTH + 1))
def test_encode_many_nested_is_encode_nested_of_each(values: list[object], depth: int) -> None:
    many = _outcome(lambda: encode_many_nested(values, depth))
    each = _outcome(lambda: [encode_nested(v, depth) for v in values])
    assert many == each


def test_encode_many_nested_refuses_what_encode_refuses() -> None:
    for bad in [("x", 2**64), ("x", 1.5), (-(2**63) - 1,), 2**70, ("a", object())]:
        with pytest.raises(EncodeError):
            encode_many_nested([("ok", 1), bad], 3)
        with pytest.raises(EncodeError):
            encode_nested(bad, 3)
    # A flat tuple fits one level above the limit, not at it.
    assert encode_many_nested([(1, 2)], MAX_DEPTH - 1) == [encode((1, 2))]
    with pytest.raises(EncodeError):
        encode_many_nested([(1, 2)], MAX_DEPTH)


@settings(max_examples=60, deadline=None)
@given(st.lists(canonical_values(), max_size=20))
def test_round_payload_bytes_is_the_payload_encoding(txs: list[Value]) -> None:
    encoded = [encode(tx) for tx in txs]
    assert _round_payload_bytes(encoded) == encode(RoundPayload(tuple(txs)))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.lists(st.sampled_from(SIZES[:12]), max_size=5))
def test_epoch_blocks_bytes_is_the_message_encoding(lace: bytes, sizes: list[int]) -> None:
    raws = tuple(os.urandom(size) for size in sizes)
    data = epoch_blocks_bytes(lace, raws)
    assert data == encode(EpochBlocks(lace, raws))
    assert _parse_epoch_blocks(data) == EpochBlocks(lace, raws)


def test_epoch_blocks_bytes_refuses_too_many_blocks() -> None:
    with pytest.raises(LocalError):
        epoch_blocks_bytes(LACE, (b"x",) * 65)


# -- the hand-read message ------------------------------------------------------------------


def _messages() -> list[bytes]:
    return [
        encode(EpochBlocks(LACE, (b"\x01" * 300,))),  # ext16, one bin16 block
        encode(EpochBlocks(LACE, (b"\x02" * 40, b"\x03" * 300, b""))),  # bin8, bin16, empty
        encode(EpochBlocks(b"", (b"a",))),  # ext8
        encode(EpochBlocks(LACE, (b"\x04" * 70_000,))),  # ext32: the general reader
        encode(EpochBlocks(LACE, (b"\x05",) * 20)),  # array16: the general reader
    ]


def _general(data: bytes) -> tuple[str, object]:
    try:
        return "ok", decode(data)
    except RemoteProtocolError as exc:
        return "err", exc.reason


def test_usual_messages_parse_as_decode_does() -> None:
    for data in _messages():
        assert ("ok", _parse_epoch_blocks(data)) == _general(data)


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
        assert _general(bad)[0] == "err"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fast_message_parse_never_disagrees_with_decode(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(_messages()[:3]))
    mutated = data.draw(_mutated(original))
    fast = _parse_epoch_blocks(mutated)
    if fast is not None:
        assert ("ok", fast) == _general(mutated)


def _mutated(original: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        return mutate_bytes(draw, original)

    return build()


# -- blocks ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(canonical_values(), st.integers(0, 70), st.binary(min_size=1, max_size=64))
def test_create_encoded_is_create(payload: object, count: int, lace: bytes) -> None:
    pointers = tuple(os.urandom(32) for _ in range(count))
    made = Block.create_encoded(ALICE, lace, payload, encode(payload), pointers)  # type: ignore[arg-type]
    assert made.to_bytes() == encode(made)
    assert made.id == block_id_of(made.creator, lace, made.payload, made.pointers)
    assert made.signature_ok()
    again = Block.from_bytes(made.to_bytes())
    assert again == made and again.id == made.id


def test_create_still_refuses_bad_arguments() -> None:
    with pytest.raises(LocalError):
        Block.create(ALICE, b"", (), ())  # empty lace
    with pytest.raises(LocalError):
        Block.create(ALICE, LACE, (), (b"short",))
    with pytest.raises(LocalError):
        Block.create(ALICE, LACE, (), (b"\x01" * 32, b"\x01" * 32))


# -- store rows -----------------------------------------------------------------------------


def _rows(n: int) -> list[tuple[bytes, bytes, bytes, int, int, bytes]]:
    return [
        (bytes([i]) * 32, LACE, bytes([i % 3]) * 32, i // 3, i // 2, b"raw%d" % i) for i in range(n)
    ]


def _same_contents(a: MemoryStore | SqliteStore, b: MemoryStore | SqliteStore) -> None:
    assert list(a.iter_blocks()) == list(b.iter_blocks())
    for creator in (bytes([c]) * 32 for c in range(3)):
        assert a.ids_by_creator(LACE, creator) == b.ids_by_creator(LACE, creator)
    assert a.ids_by_depth(LACE, 0, 99) == b.ids_by_depth(LACE, 0, 99)
    assert a.ids_by_depth(LACE, 2, 3) == b.ids_by_depth(LACE, 2, 3)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_put_rows_stores_what_put_many_stores(kind: str, tmp_path: Path) -> None:
    def store(name: str) -> MemoryStore | SqliteStore:
        return MemoryStore() if kind == "memory" else SqliteStore(tmp_path / name)

    rows = _rows(10)
    by_rows, by_blocks = store("a"), store("b")
    try:
        # out of order, and twice: the indexes must still come out sorted, the ids once
        for batch in (rows[5:], rows[:7]):
            by_rows.put_rows(batch)
            by_blocks.put_many([StoredBlock(*r) for r in batch])
        _same_contents(by_rows, by_blocks)
        assert by_rows.get_raw(rows[3][0]) == b"raw3"
    finally:
        by_rows.close()
        by_blocks.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_put_rows_refuses_a_bad_batch_whole(kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "s")
    try:
        good = _rows(2)
        bads: list[Sequence[object]] = [
            (b"x" * 31, LACE, b"c" * 32, 0, 0, b"r"),
            (b"x" * 32, b"", b"c" * 32, 0, 0, b"r"),
            (b"x" * 32, LACE, b"c" * 32, -1, 0, b"r"),
            (b"x" * 32, LACE, b"c" * 32, 0, 0, "r"),
            (b"x" * 32, LACE, b"c" * 32, 0, 0),
            [b"x" * 32, LACE, b"c" * 32, 0, 0, b"r"],
        ]
        for bad in bads:
            with pytest.raises(LocalError):
                store.put_rows([*good, bad])  # type: ignore[list-item]
        assert len(store) == 0
    finally:
        store.close()


class _OwnPutMany(MemoryStore):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        self.seen += len(blocks)
        super().put_many(blocks)


def test_blocklace_writes_rows_only_where_put_many_is_the_stores_own() -> None:
    assert _row_writer(MemoryStore()) is not None
    own = _OwnPutMany()
    assert _row_writer(own) is None
    bl = Blocklace(own)
    block = Block.create(ALICE, LACE, (), ())
    bl.add(block)
    assert own.seen == 1 and own.get_raw(block.id) == block.to_bytes()


# -- set-based walks ------------------------------------------------------------------------


def _reference_closure(bl: Blocklace, start: bytes, min_depth: int) -> set[bytes]:
    out, stack = {start}, [start]
    while stack:
        for p in bl.meta(stack.pop()).pointers:  # type: ignore[arg-type]
            if p not in out and bl.meta(p).depth >= min_depth:
                out.add(p)
                stack.append(p)
    return out


def test_closure_is_the_depth_pruned_reachable_set() -> None:
    members = [Identity.from_seed(bytes([i + 2]) * 32) for i in range(4)]
    bl = Blocklace(MemoryStore())
    latest: list[bytes] = []
    for rnd in range(6):
        made = []
        for i, m in enumerate(members):
            ptrs = tuple(p for j, p in enumerate(latest) if (rnd + j + i) % 4 != 3 or j == i)
            made.append(Block.create(m, LACE, (rnd, i), ptrs))
        for b in made:
            bl.add(b)
        latest = [b.id for b in made]
    for top in latest:
        for min_depth in range(7):
            assert bl.closure(top, min_depth=min_depth) == _reference_closure(bl, top, min_depth)  # type: ignore[arg-type]


def _reference_latest(bl: Blocklace, lace: bytes, depth: int) -> set[bytes]:
    out: set[bytes] = set()
    for creator in bl.creators(lace):  # type: ignore[arg-type]
        for tip in bl.tips(lace, creator):  # type: ignore[arg-type]
            b: bytes | None = tip
            while b is not None and bl.meta(b).depth > depth:  # type: ignore[arg-type]
                b = bl.meta(b).parent  # type: ignore[arg-type]
            if b is not None:
                out.add(b)
    return out


def test_latest_up_to_is_the_tip_walk_also_with_forks() -> None:
    members = [Identity.from_seed(bytes([i + 9]) * 32) for i in range(3)]
    bl = Blocklace(MemoryStore())
    latest: list[bytes] = []
    for rnd in range(5):
        made = [Block.create(m, LACE, (rnd, i), tuple(latest)) for i, m in enumerate(members[1:])]
        if rnd % 2 == 0:  # members[0] makes a block every other round only
            made.append(Block.create(members[0], LACE, (rnd, 0), tuple(latest)))
        for b in made:
            bl.add(b)
        latest = [b.id for b in made]
    # members[1] forks: a twin of its first block, seen by nobody
    bl.add(Block.create(members[1], LACE, ("twin",), ()))
    assert bl.equivocators(LACE)  # type: ignore[arg-type]
    for depth in range(-1, 7):
        got = bl.latest_up_to(LACE, depth)  # type: ignore[arg-type]
        assert set(got) == _reference_latest(bl, LACE, depth)
