"""The asyncio half of the network actor: connections, discovery and who may talk to whom.

It runs on an event loop in a thread of the network actor's process (runtime/node.py) and
reports to the actor through ``emit`` (thread-safe).  Policy:

* The social graph decides almost everything: friends get one connection each, kept up by a
  redialer with backoff; strangers may connect only to hand over a ``FriendRequest`` (a cold
  call), and are dropped after ``stranger_idle_s``; a stranger sending anything else is cut off.
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
from dataclasses import dataclass, field

import runtime.consensus.core  # noqa: F401 - registers the epoch messages (tags 60-66) to decode
from runtime.codec import Value
from runtime.discovery import Discovery, PeerHint, parse_static_peer
from runtime.dissemination import FriendRequest
from runtime.errors import PeoplenetError
from runtime.identity import MemberId, fingerprint
from runtime.log import get_logger
from runtime.node_messages import Batch, Discovered, Inbound, Listening, PeerDown, PeerUp
from runtime.reconnect import Redialer
from runtime.transport import Connection, HelloSigner, Transport, TransportConfig

Emit = Callable[[object], object]
MAX_HELD = 16

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


class ListenFailed(PeoplenetError):
    """The peer transport could not bind its port."""


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
        self.requests: dict[MemberId, FriendRequest] = {}
        self.hints: dict[MemberId, dict[str, tuple[str, int]]] = {}
        self.active: dict[MemberId, Connection] = {}
        self.strangers: dict[Connection, float] = {}
        self.listen: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_queues: dict[MemberId, asyncio.Queue[Value]] = {}
        self._senders: dict[MemberId, asyncio.Task[None]] = {}
        self._closing = False
        self._request_sent: dict[MemberId, float] = {}
        self._held: dict[Connection, list[Value]] = {}
        """A few messages from a stranger that may become a friend any moment."""
        self._cold: dict[MemberId, FriendRequest] = {}
        """Acceptances waiting for a connection to their peer."""

    def _emit(self, msg: object) -> None:
        """Report to the actor, batched per event-loop turn (see node_messages.Batch)."""
        if not self._emitted:
            asyncio.get_running_loop().call_soon(self._flush)
        self._emitted.append(msg)

    def _flush(self) -> None:
        items, self._emitted = self._emitted, []
        if items:
            self._emit_now(Batch(tuple(items)))

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
        self._emit(Listening(self.listen[0], port, s.advertise_host))
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
        self.requests = dict(requests)
        for member in added & set(self.active):
            self._emit(PeerUp(member))  # kept for a community: the store learns it only now
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
                self._emit(PeerDown(member))
                self._spawn(conn.close(reason))
        for conn in list(self.strangers):
            if conn.peer in kept and not conn.closed:
                del self.strangers[conn]
                self._promote(conn)
        for member in kept | set(self.requests):
            self._want(member)

    def send(self, peer: MemberId, msg: Value) -> None:
        """Queue ``msg`` for ``peer`` (in order).

        Friends get it on their connection.  A ``FriendRequest`` (request or acceptance) may
        also go to a stranger: on an open connection, or held until one is dialled.  Anything
        else for a peer without a connection is dropped: dissemination resends after reconnect.
        """
        if self._connection_to(peer) is None:
            if isinstance(msg, FriendRequest):
                self._cold[peer] = msg
                self._want(peer)
            return
        queue = self._send_queues.get(peer)
        if queue is None:
            queue = self._send_queues[peer] = asyncio.Queue()
            self._senders[peer] = asyncio.ensure_future(self._sender(peer, queue))
        queue.put_nowait(msg)

    async def _sender(self, peer: MemberId, queue: asyncio.Queue[Value]) -> None:
        while True:
            msg = await queue.get()
            conn = self._connection_to(peer)
            if conn is None:
                continue
            try:
                await conn.send(msg)
            except PeoplenetError as exc:
                _log.info("send_failed", peer=fingerprint(peer), error=str(exc))

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
        self._emit(Discovered(hint.member, hint.host, hint.port, hint.source))
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
            for conn, since in list(self.strangers.items()):
                if now - since > self.settings.stranger_idle_s or conn.closed:
                    self.strangers.pop(conn, None)
                    self._held.pop(conn, None)
                    self._spawn(conn.close("stranger_idle"))
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
        for conn in self.strangers:
            if conn.peer == member and not conn.closed:
                return conn
        return None

    async def _send_quietly(self, conn: Connection, msg: Value) -> None:
        try:
            await conn.send(msg)
        except PeoplenetError as exc:
            _log.info("send_failed", peer=fingerprint(conn.peer), error=str(exc))

    # -- transport callbacks ----------------------------------------------------------------------

    async def on_connected(self, conn: Connection) -> None:
        peer = conn.peer
        self._on_hint_from_connection(conn)
        request = self.requests.get(peer) or self._cold.pop(peer, None)
        if request is not None:
            self._request_sent[peer] = time.monotonic()
            await self._send_quietly(conn, request)
        if peer in self.kept():
            self._promote(conn)
            return
        if len(self.strangers) >= self.settings.max_strangers and peer not in self.requests:
            await conn.close("too_many_strangers")
            return
        self.strangers[conn] = time.monotonic()

    def _on_hint_from_connection(self, conn: Connection) -> None:
        # Through _on_hint, so the store hears of the member too (a bare hints entry here made
        # the static probe's own hint look known, and the store never learnt the peer).
        if conn.initiator and "static" not in self.hints.get(conn.peer, {}):
            self._on_hint(PeerHint(conn.peer, conn.remote[0], conn.remote[1], "static"))

    def _promote(self, conn: Connection) -> None:
        """Make ``conn`` the friendship edge to its peer, resolving duplicates by the id rule."""
        peer = conn.peer
        current = self.active.get(peer)
        if current is not None and current is not conn and not current.closed:
            me = self.settings.member
            preferred_initiator = min(me, peer)
            conn_init = me if conn.initiator else peer
            if conn_init != preferred_initiator:
                self._spawn(conn.close("duplicate"))
                return
            self._spawn(current.close("duplicate"))
            self._emit(PeerDown(peer))
        self.active[peer] = conn
        self._emit(PeerUp(peer))
        for msg in self._held.pop(conn, []):
            self._emit(Inbound(peer, msg, friend=peer in self.friends))

    async def on_message(self, conn: Connection, msg: Value) -> None:
        peer = conn.peer
        if self.active.get(peer) is conn:
            self._emit(Inbound(peer, msg, friend=peer in self.friends))
            return
        if isinstance(msg, FriendRequest):
            self.strangers[conn] = time.monotonic()
            self._emit(Inbound(peer, msg, friend=False))
            return
        # Friendship is learnt at slightly different moments on the two sides: a new friend's
        # first Disclose may arrive before its acceptance is processed here.  Hold a few such
        # messages and deliver them if the peer becomes a friend; strangers time out.
        held = self._held.setdefault(conn, [])
        if len(held) < MAX_HELD:
            held.append(msg)
        else:
            _log.info("stranger_message_dropped", peer=fingerprint(peer), type=type(msg).__name__)

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        self.strangers.pop(conn, None)
        self._held.pop(conn, None)
        peer = conn.peer
        if self.active.get(peer) is conn:
            del self.active[peer]
            self._emit(PeerDown(peer))
            if not self._closing:
                self._want(peer)
