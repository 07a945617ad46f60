"""The store actor's control queries over the social core (actors/member/social_queries.py)."""

from __future__ import annotations

from typing import Any

import pytest

from peoplenet.actors.member.command_errors import CommandError
from peoplenet.actors.member.social_queries import (
    feed_report,
    friends_report,
    introduction,
    names_report,
    resolve_block,
    resolve_member,
)
from peoplenet.runtime.cli.names import NameTooShort, UnknownName, UnverifiedName
from peoplenet.runtime.keys.identity import Identity, fingerprint
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.dissemination import FriendRequest
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace


def _node_with_friend() -> tuple[SocialNode, Identity, Identity, Block]:
    me, friend = Identity.generate(), Identity.generate()
    lace = Blocklace(MemoryStore())
    mine = Block.create(me, personal_lace(me.member_id), Befriend(friend.member_id), ())
    theirs = Block.create(friend, personal_lace(friend.member_id), Befriend(me.member_id), ())
    post = Block.create(friend, personal_lace(friend.member_id), Post("hi"), (theirs.id,))
    lace.add_many([mine, theirs, post], verified=True)
    return SocialNode(me.member_id, lace, MemoryEvidenceStore()), me, friend, post


def test_resolve_member_by_id_fingerprint_and_prefix() -> None:
    core, _me, friend, _post = _node_with_friend()
    fid = friend.member_id
    assert resolve_member(core, fid.hex(), {}) == fid
    assert resolve_member(core, fingerprint(fid), {}) == fid
    assert resolve_member(core, fid.hex()[:10], {}) == fid
    with pytest.raises(NameTooShort):
        resolve_member(core, "abcd", {})
    with pytest.raises(UnknownName, match="no known member matches"):
        resolve_member(core, "00000000000000ff", {})
    with pytest.raises(UnknownName, match="neither a petname"):
        resolve_member(core, "g" * 64, {})


def test_pending_requests_and_discovered_peers_need_a_full_name() -> None:
    core, me, _friend, _post = _node_with_friend()
    stranger = Identity.generate()
    sid = stranger.member_id
    request = Block.create(stranger, personal_lace(sid), Befriend(me.member_id), ())
    outcome = core.on_wire(sid, FriendRequest(request.to_bytes()), 0.0)
    assert not outcome.errors
    assert sid in core.pending_requests()
    with pytest.raises(UnverifiedName, match="pending request"):
        resolve_member(core, sid.hex()[:16], {})
    assert resolve_member(core, fingerprint(sid), {}) == sid
    assert resolve_member(core, sid.hex(), {}) == sid
    peer = Identity.generate().member_id
    with pytest.raises(UnverifiedName, match="discovered"):
        resolve_member(core, fingerprint(peer)[:9], {peer: ("127.0.0.1", 1)})
    listed: dict[Any, Any] = {}
    for entry in names_report(core, {peer: ("127.0.0.1", 1)}):
        assert isinstance(entry, dict)
        listed[entry["member"]] = entry
    assert listed[sid.hex()]["verified"] is False
    assert listed[peer.hex()]["sources"] == ("discovered",)
    assert listed[me.member_id.hex()]["sources"] == ("me",)


def test_reports_show_friends_and_feed() -> None:
    core, _me, friend, post = _node_with_friend()
    report = friends_report(core)
    friends = report["friends"]
    assert isinstance(friends, tuple)
    assert friends[0] == {"member": friend.member_id.hex(), "fingerprint": friend.fingerprint}
    feed = feed_report(core, 10)
    assert len(feed) == 1
    item = feed[0]
    assert isinstance(item, dict)
    assert item["text"] == "hi"
    assert item["block"] == post.id.hex()
    assert resolve_block(core, post.id.hex()) == (friend.member_id, post.id)
    assert resolve_block(core, post.id.hex()[:12]) == (friend.member_id, post.id)
    with pytest.raises(UnknownName, match="no block"):
        resolve_block(core, "00" * 32)


def test_introductions_only_between_friends() -> None:
    core, _me, friend, _post = _node_with_friend()
    stranger = Identity.generate().member_id
    with pytest.raises(CommandError, match="not your friend"):
        introduction(core, friend.member_id, stranger, "")
