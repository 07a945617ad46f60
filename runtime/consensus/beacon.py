"""The community's beacon: 32 unpredictable bytes per step of the order, the same for everyone.

Why: some rules need chance that no member chooses (a jury drawn by lot).  Each step of the
order is an :class:`~peoplenet.runtime.consensus.ordering.Anchor` -- a final leader block and
the blocks it newly orders -- and every member computes the same anchors from the blocklace.
The beacon of a transaction is BLAKE2b-256 over the ids of the blocks of the anchor that
ordered it, in the order's ``(depth, id)`` sequence (the leader, the deepest, last), so:

* any member can recompute it from the finalized blocks, now or in an audit years later;
* it is fixed only when the leader block exists, which points to the transaction's block: the
  member who submitted the transaction committed to it before the beacon could be known;
* it changes at every step of the order (every anchor has a new leader block).

Its limit (docs/work-kit.md, "the beacon"): the creator of the leader block chooses that
block's contents, so a leader who is a party can try several blocks and keep the beacon it
likes best, or withhold its block so the transaction waits for the next leader.  That is bias,
not control, and only for the wave's leader; a threshold-signature beacon would remove it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from typing import Final

from peoplenet.runtime.consensus.ordering import Anchor

PERSON: Final = b"peoplenet-beacon"
"""BLAKE2b personalisation: a beacon is a hash of nothing else."""

BEACON_LEN: Final = 32


def anchor_beacon(blocks: Iterable[bytes]) -> bytes:
    """BLAKE2b-256 (personalised) over the concatenated 32-byte ids of an anchor's blocks."""
    h = hashlib.blake2b(digest_size=BEACON_LEN, person=PERSON)
    for block in blocks:
        h.update(block)
    return h.digest()


def beacons_of(
    anchors: Iterable[Anchor], wanted: Collection[bytes] | None = None
) -> dict[bytes, bytes]:
    """Block id -> the beacon of the anchor that ordered it (only ``wanted`` blocks if given:
    the ones that carried transactions)."""
    out: dict[bytes, bytes] = {}
    for anchor in anchors:
        blocks = [bytes(b) for b in anchor.blocks]
        keep = blocks if wanted is None else [b for b in blocks if b in wanted]
        if keep:
            beacon = anchor_beacon(blocks)
            out.update(dict.fromkeys(keep, beacon))
    return out


__all__ = ["BEACON_LEN", "PERSON", "anchor_beacon", "beacons_of"]
