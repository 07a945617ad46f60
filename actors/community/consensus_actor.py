"""One community's consensus on a member's node: the actor around :class:`ConsensusCore`.

::

    NodeSupervisor ─ consensus:<lace>   ConsensusCore over its own blocklace file
                                        + the community part (CommunityStore: the order)

The actor is a child of the supervisor, not of the store actor: it owns its own SQLite files
(``communities/<lace>.sqlite`` for the epoch blocklace, ``<lace>.order.sqlite`` for the
delivered order and pending submissions), shares nothing with the social blocklace, and a
crash in one community then restarts only that community.  The supervisor already rewires
siblings after restarts and routes control requests, which is all a community needs.

The community part (the deliveries' consumer) lives in the same actor: handing deliveries to a
separate actor would add a thespian hop per batch and a second place that must agree on the
cursor, for nothing -- the consumer today only stores the order and answers queries.

It signs with the member's key (the seed comes in its init, as for the member actor), but only
blocks of its community's epoch laces: the core creates no other block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from peoplenet.actors.member.command_errors import CommandError
from peoplenet.actors.member.messages import (
    Batch,
    ConsensusInit,
    ConsensusRoute,
    ControlReply,
    ControlRequest,
    Forwarded,
    Inbound,
    Outbound,
    PeerUp,
    PeerViolation,
    Wiring,
    failure_reply,
)
from peoplenet.actors.member.store_check import DamagedCommunityFile
from peoplenet.runtime.consensus.beacon import beacons_of
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.consumer import (
    Consumer,
    ConsumerBroken,
    ConsumerOutput,
    IdentitySigner,
    consumer_factory,
)
from peoplenet.runtime.consensus.core import ConsensusCore, Delivery, Output, tx_key
from peoplenet.runtime.consensus.order_store import (
    CommunityStore,
    StoredDelivery,
    delivered_json,
    tx_json,
)
from peoplenet.runtime.errors import LocalError, PeoplenetError, RemoteProtocolError
from peoplenet.runtime.kernel import Actor, Ref
from peoplenet.runtime.keys.identity import Identity, MemberId, fingerprint
from peoplenet.runtime.lace.block import BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.net.peer_message import APP_LACE_TAGS, record_tag
from peoplenet.runtime.wire.codec import Value, decode_as, encode

MAX_TEXT: Final = 4096
MAX_ORDER_PAGE: Final = 100_000
MAX_HELD_SENDS: Final = 256


class CommunityCommandError(CommandError):
    """A community control command that cannot be carried out (bad argument)."""

    reason = "community_command_refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wake:
    """Timer for the core's ``wake_at``; stale generations are ignored (cancel by generation)."""

    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _ConsumerWake:
    """Timer for the consumer's ``wake_at_ms`` (same generation scheme)."""

    generation: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def _delivery(row: StoredDelivery) -> Delivery:
    return Delivery(row.epoch, row.position, BlockId(row.block), MemberId(row.creator), row.value)


def community_name(genesis: Genesis) -> str:
    return genesis.community.decode("utf-8", errors="replace")


