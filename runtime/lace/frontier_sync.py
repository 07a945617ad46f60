"""The frontier-and-wants core shared by every have/blocks sync protocol (pure, sans-IO).

Four protocols keep blocklaces equal between peers: the consensus epochs (``EpochHave`` /
``EpochBlocks``), the app laces (``LaceHave`` / ``LaceBlocks``), the friends' dissemination
(``Disclose`` / ``Blocks``) and the simulator's anti-entropy (``SyncHave`` / ``SyncBlocks``).
Each says "this is what I hold of a lace" -- a per-creator frontier, or the lace's tips --
plus the ids it is missing, and is answered with the blocks it lacks, pointees first.  This
module is that answer, with one set of limits, so the four cannot drift apart:

* :func:`check_frontier_have` -- the wire checks of a per-creator have (``too_many_heads``,
  ``bad_frontier``, ``bad_want``), raised as :class:`BadHave`;
* :func:`frontier_of` / :func:`wants_of` -- my have, cut to the limits;
* :func:`missing_by_frontier` / :func:`missing_by_tips` -- which blocks the peer lacks, and
  whether it holds blocks I lack (then I should send it my have);
* :func:`chunk` -- those blocks as message bodies within the block and byte budgets.

The wire records stay in their protocols' modules (their tags and fields are pinned by
docs/wire-format.md); only the decisions live here.  Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, MemberId
from peoplenet.runtime.lace.block import BLOCK_ID_LEN, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace

MAX_FRONTIER: Final = 1024
"""Most entries of a have's frontier (per-creator entries, or tips)."""
MAX_WANTS: Final = 1024
"""Most wanted ids in one have."""
MAX_BLOCKS: Final = 256
"""Most blocks in one answer message (the ceiling every blocks record accepts, except
``EpochBlocks``, whose receivers accept at most :data:`MAX_EPOCH_BLOCKS`)."""
MAX_EPOCH_BLOCKS: Final = 64
"""``EpochBlocks``' own ceiling on the wire (kept: existing receivers refuse more)."""
MAX_BYTES: Final = 512 * 1024
"""Most bytes of block encodings in one answer message."""


@dataclass(frozen=True, slots=True)
class SyncLimits:
    """The one set of limits of the have/blocks protocols (see the module constants)."""

    max_frontier: int = MAX_FRONTIER
    max_wants: int = MAX_WANTS
    max_blocks: int = MAX_BLOCKS
    max_bytes: int = MAX_BYTES

    def __post_init__(self) -> None:
        if not (
            1 <= self.max_frontier <= MAX_FRONTIER
            and 0 <= self.max_wants <= MAX_WANTS
            and 1 <= self.max_blocks <= MAX_BLOCKS
            and 1 <= self.max_bytes <= MAX_BYTES
        ):
            raise LocalError("sync limits must be positive and within the wire ceilings")


LIMITS: Final = SyncLimits()
"""The limits every protocol answers within (``EpochBlocks`` chunks at 64 blocks as well)."""
EPOCH_LIMITS: Final = SyncLimits(max_blocks=MAX_EPOCH_BLOCKS)


class BadHave(RemoteProtocolError):
    """A peer's have that breaks the limits or the entry rules; ``reason`` says which."""


def check_frontier_have(
    frontier: Sequence[object], wants: Sequence[object], limits: SyncLimits = LIMITS
) -> None:
    """Refuse a per-creator have the wire rules refuse (the records call it on decoding).

    ``too_many_heads``: more than ``max_frontier`` entries or ``max_wants`` ids;
    ``bad_frontier``: an entry that is not (32-byte creator, seq >= 0);
    ``bad_want``: a wanted id that is not 32 bytes.
    """
    if len(frontier) > limits.max_frontier or len(wants) > limits.max_wants:
        raise BadHave("too_many_heads", f"more than {limits.max_frontier} entries")
    for entry in frontier:
        if (
            type(entry) is not tuple
            or len(entry) != 2
            or type(entry[0]) is not bytes
            or len(entry[0]) != ID_LEN
            or type(entry[1]) is not int
            or entry[1] < 0
        ):
            raise BadHave("bad_frontier", "entries are (creator, seq >= 0)")
    for want in wants:
        if type(want) is not bytes or len(want) != BLOCK_ID_LEN:
            raise BadHave("bad_want", "wanted ids are 32-byte block ids")


# -- my have ------------------------------------------------------------------------------------


def frontier_of(
    bl: Blocklace, lace: LaceId, limits: SyncLimits = LIMITS
) -> tuple[tuple[bytes, int], ...]:
    """My per-creator frontier of ``lace``, sorted by creator, cut to ``max_frontier``."""
    entries = sorted(bl.creator_frontier(lace).items())[: limits.max_frontier]
    return tuple((bytes(c), s) for c, s in entries)


def tips_of(bl: Blocklace, lace: LaceId, limits: SyncLimits = LIMITS) -> tuple[bytes, ...]:
    """My tips of ``lace`` (sorted), cut to ``max_frontier``."""
    return tuple(bl.lace_tips(lace)[: limits.max_frontier])


