"""Juries drawn by lot: a deterministic sample, without replacement, any member can recompute.

Why by lot from a beacon: no member (least of all a party) should choose who judges a
dispute, and every member's node must seat the same jury without talking.  The seed is
BLAKE2b over the cooperative's beacon for the transaction that opened the dispute
(:attr:`peoplenet.plugins.api.FoldContext.beacon`) and the dispute's id; the pool is the
eligible members *sorted*, so the order in which a caller lists them does not matter.

The draw is a Fisher-Yates shuffle of the pool driven by that seed, read from the front:
``draw(..., k, skip)`` is the shuffle's items ``skip .. skip+k-1``, so a replacement juror is
simply "the next draw" of the same stream (``draw(k1) + draw(k2, skip=k1) == draw(k1+k2)``)
and nobody already drawn can be drawn again.  Uniform integers come from the BLAKE2b stream by
rejection sampling, so no member is likelier than another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Final

from peoplenet.actors.work.misuse import KitMisuse

PERSON: Final = b"peoplenet-jury1"
"""BLAKE2b personalisation of the draw: a seed for nothing else."""

MAX_POOL: Final = 100_000


def seed(beacon: bytes, dispute: bytes) -> bytes:
    """The 32-byte seed of a dispute's draws: BLAKE2b(len(beacon) || beacon || dispute).

    The length prefix keeps (beacon, dispute) pairs apart that concatenate to the same bytes.
    """
    if type(beacon) is not bytes or type(dispute) is not bytes:
        raise KitMisuse("the beacon and the dispute id are bytes")
    data = len(beacon).to_bytes(2, "big") + beacon + dispute
    return hashlib.blake2b(data, digest_size=32, person=PERSON).digest()


def _words(key: bytes) -> Iterator[int]:
    """An endless stream of 64-bit words: BLAKE2b(seed, counter) in counter mode."""
    counter = 0
    while True:
        block = hashlib.blake2b(counter.to_bytes(8, "big"), key=key, digest_size=64).digest()
        for at in range(0, 64, 8):
            yield int.from_bytes(block[at : at + 8], "big")
        counter += 1


def _below(words: Iterator[int], bound: int) -> int:
    """A uniform integer in ``[0, bound)``: reject the words above the largest multiple."""
    limit = (1 << 64) - (1 << 64) % bound
    while True:
        word = next(words)
        if word < limit:
            return word % bound


def draw(
    beacon: bytes, dispute: bytes, eligible: Sequence[bytes], k: int, skip: int = 0
) -> tuple[bytes, ...]:
    """Members ``skip .. skip+k-1`` of the seeded shuffle of the sorted ``eligible`` set.

    Fewer than ``k`` when the pool runs out (the caller decides what a short jury means);
    duplicates in ``eligible`` count once.
    """
    if type(k) is not int or type(skip) is not int or k < 0 or skip < 0:
        raise KitMisuse(f"k and skip are integers >= 0, got {k!r}, {skip!r}")
    pool = sorted(set(eligible))
    if any(type(member) is not bytes for member in pool):
        raise KitMisuse("eligible members are bytes")
    if len(pool) > MAX_POOL:
        raise KitMisuse(f"a pool has at most {MAX_POOL} members")
    end = min(skip + k, len(pool))
    words = _words(seed(beacon, dispute))
    for i in range(end):
        j = i + _below(words, len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    return tuple(pool[skip:end])


__all__ = ["MAX_POOL", "PERSON", "draw", "seed"]
