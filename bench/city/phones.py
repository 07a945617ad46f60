"""A driver's phone on the simulator: the member's real consensus core, its queue, its meter.

Each driver is a member of the cooperative and a participant of its consensus: the phone runs
:class:`~peoplenet.runtime.consensus.core.ConsensusCore` and exchanges its real messages
(blocks, sync requests) with the other drivers' phones through the simulator, which carries
them as bytes.  The city (the people's fingers, :mod:`.world`) hands a phone what to submit:
the driver's own transactions, or a rider's signed request that reached this phone over the
network (counted as received bytes).  Every byte a phone sends or receives is counted in its
:class:`Meter`, by kind, so the run can say where the bytes go.

A cooperative may name only some members as consensus *participants* (its constitution's
committee); the other drivers' phones are *observers*: each follows one participant (its
contact), which forwards it every block it makes or receives, so the observer computes the
order itself from signed blocks (its core checks them as a participant's does); an observer's
own transactions go to its contact (:data:`RELAY`), which puts them in its next block -- as
``docs/consensus.md`` says, non-participants' transactions reach the lace through a
participant.  The block is the contact's, so the observer signs what it relays (the work
kit's signed request, as a rider does): the fold takes it as the observer's, and the contact
can drop it but not forge or change it.

Pacing: with ``pace_s`` the phone hands its queue to consensus only at multiples of
``pace_s`` of its clock: the transactions of many phones share the same few rounds instead
of each starting rounds of its own (the core is quiescent: no rounds while nothing waits).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from peoplenet.actors.governance.records import AppTx
from peoplenet.plugins.kit import CustomerRequest, sign_request
from peoplenet.plugins.testing import COMMUNITY
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.core import (
    ConsensusCore,
    Delivery,
    Output,
    epoch_blocks_bytes,
)
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.sim.simulator import Action, CancelTimer, Send, SetTimer
from peoplenet.runtime.wire.codec import Value, decode, encode
from peoplenet.runtime.wire.fast_parsers import usual_epoch_blocks

CITY: Final = "city"
"""The simulator node playing the people (their taps reach their own phone, not the network)."""
OWN: Final = b"O"
"""City -> phone: the phone's owner submits this transaction (not network traffic)."""
CARRIED: Final = b"R"
"""City -> phone: a rider's signed request arrived over the network (counted as received)."""
DIRECT: Final = b"D"
"""City -> phone: a rider's phone sent this driver the sealed exact places, phone to phone
(counted as received; nothing enters the order)."""
RELAY: Final = b"T"
"""Observer -> contact: a transaction to put in the contact's next block.  The first byte of
a consensus message is a codec record (a MessagePack ext header), never this."""
POINTER_BYTES: Final = 34
"""A block pointer on the wire: a 32-byte id and its 2-byte ``bin8`` header."""


@dataclass(slots=True)
class Meter:
    """Bytes per phone (sent, received) and, for the whole city, what they were made of."""

    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    """Bytes sent, by kind: ``pointers``, ``block_header`` (creator, lace, signature, framing),
    ``tx:TYPE`` (the app transactions inside blocks), ``sync`` (catch-up requests and
    answers), ``rider_requests`` (rider -> carrier phone)."""
    blocks: int = 0
    block_sends: int = 0

    def traffic(self, name: str) -> int:
        return self.sent[name] + self.received[name]


def tx_kind(tx: Value) -> str:
    """What a consensus transaction carries, for the breakdown: the app record's type."""
    body: Value = None
    if isinstance(tx, AppTx):
        body = decode(tx.body)
    elif isinstance(tx, CustomerRequest):
        body = decode(tx.body)
        return f"tx:{type(body).__name__}(signed)"
    return f"tx:{type(body).__name__}" if body is not None else f"tx:{type(tx).__name__}"


