"""The store actor (actors/member/store_actor.py) with a real member actor signing for it.

* It makes my own blocks one at a time: two made together would fork my lace.  The race: when
  the network starts listening the store publishes my address (an own block sent to the member
  actor for signing); a post arriving before that signature comes back took the same
  predecessor, and the two signed blocks forked my own lace for good ("my own lace is forked;
  refusing to extend it" on every later post).
* Over a restored data directory a post waits for the own-lace sync from a friend and then
  continues the chain; a block of my key that this node did not make (a second device) stops
  signing, shows in ``status`` and refuses the next post saying why.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.member.messages import (
    Batch,
    ControlReply,
    ControlRequest,
    Forwarded,
    Inbound,
    Listening,
    MemberInit,
    StoreInit,
    Wiring,
)
from peoplenet.actors.member.signer import MemberActor
from peoplenet.actors.member.store_actor import StoreActor
from peoplenet.runtime.kernel import ActorSystemHandle, Ref
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore, SqliteStore
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.dissemination import Blocks, Disclose, Heads
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace
from peoplenet.runtime.wire.codec import encode
from tests.reply_probe import Replies, replies

pytestmark = pytest.mark.processes


# -- own blocks, one at a time ----------------------------------------------------------------


def test_own_blocks_made_together_are_chained_not_forked(
    actor_system: ActorSystemHandle, tmp_path: Path
) -> None:
    me = Identity.generate()
    rec = actor_system.spawn(Replies, "replies", None)
    member = actor_system.spawn(MemberActor, "member", MemberInit(seed=me.seed()))
    store = actor_system.spawn(
        StoreActor,
        "store",
        StoreInit(data_dir=str(tmp_path), member=me.member_id, auto_accept=False),
    )
    actor_system.tell(store, Wiring(member=member, store=store, network=None))

    def post(request: int, text: str) -> Forwarded:
        return Forwarded(
            msg=ControlRequest(request=request, op="post", args={"text": text}), reply_to=rec
        )

    # listening (my address block goes to the signer) and two posts, in one turn
    listening = Listening(host="127.0.0.1", port=7700, advertise_host="127.0.0.1")
    actor_system.tell(store, Batch(items=(listening, post(1, "first"), post(2, "second"))))
    actor_system.tell(store, post(3, "third"))
    got = replies(actor_system, rec, 3)
    assert [(r.request, r.ok, r.error) for r in got] == [
        (1, True, ""),
        (2, True, ""),
        (3, True, ""),
    ]
    actor_system.tell(
        store, Forwarded(msg=ControlRequest(request=4, op="feed", args={"limit": 10}), reply_to=rec)
    )
    actor_system.tell(
        store, Forwarded(msg=ControlRequest(request=5, op="status", args={}), reply_to=rec)
    )
    *_, feed, status = replies(actor_system, rec, 5)
    assert feed.ok and isinstance(feed.result, tuple)
    posts = [(item["text"], item["seq"]) for item in feed.result if isinstance(item, dict)]
    assert posts == [("first", 1), ("second", 2), ("third", 3)]  # one chain after my address
    assert status.ok


# -- a restored data directory ---------------------------------------------------------------


def _history(me: Identity, friend: Identity) -> tuple[list[Block], SocialNode]:
    """My lace (befriend, three posts) and my friend's core (its consent)."""
    mine = SocialNode(me.member_id, Blocklace(MemoryStore()), MemoryEvidenceStore())
    theirs = SocialNode(friend.member_id, Blocklace(MemoryStore()), MemoryEvidenceStore())
    made: list[Block] = []
    for payload in (Befriend(friend.member_id), Post("one"), Post("two"), Post("three")):
        lace, pointers = mine.next_block(payload)
        block = Block.create(me, lace, payload, pointers)
        mine.add_own(block, 0.0)
        made.append(block)
    lace, pointers = theirs.next_block(Befriend(me.member_id))
    theirs.add_own(Block.create(friend, lace, Befriend(me.member_id), pointers), 0.0)
    return made, theirs