def wants_of(ids: Iterable[BlockId], limits: SyncLimits = LIMITS) -> tuple[bytes, ...]:
    """Ids I am missing (pointees of buffered blocks), sorted, cut to ``max_wants``."""
    return tuple(sorted(ids)[: limits.max_wants])


# -- the answer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Missing:
    """What a peer's have shows: the blocks it lacks (pointees first), and whether it holds
    blocks I lack (then my have should go to it, so that it sends them)."""

    ids: tuple[BlockId, ...]
    peer_ahead: bool


def missing_by_frontier(
    bl: Blocklace,
    lace: LaceId,
    theirs: Mapping[bytes, int],
    wants: Iterable[bytes] = (),
    *,
    creators: Collection[bytes] | None = None,
) -> Missing:
    """The blocks of ``lace`` beyond the peer's per-creator frontier, plus its wanted ids.

    Exact for a creator that never forked.  For a forked creator every branch from its first
    fork on is sent (the peer may hold only one twin); ``creators`` limits the answer (and
    the wanted ids) to those creators.  Wanted ids of another lace are ignored.
    """
    mine = bl.creator_frontier(lace)
    forked = bl.forked_view(lace)
    first_fork: dict[bytes, int] = {}
    if forked:
        for ev in bl.equivocations(lace):
            if ev.creator not in first_fork or ev.seq < first_fork[ev.creator]:
                first_fork[ev.creator] = ev.seq
    missing: set[BlockId] = set()
    for creator, top in mine.items():
        if creators is not None and creator not in creators:
            continue
        held = theirs.get(creator, -1)
        first = first_fork.get(creator)
        if first is not None:
            missing.update(bl.blocks_after(lace, creator, min(held, first - 1)))
        elif held < top:
            missing.update(bl.blocks_after(lace, creator, held))
    for want in wants:
        bid = BlockId(want)
        if bid in bl:
            meta = bl.meta(bid)
            if meta.lace == lace and (creators is None or meta.creator in creators):
                missing.add(bid)
    ahead = any(
        seq > mine.get(MemberId(c), -1)
        for c, seq in theirs.items()
        if creators is None or c in creators
    )
    return Missing(tuple(bl.topological(missing)), ahead)


def missing_by_tips(
    bl: Blocklace,
    lace: LaceId,
    tips: Iterable[bytes],
    *,
    creators: Collection[MemberId] | None = None,
    chain: bool = False,
) -> Missing:
    """The blocks of ``lace`` that none of the peer's tips observes.

    A tip I lack means the peer holds blocks I lack (``peer_ahead``).  What it then lacks is
    known only from the tips I hold, and is sent -- except for a ``chain`` lace (one
    creator's own lace, ``creators`` being that creator): there a tip I lack observes all
    I hold of it, so nothing is sent.
    """
    ids = [BlockId(t) for t in tips]
    known = [t for t in ids if t in bl]
    ahead = len(known) < len(ids)
    if ahead and chain:
        return Missing((), True)
    return Missing(tuple(bl.missing_for(lace, known, creators=creators)), ahead)


def chunk(
    bl: Blocklace,
    ids: Iterable[BlockId],
    limits: SyncLimits = LIMITS,
    *,
    skip: Collection[BlockId] = (),
    max_messages: int | None = None,
) -> list[tuple[tuple[BlockId, ...], tuple[bytes, ...]]]:
    """``ids`` (minus ``skip``) as message bodies: each at most ``max_blocks`` blocks and
    ``max_bytes`` bytes of encodings (a single larger block still goes, alone), in order;
    at most ``max_messages`` bodies (None: all)."""
    out: list[tuple[tuple[BlockId, ...], tuple[bytes, ...]]] = []
    chunk_ids: list[BlockId] = []
    raws: list[bytes] = []
    size = 0
    for bid in ids:
        if bid in skip:
            continue
        raw = bl.raw(bid)
        if raws and (len(raws) == limits.max_blocks or size + len(raw) > limits.max_bytes):
            out.append((tuple(chunk_ids), tuple(raws)))
            chunk_ids, raws, size = [], [], 0
            if max_messages is not None and len(out) >= max_messages:
                return out
        chunk_ids.append(bid)
        raws.append(raw)
        size += len(raw)
    if raws and (max_messages is None or len(out) < max_messages):
        out.append((tuple(chunk_ids), tuple(raws)))
    return out


__all__ = [
    "EPOCH_LIMITS",
    "LIMITS",
    "MAX_BLOCKS",
    "MAX_BYTES",
    "MAX_EPOCH_BLOCKS",
    "MAX_FRONTIER",
    "MAX_WANTS",
    "BadHave",
    "Missing",
    "SyncLimits",
    "check_frontier_have",
    "chunk",
    "frontier_of",
    "missing_by_frontier",
    "missing_by_tips",
    "tips_of",
    "wants_of",
]
