"""What the blocklace needs from persistent storage, and nothing more.

The blocklace keeps its indexes in memory and the block bytes in a store.  A store is
append-only: blocks are never changed or deleted once acknowledged (a block's id is its
content hash, so there is nothing to update).  :meth:`BlockStore.put_many` is the unit of
acknowledgement: when it returns, every block in the batch survives a crash of the process
(and, with ``durability="full"``, a power cut); when it raises, none of them was kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block as persisted: its canonical bytes plus the indexed facts derived from it."""

    id: bytes
    """Block id (32 bytes)."""
    lace: bytes
    """Lace id (1..64 bytes)."""
    creator: bytes
    """Creator's member id (32 bytes)."""
    seq: int
    """Position in the creator's chain in this lace (0 for its first block)."""
    depth: int
    """0 for an initial block, else 1 + the greatest depth it points to."""
    raw: bytes
    """The block's canonical encoding, exactly as signed and received."""


class BlockStore(Protocol):
    """Append-only persistent block storage (see module docstring for the guarantees)."""

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        """Persist a batch atomically and durably; already-stored ids are ignored."""
        ...

    def get_raw(self, block_id: bytes) -> bytes | None:
        """The canonical bytes of a stored block, or ``None`` if unknown."""
        ...

    def __contains__(self, block_id: object) -> bool: ...

    def __len__(self) -> int: ...

    def iter_blocks(self) -> Iterator[StoredBlock]:
        """Every stored block, in the order it was stored (so pointees come first)."""
        ...

    def ids_by_creator(self, lace: bytes, creator: bytes) -> list[bytes]:
        """Ids of ``creator``'s blocks in ``lace``, by ascending seq (forks: both, by id)."""
        ...

    def ids_by_depth(self, lace: bytes, lo: int, hi: int) -> list[bytes]:
        """Ids of blocks in ``lace`` with ``lo <= depth <= hi``, by (depth, id)."""
        ...

    def laces(self) -> list[bytes]:
        """Every lace that has at least one stored block, sorted."""
        ...

    def close(self) -> None:
        """Release the store.  Idempotent."""
        ...
