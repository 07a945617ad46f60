"""The block-store contract, run against both stores, plus what only SQLite can get wrong."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import (
    LocalError,
    StoreError,
)
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.store import SCHEMA_VERSION, MemoryStore, Row, SqliteStore, open_store
from peoplenet.runtime.lace.store_api import BlockStore, StoredBlock

AnyStore = MemoryStore | SqliteStore

ALICE = Identity.from_seed(b"a" * 32)
BOB = Identity.from_seed(b"b" * 32)
LACE = b"lace-1"
OTHER_LACE = b"lace-2"


def stored(
    who: Identity,
    payload: str,
    *,
    lace: bytes = LACE,
    seq: int = 0,
    depth: int = 0,
    pointers: tuple[bytes, ...] = (),
) -> StoredBlock:
    """A real signed block, as the blocklace would hand it to the store."""
    b = Block.create(who, lace, payload, pointers)
    return StoredBlock(
        id=b.id, lace=b.lace, creator=b.creator, seq=seq, depth=depth, raw=b.to_bytes()
    )


def synthetic(n: int, lace: bytes = LACE) -> list[StoredBlock]:
    """Many distinct rows, cheaply: the store never decodes ``raw``, so it needn't be a block."""
    out = []
    for i in range(n):
        bid = hashlib.blake2b(i.to_bytes(4, "big") + lace, digest_size=32).digest()
        out.append(StoredBlock(bid, lace, ALICE.member_id, i, i, b"raw-%d" % i))
    return out


def chain(who: Identity, n: int, lace: bytes = LACE) -> list[StoredBlock]:
    """``n`` blocks of one creator, each pointing at the previous one."""
    out: list[StoredBlock] = []
    for i in range(n):
        ptrs = (out[-1].id,) if out else ()
        out.append(stored(who, f"{who.fingerprint} #{i}", lace=lace, seq=i, depth=i, pointers=ptrs))
    return out


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyStore]:
    s: AnyStore = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "n.db")
    yield s
    s.close()


# -- the contract, for both stores ------------------------------------------------------------


def test_satisfies_the_protocol(store: AnyStore) -> None:
    as_protocol: BlockStore = store  # mypy checks this line; the asserts check it is live
    assert len(as_protocol) == 0
    assert as_protocol.laces() == []


def test_empty_store_knows_nothing(store: AnyStore) -> None:
    unknown = bytes(32)
    assert len(store) == 0
    assert unknown not in store
    assert store.get_raw(unknown) is None
    assert list(store.iter_blocks()) == []
    assert store.ids_by_creator(LACE, ALICE.member_id) == []
    assert store.ids_by_depth(LACE, 0, 100) == []
    assert store.laces() == []


def test_put_then_get(store: AnyStore) -> None:
    blocks = chain(ALICE, 3)
    store.put_many(blocks)
    assert len(store) == 3
    for b in blocks:
        assert b.id in store
        assert store.get_raw(b.id) == b.raw
        assert Block.from_bytes(b.raw).id == b.id
    assert bytes(32) not in store
    assert store.get_raw(bytes(32)) is None


def test_contains_is_false_for_non_bytes(store: AnyStore) -> None:
    b = stored(ALICE, "x")
    store.put_many([b])
    assert b.id.hex() not in store
    assert bytearray(b.id) not in store
    assert None not in store


def test_iter_yields_in_storage_order(store: AnyStore) -> None:
    first, second = chain(ALICE, 2), chain(BOB, 3)
    store.put_many(first)
    store.put_many(second[::-1])  # the order within a batch is kept too
    assert list(store.iter_blocks()) == first + second[::-1]


def test_iter_spans_many_pages(store: AnyStore) -> None:
    blocks = synthetic(2_500)
    store.put_many(blocks[:1_300])
    store.put_many(blocks[1_300:])
    assert list(store.iter_blocks()) == blocks


