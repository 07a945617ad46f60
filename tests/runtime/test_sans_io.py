"""Every sans-IO core answers with the one contract: what to send, what happened, when to wake."""

from __future__ import annotations

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Output
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.app_lace import (
    LaceBlocks,
    LaceHave,
    LaceReplica,
    ReplicaOutput,
    app_lace_id,
)
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.sans_io import Step, earliest
from peoplenet.runtime.social.core import SocialNode, SocialStep
from peoplenet.runtime.social.dissemination import (
    Blocks,
    Disclose,
    FriendRequest,
    Heads,
    SocialConfig,
)
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace
from peoplenet.runtime.wire.codec import Record

IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]
MEMBERS = [MemberId(i.member_id) for i in IDS]


def test_the_consensus_core_answers_with_a_step_of_bytes_and_monotonic_seconds() -> None:
    genesis = Genesis.first(b"sans-io", Constitution.of(MEMBERS))
    core = ConsensusCore(IDS[0], genesis, Blocklace(MemoryStore()))
    step: Step[bytes] = core.start(100.0)
    assert isinstance(step, Output) and isinstance(step, Step)
    assert step.sends and all(type(m) is bytes for _, m in step.sends)
    assert step.wake_at is None  # an idle community sets no timer
    busy: Step[bytes] = core.submit(("text", "x"), 100.5)
    assert busy.sends and all(type(m) is bytes for _, m in busy.sends)  # my block, pushed
    assert busy.wake_at is not None and busy.wake_at > 100.5  # Δ-based, on the same clock


def test_the_app_lace_replica_answers_with_a_step() -> None:
    replica = LaceReplica(app_lace_id(b"c", "flash"), Blocklace(MemoryStore()), MEMBERS[0], MEMBERS)
    step: Step[LaceBlocks | LaceHave] = replica.peer_up(MEMBERS[1], 5.0)
    assert isinstance(step, ReplicaOutput) and isinstance(step, Step)
    assert [p for p, _ in step.sends] == [MEMBERS[1]] and step.wake_at is None


def test_the_social_core_answers_every_call_with_a_step_on_monotonic_seconds() -> None:
    me, friend = IDS[0], IDS[1]
    cfg = SocialConfig()
    node = SocialNode(
        me.member_id, Blocklace(MemoryStore()), MemoryEvidenceStore(), cfg, wall=lambda: 1e9
    )
    lace, pointers = node.next_block(Befriend(friend.member_id))
    mine = Block.create(me, lace, Befriend(friend.member_id), pointers)
    made: Step[Record] = node.add_own(mine, 100.0)
    assert isinstance(made, SocialStep) and isinstance(made, Step)
    assert [type(m) for _, m in made.sends] == [FriendRequest]  # the cold call
    assert made.wake_at is None  # no friend up, no request kept: nothing due
    theirs = Block.create(friend, personal_lace(friend.member_id), Befriend(me.member_id), ())
    heard: Step[Record] = node.on_wire(friend.member_id, FriendRequest(theirs.to_bytes()), 100.5)
    assert isinstance(heard, SocialStep) and [e.kind for e in heard.events] == ["friend_added"]
    assert heard.wake_at == 100.5 + cfg.pending_request_ttl_s  # the kept request expires
    up: Step[Record] = node.peer_up(friend.member_id, 101.0)
    assert [(p, type(m)) for p, m in up.sends] == [(friend.member_id, Disclose)]
    assert up.wake_at == 101.0 + cfg.disclose_interval_s  # the next re-disclosure
    early: Step[Record] = node.tick(105.0)
    assert early.sends == [] and early.wake_at == up.wake_at
    due: Step[Record] = node.tick(106.0)
    assert [type(m) for _, m in due.sends] == [Disclose]
    assert due.wake_at == 106.0 + cfg.disclose_interval_s


def test_the_social_core_wakes_for_an_ack_timeout_due_before_its_next_disclosure() -> None:
    me, friend = IDS[0], IDS[1]
    cfg = SocialConfig(disclose_interval_s=60.0, ack_timeout_s=2.0)
    node = SocialNode(me.member_id, Blocklace(MemoryStore()), MemoryEvidenceStore(), cfg)
    lace, pointers = node.next_block(Befriend(friend.member_id))
    node.add_own(Block.create(me, lace, Befriend(friend.member_id), pointers), 100.0)
    theirs = Block.create(friend, personal_lace(friend.member_id), Befriend(me.member_id), ())
    node.on_wire(friend.member_id, FriendRequest(theirs.to_bytes()), 100.0)
    node.peer_up(friend.member_id, 100.0)
    holds = tuple(bytes(b) for b in node.lace.tips(lace, me.member_id))
    node.on_wire(friend.member_id, Disclose((Heads(bytes(lace), holds),)), 100.0)
    lace, pointers = node.next_block(Post("hi"))
    posted = node.add_own(Block.create(me, lace, Post("hi"), pointers), 110.0)
    assert [type(m) for _, m in posted.sends] == [Blocks]
    assert posted.wake_at == 112.0  # the Blocks message's ack timeout, not the disclosure at 160
    lost = node.tick(112.0)  # unacknowledged: taken as lost, nothing more due until 160
    assert (
        lost.sends == [] and lost.wake_at == 160.0 and node.dissem.in_flight(friend.member_id) == 0
    )


def test_earliest_of_two_wishes_to_be_woken() -> None:
    assert earliest() is None and earliest(None, None) is None
    assert earliest(3.0, None, 2.5) == 2.5
