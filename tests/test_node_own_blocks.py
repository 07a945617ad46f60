"""The store actor makes my own blocks one at a time: two made together would fork my lace.

The race: when the network starts listening the store publishes my address (an own block
sent to the member actor for signing); a post arriving before that signature comes back took
the same predecessor, and the two signed blocks forked my own lace for good ("my own lace is
forked; refusing to extend it" on every later post).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.identity import Identity
from runtime.kernel import Actor, ActorSystemHandle, Ref
from runtime.node import MemberActor, StoreActor
from runtime.node_messages import (
    Batch,
    ControlReply,
    ControlRequest,
    Forwarded,
    Listening,
    MemberInit,
    StoreInit,
    Wiring,
)

pytestmark = pytest.mark.processes


class Replies(Actor):
    """Collects the ControlReplies sent to it; answers "replies" with all of them."""

    def on_start(self, init: object) -> None:
        self.got: list[ControlReply] = []

    def receive(self, msg: object, sender: Ref) -> None:
        if msg == "replies":
            self.reply(tuple(self.got))
        elif isinstance(msg, ControlReply):
            self.got.append(msg)


def _replies(system: ActorSystemHandle, rec: Ref, n: int) -> tuple[ControlReply, ...]:
    deadline = time.monotonic() + 15
    while True:
        got = system.ask(rec, "replies", 5)
        assert isinstance(got, tuple)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def test_own_blocks_made_together_are_chained_not_forked(
    actor_system: ActorSystemHandle, tmp_path: Path
) -> None:
    me = Identity.generate()
    rec = actor_system.spawn(Replies, "replies", None)
    member = actor_system.spawn(MemberActor, "member", MemberInit(me.seed()))
    store = actor_system.spawn(StoreActor, "store", StoreInit(str(tmp_path), me.member_id, False))
    actor_system.tell(store, Wiring(member, store, None))

    def post(request: int, text: str) -> Forwarded:
        return Forwarded(ControlRequest(request, "post", {"text": text}), rec)

    # listening (my address block goes to the signer) and two posts, in one turn
    listening = Listening("127.0.0.1", 7700, "127.0.0.1")
    actor_system.tell(store, Batch((listening, post(1, "first"), post(2, "second"))))
    actor_system.tell(store, post(3, "third"))
    replies = _replies(actor_system, rec, 3)
    assert [(r.request, r.ok, r.error) for r in replies] == [
        (1, True, ""),
        (2, True, ""),
        (3, True, ""),
    ]
    actor_system.tell(store, Forwarded(ControlRequest(4, "feed", {"limit": 10}), rec))
    actor_system.tell(store, Forwarded(ControlRequest(5, "status", {}), rec))
    *_, feed, status = _replies(actor_system, rec, 5)
    assert feed.ok and isinstance(feed.result, tuple)
    posts = [(item["text"], item["seq"]) for item in feed.result if isinstance(item, dict)]
    assert posts == [("first", 1), ("second", 2), ("third", 3)]  # one chain after my address
    assert status.ok