def test_ids_by_creator_orders_by_seq_and_forks_by_id(store: AnyStore) -> None:
    a0, a1 = chain(ALICE, 2)
    fork_x = stored(ALICE, "fork x", seq=2, depth=2, pointers=(a1.id,))
    fork_y = stored(ALICE, "fork y", seq=2, depth=2, pointers=(a1.id,))
    a3 = stored(ALICE, "after fork", seq=3, depth=3, pointers=(fork_x.id,))
    bob = stored(BOB, "bob", seq=0)
    elsewhere = stored(ALICE, "other lace", lace=OTHER_LACE, seq=1)
    store.put_many([a3, fork_y, bob, a1])
    store.put_many([elsewhere, fork_x, a0])
    forks = sorted([fork_x.id, fork_y.id])
    assert store.ids_by_creator(LACE, ALICE.member_id) == [a0.id, a1.id, *forks, a3.id]
    assert store.ids_by_creator(LACE, BOB.member_id) == [bob.id]
    assert store.ids_by_creator(OTHER_LACE, ALICE.member_id) == [elsewhere.id]
    assert store.ids_by_creator(OTHER_LACE, BOB.member_id) == []


def test_ids_by_depth_is_an_inclusive_range_ordered_by_depth_then_id(store: AnyStore) -> None:
    alice, bob = chain(ALICE, 4), chain(BOB, 4)
    noise = chain(ALICE, 4, lace=OTHER_LACE)
    store.put_many(bob[::-1] + noise + alice)
    by_depth = {d: sorted([alice[d].id, bob[d].id]) for d in range(4)}
    assert store.ids_by_depth(LACE, 1, 2) == by_depth[1] + by_depth[2]
    assert store.ids_by_depth(LACE, 0, 0) == by_depth[0]
    assert store.ids_by_depth(LACE, 3, 99) == by_depth[3]
    assert store.ids_by_depth(LACE, 0, 3) == [i for d in range(4) for i in by_depth[d]]
    assert store.ids_by_depth(LACE, 2, 1) == []
    assert store.ids_by_depth(LACE, 4, 10) == []
    assert store.ids_by_depth(OTHER_LACE, 0, 3) == [b.id for b in noise]
    assert store.ids_by_depth(b"nowhere", 0, 3) == []


def test_laces_are_distinct_and_sorted(store: AnyStore) -> None:
    store.put_many([stored(ALICE, "1", lace=b"zz"), stored(ALICE, "2", lace=b"a")])
    store.put_many([stored(BOB, "3", lace=b"m"), stored(BOB, "4", lace=b"zz")])
    assert store.laces() == [b"a", b"m", b"zz"]


def test_duplicates_are_ignored_and_the_first_copy_kept(store: AnyStore) -> None:
    a, b = chain(ALICE, 2)
    store.put_many([a])
    impostor = replace(a, seq=7, depth=7, raw=b"not what was stored")
    store.put_many([impostor, b, b])
    assert len(store) == 2
    assert store.get_raw(a.id) == a.raw
    assert list(store.iter_blocks()) == [a, b]
    assert store.ids_by_creator(LACE, ALICE.member_id) == [a.id, b.id]
    assert store.ids_by_depth(LACE, 0, 10) == [a.id, b.id]


def test_empty_batch_is_a_no_op(store: AnyStore) -> None:
    store.put_many([])
    assert len(store) == 0


_GOOD = stored(ALICE, "good")


@pytest.mark.parametrize(
    "bad",
    [
        replace(_GOOD, id=_GOOD.id.hex()),  # type: ignore[arg-type]
        replace(_GOOD, id=_GOOD.id[:31]),
        replace(_GOOD, lace=b""),
        replace(_GOOD, lace=b"x" * 65),
        replace(_GOOD, creator=None),  # type: ignore[arg-type]
        replace(_GOOD, seq=-1),
        replace(_GOOD, seq=True),
        replace(_GOOD, depth=2**63),
        replace(_GOOD, raw=bytearray(_GOOD.raw)),  # type: ignore[arg-type]
        _GOOD.raw,
    ],
    ids=["str-id", "short-id", "empty-lace", "long-lace", "no-creator", "negative-seq",
         "bool-seq", "huge-depth", "bytearray-raw", "not-a-stored-block"],
)  # fmt: skip
def test_a_malformed_block_spoils_its_whole_batch(store: AnyStore, bad: object) -> None:
    kept = stored(BOB, "kept")
    store.put_many([kept])
    batch = [*chain(ALICE, 3), cast(StoredBlock, bad)]
    with pytest.raises(LocalError):
        store.put_many(batch)
    assert len(store) == 1
    assert list(store.iter_blocks()) == [kept]
    assert store.laces() == [LACE]
    assert store.ids_by_creator(LACE, ALICE.member_id) == []
    store.put_many(batch[:3])  # the store is still usable
    assert len(store) == 4


