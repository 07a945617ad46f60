"""A node whose store is older than its own lace (a restored backup, a lost WAL, a copied data
directory) learns its own latest blocks from a friend before it signs, and stops signing when
someone else signs with its key.  Deterministic, in process (the social core, no actors)."""

from __future__ import annotations

import shutil
from collections import deque
from pathlib import Path

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore, SqliteStore
from peoplenet.runtime.lace.store_api import BlockStore
from peoplenet.runtime.social.core import SocialEvent, SocialNode
from peoplenet.runtime.social.dissemination import Outgoing
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace
from peoplenet.runtime.wire.codec import Value, decode, encode


class Phone:
    """One member's social core over a given store (a restore swaps the store)."""

    def __init__(self, seed: int, store: BlockStore | None = None) -> None:
        self.identity = Identity.from_seed(seed.to_bytes(32, "big"))
        self.id = self.identity.member_id
        self.events: list[SocialEvent] = []
        self.load(store if store is not None else MemoryStore())

    def load(self, store: BlockStore) -> None:
        """Start (again) over ``store``: what a node does after a restart or a restore."""
        self.store = store
        self.node = SocialNode(self.id, Blocklace(store), MemoryEvidenceStore())

    def sign(self, payload: Value) -> tuple[Block, list[Outgoing]]:
        lace, pointers = self.node.next_block(payload)
        block = Block.create(self.identity, lace, payload, pointers)
        step = self.node.add_own(block, 1.0)
        self.events.extend(step.events)
        return block, step.outgoing

    def own_chain(self) -> list[BlockId]:
        return self.node.lace.chain(personal_lace(self.id), self.id)


def deliver(phones: list[Phone], sender: Phone, outgoing: list[Outgoing]) -> None:
    """Deliver through the codec until quiet; a phone stands for each of its devices."""
    queue = deque((sender, o) for o in outgoing)
    steps = 0
    while queue:
        steps += 1
        assert steps < 10_000
        src, o = queue.popleft()
        for dst in phones:
            if dst.id == o.peer and dst is not src:
                res = dst.node.on_wire(src.id, decode(encode(o.msg)), 1.0)
                dst.events.extend(res.events)
                queue.extend((dst, m) for m in res.outgoing)


def connect(phones: list[Phone], a: Phone, b: Phone) -> None:
    """A new connection between a and b (the old one, if any, went down): both disclose."""
    a.node.peer_down(b.id)
    b.node.peer_down(a.id)
    from_a = a.node.peer_up(b.id, 1.0).outgoing
    from_b = b.node.peer_up(a.id, 1.0).outgoing
    deliver(phones, a, from_a)
    deliver(phones, b, from_b)


def friends(a: Phone, b: Phone) -> None:
    _, out = a.sign(Befriend(b.id))
    deliver([a, b], a, out)
    _, out = b.sign(Befriend(a.id))
    deliver([a, b], b, out)
    connect([a, b], a, b)


def copy_of(store: MemoryStore) -> MemoryStore:
    """A backup: what the store holds now, kept apart from what it will hold."""
    backup = MemoryStore()
    backup.put_many(list(store.iter_blocks()))
    return backup


def test_restored_phone_learns_its_posts_from_a_friend_before_signing() -> None:
    a, b = Phone(1), Phone(2)
    friends(a, b)
    posts = []
    backup: MemoryStore | None = None
    for i in range(3):
        block, out = a.sign(Post(f"post {i}"))
        deliver([a, b], a, out)
        posts.append(block)
        if i == 0:
            assert isinstance(a.store, MemoryStore)
            backup = copy_of(a.store)
    assert [i.text for i in b.node.feed()] == ["post 0", "post 1", "post 2"]
    assert backup is not None

    a.load(backup)  # the phone restored from the backup taken after its first post
    assert a.own_chain()[-1] == posts[0].id
    with pytest.raises(LocalError, match="not yet: catching up with your own blocks"):
        a.node.next_block(Post("too early"))  # it would reuse post 1's position

    connect([a, b], a, b)
    assert [e.kind for e in a.events].count("self_synced") == 1
    assert a.own_chain()[-1] == posts[2].id  # learnt back from b
    block, out = a.sign(Post("after the restore"))
    assert a.node.lace.meta(block.id).seq == a.node.lace.meta(posts[2].id).seq + 1
    deliver([a, b], a, out)
    assert b.node.feed()[-1].text == "after the restore"
    assert b.node.lace.equivocations() == [] and a.node.lace.equivocations() == []