class Phone:
    """A driver's phone (a :class:`~peoplenet.runtime.sim.simulator.SimNode`)."""

    def __init__(
        self,
        name: str,
        identity: Identity,
        genesis: Genesis,
        *,
        names: dict[MemberId, str],
        meter: Meter,
        log: list[Delivery],
        pace_s: float,
        contact: str | None = None,
        observers: tuple[str, ...] = (),
        on_deliver: Callable[[list[Delivery], float], bool] | None = None,
    ) -> None:
        self.name = name
        self.core = ConsensusCore(identity, genesis, Blocklace(MemoryStore()))
        self._identity = identity
        self._signed = 0
        self._names = names
        self._members = {v: k for k, v in names.items()}
        self._meter = meter
        self._log = log
        self._pace = pace_s
        self._queue: list[Value] = []
        self._on_deliver = on_deliver
        self._contact = contact
        """An observer's participant (None: this phone is a participant)."""
        self._observers = observers
        """The observers this participant forwards blocks to."""

    def start(self, now: float) -> Iterable[Action]:
        return self._actions(self.core.start(now), now)

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        if src == CITY:
            return self._from_city(data, now)
        peer = self._members.get(src)
        if peer is None:
            return ()
        self._meter.received[self.name] += len(data)
        if data[:1] == RELAY:
            return self._queued(decode(data[1:]), now)
        forwards = self._forward(data) if usual_epoch_blocks(data) is not None else []
        return forwards + self._actions(self.core.receive(peer, data, now), now)

    def _forward(self, data: bytes) -> list[Action]:
        """A participant passes blocks on to its observers."""
        for _ in self._observers:
            self._meter.sent[self.name] += len(data)
            self._meter.kinds["to_observers"] += len(data)
        return [Send(o, data) for o in self._observers]

    def timer(self, key: str, now: float) -> Iterable[Action]:
        if key == "wake":
            return self._actions(self.core.tick(now), now)
        if key == "pace":
            return self._flush(now)
        return ()

    def _from_city(self, data: bytes, now: float) -> list[Action]:
        kind, raw = data[:1], data[1:]
        if kind == DIRECT:
            self._meter.received[self.name] += len(raw)
            self._meter.kinds["sealed_details"] += len(raw)
            return []
        if kind == CARRIED:
            self._meter.received[self.name] += len(raw)
            self._meter.kinds["rider_requests"] += len(raw)
        return self._queued(decode(raw), now)

    def _queued(self, tx: Value, now: float) -> list[Action]:
        if self._contact is not None:  # an observer: my participant carries it, signed
            if isinstance(tx, AppTx):
                self._signed += 1
                tx = sign_request(self._identity, COMMUNITY, tx.app, self._signed, tx.body)
            data = RELAY + encode(tx)
            self._meter.sent[self.name] += len(data)
            self._meter.kinds["relayed_txs"] += len(data)
            return [Send(self._contact, data)]
        self._queue.append(tx)
        if self._pace <= 0:
            return self._flush(now)
        due = (math.floor(now / self._pace) + 1) * self._pace
        return [SetTimer("pace", due)]

    def _flush(self, now: float) -> list[Action]:
        txs, self._queue = self._queue, []
        return self._actions(self.core.submit_many(txs, now), now) if txs else []

    def _actions(self, out: Output, now: float) -> list[Action]:
        meter = self._meter
        actions: list[Action] = []
        for block in out.created:
            self._count_block(block)
            actions.extend(self._forward(epoch_blocks_bytes(block.lace, (block.to_bytes(),))))
        for member, data in out.sends:
            dst = self._names.get(member)
            if dst is None:
                continue
            meter.sent[self.name] += len(data)
            if usual_epoch_blocks(data) is None:
                meter.kinds["sync"] += len(data)
            actions.append(Send(dst, data))
        self._log.extend(out.deliveries)
        if (
            out.deliveries
            and self._on_deliver is not None
            and self._on_deliver(out.deliveries, now)
        ):
            actions.append(Send(CITY, b""))
        actions.append(
            CancelTimer("wake") if out.wake_at is None else SetTimer("wake", out.wake_at)
        )
        return actions

    def _count_block(self, block: Block) -> None:
        """Attribute a new block's bytes, times the peers it goes to, to what they carry."""
        meter = self._meter
        copies = len(self.core.genesis.constitution.participants) - 1
        raw = len(epoch_blocks_bytes(block.lace, (block.to_bytes(),)))
        pointers = POINTER_BYTES * len(block.pointers)
        payload = block.payload
        txs = getattr(payload, "txs", ())
        tx_bytes = 0
        for tx in txs if isinstance(txs, tuple) else ():
            size = len(encode(tx))
            tx_bytes += size
            meter.kinds[tx_kind(tx)] += size * copies
        meter.kinds["pointers"] += pointers * copies
        meter.kinds["block_header"] += max(0, raw - pointers - tx_bytes) * copies
        meter.blocks += 1
        meter.block_sends += copies


__all__ = ["CARRIED", "CITY", "DIRECT", "OWN", "RELAY", "Meter", "Phone", "tx_kind"]