def test_closed_store_refuses_every_call(store: AnyStore) -> None:
    b = stored(ALICE, "x")
    store.put_many([b])
    store.close()
    store.close()  # idempotent
    calls: list[Callable[[], object]] = [
        lambda: store.put_many([b]),
        lambda: store.get_raw(b.id),
        lambda: b.id in store,
        lambda: "not bytes" in store,
        lambda: len(store),
        store.iter_blocks,
        lambda: store.ids_by_creator(LACE, ALICE.member_id),
        lambda: store.ids_by_depth(LACE, 0, 1),
        store.laces,
        store.quick_check,
    ]
    for call in calls:
        with pytest.raises(StoreError, match="closed"):
            call()


def test_closing_mid_iteration_stops_it_with_an_error(store: AnyStore) -> None:
    store.put_many(synthetic(2_500))
    it = store.iter_blocks()
    next(it)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        list(it)


def test_context_manager_closes(store: AnyStore) -> None:
    with store as s:
        assert s is store
        s.put_many([stored(ALICE, "x")])
    with pytest.raises(StoreError):
        len(store)


def test_quick_check_passes_on_a_healthy_store(store: AnyStore) -> None:
    store.put_many(chain(ALICE, 5) + chain(BOB, 5, lace=OTHER_LACE))
    assert store.quick_check() is True


# -- MemoryStore ------------------------------------------------------------------------------


def test_memory_store_outlives_its_handle() -> None:
    disk = MemoryStore()
    blocks = chain(ALICE, 3)
    disk.put_many(blocks)
    disk.close()
    again = disk.reopen()
    assert list(again.iter_blocks()) == blocks
    again.put_many([stored(BOB, "later")])
    assert len(again) == 4
    with pytest.raises(StoreError):
        len(disk)


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert type(open_store(None)) is MemoryStore
    with open_store(tmp_path / "x.db", durability="normal") as s:
        assert type(s) is SqliteStore
        assert s.durability == "normal"


# -- SqliteStore only -------------------------------------------------------------------------


def _file_digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_reopen_keeps_everything(tmp_path: Path, durability: str) -> None:
    path = tmp_path / "node.db"
    alice, bob = chain(ALICE, 4), chain(BOB, 3, lace=OTHER_LACE)
    with SqliteStore(path, durability=durability) as s:  # type: ignore[arg-type]
        s.put_many(alice)
        s.put_many(bob)
    with SqliteStore(path) as s:
        assert len(s) == 7
        assert list(s.iter_blocks()) == alice + bob
        assert s.laces() == [LACE, OTHER_LACE]
        assert s.ids_by_creator(OTHER_LACE, BOB.member_id) == [b.id for b in bob]
        assert s.ids_by_depth(LACE, 1, 2) == [alice[1].id, alice[2].id]
        s.put_many([stored(BOB, "appended")])
        assert len(s) == 8


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("normal", 1)])
def test_wal_mode_and_sync_level_are_on(tmp_path: Path, durability: str, level: int) -> None:
    path = tmp_path / "node.db"
    with SqliteStore(path, durability=durability) as s:  # type: ignore[arg-type]
        s.put_many([stored(ALICE, "x")])
        conn = s._conn
        assert conn is not None
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert path.with_name("node.db-wal").exists()
    peek = sqlite3.connect(path)
    try:  # WAL mode is recorded in the file itself, not just in our connection
        assert peek.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert peek.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {r[0] for r in peek.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"blocks_by_creator", "blocks_by_depth"} <= indexes
    finally:
        peek.close()


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with SqliteStore(path) as s:
        s.put_many([stored(ALICE, "x")])
        assert len(s) == 1


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 99, -1])
def test_unknown_schema_version_is_refused_untouched(tmp_path: Path, version: int) -> None:
    path = tmp_path / "future.db"
    with SqliteStore(path) as s:
        s.put_many([stored(ALICE, "x")])
    peek = sqlite3.connect(path)
    peek.execute(f"PRAGMA user_version={version}")
    peek.close()
    before = _file_digest(path)
    with pytest.raises(StoreError, match=f"schema version {version}") as err:
        SqliteStore(path)
    assert str(path) in str(err.value)
    assert _file_digest(path) == before