def _start(
    system: ActorSystemHandle, data: Path, me: Identity, friend_lace: list[Block], mine: list[Block]
) -> tuple[Ref, Ref]:
    """The data directory restored to ``mine`` (plus my friend's consent), and its store actor."""
    store = SqliteStore(DataDir(str(data)).blocks_db)
    Blocklace(store).add_many([*mine, *friend_lace])
    store.close()
    rec = system.spawn(Replies, "replies", None)
    member = system.spawn(MemberActor, "member", MemberInit(seed=me.seed()))
    actor = system.spawn(
        StoreActor, "store", StoreInit(data_dir=str(data), member=me.member_id, auto_accept=False)
    )
    system.tell(actor, Wiring(member=member, store=actor, network=None))
    return rec, actor


def _ask(system: ActorSystemHandle, actor: Ref, rec: Ref, n: int, op: str, **args: object) -> None:
    request = ControlRequest(request=n, op=op, args=dict(args))  # type: ignore[arg-type]
    system.tell(actor, Forwarded(msg=request, reply_to=rec))


def _reply(system: ActorSystemHandle, rec: Ref, request: int) -> ControlReply:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for reply in replies(system, rec):
            if reply.request == request:
                return reply
        time.sleep(0.05)
    raise AssertionError(f"no reply to {request}")


def test_a_restored_node_waits_for_its_friend_then_continues_its_chain(
    actor_system: ActorSystemHandle, tmp_path: Path
) -> None:
    me, friend = Identity.generate(), Identity.generate()
    made, theirs = _history(me, friend)
    friend_lace = [
        theirs.lace.get(b)
        for b in theirs.lace.chain(personal_lace(friend.member_id), friend.member_id)
    ]
    rec, store = _start(actor_system, tmp_path, me, friend_lace, made[:2])  # after post "one"
    _ask(actor_system, store, rec, 1, "status")
    status: Any = _reply(actor_system, rec, 1).result
    assert status["own_chain"]["synced"] is False
    assert status["problems"] == () and status["own_fork"] is False
    started = time.monotonic()
    _ask(actor_system, store, rec, 2, "post", text="after the restore")
    time.sleep(0.3)  # the post waits: nothing answered yet
    assert all(r.request != 2 for r in replies(actor_system, rec))
    # my friend's side of the sync: its disclosure of my lace, then the blocks I lack
    raws = tuple(b.to_bytes() for b in made[2:])
    disclose = Disclose((Heads(personal_lace(me.member_id), (made[-1].id,)),))
    actor_system.tell(store, Inbound(peer=friend.member_id, data=encode(disclose), friend=True))
    actor_system.tell(store, Inbound(peer=friend.member_id, data=encode(Blocks(raws)), friend=True))
    posted = _reply(actor_system, rec, 2)
    took = time.monotonic() - started
    assert posted.ok, posted.error
    _ask(actor_system, store, rec, 3, "feed", limit=10)
    feed: Any = _reply(actor_system, rec, 3).result
    assert [(i["text"], i["seq"]) for i in feed] == [
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("after the restore", 4),
    ]
    assert took < 5

    # a block of my key this node did not make: another device signs as me
    tip = Block.from_bytes(raws[-1])
    twin = Block.create(me, personal_lace(me.member_id), Post("from a copy"), (tip.id,))
    actor_system.tell(
        store, Inbound(peer=friend.member_id, data=encode(Blocks((twin.to_bytes(),))), friend=True)
    )
    _ask(actor_system, store, rec, 4, "post", text="more")
    refused = _reply(actor_system, rec, 4)
    assert not refused.ok
    assert refused.error.startswith("refusing to sign: my own chain forked")
    assert "start a new identity" in refused.error
    _ask(actor_system, store, rec, 5, "status")
    status = _reply(actor_system, rec, 5).result
    assert status["own_fork"] is True
    assert [p["kind"] for p in status["problems"]] == ["own_fork"]
