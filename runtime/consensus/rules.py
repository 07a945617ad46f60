"""What a block of an epoch lace must satisfy, beyond the blocklace's own rules.

Checked by :class:`EpochRules` before a block is stored, so a refused block never reaches
consensus or the disk.  These are the rules safety rests on: the creator is a participant;
the payload is a :class:`RoundPayload`; a block of depth ``d > 0`` points to blocks of depth
``d - 1`` from a supermajority of distinct creators (so any two rounds' quorums share a
correct member); and once an epoch has ended, nothing deeper than its last wave enters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.errors import InvalidBlock, RemoteProtocolError
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import BlockMeta
from peoplenet.runtime.wire.codec import Record, Value, wire_type

MAX_TXS_PER_BLOCK: Final = 4096
WAVE_LENGTH: Final = 3
"""Rounds per wave in the eventual-synchrony variant: leader, approve, ratify."""


class ConsensusRejected(InvalidBlock):
    """A well-formed, signed block that breaks a consensus rule of its epoch.

    ``reason`` is one of ``not_participant``, ``bad_payload``, ``below_quorum`` or
    ``stale_epoch``.
    """

    reason = "consensus_rejected"


class UnknownEpoch(RemoteProtocolError):
    """A message names an epoch lace this member does not run (not yet, or not at all)."""

    reason = "unknown_epoch"


@wire_type(64)
@dataclass(frozen=True, slots=True)
class RoundPayload(Record):
    """The payload of every block in an epoch lace: the creator's transactions, maybe none.

    A transaction is any codec value; consensus itself interprets only
    :class:`~peoplenet.runtime.consensus.constitution.Amendment`.
    """

    txs: Value

    def __post_init__(self) -> None:
        if type(self.txs) is not tuple:
            raise RemoteProtocolError("bad_payload", "txs must be an array")
        if len(self.txs) > MAX_TXS_PER_BLOCK:
            raise RemoteProtocolError("bad_payload", f"{len(self.txs)} > {MAX_TXS_PER_BLOCK} txs")

    @property
    def items(self) -> tuple[Value, ...]:
        """The transactions (``txs`` is always a tuple; this says so to the type checker)."""
        assert type(self.txs) is tuple
        return self.txs


class EpochRules:
    """The :class:`~peoplenet.runtime.lace.blocklace.BlockValidator` for one epoch's lace."""

    __slots__ = ("_members", "_quorum", "end_depth", "genesis", "lace")

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.lace = genesis.lace()
        self._members = frozenset(genesis.constitution.participants)
        self._quorum = genesis.constitution.quorum
        self.end_depth: int | None = None
        """Set when the epoch ends: blocks deeper than this are stale."""

    def __call__(
        self, block: Block, meta: BlockMeta, known: Mapping[BlockId, BlockMeta]
    ) -> InvalidBlock | None:
        if block.lace != self.lace:
            return None
        if block.creator not in self._members:
            return ConsensusRejected(
                "not_participant", "creator is not a participant of this epoch", block_id=meta.id
            )
        if type(block.payload) is not RoundPayload:
            return ConsensusRejected(
                "bad_payload", "an epoch block's payload is a RoundPayload", block_id=meta.id
            )
        depth = meta.depth
        if self.end_depth is not None and depth > self.end_depth:
            return ConsensusRejected(
                "stale_epoch", f"epoch ended at depth {self.end_depth}", block_id=meta.id
            )
        if depth and meta.below < self._quorum:
            return ConsensusRejected(
                "below_quorum",
                f"points to {meta.below} creators of round {depth - 1}, quorum is {self._quorum}",
                block_id=meta.id,
            )
        return None