def test_someone_elses_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE contacts (name TEXT)")
    other.commit()
    other.close()
    before = _file_digest(path)
    with pytest.raises(StoreError, match="not a Peoplenet block store"):
        SqliteStore(path)
    assert _file_digest(path) == before


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    before = _file_digest(path)
    with pytest.raises(StoreError, match="is not a SQLite database") as err:
        SqliteStore(path)
    assert str(path) in str(err.value)
    assert _file_digest(path) == before


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory") as err:
        SqliteStore(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_unreachable_location_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "node.db"
    with pytest.raises(StoreError, match="cannot open") as err:
        SqliteStore(path)
    assert str(path) in str(err.value)


def test_unknown_durability_is_a_caller_error(tmp_path: Path) -> None:
    with pytest.raises(LocalError):
        SqliteStore(tmp_path / "x.db", durability="paranoid")  # type: ignore[arg-type]
    assert not (tmp_path / "x.db").exists()


def test_sqlite_failure_mid_batch_rolls_the_whole_batch_back(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    with SqliteStore(path) as s:
        kept = stored(BOB, "kept")
        s.put_many([kept])
        batch = chain(ALICE, 5)
        # A trigger makes SQLite itself fail on the 4th row, after 3 rows were inserted.
        saboteur = sqlite3.connect(path, isolation_level=None)
        saboteur.execute(
            "CREATE TRIGGER sabotage BEFORE INSERT ON blocks"
            f" WHEN NEW.id = X'{batch[3].id.hex()}' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        with pytest.raises(StoreError, match="disk on fire") as err:
            s.put_many(batch)
        assert str(path) in str(err.value)
        assert list(s.iter_blocks()) == [kept]
        assert s.ids_by_creator(LACE, ALICE.member_id) == []
        saboteur.execute("DROP TRIGGER sabotage")
        saboteur.close()
        s.put_many(batch)  # the same handle recovers
        assert list(s.iter_blocks()) == [kept, *batch]
    with SqliteStore(path) as s:
        assert len(s) == 6


def test_quick_check_reports_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    with SqliteStore(path) as s:
        s.put_many(synthetic(3_000))
    assert not path.with_name("node.db-wal").exists()  # closing checkpointed everything
    data = bytearray(path.read_bytes())
    page = 4096
    for p in range(2, len(data) // page, 3):  # scribble over every third page but the first
        data[p * page + 8 : p * page + 200] = b"\xa5" * 192
    path.write_bytes(bytes(data))
    with SqliteStore(path) as s:
        assert s.quick_check() is False


def test_messages_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "named.db"
    s = SqliteStore(path)
    s.close()
    with pytest.raises(StoreError, match="closed") as err:
        s.laces()
    assert str(path) in str(err.value)
    assert "closed" in repr(s)


def test_a_large_batch_is_stored_whole(tmp_path: Path) -> None:
    blocks = synthetic(10_000)
    with SqliteStore(tmp_path / "big.db") as s:
        s.put_many(blocks)
        assert len(s) == 10_000
        assert [b.id for b in s.iter_blocks()] == [b.id for b in blocks]
        assert s.ids_by_depth(LACE, 5_000, 5_002) == [b.id for b in blocks[5_000:5_003]]


# -- rows written without StoredBlock objects -------------------------------------------------


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


row_batches = st.lists(
    st.tuples(
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=1, max_size=64),
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1),
        st.binary(max_size=40),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(row_batches)
def test_vouched_rows_store_what_put_rows_stores(batch: list[Row]) -> None:
    checked, vouched = MemoryStore(), MemoryStore()
    checked.put_rows(batch)
    vouched.put_vouched_rows(batch)
    assert list(checked.iter_blocks()) == list(vouched.iter_blocks())
    for lace in checked.laces():
        assert checked.ids_by_depth(lace, 0, 2**63 - 1) == vouched.ids_by_depth(lace, 0, 2**63 - 1)
    assert vouched.quick_check()


def test_vouched_rows_sqlite_and_closed_stores(tmp_path: Path) -> None:
    row: Row = (b"\x01" * 32, LACE, b"\x02" * 32, 0, 0, b"raw")
    with SqliteStore(tmp_path / "a.db") as checked, SqliteStore(tmp_path / "b.db") as vouched:
        checked.put_rows([row])
        vouched.put_vouched_rows([row, row])
        assert list(checked.iter_blocks()) == list(vouched.iter_blocks())
    for store in (vouched, MemoryStore()):
        store.close()
        with pytest.raises(StoreError):
            store.put_vouched_rows([row])
