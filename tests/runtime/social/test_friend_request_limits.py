"""Friend requests from throwaway keys: a cap with oldest-first eviction, expiry, indexed lookup."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.dissemination import FriendRequest, SocialConfig
from peoplenet.runtime.social.evidence_store import (
    Evidence,
    MemoryEvidenceStore,
    SqliteEvidenceStore,
)
from peoplenet.runtime.social.graph import Befriend, personal_lace


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


class NoScan(MemoryEvidenceStore):
    """An evidence store that fails the test if anyone reads every row once ``armed``."""

    armed = False

    def items(self) -> list[Evidence]:
        if self.armed:
            raise AssertionError("a lookup read every stored request")
        return super().items()


def request_from(identity: Identity, target: MemberId) -> FriendRequest:
    block = Block.create(identity, personal_lace(identity.member_id), Befriend(target), ())
    return FriendRequest(block.to_bytes())


def keys(n: int, base: int = 5000) -> list[Identity]:
    return [Identity.from_seed((base + i).to_bytes(32, "big")) for i in range(n)]


def node_with(
    evidence: MemoryEvidenceStore | SqliteEvidenceStore, clock: Clock, cap: int = 10
) -> tuple[Identity, SocialNode]:
    me = Identity.from_seed((1).to_bytes(32, "big"))
    config = SocialConfig(max_pending_requests=cap, pending_request_ttl_s=3600.0)
    node = SocialNode(me.member_id, Blocklace(MemoryStore()), evidence, config, wall=clock)
    return me, node


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_pending_requests_are_capped_and_the_oldest_go_first(kind: str, tmp_path: Path) -> None:
    clock = Clock()
    store = MemoryEvidenceStore() if kind == "memory" else SqliteEvidenceStore(tmp_path / "e.db")
    me, node = node_with(store, clock, cap=10)
    senders = keys(25)
    for s in senders:
        clock.t += 1
        node.on_wire(s.member_id, request_from(s, me.member_id), 0.0)
    assert store.count() == 10
    kept = {ev.creator for ev in store.items()}
    assert kept == {s.member_id for s in senders[-10:]}
    assert set(node.pending_requests()) == kept


def test_pending_requests_expire() -> None:
    clock = Clock()
    store = MemoryEvidenceStore()
    me, node = node_with(store, clock, cap=100)
    old, new = keys(2)
    node.on_wire(old.member_id, request_from(old, me.member_id), 0.0)
    clock.t += 3000
    node.on_wire(new.member_id, request_from(new, me.member_id), 0.0)
    clock.t += 1000  # the first is now 4000 s old, past the 3600 s lifetime
    node.tick(0.0)
    assert [ev.creator for ev in store.items()] == [new.member_id]
    assert node.pending_requests() == [new.member_id]


def test_an_idle_node_is_woken_when_its_oldest_request_expires() -> None:
    clock = Clock()
    store = MemoryEvidenceStore()
    me, node = node_with(store, clock, cap=100)
    old, new = keys(2)
    first = node.on_wire(old.member_id, request_from(old, me.member_id), 10.0)
    assert first.wake_at == 10.0 + 3600.0  # no friend is up: only the request's expiry is due
    clock.t += 3000
    second = node.on_wire(new.member_id, request_from(new, me.member_id), 3010.0)
    assert second.wake_at == first.wake_at  # the oldest still expires first
    clock.t += 600
    woken = node.tick(3610.0)  # at that wake_at, 3600 s of wall clock later
    assert [ev.creator for ev in store.items()] == [new.member_id]
    assert woken.wake_at == 3610.0 + 3000.0  # now the second one's expiry


def test_a_repeated_request_is_found_by_index_not_by_reading_every_row() -> None:
    clock = Clock()
    store = NoScan()
    me, node = node_with(store, clock, cap=100)
    store.armed = True  # loading at start reads everything once; lookups must not
    sender = keys(1)[0]
    request = request_from(sender, me.member_id)
    node.on_wire(sender.member_id, request, 0.0)
    out = node.on_wire(sender.member_id, request, 0.0)
    assert out.errors == []
    assert node.evidence_block(sender.member_id) is not None


def test_lookup_time_does_not_grow_with_the_number_of_requests(tmp_path: Path) -> None:
    store = SqliteEvidenceStore(tmp_path / "e.db")
    clock = Clock()
    me, node = node_with(store, clock, cap=5000)
    senders = keys(3000)
    for s in senders:
        clock.t += 1
        block = Block.create(s, personal_lace(s.member_id), Befriend(me.member_id), ())
        store.put(Evidence(s.member_id, me.member_id, block.to_bytes(), block.id, clock.t))
    start = time.perf_counter()
    for s in senders[:200]:
        assert node.evidence_block(s.member_id) is not None
    per_lookup = (time.perf_counter() - start) / 200
    assert per_lookup < 0.001  # a full read of 3,000 rows takes several ms


def test_sqlite_store_gives_old_rows_a_time_and_keeps_the_original_table(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE evidence (creator BLOB NOT NULL, target BLOB NOT NULL, raw BLOB NOT NULL,"
        " block_id BLOB NOT NULL, PRIMARY KEY (creator, target)) WITHOUT ROWID"
    )
    db.execute("INSERT INTO evidence VALUES (?, ?, ?, ?)", (b"c" * 32, b"t" * 32, b"r", b"b" * 32))
    db.commit()
    db.close()
    with SqliteEvidenceStore(path) as store:
        oldest = store.oldest()
        assert oldest is not None and oldest.received == 0.0 and oldest.raw == b"r"
        store.put(Evidence(MemberId(b"d" * 32), MemberId(b"t" * 32), b"s", b"e" * 32, 5.0))  # type: ignore[arg-type]
        assert store.count() == 2
        assert store.get(MemberId(b"d" * 32), MemberId(b"t" * 32)).received == 5.0  # type: ignore[union-attr]
        store.remove(MemberId(b"c" * 32), MemberId(b"t" * 32))
        assert [e.raw for e in store.items()] == [b"s"]
