"""The store actor ticks its social core at the core's ``wake_at`` (runtime/sans_io.py).

In process: a real :class:`SocialNode` with one friend, the actor built without thespian, its
timers recorded and its clock set by the test.
"""

from __future__ import annotations

import time
from collections import deque

import pytest

from peoplenet.actors.member.messages import Batch, Outbound, PeerUp
from peoplenet.actors.member.store_actor import StoreActor
from peoplenet.runtime.kernel.ref import Ref
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.dissemination import Disclose, FriendRequest
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, personal_lace
from peoplenet.runtime.wire.codec import decode

ME, FRIEND = (Identity.from_seed(bytes([i + 40]) * 32) for i in range(2))


def _befriended() -> SocialNode:
    node = SocialNode(ME.member_id, Blocklace(MemoryStore()), MemoryEvidenceStore())
    lace, pointers = node.next_block(Befriend(FRIEND.member_id))
    node.add_own(Block.create(ME, lace, Befriend(FRIEND.member_id), pointers), 0.0)
    theirs = Block.create(FRIEND, personal_lace(FRIEND.member_id), Befriend(ME.member_id), ())
    node.on_wire(FRIEND.member_id, FriendRequest(theirs.to_bytes()), 0.0)
    assert node.friends() == {FRIEND.member_id}
    return node


class _Shell:
    """The actor with its clock, timers and network recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 100.0
        monkeypatch.setattr(time, "monotonic", lambda: self.now)  # the actor's clock
        self.timers: list[tuple[float, object]] = []
        self.told: list[object] = []
        actor = StoreActor.__new__(StoreActor)
        actor.core = _befriended()
        actor.member, actor.signing = None, None
        actor.network = Ref(None, "network")
        actor.own_queue, actor._outbox = deque(), []
        actor.wake_at, actor.generation = None, 0
        actor.view, actor.auto_accept = None, False
        actor._log, actor._name = None, "store"
        actor.after = lambda s, m: self.timers.append((s, m))  # type: ignore[method-assign,assignment,return-value]
        actor.tell = lambda ref, msg: self.told.append(msg)  # type: ignore[method-assign]
        self.actor = actor

    def deliver(self, msg: object) -> list[type]:
        """Hand ``msg`` to the actor; the types of what it sent to peers."""
        self.told.clear()
        self.actor.receive(msg, None)  # type: ignore[arg-type]
        return [
            type(decode(item.data))
            for batch in self.told
            if isinstance(batch, Batch)
            for item in batch.items
            if isinstance(item, Outbound)
        ]


def test_the_store_actor_wakes_its_core_when_it_asks_and_only_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shell = _Shell(monkeypatch)
    interval = shell.actor.core.config.disclose_interval_s
    assert shell.deliver(PeerUp(peer=FRIEND.member_id)) == [Disclose]
    ((delay, wake),) = shell.timers
    assert delay == interval and shell.actor.wake_at == 100.0 + interval
    shell.now += interval
    shell.timers.clear()
    assert shell.deliver(wake) == [Disclose]  # the re-disclosure, when it is due
    ((delay, again),) = shell.timers
    assert delay == interval and again != wake
    assert shell.deliver(wake) == [] and shell.timers == [(delay, again)]  # stale: ignored