class ConsensusActor(Actor):
    """Runs one community's :class:`ConsensusCore`, persists its order, answers its commands."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, ConsensusInit)
        genesis = decode_as(Genesis, init.genesis)
        self.name_text = community_name(genesis)
        # Registered from above before the node started (this process is forked from that
        # one), with the module that registers the community's record types, which loading
        # the blocklace decodes.
        factory = consumer_factory(genesis)
        lace = genesis.lace()
        folder = DataDir(init.data_dir).communities
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.blocks = SqliteStore(folder / f"{lace.hex()}.sqlite")
        self.community = CommunityStore(folder / f"{lace.hex()}.order.sqlite")
        self.blocklace = Blocklace(self.blocks)
        identity = Identity.from_seed(init.seed)
        # learn_own_first: this store may be an old backup; see docs/security.md
        self.core = ConsensusCore(identity, genesis, self.blocklace, learn_own_first=True)
        self.network: Ref | None = None
        self.generation = 0
        self.wake_at: float | None = None
        self.consumer_generation = 0
        self.consumer_wake_at: int | None = None
        self._outbox: list[object] = []
        now = self.started = time.monotonic()
        started = self.core.start(now)
        self.consumer: Consumer | None = None
        self.consumer_laces: tuple[bytes, ...] = ()
        if factory is not None:
            try:
                self.consumer = factory(genesis, folder, IdentitySigner(identity))
            except (LocalError, RemoteProtocolError) as exc:
                # Its own files (the founding) do not fit: a restart would fail the same way.
                raise DamagedCommunityFile(
                    f"community {lace.hex()} in {folder} cannot start: {exc}; move its "
                    f"{lace.hex()}.* files aside and join it again"
                ) from exc
            self.name_text = self.consumer.name
            history = [_delivery(row) for row in self.community.order(0, 1 << 62)]
            # The core's start replayed the whole order, so its anchors give every beacon.
            beacons = beacons_of(started.finalized, {bytes(d.block) for d in history})
            self.consumer.replay(self.core.epoch_geneses(), history, beacons)
        self._run(started)
        pending = self.community.pending()
        for tx in pending:
            self._run(self.core.submit(tx, now))
        self.log.info(
            "community_started",
            community=self.name_text,
            lace=lace.hex()[:20],
            delivered=self.community.delivered_count(),
            resubmitted=len(pending),
        )

    def on_stop(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.community.close()
        self.blocks.close()

    # -- messages ------------------------------------------------------------------------------

    def receive(self, msg: object, sender: Ref) -> None:
        try:
            # Consecutive consensus messages go to the core together (one receive_many: one
            # blocklace batch, one step); anything else is handled in place, in order.
            run: list[tuple[MemberId, bytes]] = []
            for item in msg.items if isinstance(msg, Batch) else (msg,):
                if isinstance(item, Inbound) and record_tag(item.data) not in APP_LACE_TAGS:
                    run.append((MemberId(item.peer), item.data))  # the core reads the bytes
                    continue
                if run:
                    self._receive_run(run)
                    run = []
                self._handle(item)
            if run:
                self._receive_run(run)
        finally:
            # Until the supervisor's Wiring names the network, sends wait (a few only: the
            # core asks again for whatever is lost).
            if self.network is not None:
                if self._outbox:
                    self.tell(self.network, Batch(items=tuple(self._outbox)))
                self._outbox = []
            else:
                del self._outbox[:-MAX_HELD_SENDS]

    def _receive_run(self, run: list[tuple[MemberId, bytes]]) -> None:
        """Consensus messages that arrived together, in order, in one core call."""
        now = time.monotonic()
        if len(run) == 1:
            self._run(self.core.receive(run[0][0], run[0][1], now))
        else:
            self._run(self.core.receive_many(run, now))

    def _handle(self, msg: object) -> None:
        now = time.monotonic()
        if isinstance(msg, Inbound):
            if self.consumer is not None:  # (epoch messages went to the core in receive)
                try:  # the bytes go undecoded to the app worker, the replicas' owner
                    out = self.consumer.receive(msg.peer, msg.data, _now_ms())
                except RemoteProtocolError as exc:
                    self.log.warning(
                        "lace_input_refused", peer=fingerprint(msg.peer), reason=exc.reason
                    )
                    self._outbox.append(
                        PeerViolation(peer=msg.peer, reason=exc.reason, detail=exc.detail)
                    )
                    return
                self._consume(out)
        elif isinstance(msg, _Wake):
            if msg.generation == self.generation:
                self.wake_at = None
                self._run(self.core.tick(now))
        elif isinstance(msg, _ConsumerWake):
            if msg.generation == self.consumer_generation and self.consumer is not None:
                self.consumer_wake_at = None
                self._consume(self.consumer.tick(_now_ms()))
        elif isinstance(msg, PeerUp):
            # Each side tells the other its per-creator frontier, so both catch up at once.
            self._run(self.core.peer_up(MemberId(msg.peer), now))
            if self.consumer is not None:
                self._consume(self.consumer.peer_up(msg.peer, _now_ms()))
        elif isinstance(msg, Wiring):
            self.network = msg.network if isinstance(msg.network, Ref) else None
            self._announce()
        elif isinstance(msg, Forwarded) and isinstance(msg.msg, ControlRequest):
            self._control(msg.msg, msg.reply_to)

    def _announce(self) -> None:
        if self.network is None:
            return
        laces = tuple(bytes(g.lace()) for g in self.core.epoch_geneses())
        self.consumer_laces = self.consumer.laces() if self.consumer is not None else ()
        laces += self.consumer_laces
        members = tuple(
            p for p in self.core.genesis.constitution.participants if p != bytes(self.core.me)
        )
        self.tell(self.network, ConsensusRoute(laces=laces, members=members, actor=self.me))

    def _run(self, out: Output) -> None:
        """Carry out one core call: store deliveries, queue sends, reset the timer."""
        new: list[Delivery] = []
        if out.deliveries:
            new = self.community.record(out.deliveries)
            if new:
                self.log.debug("delivered", community=self.name_text, count=len(new))
        if out.self_synced:
            self.log.info(
                "self_synced",
                community=self.name_text,
                confirmed=len(self.core.own.confirmed),
                after_s=round(time.monotonic() - self.started, 3),
            )
        for problem in out.own_problems:
            self.log.error(
                "own_chain_problem",
                community=self.name_text,
                kind=problem.kind,
                detail=problem.detail,
                advice=problem.advice(),
            )
        for rejection in out.rejected:
            self.log.warning(
                "consensus_input_refused",
                community=self.name_text,
                peer=fingerprint(rejection.peer) if rejection.peer else None,
                reason=rejection.error.reason,
            )
        for peer, data in out.sends:  # encoded by the core: they travel as they are
            self._outbox.append(Outbound(peer=bytes(peer), data=data))
        if out.epochs:
            self._announce()
        self._schedule(out.wake_at)
        if self.consumer is not None and (new or out.epochs):
            geneses = self.core.epoch_geneses()
            beacons = beacons_of(out.finalized, {bytes(d.block) for d in new})
            self._consume(self.consumer.delivered(new, geneses, _now_ms(), beacons))

    def _consume(self, result: ConsumerOutput) -> None:
        """Submit what the consumer asks for (durably first) and keep its timer."""
        now = time.monotonic()
        encoded: dict[int, bytes] = {}  # one message often goes to every member
        for peer, msg in result.sends:
            data = encoded.get(id(msg))
            if data is None:
                data = encoded[id(msg)] = encode(msg)
            self._outbox.append(Outbound(peer=peer, data=data))
        for tx in result.submit:
            if self.community.add_pending(tx):
                self._run(self.core.submit(tx, now))
        if self.consumer is not None and self.consumer.laces() != self.consumer_laces:
            self._announce()  # an app got its lace: the network must route it here
        wake = result.wake_at_ms
        if wake is not None and (self.consumer_wake_at is None or wake < self.consumer_wake_at):
            # Only ever brought forward: a later tick recomputes every duty and asks again.
            self.consumer_wake_at = wake
            self.consumer_generation += 1
            self.after(
                max(0.0, (wake - _now_ms()) / 1000),
                _ConsumerWake(generation=self.consumer_generation),
            )

    def _schedule(self, wake_at: float | None) -> None:
        if wake_at == self.wake_at:
            return
        self.wake_at = wake_at
        self.generation += 1
        if wake_at is not None:
            self.after(max(0.0, wake_at - time.monotonic()), _Wake(generation=self.generation))

    # -- control ---------------------------------------------------------------------------------

    def _control(self, req: ControlRequest, reply_to: object) -> None:
        assert isinstance(reply_to, Ref)
        try:
            result = self._command(req.op, req.args)
        except PeoplenetError as exc:
            self.tell(reply_to, failure_reply(req.request, exc))
            if isinstance(exc, ConsumerBroken):
                raise  # answered; now crash, and the supervisor's restart replays the community
            return
        self.tell(reply_to, ControlReply(request=req.request, ok=True, result=result))

    def _command(self, op: str, args: dict[str, Value]) -> Value:
        if op == "community_submit":
            text = args.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                raise CommunityCommandError(f"a transaction is 1..{MAX_TEXT} characters of text")
            tx: Value = ("text", text)
            queued = self.community.add_pending(tx)  # durable before it is acknowledged
            if queued:
                self._run(self.core.submit(tx, time.monotonic()))
            return {
                "community": self.name_text,
                "tx": tx_json(tx),
                "key": tx_key(tx).hex(),
                "queued": queued,
            }
        if op == "community_order":
            offset, limit = args.get("offset", 0), args.get("limit", MAX_ORDER_PAGE)
            if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0:
                raise CommunityCommandError("offset and limit are non-negative integers")
            return delivered_json(self.community.order(offset, max(0, min(limit, MAX_ORDER_PAGE))))
        if op == "community_status":
            return self.status()
        if op.startswith("coop_") and self.consumer is not None:
            result, more = self.consumer.command(op, args, _now_ms())
            self._consume(more)
            return result
        raise CommunityCommandError(f"unknown community operation {op!r}")

    def status(self) -> dict[str, Value]:
        core = self.core
        return {
            "community": self.name_text,
            "lace": bytes(core.lace).hex(),
            "epoch": core.epoch,
            "participants": tuple(p.hex() for p in core.genesis.constitution.participants),
            "participant": core.is_participant(),
            "delivered": self.community.delivered_count(),
            "pending": self.community.pending_count(),
            "active": core.active,
            "blocks_created": core.blocks_created,
            "kind": "cooperative" if self.consumer is not None else "plain",
            "own_chain": core.own_chain_status(),
            "problems": tuple(
                () if core.own.problem is None else (core.own.problem.to_value("community lace"),)
            ),
            "own_fork": core.own.problem is not None and core.own.problem.kind == "own_fork",
        }


def lace_of(genesis: bytes) -> LaceId:
    return decode_as(Genesis, genesis).lace()


__all__ = ["CommunityCommandError", "ConsensusActor", "community_name", "lace_of"]
