"""The store actor's control queries over the social core: reports and name resolution.

Pure functions of a :class:`SocialNode` (and the members mDNS announced), so tests call them
without an actor system.
"""

from __future__ import annotations

from collections.abc import Callable

from peoplenet.actors.member.command_errors import (
    CommandError,
)
from peoplenet.runtime.cli import names
from peoplenet.runtime.cli.names import KnownMember, merge
from peoplenet.runtime.keys.identity import MemberId, fingerprint, member_id
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.graph import (
    Introduce,
    lace_owner,
)
from peoplenet.runtime.wire.codec import Value


def own_chain_report(core: SocialNode) -> dict[str, Value]:
    """The status keys of my own lace: problems (own fork, another device) and the self-sync."""
    problems = core.own_problems()
    return {
        "problems": tuple(p.to_value("personal lace") for p in problems),
        "own_fork": any(p.kind == "own_fork" for p in problems),
        "own_chain": core.own_chain_status(),
    }


def _who(member: bytes) -> dict[str, Value]:
    return {"member": member.hex(), "fingerprint": fingerprint(member)}


def known_members(
    core: SocialNode, discovered: dict[MemberId, tuple[str, int]]
) -> list[KnownMember]:
    """Every member this node knows, with where from and whether its identity is verified.

    Verified: friends, follows, members I befriended, members a friend introduced, creators of
    laces I hold, and me.  Unverified (named only by full id or fingerprint, see
    runtime/cli/names.py): pending friend requests and mDNS announcements.
    """
    known: list[KnownMember] = [KnownMember(core.me, ("me",))]
    known += [KnownMember(m, ("friend",)) for m in core.friends()]
    known += [KnownMember(m, ("follow",)) for m in core.follows() if m != core.me]
    known += [KnownMember(m, ("outgoing request",)) for m in core.outgoing_requests()]
    known += [KnownMember(i.other, ("introduced",)) for i in core.introductions()]
    for lace in core.lace.laces():
        owner = lace_owner(lace)
        if owner is not None and owner != core.me:
            known.append(KnownMember(owner, ("blocks",)))
    known += [KnownMember(m, ("pending request",), verified=False) for m in core.pending_requests()]
    known += [KnownMember(m, ("discovered",), verified=False) for m in discovered]
    return merge(known, {})


def names_report(
    core: SocialNode, discovered: dict[MemberId, tuple[str, int]]
) -> tuple[Value, ...]:
    """The ``names`` control query: what a short member name may resolve against."""
    return tuple(
        {**_who(k.member), "sources": k.sources, "verified": k.verified}
        for k in known_members(core, discovered)
    )


def resolve_member(
    core: SocialNode, text: str, discovered: dict[MemberId, tuple[str, int]]
) -> MemberId:
    """A member from a full hex id, a fingerprint, or a unique prefix (runtime/cli/names.py)."""
    return member_id(names.resolve_member(text, known_members(core, discovered)))


def resolve_block(core: SocialNode, text: str) -> tuple[bytes, bytes]:
    """A block of my lace from its full hex id or a unique prefix of it."""
    block_id = BlockId(names.resolve_id(text, core.lace.metas.keys(), "block"))
    if block_id not in core.lace:
        raise names.UnknownName(f"no block {text!r} in this node's lace")
    return bytes(core.lace.meta(block_id).creator), bytes(block_id)


def friends_report(
    core: SocialNode, _discovered: dict[MemberId, tuple[str, int]] | None = None
) -> dict[str, Value]:
    intros: list[Value] = []
    for intro in core.introductions():
        entry = _who(intro.other)
        entry["by"] = fingerprint(intro.introducer)
        intros.append(entry)
    return {
        "friends": tuple(_who(m) for m in sorted(core.friends())),
        "pending": tuple(_who(m) for m in core.pending_requests()),
        "outgoing": tuple(_who(m) for m in core.outgoing_requests()),
        "follows": tuple(_who(m) for m in sorted(core.follows()) if m != core.me),
        "introductions": tuple(intros),
    }


NAMED_REPORTS: dict[str, Callable[[SocialNode, dict[MemberId, tuple[str, int]]], Value]] = {
    "friends": friends_report,
    "names": names_report,
}


def feed_report(core: SocialNode, limit: int) -> tuple[Value, ...]:
    out: list[Value] = []
    for item in core.feed(max(1, min(limit, 1000))):
        out.append(
            {
                "author": fingerprint(item.creator),
                "member": item.creator.hex(),
                "block": item.block_id.hex(),
                "seq": item.seq,
                "kind": item.kind,
                "text": item.text,
                "reply_to": item.reply_to[1].hex() if item.reply_to else None,
            }
        )
    return tuple(out)


def introduction(core: SocialNode, a: MemberId, b: MemberId, note: str) -> Introduce:
    friends = core.friends()
    for m in (a, b):
        if m not in friends:
            raise CommandError(f"{fingerprint(m)} is not your friend: introduce friends only")
    a_host, a_port = core.graph.address(a) or ("", 0)
    b_host, b_port = core.graph.address(b) or ("", 0)
    return Introduce(bytes(a), bytes(b), a_host, a_port, b_host, b_port, note)
