"""The store actor makes my own blocks one at a time: two made together would fork my lace.

The race: when the network starts listening the store publishes my address (an own block
sent to the member actor for signing); a post arriving before that signature comes back took
the same predecessor, and the two signed blocks forked my own lace for good ("my own lace is
forked; refusing to extend it" on every later post).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from peoplenet.actors.member.messages import (
    Batch,
    ControlRequest,
    Forwarded,
    Listening,
    MemberInit,
    StoreInit,
    Wiring,
)
from peoplenet.actors.member.node import MemberActor, StoreActor
from peoplenet.runtime.kernel import ActorSystemHandle
from peoplenet.runtime.keys.identity import Identity
from tests.reply_probe import Replies, replies

pytestmark = pytest.mark.processes


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
