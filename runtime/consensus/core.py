"""One member's consensus for one community: a pure, sans-IO core.

Over 700 lines because :class:`ConsensusCore` is one state machine: receiving, delivering and
producing blocks read and change the same per-epoch state, whose invariants hold across them.

The shell (a simulated node, the node's consensus actor, a benchmark) feeds it what happened
-- :meth:`ConsensusCore.submit` a transaction, :meth:`~ConsensusCore.receive` a message,
:meth:`~ConsensusCore.tick` when the timer it asked for is due -- always with ``now``, and
carries out the :class:`Output`: messages to send, transactions delivered in the agreed
order, the time to be woken next.  It never reads a clock, sleeps or does I/O besides adding
blocks to the :class:`~peoplenet.runtime.lace.blocklace.Blocklace` it was given (whose store
makes them durable).

Block production (a *cordial miner*, made quiescent):

* A member creates a block of round ``r + 1`` once round ``r`` is complete (blocks from a
  supermajority of creators) and it has no block of round ``r + 1`` yet.  The block points to
  every creator's latest block of round ``<= r`` -- all it knows, hiding nothing.
* It does so only when *active*: it holds a transaction, some known transaction is not yet
  ordered, or it has a block in the current wave whose rounds it still owes.  An idle
  community sends nothing and sets no timers.
* Before leaving a wave's leader round it waits for the leader's block, and before leaving
  the approval round for a supermajority of approvals -- each for at most Δ after the round
  completed, so a crashed leader costs Δ, never liveness.

Dissemination: a new block is pushed to every participant.  A block that arrives before its
pointees makes the receiver ask the sender for what it lacks (``EpochHave`` with its tips),
and a member that is active but has seen no progress for 2Δ asks everyone; this is what
carries a restarted or partitioned member back to the front.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from operator import attrgetter
from typing import Final, NamedTuple, cast

from peoplenet.runtime.consensus.constitution import (
    Amendment,
    Genesis,
    InvalidAmendment,
    check_amendment,
)
from peoplenet.runtime.consensus.ordering import Anchor, EpochOrder
from peoplenet.runtime.consensus.rules import (
    WAVE_LENGTH,
    ConsensusRejected,
    EpochRules,
    RoundPayload,
    UnknownEpoch,
)
from peoplenet.runtime.errors import InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import AddReport, Blocklace
from peoplenet.runtime.lace.frontier_sync import (
    EPOCH_LIMITS,
    MAX_EPOCH_BLOCKS,
    MAX_FRONTIER,
    check_frontier_have,
    chunk,
    frontier_of,
    missing_by_frontier,
    wants_of,
)
from peoplenet.runtime.lace.own_chain import OwnChainGuard, OwnProblem, quorum_of_others
from peoplenet.runtime.wire.codec import (
    Record,
    Value,
    decode,
    encode,
    encode_many_nested,
    encode_nested,
    wire_type,
)
from peoplenet.runtime.wire.fast_parsers import (
    array_header,
    bin_header,
    epoch_blocks_parts,
    record_bytes,
    usual_epoch_blocks,
)

MAX_BLOCKS_PER_MESSAGE: Final = MAX_EPOCH_BLOCKS
MAX_HEADS: Final = MAX_FRONTIER
MAX_TXS_IN_BLOCK: Final = 1024
"""Transactions put in one block by this member; the rest wait for the next round."""

W = WAVE_LENGTH
_TX_DEPTH: Final = 3
"""Where a transaction sits in a block's unsigned encoding: (creator, lace, payload, ptrs),
payload = RoundPayload(txs), txs = (tx, ...)."""


@wire_type(65)
@dataclass(frozen=True, slots=True)
class EpochBlocks(Record):
    """Blocks of an epoch lace, as their canonical bytes, pointees first."""

    lace: bytes
    blocks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.blocks) > MAX_BLOCKS_PER_MESSAGE:
            raise RemoteProtocolError("too_many_blocks", f"{len(self.blocks)}")


@wire_type(66)
@dataclass(frozen=True, slots=True)
class EpochHave(Record):
    """ "Of ``lace`` I hold, per creator, blocks up to this seq; send me the rest, and ``wants``."

    A per-creator frontier rather than tips: the answer never depends on the responder
    knowing the asker's blocks, so two members whose histories diverged (one made blocks
    while cut off) still catch each other up in one exchange.
    """

    lace: bytes
    frontier: tuple[tuple[bytes, int], ...]
    wants: tuple[bytes, ...]
    """Blocks my buffered blocks point to (e.g. an equivocator's twin I never got)."""

    def __post_init__(self) -> None:
        check_frontier_have(self.frontier, self.wants)


def _parse_epoch_blocks(data: bytes) -> EpochBlocks | None:
    """``data`` as an :class:`EpochBlocks` if it is laid out canonically, else ``None`` (then
    :func:`decode` accepts or refuses it as usual); the layout is read by
    :func:`~peoplenet.runtime.wire.fast_parsers.epoch_blocks_parts`."""
    if type(data) is not bytes:
        return None
    parts = epoch_blocks_parts(data, MAX_BLOCKS_PER_MESSAGE)
    if parts is None:
        return None
    message = object.__new__(EpochBlocks)  # __post_init__'s one check (count) is done
    object.__setattr__(message, "lace", parts[0])
    object.__setattr__(message, "blocks", parts[1])
    return message


class Delivery(NamedTuple):
    """One transaction in the agreed order.

    A named tuple rather than a frozen dataclass: every member makes one per transaction, and
    a tuple is several times cheaper to build (fields and immutability are the same).
    """

    epoch: int
    position: int
    """Index in the epoch's order of transactions (0, 1, 2, ...)."""
    block: BlockId
    creator: MemberId
    tx: Value


_LACE_OF: Final = attrgetter("lace")

_new_delivery: Final = partial(tuple.__new__, Delivery)
"""``Delivery`` from a 5-tuple, without the Python-level ``__new__`` of a named tuple."""


@dataclass(frozen=True, slots=True)
class EpochEnded:
    """An amendment was ordered: the epoch ``epoch`` ended, ``genesis`` starts the next."""

    epoch: int
    position: int
    genesis: Genesis


@dataclass(frozen=True, slots=True)
class Rejection:
    """Input refused, and who sent it (for logs and peer scoring)."""

    peer: MemberId | None
    error: RemoteProtocolError


@dataclass(slots=True)
class Output:
    """What the shell must do after one call."""

    sends: list[tuple[MemberId, bytes]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    epochs: list[EpochEnded] = field(default_factory=list)
    created: list[Block] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    finalized: list[Anchor] = field(default_factory=list)
    wake_at: float | None = None
    """Call :meth:`ConsensusCore.tick` at this time (None: nothing is due; stay quiet)."""
    own_problems: list[OwnProblem] = field(default_factory=list)
    """New signs that someone else signs with my key here (log them loudly)."""
    self_synced: bool = False
    """This call completed the self-sync: my own chain is learnt, blocks may be made."""


def tx_key(tx: Value) -> bytes:
    """A transaction's identity for deduplication: the digest of its encoding."""
    return hashlib.blake2b(encode(tx), digest_size=16).digest()


def key_of_encoding(encoded: bytes) -> bytes:
    """:func:`tx_key` of the transaction whose encoding is ``encoded`` (no second encoding)."""
    return hashlib.blake2b(encoded, digest_size=16).digest()


def epoch_blocks_bytes(lace: bytes, raws: Sequence[bytes]) -> bytes:
    """``encode(EpochBlocks(lace, raws))``, assembled from the blocks' bytes (no re-encoding)."""
    if len(raws) > MAX_BLOCKS_PER_MESSAGE:
        raise LocalError(f"{len(raws)} blocks > {MAX_BLOCKS_PER_MESSAGE} in one message")
    parts = [b"\x93\x41", bin_header(len(lace)), lace, array_header(len(raws))]
    for raw in raws:
        parts.append(bin_header(len(raw)))
        parts.append(raw)
    return record_bytes(b"".join(parts))


def _round_payload_bytes(encoded_txs: Sequence[bytes]) -> bytes:
    """``encode(RoundPayload(txs))`` from the transactions' encodings."""
    return record_bytes(b"\x92\x40" + array_header(len(encoded_txs)) + b"".join(encoded_txs))


@dataclass(slots=True)
class _Epoch:
    genesis: Genesis
    lace: LaceId
    rules: EpochRules
    order: EpochOrder
    members: frozenset[bytes]
    quorum: int
    delta: float
    round_creators: dict[int, set[MemberId]] = field(default_factory=dict)
    complete_at: dict[int, float] = field(default_factory=dict)
    top_complete: int = -1
    peers: list[MemberId] = field(default_factory=list)
    """The other participants, whom my blocks go to."""
    unordered: set[BlockId] = field(default_factory=set)
    """Blocks carrying transactions that the order has not passed over yet."""
    delivered: int = 0
    ended: bool = False


class ConsensusCore:
    """Cordial Miners for one member of one community, across constitutional epochs."""

    def __init__(
        self,
        identity: Identity,
        genesis: Genesis,
        blocklace: Blocklace,
        *,
        produce: bool = True,
        learn_own_first: bool = False,
    ) -> None:
        """``learn_own_first``: after the start, make no block until f + 1 other participants
        reported how far they hold my chain and I hold that much (my store may be an old
        backup: a block at a round I already signed is an equivocation); and answer a
        participant's EpochHave with mine, so that they can learn theirs from me.  The node
        sets it; the simulator's members keep their stores and leave it off."""
        self.identity = identity
        self.me = MemberId(identity.member_id)
        self._bl = blocklace
        self._produce = produce
        self._epochs: list[_Epoch] = []
        self._by_lace: dict[bytes, _Epoch] = {}
        self._pending: dict[bytes, Value] = {}
        """My transactions not yet in a block of the current epoch (key -> tx)."""
        self._encoded: dict[bytes, bytes] = {}
        """Encodings of pending transactions, kept from :meth:`submit_many` (key -> bytes);
        a pending key missing here is encoded again when its block is made."""
        self._outstanding: dict[bytes, Value] = {}
        """My transactions in a block but not yet delivered (key -> tx)."""
        self._mine_delivered: set[bytes] = set()
        self._keys_in: dict[BlockId, list[bytes]] = {}
        """The keys of the transactions in each block I made and that is not yet delivered."""
        self._last_progress = 0.0
        self._asked: dict[tuple[bytes, bytes], float] = {}
        self._gaps: dict[MemberId, float] = {}
        """Peers whose blocks wait for pointees we lack, and since when."""
        self.blocks_created = 0
        self._plain_tx_types: set[type] = set()
        """Transaction types seen not to be amendments (saves the subclass test per block)."""
        self._replaying = False
        self._learn_own_first = learn_own_first
        self._open_epoch(genesis)
        c = self._current.genesis.constitution
        need = quorum_of_others(c.n) if learn_own_first and self.is_participant() else 0
        self.own = OwnChainGuard(need)
        """May I sign here yet (self-sync), and has someone else signed as me."""

    # -- public API --------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self._current.genesis.epoch

    @property
    def genesis(self) -> Genesis:
        return self._current.genesis

    @property
    def lace(self) -> LaceId:
        return self._current.lace

    def epoch_geneses(self) -> list[Genesis]:
        return [e.genesis for e in self._epochs]

    def end_depth(self, epoch: int) -> int | None:
        """Deepest round of an ended epoch that may still hold blocks (None: not ended)."""
        return self._epochs[epoch].rules.end_depth

    def order_of(self, epoch: int) -> EpochOrder:
        return self._epochs[epoch].order

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def active(self) -> bool:
        """Whether this member still owes the community blocks (else it stays silent)."""
        return self.is_participant() and self._current_active()

    def is_participant(self) -> bool:
        return self.me in self._current.members

    def start(self, now: float) -> Output:
        """Rebuild from the blocklace (after a restart) and say what is due.

        Deliveries of the replayed history are returned, from position 0 of epoch 0: the
        shell skips those it already handed on (its own durable cursor).
        """
        out = Output()
        self._replaying = True
        try:
            index = 0
            while index < len(self._epochs):
                ep = self._epochs[index]
                self._ingest(ep, list(self._bl.iter_lace(ep.lace)), now, out)
                index += 1
        finally:
            self._replaying = False
        self._last_progress = now
        for ep in self._epochs:
            for ev in self._bl.equivocations(ep.lace):
                if ev.creator == self.me:
                    self._own_problem(self.own.forked(ev.seq), out)
        self._step(now, out)
        if self.is_participant():
            # Whatever happened while we were down, catch up now: one EpochHave per peer.
            out.sends.extend(self._have_to_all(now))
        return out

    def own_chain_status(self) -> dict[str, Value]:
        """Whether I may make blocks (self-synced, no own fork) and from how many I learnt."""
        return self.own.status("community lace")

    def _own_problem(self, problem: OwnProblem | None, out: Output) -> None:
        if problem is not None:
            out.own_problems.append(problem)

    def _own_top(self, report: object) -> bool:
        """Whether I hold my chain of a lace as far as a peer reported it (lace, seq)."""
        assert isinstance(report, tuple)
        lace, seq = report
        return bool(self._bl.creator_frontier(lace).get(self.me, -1) >= seq)

    def _learn_own(self, peer: MemberId, ep: _Epoch, have: EpochHave, out: Output) -> None:
        if self.own.synced or ep is not self._current or peer not in ep.members:
            return
        mine = bytes(self.me)
        top = next((s for c, s in have.frontier if c == mine), -1)
        if self.own.report(peer, (ep.lace, top), self._own_top):
            out.self_synced = True

    def submit(self, tx: Value, now: float) -> Output:
        """Propose a transaction; it is delivered once (to every member) when ordered.

        Submitting a transaction already submitted (same encoding) does nothing: the shell
        may resubmit its durable queue after a restart without duplicating anything.
        """
        return self.submit_many((tx,), now)

    def submit_many(self, txs: Iterable[Value], now: float) -> Output:
        """:meth:`submit` for several transactions at once (one step, not one per tx)."""
        out = Output()
        txs = list(txs)
        # EncodeError (the caller's fault) before any is taken; depth: where a tx sits in a block
        encoded = encode_many_nested(txs, _TX_DEPTH)
        keys = map(key_of_encoding, encoded)
        pending, outstanding, delivered = self._pending, self._outstanding, self._mine_delivered
        encodings = self._encoded
        for key, tx, enc in zip(keys, txs, encoded, strict=True):
            if key not in pending and key not in outstanding and key not in delivered:
                pending[key] = tx
                encodings[key] = enc
        self._step(now, out)
        return out

    def receive(self, peer: MemberId, data: bytes, now: float) -> Output:
        """A message from ``peer`` (already authenticated by the transport)."""
        return self.receive_many(((peer, data),), now)

    def receive_many(self, messages: Iterable[tuple[MemberId, bytes]], now: float) -> Output:
        """:meth:`receive` for messages that arrived together: one step, not one per message.

        Their blocks enter the blocklace in one batch and the order advances once; each
        message is still refused or accepted on its own, as :meth:`receive` would.
        """
        out = Output()
        batch: list[tuple[MemberId, bytes, tuple[bytes, ...]]] = []
        usual = usual_epoch_blocks
        for peer, data in messages:
            # The common message, read inline: no EpochBlocks object for it.
            parts = usual(data) if type(data) is bytes else None
            if parts is not None:
                batch.append((peer, *parts))
                continue
            try:
                message = _parse_epoch_blocks(data) or decode(data)
                if isinstance(message, EpochBlocks):
                    batch.append((peer, message.lace, message.blocks))
                elif isinstance(message, EpochHave):
                    self._answer(peer, message, now, out)
                else:
                    raise RemoteProtocolError("unexpected_message", type(message).__name__)
            except RemoteProtocolError as exc:
                out.rejected.append(Rejection(peer, exc))
        if batch:
            self._take_many(batch, now, out)
        self._step(now, out)
        return out

    def peer_up(self, peer: MemberId, now: float) -> Output:
        """A connection to ``peer`` came up: tell it what we hold, so each side catches up."""
        out = Output()
        ep = self._current
        if peer != self.me and peer in ep.members:
            self._asked[(peer, ep.lace)] = now
            out.sends.append((peer, encode(self._have(ep))))
        self._step(now, out)
        return out

    def tick(self, now: float) -> Output:
        """The time asked for in ``wake_at`` has come."""
        out = Output()
        ep = self._current
        if self._gaps:
            if not self._bl.wanted():
                self._gaps.clear()
            else:
                for peer, since in list(self._gaps.items()):
                    if now >= since + ep.delta / 2:
                        del self._gaps[peer]
                        self._ask(peer, ep, now, out)
        if (
            self._current_active()
            and now >= self._last_progress + 2 * ep.delta
            and self.is_participant()
        ):
            out.sends.extend(self._have_to_all(now))
            self._last_progress = now
        self._step(now, out)
        return out

    # -- epochs -------------------------------------------------------------------------------

    @property
    def _current(self) -> _Epoch:
        return self._epochs[-1]

    def _open_epoch(self, genesis: Genesis) -> _Epoch:
        c = genesis.constitution
        lace = genesis.lace()
        rules = EpochRules(genesis)
        ep = _Epoch(
            genesis,
            lace,
            rules,
            EpochOrder(lace, c, self._bl),
            frozenset(c.participants),
            c.quorum,
            c.timeout_s,
            peers=[MemberId(p) for p in c.participants if p != self.me],
        )
        self._bl.add_validator(rules)
        self._epochs.append(ep)
        self._by_lace[lace] = ep
        return ep

    # -- input -------------------------------------------------------------------------------

    def _take_many(
        self, batch: list[tuple[MemberId, bytes, tuple[bytes, ...]]], now: float, out: Output
    ) -> None:
        """Several peers' :class:`EpochBlocks` (sender, lace, blocks' bytes) as one blocklace
        batch per epoch."""
        by_lace: dict[bytes, tuple[_Epoch, list[Block], list[bytes], list[MemberId]]] = {}
        from_bytes = Block.from_bytes
        epochs = self._by_lace
        for peer, lace_id, raws in batch:
            try:
                ep = epochs.get(lace_id)
                if ep is None:
                    raise UnknownEpoch("unknown_epoch", lace_id.hex()[:16])
                blocks = list(map(from_bytes, raws))
                if any(map(lace_id.__ne__, map(_LACE_OF, blocks))):
                    raise InvalidBlock("wrong_lace", "block is not of the message's lace")
            except RemoteProtocolError as exc:
                out.rejected.append(Rejection(peer, exc))
                continue
            entry = by_lace.get(lace_id)
            if entry is None:
                entry = by_lace[lace_id] = (ep, [], [], [])
            entry[1].extend(blocks)
            entry[2].extend(raws)
            entry[3].extend(repeat(peer, len(blocks)))
        for ep, blocks, lace_raws, peers in by_lace.values():
            report = self._bl.add_many(blocks, raws=lace_raws)
            if report.rejected or report.buffered:
                senders: dict[BlockId, MemberId] = {}
                for block, peer in zip(blocks, peers, strict=True):
                    senders.setdefault(block.id, peer)  # the first to send it
                for bid, error in report.rejected:
                    sender = senders.get(bid) if bid is not None else None
                    out.rejected.append(Rejection(sender, error))
            self._watch_own(ep, report, blocks, peers, out)
            self._after_add(ep, report, now, out)
            for bid in report.buffered:
                self._gaps.setdefault(senders[bid], now)

    def _answer(self, peer: MemberId, have: EpochHave, now: float, out: Output) -> None:
        ep = self._by_lace.get(have.lace)
        if ep is None:
            raise UnknownEpoch("unknown_epoch", have.lace.hex()[:16])
        found = missing_by_frontier(self._bl, ep.lace, dict(have.frontier), have.wants)
        behind = found.peer_ahead
        for _, raws in chunk(self._bl, found.ids, EPOCH_LIMITS):
            out.sends.append((peer, epoch_blocks_bytes(ep.lace, raws)))
        self._learn_own(peer, ep, have, out)
        # With learn_own_first, every EpochHave is answered with mine (at most once per Δ per
        # peer, so two answers never ping-pong): the asker may be learning its own chain.
        if behind or (self._learn_own_first and peer in ep.members):
            self._ask(peer, ep, now, out)

    def _ask(self, peer: MemberId, ep: _Epoch, now: float, out: Output) -> None:
        key = (peer, ep.lace)
        if now < self._asked.get(key, -1e18) + ep.delta:
            return
        self._asked[key] = now
        out.sends.append((peer, encode(self._have(ep))))

    def _have(self, ep: _Epoch) -> EpochHave:
        return EpochHave(ep.lace, frontier_of(self._bl, ep.lace), wants_of(self._bl.wanted()))

    def _have_to_all(self, now: float) -> list[tuple[MemberId, bytes]]:
        ep = self._current
        data = encode(self._have(ep))
        if self._learn_own_first:
            for p in ep.peers:
                self._asked[(p, ep.lace)] = now
        return [(p, data) for p in ep.peers]

    # -- accounting for new blocks ------------------------------------------------------------

    def _watch_own(
        self,
        ep: _Epoch,
        report: AddReport,
        blocks: list[Block],
        peers: list[MemberId],
        out: Output,
    ) -> None:
        """Own blocks from outside: learnt back (self-sync), or another device's (stop)."""
        me, meta = self.me, self._bl.meta
        for ev in report.equivocations:
            if ev.creator == me:
                self._own_problem(self.own.forked(ev.seq), out)
        own = [bid for bid in report.added if meta(bid).creator == me]
        if not own:
            return
        senders = {b.id: p for b, p in zip(blocks, peers, strict=True) if b.creator == me}
        for bid in own:
            self._own_problem(self.own.saw_own(bid, meta(bid).seq, senders.get(bid)), out)
        if not self.own.synced and self.own.recheck(self._own_top):
            out.self_synced = True

    def _after_add(self, ep: _Epoch, report: AddReport, now: float, out: Output) -> None:
        if report.added:
            self._ingest(ep, report.added, now, out)

    def _ingest(self, ep: _Epoch, ids: Sequence[BlockId], now: float, out: Output) -> None:
        meta, get = self._bl.meta, self._bl.get
        q, lace, round_creators, on_block = ep.quorum, ep.lace, ep.round_creators, ep.order.on_block
        for bid in ids:
            m = meta(bid)
            if m.lace != lace:
                continue
            creators = round_creators.get(m.depth)
            if creators is None:
                creators = round_creators[m.depth] = set()
            creators.add(m.creator)
            if len(creators) >= q and m.depth > ep.top_complete:
                for d in range(ep.top_complete + 1, m.depth + 1):
                    ep.complete_at.setdefault(d, now)
                ep.top_complete = m.depth
            payload = get(bid).payload
            if type(payload) is RoundPayload and payload.txs:
                ep.unordered.add(bid)
                if m.creator == self.me and self._replaying:
                    for tx in payload.items:
                        key = tx_key(tx)
                        self._outstanding[key] = tx
                        self._pending.pop(key, None)
                        self._encoded.pop(key, None)
            on_block(m)
        if ids:
            self._last_progress = now
        self._emit(ep, now, out)

    def _emit(self, ep: _Epoch, now: float, out: Output) -> None:
        if ep.ended:
            return
        anchors = ep.order.advance()
        if not anchors:
            return
        unordered = ep.unordered
        for anchor in anchors:
            out.finalized.append(anchor)
            carrying = list(filter(unordered.__contains__, anchor.blocks))  # else no transaction
            if carrying and self._deliver_blocks(ep, anchor, carrying, out):
                return  # an amendment ended the epoch: the rest is never ordered
        # Blocks passed over without being emitted (an equivocator's other branch).
        if unordered:
            unordered.difference_update(ep.order.ordered_among(unordered))

    def _deliver_blocks(self, ep: _Epoch, anchor: Anchor, bids: list[BlockId], out: Output) -> bool:
        """Deliver the transactions of ``bids``, in order; True if an amendment ended the epoch.

        The usual case -- no transaction can be an amendment -- is done in a few passes over
        all the blocks' transactions together, not a Python loop per block.
        """
        blocks = list(map(self._bl.get, bids))
        payloads = [block.payload for block in blocks]
        if all(type(p) is RoundPayload for p in payloads):
            # RoundPayload.__post_init__ made every txs a tuple
            itemss = cast(
                list[tuple[Value, ...]], [p.txs for p in cast(list[RoundPayload], payloads)]
            )
            kinds = set(map(type, chain.from_iterable(itemss)))
            plain = self._plain_tx_types
            if kinds <= plain or not any(issubclass(k, Amendment) for k in kinds):
                plain.update(kinds)
                ep.unordered.difference_update(bids)
                counts = list(map(len, itemss))
                total = sum(counts)
                first = ep.delivered
                ep.delivered += total
                creators = [block.creator for block in blocks]
                rows = zip(
                    repeat(ep.genesis.epoch, total),
                    range(first, first + total),
                    chain.from_iterable(map(repeat, bids, counts)),
                    chain.from_iterable(map(repeat, creators, counts)),
                    chain.from_iterable(itemss),
                    strict=True,
                )
                out.deliveries.extend(map(_new_delivery, rows))
                if self.me in creators:
                    self._mine_out(bids, creators, itemss)
                return False
        unordered, deliver = ep.unordered, self._deliver_block
        for bid in bids:  # one at a time: an amendment ends the epoch where it lies
            unordered.discard(bid)
            if deliver(ep, anchor, bid, out):
                return True
        return False

    def _mine_out(
        self,
        bids: list[BlockId],
        creators: list[MemberId],
        itemss: list[tuple[Value, ...]],
    ) -> None:
        """My transactions in these delivered blocks are no longer outstanding."""
        me, keys_in = self.me, self._keys_in
        outstanding, delivered = self._outstanding, self._mine_delivered
        for bid, creator, items in zip(bids, creators, itemss, strict=True):
            if creator != me:
                continue
            keys = keys_in.pop(bid, None)
            for key in keys if keys is not None else map(tx_key, items):
                outstanding.pop(key, None)
                delivered.add(key)

    def _deliver_block(self, ep: _Epoch, anchor: Anchor, bid: BlockId, out: Output) -> bool:
        """Deliver a block's transactions; True if one of them ended the epoch."""
        block = self._bl.get(bid)
        payload = block.payload
        if not isinstance(payload, RoundPayload):
            return False
        items = payload.items
        mine = block.creator == self.me
        kinds = set(map(type, items))
        plain = self._plain_tx_types
        if kinds <= plain or not any(issubclass(k, Amendment) for k in kinds):
            # The usual block: no amendment, so every transaction is delivered in one go.
            plain.update(kinds)
            first, count, creator = ep.delivered, len(items), block.creator
            ep.delivered += count
            rows = zip(
                repeat(ep.genesis.epoch, count),
                range(first, first + count),
                repeat(bid, count),
                repeat(creator, count),
                items,
                strict=True,
            )
            out.deliveries.extend(map(_new_delivery, rows))
            if mine:
                keys = self._keys_in.pop(bid, None)
                for key in keys if keys is not None else map(tx_key, items):
                    self._outstanding.pop(key, None)
                    self._mine_delivered.add(key)
            return False
        for tx in items:
            position = ep.delivered
            ep.delivered += 1
            out.deliveries.append(Delivery(ep.genesis.epoch, position, bid, block.creator, tx))
            if mine:
                key = tx_key(tx)
                self._outstanding.pop(key, None)
                self._mine_delivered.add(key)
            if isinstance(tx, Amendment):
                try:
                    check_amendment(tx, ep.genesis)
                except InvalidAmendment as exc:
                    out.rejected.append(Rejection(block.creator, exc))
                    continue
                self._end_epoch(
                    ep, anchor=anchor, bid=bid, position=position, amendment=tx, out=out
                )
                return True
        return False

    def _end_epoch(
        self,
        ep: _Epoch,
        *,
        anchor: Anchor,
        bid: BlockId,
        position: int,
        amendment: Amendment,
        out: Output,
    ) -> None:
        ep.ended = True
        self._keys_in.clear()  # the blocks of the old epoch that matter are delivered
        final_wave = self._bl.meta(anchor.final_leader).depth // W
        ep.rules.end_depth = final_wave * W + W - 1
        ep.unordered.clear()
        nxt = ep.genesis.successor(amendment.constitution, bid, position)
        out.epochs.append(EpochEnded(ep.genesis.epoch, position, nxt))
        # My transactions that the old epoch did not deliver go to the new one, in order.
        carried = dict(self._outstanding)
        carried.update(self._pending)
        self._outstanding.clear()
        self._pending = carried
        self._open_epoch(nxt)
        self._asked.clear()

    # -- producing ---------------------------------------------------------------------------

    def _current_active(self) -> bool:
        ep = self._current
        return self._active_with(ep, self._bl.latest(ep.lace, self.me))

    def _active_with(self, ep: _Epoch, mine: BlockId | None) -> bool:
        """:meth:`_current_active`, given my latest block of ``ep`` (looked up once per step)."""
        if mine is None and self._bl.tips(ep.lace, self.me):
            return False  # my own chain forked (a backup restored twice): I cannot take part
        if self._pending or ep.unordered:
            return True
        if mine is None:
            return False
        my_depth = self._bl.meta(mine).depth
        return my_depth % W != W - 1 and (ep.top_complete + 1) // W == my_depth // W

    def _step(self, now: float, out: Output) -> None:
        """Produce every block that is due, then say when to wake."""
        out.wake_at = None
        if self._replaying:
            return
        active: bool | None = None
        while self._produce and self.own.may_sign():
            if not self.is_participant():
                active = False
                break
            ep = self._current
            mine = self._bl.latest(ep.lace, self.me)
            active = self._active_with(ep, mine)
            if not active:
                break
            target, wait_until = self._due(ep, now, mine)
            if target is None:
                if wait_until is not None:
                    out.wake_at = wait_until
                break
            self._create(ep, target, now, out)
        if active is None:
            active = self.is_participant() and self._current_active()
        delta = self._current.delta
        times: list[float] = []
        if out.wake_at is not None:
            times.append(out.wake_at)
        if active:
            times.append(self._last_progress + 2 * delta)
        if self._gaps:
            times.append(min(self._gaps.values()) + delta / 2)
        out.wake_at = min(times) if times else None

    def _due(self, ep: _Epoch, now: float, mine: BlockId | None) -> tuple[int | None, float | None]:
        """The round my next block is due in now (or None, and when to look again).

        ``mine`` is my latest block of ``ep`` (None: none, or my chain forked).
        """
        r = ep.top_complete
        if mine is None:
            if self._bl.tips(ep.lace, self.me):
                return None, None  # I forked (restored twice?): never make it worse
            my_depth = -1
        else:
            my_depth = self._bl.meta(mine).depth
        if my_depth > r:
            return None, None
        if r < 0:
            return 0, None
        wave, pos = divmod(r, W)
        participants = ep.genesis.constitution.participants  # leader(wave), without NewType
        if pos == 0 and my_depth < r and participants[wave % len(participants)] == self.me:
            # I am this wave's leader and woke up late (I was idle when the others moved):
            # my leader block is still useful while they wait for it, so make it first.
            return r, None
        deadline = ep.complete_at.get(r, now) + ep.delta
        if pos == 0:
            if ep.order.has_leader_block(wave) or now >= deadline:
                return r + 1, None
            return None, deadline
        if pos == 1:
            if ep.order.approval_count(wave) >= ep.quorum or now >= deadline:
                return r + 1, None
            if not ep.order.has_leader_block(wave):
                return r + 1, None  # the leader timed out: there is nothing to approve
            return None, deadline
        return r + 1, None

    def _create(self, ep: _Epoch, target: int, now: float, out: Output) -> None:
        pointers = self._bl.latest_up_to(ep.lace, target - 1)
        if len(set(pointers)) != len(pointers):
            pointers = sorted(set(pointers))
        txs: list[Value] = []
        encoded: list[bytes] = []
        keys = list(self._pending)[:MAX_TXS_IN_BLOCK]
        pending, outstanding, encodings = self._pending, self._outstanding, self._encoded
        for key in keys:
            tx = pending.pop(key)
            outstanding[key] = tx
            txs.append(tx)
            enc = encodings.pop(key, None)
            encoded.append(encode_nested(tx, _TX_DEPTH) if enc is None else enc)
        block = Block.create_encoded(
            self.identity,
            ep.lace,
            RoundPayload(tuple(txs)),
            _round_payload_bytes(encoded),
            tuple(pointers),
        )
        if keys:
            self._keys_in[block.id] = keys
        report = self._bl.add(block, verified=True)
        if not report.added:
            raise LocalError("own block was not added")
        self.own.made_block(block.id, self._bl.meta(block.id).seq)
        self.blocks_created += 1
        out.created.append(block)
        data = epoch_blocks_bytes(ep.lace, (block.to_bytes(),))
        out.sends.extend(zip(ep.peers, repeat(data)))
        self._ingest(ep, report.added, now, out)


__all__ = [
    "ConsensusCore",
    "ConsensusRejected",
    "Delivery",
    "EpochBlocks",
    "EpochEnded",
    "EpochHave",
    "Output",
    "Rejection",
    "UnknownEpoch",
    "tx_key",
]
