"""The social fold and the personal-lace validator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import msgpack
import pytest

from peoplenet.runtime.errors import InvalidBlock, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import BlockMeta
from peoplenet.runtime.social.graph import (
    Address,
    Befriend,
    Follow,
    Introduce,
    Post,
    Reply,
    SocialGraph,
    Unfollow,
    Unfriend,
    check_personal_block,
    lace_owner,
    personal_lace,
)
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, wire_type


def ident(i: int) -> Identity:
    return Identity.from_seed(i.to_bytes(32, "big"))


class Writer:
    """Signs a member's personal chain for tests."""

    def __init__(self, i: int) -> None:
        self.identity = ident(i)
        self.id = self.identity.member_id
        self.lace = personal_lace(self.id)
        self.blocks: list[Block] = []

    def write(self, payload: Value) -> Block:
        pointers = (self.blocks[-1].id,) if self.blocks else ()
        block = Block.create(self.identity, self.lace, payload, pointers)
        self.blocks.append(block)
        return block


def meta_of(block: Block, seq: int) -> BlockMeta:
    parent = block.pointers[0] if block.pointers else None
    return BlockMeta(block.id, block.creator, block.lace, seq, seq, block.pointers, parent)


def fold(*writers: Writer) -> SocialGraph:
    graph = SocialGraph()
    for w in writers:
        for seq, b in enumerate(w.blocks):
            graph.apply(meta_of(b, seq), b.payload)
    return graph


A, B, C, D = (Writer(i) for i in range(4))


@pytest.fixture(autouse=True)
def _fresh() -> None:
    for i, w in enumerate((A, B, C, D)):
        w.__init__(i)  # type: ignore[misc]


# -- laces and validators ----------------------------------------------------------------------


def test_personal_lace_round_trips_and_other_laces_have_no_owner() -> None:
    assert personal_lace(A.id) == b"p/" + A.id
    assert lace_owner(personal_lace(A.id)) == A.id
    assert lace_owner(b"community/1") is None
    assert lace_owner(b"p/" + A.id[:31]) is None


def test_validator_accepts_a_chain_of_social_records() -> None:
    check_personal_block(A.write(Post("hi")))
    check_personal_block(A.write(Follow(B.id)))


@pytest.mark.parametrize(
    ("lace", "creator", "payload", "reason"),
    [
        (b"community/1", 0, Post("x"), "not_personal_lace"),
        (None, 1, Post("x"), "foreign_creator"),
        (None, 0, {"t": "post"}, "bad_payload"),
        (None, 0, 7, "bad_payload"),
    ],
)
def test_validator_refuses_each_reason(
    lace: bytes | None, creator: int, payload: Value, reason: str
) -> None:
    block = Block.create(ident(creator), lace or A.lace, payload)
    with pytest.raises(InvalidBlock) as err:
        check_personal_block(block)
    assert err.value.reason == reason


def test_validator_refuses_two_pointers() -> None:
    first, second = A.write(Post("1")), A.write(Post("2"))
    forked = Block.create(A.identity, A.lace, Post("3"), (first.id, second.id))
    with pytest.raises(InvalidBlock) as err:
        check_personal_block(forked)
    assert err.value.reason == "not_a_chain"


@wire_type(1_337_300)
@dataclass(frozen=True, slots=True)
class Coin(Record):
    """Stands for an app's record in a personal lace."""

    amount: int


def test_unknown_app_records_are_accepted_and_ignored_by_the_fold() -> None:
    block = A.write(Coin(5))
    check_personal_block(block)
    A.write(Post("after"))
    graph = fold(A)
    assert graph.follows(A.id) == {A.id}
    assert [i.text for i in graph.feed(A.id)] == ["after"]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Follow(b"short"),
        lambda: Post("x" * 4097),
        lambda: Reply(A.id, b"\x00" * 31, "x"),
        lambda: Address("h", 70000),
        lambda: Introduce(A.id, A.id, "", 0, "", 0, ""),
    ],
)
def test_records_check_their_fields(bad: object) -> None:
    with pytest.raises(RemoteProtocolError) as err:
        bad()  # type: ignore[operator]
    assert err.value.reason == "bad_payload"


def test_oversized_post_is_refused_when_decoding_too() -> None:
    assert decode(encode(Post("x" * 4096))) == Post("x" * 4096)
    data = msgpack.packb(msgpack.ExtType(0x50, msgpack.packb([34, "x" * 4097])))
    with pytest.raises(RemoteProtocolError) as err:
        decode(data)
    assert err.value.reason == "bad_payload"


# -- the fold ------------------------------------------------------------------------------


def test_follow_unfollow_sequences_keep_the_latest_word() -> None:
    A.write(Follow(B.id))
    A.write(Follow(C.id))
    A.write(Unfollow(B.id))
    assert fold(A).follows(A.id) == {A.id, C.id}
    A.write(Follow(B.id))
    A.write(Unfollow(C.id))
    assert fold(A).follows(A.id) == {A.id, B.id}


def test_friendship_needs_both_consents_and_either_can_end_it() -> None:
    A.write(Befriend(B.id))
    graph = fold(A, B)
    assert graph.befriended(A.id) == {B.id}
    assert not graph.is_friend(A.id, B.id)
    assert graph.friends(A.id) == set()
    B.write(Befriend(A.id))
    graph = fold(A, B)
    assert graph.is_friend(A.id, B.id) and graph.is_friend(B.id, A.id)
    assert graph.friends(B.id) == {A.id}
    B.write(Unfriend(A.id))
    graph = fold(A, B)
    assert not graph.is_friend(A.id, B.id)
    assert graph.befriended(A.id) == {B.id}  # A's consent stands; B withdrew
    B.write(Befriend(A.id))
    assert fold(A, B).is_friend(A.id, B.id)