def test_lost_wal_is_caught_up_from_a_friend(tmp_path: Path) -> None:
    """The WAL of a real store deleted while the node was down: its last commits are gone."""
    db = tmp_path / "blocks.sqlite"
    a, b = Phone(1, SqliteStore(db)), Phone(2)
    friends(a, b)
    a.store.close()  # a clean stop: everything so far is in the main file
    a.load(SqliteStore(db))
    connect([a, b], a, b)
    last = None
    for i in range(3):
        last, out = a.sign(Post(f"post {i}"))
        deliver([a, b], a, out)
    # killed now (no close, no checkpoint) and the WAL removed: copy the main file alone
    lost = tmp_path / "lost"
    lost.mkdir()
    shutil.copy(db, lost / "blocks.sqlite")
    a.store.close()
    a.load(SqliteStore(lost / "blocks.sqlite"))
    assert last is not None and last.id not in a.node.lace
    with pytest.raises(LocalError, match="not yet"):
        a.node.next_block(Post("too early"))
    connect([a, b], a, b)
    assert a.own_chain()[-1] == last.id
    _, out = a.sign(Post("after the lost WAL"))
    deliver([a, b], a, out)
    assert b.node.feed()[-1].text == "after the lost WAL"
    assert b.node.lace.equivocations() == []
    a.store.close()


def test_a_phone_without_friends_signs_at_once() -> None:
    a = Phone(1)
    a.sign(Post("alone"))
    a.load(a.store)
    a.sign(Post("still alone"))  # nobody else holds its lace: nothing to learn first
    assert len(a.own_chain()) == 2


def test_override_signs_without_a_friend() -> None:
    a, b = Phone(1), Phone(2)
    friends(a, b)
    a.load(a.store)
    with pytest.raises(LocalError, match="0 of 1 friends reached"):
        a.node.next_block(Post("x"))
    a.node.override_self_sync()
    a.sign(Post("x"))
    assert a.node.own_chain_status()["overridden"] is True


def test_second_device_with_a_copied_data_directory_is_detected_and_stops() -> None:
    a, b = Phone(1), Phone(2)
    friends(a, b)
    assert isinstance(a.store, MemoryStore)
    twin = Phone(1, copy_of(a.store))  # the same identity, a copied data directory
    connect([twin, b], twin, b)  # the copy self-syncs from b
    connect([a, b], a, b)
    assert twin.node.may_sign() and a.node.may_sign()
    _, out = a.sign(Post("from the phone"))
    deliver([a, b], a, out)
    # the twin learns a's post (it is behind, nothing wrong yet) and signs after it
    connect([twin, b], twin, b)
    _, out = twin.sign(Post("from the copy"))
    deliver([twin, b], twin, out)
    # b relays the copy's block to the phone: a block of its key it did not make, after its own
    connect([a, b], a, b)
    problems = a.node.own_problems()
    assert [p.kind for p in problems] == ["another_device"]
    assert "another_device" in [e.kind for e in a.events]
    with pytest.raises(LocalError, match="another device is using this identity"):
        a.node.next_block(Post("more"))
    status = a.node.own_chain_status()
    assert status["synced"] is True  # synced, yet stopped: the problem outranks it


def test_twin_devices_both_signing_at_once_fork_and_both_stop() -> None:
    a, b = Phone(1), Phone(2)
    friends(a, b)
    assert isinstance(a.store, MemoryStore)
    twin = Phone(1, copy_of(a.store))
    connect([a, b], a, b)
    connect([twin, b], twin, b)
    _, out_a = a.sign(Post("phone"))  # both sign at the same position before hearing
    _, out_t = twin.sign(Post("copy"))
    deliver([a, b], a, out_a)
    deliver([twin, b], twin, out_t)
    connect([a, b], a, b)
    connect([twin, b], twin, b)
    for phone in (a, twin):
        assert [p.kind for p in phone.node.own_problems()] == ["own_fork"]
        with pytest.raises(LocalError, match="my own chain forked"):
            phone.node.next_block(Post("more"))
    # a restart does not hide it: the fork is in the stored lace
    a.load(a.store)
    assert [p.kind for p in a.node.own_problems()] == ["own_fork"]
