"""A stored block whose bytes fail their hash is set aside and fetched again, not fatal.

A flipped byte inside one row of blocks.sqlite (SQLite's own checks cannot see it: the page
is intact, only the block's bytes changed) used to stop the store for good (``store_corrupt``
on every start).  Now the row and the blocks resting on it go to the ``set_aside`` table,
the node starts, logs each, and a peer that has them sends them again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore, SqliteStore
from peoplenet.runtime.sim.localnet import LocalNode

LACE = LaceId(b"set-aside-lace")
FRIEND = Identity.from_seed(b"\x07" * 32)


def _chain(n: int) -> list[Block]:
    out: list[Block] = []
    for i in range(n):
        pointers = (out[-1].id,) if out else ()
        out.append(Block.create(FRIEND, LACE, {"text": f"hello number {i}"}, pointers))
    return out


def flip_a_byte(db: Path, block_id: bytes, old: bytes, new: bytes) -> None:
    """Change ``old`` to ``new`` inside one row's raw bytes, as a bad sector might."""
    conn = sqlite3.connect(db)
    try:
        (raw,) = conn.execute("SELECT raw FROM blocks WHERE id = ?", (block_id,)).fetchone()
        assert old in raw
        conn.execute("UPDATE blocks SET raw = ? WHERE id = ?", (raw.replace(old, new), block_id))
        conn.commit()
    finally:
        conn.close()


def test_a_row_that_fails_its_hash_is_set_aside_and_fetched_again(tmp_path: Path) -> None:
    chain = _chain(6)
    ids = [b.id for b in chain]
    friend = Blocklace(MemoryStore())
    friend.add_many(chain)
    path = tmp_path / "blocks.sqlite"
    with SqliteStore(path) as store:
        Blocklace(store).add_many(chain)
    flip_a_byte(path, ids[2], b"hello number 2", b"jello number 2")

    with SqliteStore(path) as store:
        mine = Blocklace(store)  # starts: no store_corrupt
        assert [a.block_id for a in mine.set_aside] == ids[2:]
        assert mine.set_aside[0].reason == "stored bytes do not hash to their id"
        assert {a.reason for a in mine.set_aside[1:]} == {
            "a stored block points to a missing block"
        }
        assert [bid for bid, _ in store.set_aside_rows()] == ids[2:]
        assert len(store) == 2
        # what my tips show I lack is exactly what was set aside: a friend sends it again
        missing = friend.missing_for(LACE, mine.lace_tips(LACE))
        assert missing == ids[2:]
        report = mine.add_many([friend.get(BlockId(m)) for m in missing])
        assert report.added == ids[2:]
    with SqliteStore(path) as store:
        again = Blocklace(store)
        assert again.set_aside == ()
        assert again.chain(LACE, FRIEND.member_id) == ids


@pytest.mark.processes
def test_a_node_starts_on_a_row_that_fails_its_hash_and_logs_it(
    lone_node: Callable[..., LocalNode],
) -> None:
    node = lone_node()
    data = node.data
    node.call("post", {"text": "first words"})
    last = node.call("post", {"text": "a post on a bad sector"})["block"]
    assert node.stop() == 0
    flip_a_byte(data.blocks_db, bytes.fromhex(last), b"bad sector", b"bad sectoR")
    node.start()
    said = "\n".join(node.lines)
    assert "block_set_aside" in said and last in said, said[-2000:]
    assert "stored bytes do not hash to their id" in said
    assert [item["text"] for item in node.call("feed")] == ["first words"]
    conn = sqlite3.connect(f"{data.blocks_db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        kept = conn.execute("SELECT id, reason FROM set_aside").fetchall()
    finally:
        conn.close()
    assert [(bytes(i).hex(), r) for i, r in kept] == [
        (last, "stored bytes do not hash to their id")
    ]
    assert node.stop() == 0