def test_friends_are_followed_implicitly_and_unfollow_does_not_drop_them() -> None:
    A.write(Befriend(B.id))
    B.write(Befriend(A.id))
    A.write(Follow(C.id))
    A.write(Unfollow(B.id))
    assert fold(A, B).follows(A.id) == {A.id, B.id, C.id}


def test_self_targets_are_ignored() -> None:
    A.write(Befriend(A.id))
    A.write(Follow(A.id))
    graph = fold(A)
    assert graph.friends(A.id) == set() and graph.befriended(A.id) == set()


def test_fold_is_order_independent() -> None:
    A.write(Follow(B.id))
    A.write(Befriend(C.id))
    A.write(Unfollow(B.id))
    A.write(Unfriend(C.id))
    A.write(Befriend(C.id))
    C.write(Befriend(A.id))
    A.write(Address("10.0.0.1", 7000))
    A.write(Address("10.0.0.2", 7001))
    items = [(b, s) for w in (A, C) for s, b in enumerate(w.blocks)]
    results = set()
    for perm in itertools.islice(itertools.permutations(items), 0, 5000, 97):
        graph = SocialGraph()
        for b, s in perm:
            graph.apply(meta_of(b, s), b.payload)
        results.add(
            (frozenset(graph.follows(A.id)), frozenset(graph.friends(A.id)), graph.address(A.id))
        )
    assert results == {(frozenset({A.id, C.id}), frozenset({C.id}), ("10.0.0.2", 7001))}


def test_request_evidence_counts_until_the_lace_says_more() -> None:
    B.write(Befriend(A.id))  # A will befriend B; B's request reaches A as evidence
    A.write(Befriend(B.id))
    graph = fold(A)
    request = Block.create(B.identity, B.lace, Befriend(A.id))
    graph.add_evidence(request)
    assert graph.is_friend(A.id, B.id)
    assert graph.admirers(A.id) == {B.id}
    # B's lace arrives with a later Unfriend: the lace now says more than the evidence
    seqs = {request.id: 0}
    graph = SocialGraph(seqs.get)
    graph.add_evidence(request)
    graph.apply(meta_of(request, 0), request.payload)
    assert graph.evidence_redundant(B.id, A.id)
    unfriend = Block.create(B.identity, B.lace, Unfriend(A.id), (request.id,))
    graph.apply(meta_of(unfriend, 1), unfriend.payload)
    assert not graph.consents(B.id, A.id)


def test_evidence_with_unknown_parent_is_newer_than_the_held_prefix() -> None:
    old = B.write(Unfriend(A.id))
    middle = B.write(Post("p"))
    request = B.write(Befriend(A.id))
    held = {old.id: 0}  # we hold only B's first block
    graph = SocialGraph(held.get)
    graph.apply(meta_of(old, 0), old.payload)
    graph.add_evidence(request)
    assert graph.consents(B.id, A.id)
    assert not graph.evidence_redundant(B.id, A.id)
    held[middle.id] = 1
    graph.apply(meta_of(middle, 1), middle.payload)
    assert graph.consents(B.id, A.id)  # evidence at seq 2 > the lace's Unfriend at seq 0


def test_introductions_list_both_sides_with_hints() -> None:
    intro = C.write(Introduce(A.id, B.id, "a.example", 1, "b.example", 2, "meet"))
    graph = fold(C)
    (for_a,) = graph.introductions_for(A.id)
    assert (for_a.introducer, for_a.other, for_a.hints, for_a.block_id) == (
        C.id,
        B.id,
        ("b.example", 2),
        intro.id,
    )
    (for_b,) = graph.introductions_for(B.id)
    assert (for_b.other, for_b.hints) == (A.id, ("a.example", 1))
    assert graph.introductions_for(D.id) == []


def test_feed_shows_followed_creators_only_newest_last() -> None:
    A.write(Follow(B.id))
    p0 = B.write(Post("b0"))
    B.write(Post("b1"))
    B.write(Reply(B.id, p0.id, "b2"))
    C.write(Post("c0"))
    A.write(Post("a2"))  # seq 1 in A's chain
    graph = fold(A, B, C)
    feed = graph.feed(A.id)
    texts = [i.text for i in feed]
    assert "c0" not in texts
    assert [i.seq for i in feed] == sorted(i.seq for i in feed)
    assert texts.index("b0") < texts.index("b1") < texts.index("b2")
    reply = feed[-1]
    assert (reply.kind, reply.reply_to) == ("reply", (B.id, p0.id))
    assert [i.text for i in graph.feed(A.id, limit=2)] == texts[-2:]
    assert graph.feed(A.id, limit=0) == []


def test_address_is_the_latest() -> None:
    A.write(Address("h1", 1))
    A.write(Post("x"))
    A.write(Address("h2", 2))
    graph = fold(A)
    assert graph.address(A.id) == ("h2", 2)
    assert graph.address(B.id) is None


def test_consent_block_tracks_the_latest_word() -> None:
    first = A.write(Befriend(B.id))
    graph = fold(A)
    assert graph.consent_block(A.id, B.id) == first.id
    last = A.write(Unfriend(B.id))
    assert fold(A).consent_block(A.id, B.id) == last.id
    assert fold(A).consent_block(A.id, C.id) is None
