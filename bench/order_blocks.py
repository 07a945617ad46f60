"""The blocks that carry a simulated order's transactions, made and checked as nodes do.

:class:`~peoplenet.bench.coop_net.CoopNet` orders transactions without consensus (one global
order stands for what consensus guarantees).  A benchmark of an app whose transactions are
ordered must still pay for the blocks that carry them, and measure its ceiling on them: here
each member's transactions of one step of the order travel in one block of the cooperative's
epoch lace, signed by that member (:class:`~peoplenet.runtime.consensus.rules.RoundPayload`,
pointing to every member's latest block, as a round does), stored by its maker, and sent as
bytes to every other member, who parses it, checks its signature and stores it (SQLite, as
a node's store does).  The waves of consensus itself (its empty blocks and their checks) are
left out: ``peoplenet bench consensus`` measures them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.wire.codec import Value


class OrderBlocks:
    """Every member's copy of the carrying blocks, and every block made (for the ceiling)."""

    def __init__(self, people: Sequence[Identity], lace: bytes, homes: Sequence[Path]) -> None:
        self.people = list(people)
        self.lace = lace
        self.stores = [SqliteStore(home / "order.sqlite", durability="normal") for home in homes]
        self.laces = [Blocklace(store) for store in self.stores]
        self.latest: dict[int, BlockId] = {}
        """Each member's latest carrying block (what the next block points to)."""
        self.made: list[Block] = []

    def carry(self, maker: int, txs: Sequence[Value]) -> BlockId:
        """``txs`` in one block signed by member ``maker``, added to every member's lace."""
        block = Block.create(
            self.people[maker], self.lace, RoundPayload(tuple(txs)), tuple(self.latest.values())
        )
        self.laces[maker].add(block, verified=True)
        raw = block.to_bytes()
        for i, blocklace in enumerate(self.laces):
            if i != maker:
                blocklace.add(Block.from_bytes(raw))  # parsed and signature-checked
        self.latest[maker] = block.id
        self.made.append(block)
        return block.id

    def close(self) -> None:
        for store in self.stores:
            store.close()


__all__ = ["OrderBlocks"]
