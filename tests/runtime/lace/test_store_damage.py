"""Damaged files: each store names the file and raises StoreCorrupt (fatal for the node), and
the start-up check finds every kind of damage before any actor runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peoplenet.actors.member.store_check import DamagedCommunityFile, check_node_files, check_sqlite
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.order_store import CommunityStore
from peoplenet.runtime.errors import StoreCorrupt, StoreError, Unrecoverable
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.local.datadir import DataDir, NodeSettings
from peoplenet.runtime.social.evidence_store import SqliteEvidenceStore
from peoplenet.runtime.wire.codec import encode
from tests.runtime.lace.test_store import synthetic


def damage(path: Path, start: int = 4096, end: int = 12288) -> None:
    """Overwrite bytes ``start..end`` with random bytes, as a failing disk would."""
    with path.open("r+b") as handle:
        handle.seek(start)
        handle.write(os.urandom(end - start))


def filled_store(path: Path, n: int = 2000) -> None:
    with SqliteStore(path) as store:
        store.put_many(synthetic(n))


def test_a_damaged_block_store_raises_store_corrupt_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "blocks.sqlite"
    filled_store(path)
    damage(path)
    # raised at open, or at the first read of the damaged pages
    with pytest.raises(StoreCorrupt) as err, SqliteStore(path) as store:
        list(store.iter_blocks())
    assert isinstance(err.value, Unrecoverable)
    text = str(err.value)
    assert str(path) in text and "is damaged" in text
    assert "backup" in text and f"mv {path} {path}.damaged" in text


def test_quick_check_finds_the_damage_and_passes_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "blocks.sqlite"
    filled_store(path)
    checked = check_sqlite(path, "refetched")
    assert checked is not None and checked.path == path
    assert check_sqlite(tmp_path / "absent.sqlite", "x") is None  # created on first start
    damage(path)
    with pytest.raises(StoreCorrupt, match="refetched") as err:
        check_sqlite(path, "refetched")
    assert str(path) in str(err.value)


def test_a_garbage_file_is_not_a_database_and_fatal(tmp_path: Path) -> None:
    path = tmp_path / "evidence.sqlite"
    path.write_bytes(b"not sqlite at all " * 500)
    with pytest.raises(StoreCorrupt, match="is not a SQLite database"):
        SqliteEvidenceStore(path)
    with pytest.raises(StoreCorrupt, match="is not a SQLite database"):
        check_sqlite(path, "x")


def test_a_damaged_community_order_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.order.sqlite"
    store = CommunityStore(path)
    for i in range(400):
        store.add_pending(f"submission {i:04d} " + "x" * 100)
    store.close()
    damage(path)
    with pytest.raises(StoreError) as err:
        CommunityStore(path).pending()
    assert isinstance(err.value, StoreCorrupt)
    assert str(path) in str(err.value)


def _node_with_community(root: Path) -> tuple[DataDir, Path]:
    data = DataDir(root)
    data.create(NodeSettings())
    me = Identity.generate()
    genesis = Genesis.first(b"garden", Constitution.of([bytes(me.member_id)], timeout_ms=500))
    lace = genesis.lace().hex()
    data.save_genesis(lace, encode(genesis))
    return data, data.communities / f"{lace}.genesis"


def test_a_damaged_genesis_file_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    data, path = _node_with_community(tmp_path / "node")
    check_node_files(data)  # sound
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DamagedCommunityFile) as err:
        check_node_files(data)
    text = str(err.value)
    assert str(path) in text and "not a community genesis" in text
    assert "peoplenet community join" in text
    other, _ = _node_with_community(tmp_path / "other")
    path.write_bytes(next(other.communities.glob("*.genesis")).read_bytes())
    with pytest.raises(DamagedCommunityFile, match="genesis of another community"):
        check_node_files(data)


def test_a_damaged_founding_file_is_named(tmp_path: Path) -> None:
    data, genesis = _node_with_community(tmp_path / "node")
    founding = genesis.with_suffix(".founding")
    founding.write_bytes(b"\xc1\xc1 not canonical msgpack")
    with pytest.raises(DamagedCommunityFile) as err:
        check_node_files(data)
    assert str(founding) in str(err.value) and "peoplenet coop join" in str(err.value)


def test_the_start_check_covers_every_sqlite_file_of_the_node(tmp_path: Path) -> None:
    data, genesis = _node_with_community(tmp_path / "node")
    lace = genesis.stem
    files = [
        data.blocks_db,
        data.evidence_db,
        data.communities / f"{lace}.sqlite",
        data.communities / f"{lace}.order.sqlite",
    ]
    for path in files:
        path.write_bytes(b"garbage " * 1000)
        with pytest.raises(StoreCorrupt) as err:
            check_node_files(data)
        assert str(path) in str(err.value)
        path.unlink()
    assert check_node_files(data) == []  # nothing created yet: nothing to check
