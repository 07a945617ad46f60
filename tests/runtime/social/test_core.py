"""The social node core: friend requests, wire refusals, evidence, restarts."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.social.core import SocialEvent, SocialNode, SocialStep
from peoplenet.runtime.social.dissemination import Blocks, Disclose, FriendRequest, Outgoing
from peoplenet.runtime.social.evidence_store import (
    Evidence,
    MemoryEvidenceStore,
    SqliteEvidenceStore,
)
from peoplenet.runtime.social.graph import (
    Address,
    Befriend,
    Follow,
    Introduce,
    Post,
    Unfriend,
    personal_lace,
)
from peoplenet.runtime.wire.codec import Value, decode, encode


class Phone:
    """A member with its durable stores and a live SocialNode (rebuilt by ``restart``)."""

    def __init__(self, i: int, evidence: MemoryEvidenceStore | SqliteEvidenceStore | None = None):
        self.identity = Identity.from_seed((1000 + i).to_bytes(32, "big"))
        self.id = self.identity.member_id
        self.store = MemoryStore()
        self.evidence = evidence if evidence is not None else MemoryEvidenceStore()
        self.events: list[SocialEvent] = []
        self.restart()

    def restart(self) -> None:
        self.node = SocialNode(self.id, Blocklace(self.store.reopen()), self.evidence)

    def sign(self, payload: Value, now: float = 0.0) -> tuple[Block, list[Outgoing]]:
        lace, pointers = self.node.next_block(payload)
        block = Block.create(self.identity, lace, payload, pointers)
        step = self.node.add_own(block, now)
        self.events.extend(step.events)
        return block, step.outgoing


def run(
    phones: list[Phone], sender: Phone, outgoing: list[Outgoing], *, up: bool = True
) -> list[SocialStep]:
    """Deliver messages (through the codec) until quiet; new friends come up if ``up``."""
    by_id = {p.id: p for p in phones}
    queue = deque((sender.id, o) for o in outgoing)
    outcomes: list[SocialStep] = []
    while queue:
        assert len(outcomes) < 10_000
        src, o = queue.popleft()
        dst = by_id[o.peer]
        res = dst.node.on_wire(src, decode(encode(o.msg)), 1.0)
        outcomes.append(res)
        dst.events.extend(res.events)
        more = list(res.outgoing)
        for ev in res.events:
            if ev.kind == "friend_added" and up:
                more.extend(dst.node.peer_up(ev.member, 1.0).outgoing)
        queue.extend((dst.id, m) for m in more)
    return outcomes


def befriend(a: Phone, b: Phone, world: list[Phone] | None = None) -> None:
    """Make a and b friends with both sessions up."""
    phones = world or [a, b]
    _, out = a.sign(Befriend(b.id))
    run(phones, a, out)
    _, out = b.sign(Befriend(a.id))
    out += b.node.peer_up(a.id, 1.0).outgoing
    run(phones, b, out)
    assert a.node.dissem.is_up(b.id) and b.node.dissem.is_up(a.id)


def test_friend_request_then_acceptance_makes_friends_and_laces_flow() -> None:
    a, b = Phone(1), Phone(2)
    _, out = a.sign(Befriend(b.id))
    assert [type(o.msg) for o in out] == [FriendRequest]
    assert a.node.outgoing_requests() == [b.id]
    assert a.node.friend_request_for(b.id) == out[0].msg
    run([a, b], a, out)
    assert b.node.pending_requests() == [a.id]
    assert [e.kind for e in b.events] == ["request_received"]
    assert b.node.status()["pending"] == 1
    _, out = b.sign(Befriend(a.id))
    assert [e.kind for e in b.events[1:]] == ["friend_added"]
    assert b.node.pending_requests() == []
    out += b.node.peer_up(a.id, 1.0).outgoing
    run([a, b], b, out)
    assert a.node.friends() == {b.id} and b.node.friends() == {a.id}
    assert a.node.outgoing_requests() == [] and a.node.friend_request_for(b.id) is None
    # after the exchange each holds the other's whole lace; the evidence became redundant
    assert set(b.node.lace.chain(personal_lace(a.id), a.id)) == set(
        a.node.lace.chain(personal_lace(a.id), a.id)
    )
    assert a.evidence.items() == [] and b.evidence.items() == []
    _, out = a.sign(Post("hello"))
    run([a, b], a, out)
    assert [i.text for i in b.node.feed()] == ["hello"]
    assert any(e.kind == "post_received" for e in b.events)


def test_cold_call_answered_with_own_consent_once() -> None:
    a, b = Phone(1), Phone(2)
    b.sign(Befriend(a.id))  # b's request to a got lost
    _, out = a.sign(Befriend(b.id))
    outcomes = run([a, b], a, out, up=False)
    # b learns a's consent and answers with its own request; a cannot tell an answer from a
    # new request, so it answers once too; b already has that block, so the exchange ends
    assert [type(o.msg) for r in outcomes for o in r.outgoing] == [FriendRequest] * 2
    assert a.node.friends() == {b.id} and b.node.friends() == {a.id}


def test_friend_request_refusals() -> None:
    a, b, c = Phone(1), Phone(2), Phone(3)
    to_c, _ = a.sign(Befriend(c.id))
    post, _ = a.sign(Post("not a request"))
    forged = Block(a.id, personal_lace(a.id), Befriend(b.id), (post.id,), b"\x01" * 64)
    cases = [
        (a.id, FriendRequest(to_c.to_bytes()), "not_a_request"),
        (a.id, FriendRequest(post.to_bytes()), "not_a_request"),
        (c.id, FriendRequest(to_c.to_bytes()), "wrong_sender"),
        (a.id, FriendRequest(forged.to_bytes()), "forged_signature"),
        (a.id, FriendRequest(b"\x00garbage"), "trailing_bytes"),
    ]
    for sender, msg, reason in cases:
        got = b.node.on_wire(sender, msg, 0.0)
        assert [e.reason for e in got.errors] == [reason]
        assert not got.outgoing and not got.events
    assert b.node.pending_requests() == []
    assert b.evidence.items() == []


def test_laces_refused_from_non_friends_and_unknown_messages() -> None:
    a, b = Phone(1), Phone(2)
    post, _ = a.sign(Post("x"))
    got = b.node.on_wire(a.id, Blocks((post.to_bytes(),)), 0.0)
    assert [e.reason for e in got.errors] == ["not_friend"]
    assert post.id not in b.node.lace
    got = b.node.on_wire(a.id, Disclose(()), 0.0)
    assert [e.reason for e in got.errors] == ["not_friend"] and not got.outgoing
    got = b.node.on_wire(a.id, Post("x"), 0.0)
    assert [e.reason for e in got.errors] == ["unexpected_message"]


def test_block_refusals_in_one_batch() -> None:
    a, b, c = Phone(1), Phone(2), Phone(3)
    _, out = a.sign(Befriend(b.id))
    run([a, b], a, out)
    _, out = b.sign(Befriend(a.id))  # friends; no sessions up, so nothing flows yet
    run([a, b], b, out, up=False)
    assert b.node.friends() == {a.id}
    chain = [
        Block.from_bytes(a.node.lace.raw(bid))
        for bid in a.node.lace.chain(a.node.lace.laces()[0], a.id)
    ]
    good1, _ = a.sign(Post("good 1"))
    good2, _ = a.sign(Post("good 2"))
    stranger, _ = c.sign(Post("c is not followed by b"))
    foreign = Block.create(c.identity, personal_lace(a.id), Post("c writes in a's lace"))
    bad_payload = Block.create(a.identity, personal_lace(a.id), {"t": 1}, (good2.id,))
    other_lace = Block.create(a.identity, b"community/1", Post("x"))
    forged = Block(a.id, personal_lace(a.id), Post("forged"), (good2.id,), b"\x02" * 64)
    raws = (
        *(x.to_bytes() for x in chain),
        good1.to_bytes(),
        stranger.to_bytes(),
        foreign.to_bytes(),
        bad_payload.to_bytes(),
        other_lace.to_bytes(),
        forged.to_bytes(),
        b"\x01not a block",
        good2.to_bytes(),
    )
    got = b.node.on_wire(a.id, Blocks(raws), 2.0)
    assert sorted(err.reason for err in got.errors) == sorted(
        [
            "not_followed",
            "foreign_creator",
            "bad_payload",
            "not_personal_lace",
            "forged_signature",
            "trailing_bytes",
        ]
    )
    assert set(got.added) == {x.id for x in chain} | {good1.id, good2.id}
    assert [i.text for i in b.node.feed()] == ["good 1", "good 2"]
    assert [type(o.msg) for o in got.outgoing] == [Disclose]  # the ack
    assert b.evidence.items() == []  # a's request is in a's lace now


def test_verified_flag_skips_signature_checks() -> None:
    a, b = Phone(1), Phone(2)
    _, out = a.sign(Befriend(b.id))
    run([a, b], a, out)
    _, out = b.sign(Befriend(a.id))
    run([a, b], b, out, up=False)
    first = a.node.lace.chain(personal_lace(a.id), a.id)[0]
    forged = Block(a.id, personal_lace(a.id), Post("f"), (first,), b"\x03" * 64)
    got = b.node.on_wire(a.id, Blocks((a.node.lace.raw(first), forged.to_bytes())), 0.0)
    assert [e.reason for e in got.errors] == ["forged_signature"]
    got = b.node.on_wire(a.id, Blocks((forged.to_bytes(),)), 0.0, verified=True)
    assert got.added == [forged.id]  # the caller vouched for it


def test_requests_survive_restart_in_sqlite(tmp_path: Path) -> None:
    evidence = SqliteEvidenceStore(tmp_path / "evidence.db")
    try:
        a, b = Phone(1), Phone(2, evidence)
        _, out = a.sign(Befriend(b.id))
        run([a, b], a, out)
        assert b.node.pending_requests() == [a.id]
        evidence.close()
        evidence = SqliteEvidenceStore(tmp_path / "evidence.db")
        b.evidence = evidence
        b.restart()
        assert b.node.pending_requests() == [a.id]
        _, out = b.sign(Befriend(a.id))
        assert b.node.friends() == {a.id}
        assert [type(o.msg) for o in out] == [FriendRequest]
    finally:
        evidence.close()


def test_memory_and_sqlite_evidence_stores_agree(tmp_path: Path) -> None:
    ids = [MemberId(bytes([i]) * 32) for i in range(3)]
    rows = [
        Evidence(ids[1], ids[0], b"raw1", b"\x01" * 32),  # type: ignore[arg-type]
        Evidence(ids[2], ids[0], b"raw2", b"\x02" * 32),  # type: ignore[arg-type]
        Evidence(ids[1], ids[0], b"raw3", b"\x03" * 32),  # type: ignore[arg-type]
    ]
    with SqliteEvidenceStore(tmp_path / "e.db") as sql:
        mem = MemoryEvidenceStore()
        for store in (mem, sql):
            for r in rows:
                store.put(r)
            store.remove(ids[2], ids[0])
        assert mem.items() == sql.items() == [rows[2]]


def test_restart_rebuilds_the_graph_from_the_lace() -> None:
    a, b = Phone(1), Phone(2)
    befriend(a, b)
    a.sign(Follow(Phone(3).id))
    a.sign(Address("10.1.1.1", 4000))
    _, out = b.sign(Address("10.2.2.2", 5000))
    run([a, b], b, out)
    before = (a.node.friends(), a.node.follows(), a.node.addresses(), a.node.status())
    a.restart()
    assert (a.node.friends(), a.node.follows(), a.node.addresses(), a.node.status()) == before
    assert a.node.addresses() == {b.id: ("10.2.2.2", 5000)}


def test_unfriend_removes_the_friend_and_stops_the_session() -> None:
    a, b = Phone(1), Phone(2)
    befriend(a, b)
    assert a.node.dissem.is_up(b.id)
    _, out = a.sign(Unfriend(b.id))
    assert [e.kind for e in a.events[-1:]] == ["friend_removed"]
    assert not a.node.dissem.is_up(b.id)
    run([a, b], a, out)
    _, out = a.sign(Post("after"))
    assert all(o.peer != b.id for o in out)


def test_introduction_is_listed_until_accepted() -> None:
    a, b, r = Phone(1), Phone(2), Phone(3)
    befriend(r, a, [a, b, r])
    befriend(r, b, [a, b, r])
    _, out = r.sign(Introduce(a.id, b.id, "a.host", 1, "b.host", 2, "you two should talk"))
    run([a, b, r], r, out)
    (intro,) = a.node.introductions()
    assert (intro.introducer, intro.other, intro.hints) == (r.id, b.id, ("b.host", 2))
    assert any(e.kind == "introduced" and e.by == r.id and e.member == b.id for e in a.events)
    _, out = a.sign(Befriend(b.id))
    assert a.node.introductions() == []
    run([a, b, r], a, out)
    _, out = b.sign(Befriend(a.id))
    run([a, b, r], b, out)
    assert a.node.friends() == {r.id, b.id}
    assert b.node.friends() == {r.id, a.id}


def test_next_block_chains_and_refuses_bare_values() -> None:
    a = Phone(1)
    lace, pointers = a.node.next_block(Post("x"))
    assert (lace, pointers) == (personal_lace(a.id), ())
    first, _ = a.sign(Post("x"))
    assert a.node.next_block(Post("y")) == (lace, (first.id,))
    with pytest.raises(Exception, match="record"):
        a.node.next_block({"t": "x"})
