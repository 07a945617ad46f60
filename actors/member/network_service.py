"""The asyncio half of the network actor: connections, discovery and who may talk to whom.

It runs on an event loop in a thread of the network actor's process
(actors/member/network_actor.py) and reports to the actor through ``emit`` (thread-safe).  Policy:

* The social graph decides almost everything: friends get one connection each, kept up by a
  redialer with backoff; strangers may connect only to hand over a ``FriendRequest`` (a cold
  call, at most ``STRANGER_MAX_MESSAGE`` bytes) or to use the customer protocol (a customer's
  request or receipt query for a community this node runs, within a per-customer quota:
  docs/work-kit.md#customers), and are dropped after ``stranger_idle_s``.
  What strangers may hold (slots, held messages, new requesters per address) and when a peer
  that breaks the protocol is backed off is decided by :mod:`peoplenet.runtime.net.conn_policy`.
* The other kept connections: the participants of every community this node joined
  (``set_community``), friends or not -- consensus needs a supermajority of them reachable.
* Two friends that dial each other at once keep the connection initiated by the smaller member
  id, so both sides drop the same one.
* Addresses come, best first, from the friend's latest ``Address`` block, then zeroconf, then
  static ``--peer`` entries (which are dialled once to learn who is there).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Final

from peoplenet.actors.member.messages import Batch, Discovered, Inbound, Listening, PeerDown, PeerUp
from peoplenet.runtime.consensus.core import EpochBlocks, EpochHave
from peoplenet.runtime.errors import PeoplenetError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId, fingerprint
from peoplenet.runtime.lace.app_lace import LaceBlocks, LaceHave
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.net.conn_policy import (
    STRANGER_MAX_MESSAGE,
    CustomerQuota,
    PolicyConfig,
    RequestQuota,
    StrangerLedger,
    ViolationScores,
)
from peoplenet.runtime.net.discovery import Discovery, PeerHint, parse_static_peer
from peoplenet.runtime.net.peer_message import CONSUMER_TAGS, record_tag
from peoplenet.runtime.net.reconnect import Redialer
from peoplenet.runtime.net.transport import (
    Connection,
    HelloSigner,
    PeerTimeout,
    Transport,
    TransportConfig,
)
from peoplenet.runtime.social.dissemination import Blocks, Disclose, FriendRequest
from peoplenet.runtime.wire.codec import Value, encode

Emit = Callable[[object], object]

FRIEND_REQUEST_TAG: Final = FriendRequest.wire_tag
PEER_MESSAGES: Final = (
    frozenset(
        cls.wire_tag
        for cls in (FriendRequest, Disclose, Blocks, EpochBlocks, EpochHave, LaceBlocks, LaceHave)
    )
    | CONSUMER_TAGS
)
"""Record tags a peer may send; anything else is refused before it is decoded.  A stranger's
are held until it becomes kept, but for a friend request and the customer protocol
(:data:`~peoplenet.runtime.net.peer_message.CONSUMER_TAGS`), which go on at once."""
STRANGER_MSGS_PER_S: Final = 5.0
"""A stranger needs a friend request and a few held messages; each costs a decode."""

_log = get_logger("peoplenet.network")


@dataclass
class NetworkSettings:
    member: MemberId
    network_id: bytes
    listen_host: str
    listen_port: int
    advertise_host: str
    mdns: bool
    mdns_interfaces: tuple[str, ...]
    peers: tuple[str, ...]
    stranger_idle_s: float = 20.0
    max_strangers: int = 32
    request_retry_s: float = 5.0
    transport: dict[str, float | int] = field(default_factory=dict)
    policy: PolicyConfig | None = None
    """Stranger, request and violation limits (``max_strangers`` above wins over its own)."""


class ListenFailed(PeoplenetError):
    """The peer transport could not bind its port."""

    reason = "listen_failed"


class NetworkService:
    """Owns the Transport, Discovery and Redialer of one node."""

    def __init__(self, settings: NetworkSettings, signer: HelloSigner, emit: Emit) -> None:
        self.settings = settings
        self._emit_now = emit
        self._emitted: list[object] = []
        config = TransportConfig(network_id=settings.network_id, **settings.transport)  # type: ignore[arg-type]
        self.transport = Transport(signer, config, self)
        self.redialer = Redialer(self.transport, rng=random.Random())  # noqa: S311 - jitter
        self.discovery: Discovery | None = None
        self.friends: set[MemberId] = set()
        self.community: set[MemberId] = set()
        """Participants of the joined communities: kept connected like friends."""
        self.requests: dict[MemberId, bytes] = {}
        """My friend requests (encoded) to repeat to these members until accepted."""
        self.hints: dict[MemberId, dict[str, tuple[str, int]]] = {}
        self.active: dict[MemberId, Connection] = {}
        base = settings.policy or PolicyConfig()
        self.policy = replace(base, max_strangers=settings.max_strangers)
        self.strangers = StrangerLedger(self.policy)
        self.request_quota = RequestQuota(self.policy)
        self.customer_quota = CustomerQuota(self.policy)
        self.scores = ViolationScores(self.policy)
        self.listen: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_queues: dict[MemberId, asyncio.Queue[bytes]] = {}
        self._senders: dict[MemberId, asyncio.Task[None]] = {}
        self._closing = False
        self._request_sent: dict[MemberId, float] = {}
        self._held: dict[Connection, list[bytes]] = {}
        """A few messages from a stranger that may become a friend any moment (bounded by
        ``self.strangers``: per stranger and in all, by estimated decoded size)."""
        self._cold: dict[MemberId, bytes] = {}
        """Acceptances waiting for a connection to their peer."""

    def _emit(self, msg: object) -> None:
        """Report to the actor, batched per event-loop turn (see node_messages.Batch)."""
        if not self._emitted:
            asyncio.get_running_loop().call_soon(self._flush)
        self._emitted.append(msg)

    def _flush(self) -> None:
        items, self._emitted = self._emitted, []
        if items:
            self._emit_now(Batch(items=tuple(items)))

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        s = self.settings
        try:
            self.listen = await self.transport.listen(s.listen_host, s.listen_port)
        except OSError as exc:
            raise ListenFailed(
                f"cannot listen on {s.listen_host}:{s.listen_port}: {exc.strerror or exc}"
            ) from exc
        port = self.listen[1]
        self._emit(Listening(host=self.listen[0], port=port, advertise_host=s.advertise_host))
        if s.mdns:
            self.discovery = Discovery(
                member=s.member,
                network_id=s.network_id,
                port=port,
                interfaces=list(s.mdns_interfaces),
                on_peer=self._on_hint,
                advertise_host=s.advertise_host,
            )
            await self.discovery.start()
        for peer in s.peers:
            host, pport = parse_static_peer(peer)
            self._spawn(self._probe_static(host, pport))
        self._spawn(self._housekeeping())
        _log.info("network_started", host=self.listen[0], port=port, mdns=s.mdns)
        return self.listen

    async def stop(self) -> None:
        self._closing = True
        for task in list(self._tasks) + list(self._senders.values()):
            task.cancel()
        for task in list(self._tasks) + list(self._senders.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.redialer.close()
        if self.discovery is not None:
            await self.discovery.stop()
        await self.transport.close()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- from the store actor ---------------------------------------------------------------------

    def set_social(
        self,
        friends: set[MemberId],
        addresses: dict[MemberId, tuple[str, int]],
        requests: dict[MemberId, FriendRequest],
    ) -> None:
        for member, addr in addresses.items():
            self.hints.setdefault(member, {})["address_block"] = addr
        before = self.kept()
        added = friends - self.friends
        self.friends = set(friends)
        self.requests = {m: encode(r) for m, r in requests.items()}
        for member in added & set(self.active):
            self._emit(PeerUp(peer=member))  # kept for a community: the store learns it only now
        self._keep(before, "unfriended")

    def set_community(self, members: set[MemberId]) -> None:
        """Keep connections to ``members`` (participants of the joined communities) too."""
        before = self.kept()
        self.community = set(members) - {self.settings.member}
        self._keep(before, "left_community")

    def kept(self) -> set[MemberId]:
        """Members this node keeps a connection to: friends and community participants."""
        return self.friends | self.community

    def _keep(self, before: set[MemberId], reason: str) -> None:
        kept = self.kept()
        for member in before - kept:
            self.redialer.unwant(member)
            conn = self.active.pop(member, None)
            if conn is not None:
                self._emit(PeerDown(peer=member))
                self._spawn(conn.close(reason))
        for conn in self._stranger_conns():
            if conn.peer in kept and not conn.closed:
                self._promote(conn)
        for member in kept | set(self.requests):
            self._want(member)

    def send(self, peer: MemberId, msg: bytes) -> None:
        """Queue the encoded ``msg`` for ``peer`` (in order).

        Friends get it on their connection.  A ``FriendRequest`` (request or acceptance) may
        also go to a stranger: on an open connection, or held until one is dialled.  Anything
        else for a peer without a connection is dropped: dissemination resends after reconnect.
        """
        if self._connection_to(peer) is None:
            if record_tag(msg) == FRIEND_REQUEST_TAG:
                self._cold[peer] = msg
                self._want(peer)
            return
        queue = self._send_queues.get(peer)
        if queue is None:
            queue = self._send_queues[peer] = asyncio.Queue()
            self._senders[peer] = asyncio.ensure_future(self._sender(peer, queue))
        queue.put_nowait(msg)

    async def _sender(self, peer: MemberId, queue: asyncio.Queue[bytes]) -> None:
        while True:
            msg = await queue.get()
            conn = self._connection_to(peer)
            if conn is None:
                continue
            try:
                await conn.send_encoded(msg)
            except PeoplenetError as exc:
                _log.info("send_failed", peer=fingerprint(peer), error=str(exc))

    def violation(self, peer: MemberId, error: RemoteProtocolError) -> None:
        """An owner found ``error`` in a message ``peer`` sent: close it as the transport would
        have (refusal logged; a kept peer is scored and, on repeats, backed off)."""
        conn = self._connection_to(peer)
        if conn is not None:
            conn.violated(error)

    def status(self) -> list[Value]:
        out: list[Value] = []
        for member, conn in sorted(self.active.items()):
            out.append(
                {
                    "member": member.hex(),
                    "fingerprint": fingerprint(member),
                    "remote": f"{conn.remote[0]}:{conn.remote[1]}",
                    "initiator": conn.initiator,
                }
            )
        return out

    def discovered(self) -> list[Value]:
        out: list[Value] = []
        for member, sources in sorted(self.hints.items()):
            for source, (host, port) in sorted(sources.items()):
                out.append(
                    {
                        "member": member.hex(),
                        "fingerprint": fingerprint(member),
                        "host": host,
                        "port": port,
                        "source": source,
                    }
                )
        return out

    # -- addresses and dialling -------------------------------------------------------------------

    def _on_hint(self, hint: PeerHint) -> None:
        if hint.member == self.settings.member:
            return
        known = self.hints.setdefault(hint.member, {})
        if known.get(hint.source) == (hint.host, hint.port):
            return
        known[hint.source] = (hint.host, hint.port)
        self._emit(
            Discovered(member=hint.member, host=hint.host, port=hint.port, source=hint.source)
        )
        if hint.member in self.kept() or hint.member in self.requests:
            self._want(hint.member)

    def _best_address(self, member: MemberId) -> tuple[str, int] | None:
        sources = self.hints.get(member, {})
        for source in ("address_block", "mdns", "static"):
            if source in sources:
                return sources[source]
        return None

    def _want(self, member: MemberId) -> None:
        if member in self.active:
            return
        if member not in self.kept() and member not in self.requests and member not in self._cold:
            return
        addr = self._best_address(member)
        if addr is not None:
            self.redialer.want(member, addr[0], addr[1])

    async def _probe_static(self, host: str, port: int) -> None:
        """Dial a ``--peer`` once to learn who listens there; keep it only if it is wanted."""
        try:
            conn = await self.transport.connect(host, port)
        except (PeoplenetError, OSError) as exc:
            _log.info("static_peer_unreachable", host=host, port=port, error=str(exc))
            return
        self._on_hint(PeerHint(conn.peer, host, port, "static"))

    async def _housekeeping(self) -> None:
        """Drop idle strangers; repeat pending friend requests to peers we can reach."""
        while not self._closing:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            self.transport.flush_refusals()
            for conn in self.strangers.idle(now, self.settings.stranger_idle_s):
                assert isinstance(conn, Connection)
                self._drop_stranger(conn, "stranger_idle")
            for member, request in list(self.requests.items()):
                link = self._connection_to(member)
                if link is None:
                    self._want(member)
                elif now - self._request_sent.get(member, 0.0) >= self.settings.request_retry_s:
                    self._request_sent[member] = now
                    self._spawn(self._send_quietly(link, request))

    def _connection_to(self, member: MemberId) -> Connection | None:
        if member in self.active:
            return self.active[member]
        for conn in self._stranger_conns():
            if conn.peer == member and not conn.closed:
                return conn
        return None

    def _stranger_conns(self) -> list[Connection]:
        return [c for c in self.strangers if isinstance(c, Connection)]

    def _drop_stranger(self, conn: Connection, reason: str) -> None:
        self.strangers.release(conn)
        self._held.pop(conn, None)
        self._spawn(conn.close(reason))

    def _invited(self, member: MemberId) -> bool:
        """Whether this node asked ``member`` for friendship (it may answer with more)."""
        return member in self.requests or member in self._cold

    async def _send_quietly(self, conn: Connection, msg: bytes) -> None:
        try:
            await conn.send_encoded(msg)
        except PeoplenetError as exc:
            _log.info("send_failed", peer=fingerprint(conn.peer), error=str(exc))

    # -- transport callbacks ----------------------------------------------------------------------

    async def on_connected(self, conn: Connection) -> None:
        peer = conn.peer
        now = time.monotonic()
        if self.scores.banned(peer, now):
            self.transport.refused(conn.remote, "backed_off", peer, None)
            await conn.close("backed_off")
            return
        kept = peer in self.kept()
        invited = self._invited(peer)
        if kept or invited:
            conn.limit(
                self.transport.config.max_message, PEER_MESSAGES, metered=not kept, as_bytes=True
            )
        else:
            conn.limit(
                STRANGER_MAX_MESSAGE,
                PEER_MESSAGES,
                metered=True,
                msgs_per_s=STRANGER_MSGS_PER_S,
                as_bytes=True,
            )
        self._on_hint_from_connection(conn)
        request = self.requests.get(peer) or self._cold.pop(peer, None)
        if request is not None:
            self._request_sent[peer] = now
            await self._send_quietly(conn, request)
        if kept:
            self._promote(conn)
            return
        if conn.closed:
            return
        admission = self.strangers.admit(conn, conn.remote[0], now)
        if isinstance(admission.evict, Connection):
            self._drop_stranger(admission.evict, admission.reason)
        self.strangers.add(conn, conn.remote[0], now)

    def _on_hint_from_connection(self, conn: Connection) -> None:
        # Through _on_hint, so the store hears of the member too (a bare hints entry here made
        # the static probe's own hint look known, and the store never learnt the peer).
        if conn.initiator and "static" not in self.hints.get(conn.peer, {}):
            self._on_hint(PeerHint(conn.peer, conn.remote[0], conn.remote[1], "static"))

    def _promote(self, conn: Connection) -> None:
        """Make ``conn`` the friendship edge to its peer, resolving duplicates by the id rule."""
        peer = conn.peer
        self.strangers.release(conn)
        conn.limit(self.transport.config.max_message, PEER_MESSAGES, metered=False, as_bytes=True)
        conn.set_kept(True)
        current = self.active.get(peer)
        if current is not None and current is not conn and not current.closed:
            me = self.settings.member
            preferred_initiator = min(me, peer)
            conn_init = me if conn.initiator else peer
            if conn_init != preferred_initiator:
                self._spawn(conn.close("duplicate"))
                return
            self._spawn(current.close("duplicate"))
            self._emit(PeerDown(peer=peer))
        self.active[peer] = conn
        self._emit(PeerUp(peer=peer))
        for msg in self._held.pop(conn, []):
            self._emit(Inbound(peer=peer, data=msg, friend=peer in self.friends))

    async def on_message(self, conn: Connection, msg: Value) -> None:
        """Unused: every connection hands its messages over as bytes (``on_bytes``)."""
        data = encode(msg)
        await self.on_bytes(conn, data, record_tag(data))

    async def on_bytes(self, conn: Connection, msg: bytes, tag: int | None) -> None:
        """A message, undecoded: routed on its tag; its owner decodes it."""
        peer = conn.peer
        if self.active.get(peer) is conn:
            self._emit(Inbound(peer=peer, data=msg, friend=peer in self.friends))
            return
        now = time.monotonic()
        if conn.closed:
            return  # being dropped: what was still in the pipe does not count
        if tag == FRIEND_REQUEST_TAG:
            if not self._invited(peer) and not self.request_quota.allow(conn.remote[0], peer, now):
                self.transport.refused(conn.remote, "request_quota", peer, None)
                return
            self.strangers.touch(conn, now, requested=True)
            self._emit(Inbound(peer=peer, data=msg, friend=False))
            return
        if tag in CONSUMER_TAGS:  # a customer: to the community it names, within its quota
            if not self.customer_quota.allow(peer, now):
                self.transport.refused(conn.remote, "customer_quota", peer, None)
                return
            self.strangers.touch(conn, now)
            self._emit(Inbound(peer=peer, data=msg, friend=False))
            return
        # Friendship is learnt at slightly different moments on the two sides: a new friend's
        # first Disclose may arrive before its acceptance is processed here (and a community
        # participant's first epoch message before its community is set up).  Hold a few such
        # messages and deliver them if the peer becomes kept; strangers time out.
        if self.strangers.hold(conn, conn.last_cost):
            self._held.setdefault(conn, []).append(msg)
            return
        self.transport.refused(conn.remote, "too_much_held", peer, None)
        if not self._invited(peer):  # (an invited peer's is dropped: sent again once friends)
            self._drop_stranger(conn, "too_much_held")

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        self.strangers.release(conn)
        self._held.pop(conn, None)
        peer = conn.peer
        if (
            isinstance(error, RemoteProtocolError)
            and not isinstance(error, PeerTimeout)
            and peer in self.kept()
        ):
            # Only kept peers are scored: a stranger is just cut off (a throwaway key gains
            # nothing from a clean record, and a member about to be known as a friend or a
            # community participant must not start backed off).
            verdict = self.scores.violation(peer, 1.0, time.monotonic())
            if verdict.disconnect:
                _log.warning(
                    "peer_backed_off",
                    peer=fingerprint(peer),
                    reason=error.reason,
                    seconds=round(verdict.until - time.monotonic(), 1),
                )
        if self.active.get(peer) is conn:
            del self.active[peer]
            self._emit(PeerDown(peer=peer))
            if not self._closing:
                self._want(peer)
