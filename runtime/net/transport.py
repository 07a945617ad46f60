"""The encrypted peer transport: asyncio TCP around the sans-IO protocol of noise_channel.

Over 700 lines because a :class:`Connection` and the :class:`Transport` that admits and keeps it
share the limits, the refusal log and the teardown; each is one state machine.

Why its own asyncio layer (no thespian): thespian's TCP transport unpickles whatever reaches it,
so the only port a node exposes is this one, and everything arriving here is authenticated
(Noise XX, then a signed Hello binding the session to a member id), size-limited, rate-limited
and refused with a typed error and one log line.  The wire protocol is in ``docs/transport.md``.

Each connection has one reader task, which awaits the handler for every message (a slow handler
stops the reading, so TCP pushes back on the sender), and one keepalive task.  Senders are
serialised by a lock and await ``drain()``; ping and pong frames bypass the lock (sealing and
writing them is synchronous, so Noise nonces stay in order) so a stuck sender never stops
liveness checks.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId, fingerprint
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.net.conn_policy import PolicyConfig, RefusalTally, SlotTable
from peoplenet.runtime.net.noise_channel import (
    DEFAULT_MAX_MESSAGE,
    FRAME_HEADER,
    HANDSHAKE_HEADER,
    HELLO_CONTEXT,
    KIND_FINAL,
    KIND_PING,
    KIND_PONG,
    PREAMBLE_LEN,
    ConnectionClosed,
    DecryptError,
    FrameTooLarge,
    HandshakeError,
    Hello,
    IdentityMismatch,
    MessageAssembler,
    NoiseHandshake,
    PeerTimeout,
    ProtocolViolation,
    SecureChannel,
    TransportError,
    WrongNetwork,
    check_hello,
    check_network_id,
    check_preamble,
    decode_message,
    frame_length,
    hello_message,
    parse_hello,
    preamble,
    static_private_key,
)
from peoplenet.runtime.net.peer_message import record_tag
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import Value
from peoplenet.runtime.wire.decode_cost import decode_cost

__all__ = [
    "BytesHandler",
    "Connection",
    "ConnectionClosed",
    "ConnectionHandler",
    "ConnectionStats",
    "DecryptError",
    "FrameTooLarge",
    "HandshakeError",
    "HelloSigner",
    "IdentityMismatch",
    "IdentitySigner",
    "PeerTimeout",
    "ProtocolViolation",
    "TokenBucket",
    "Transport",
    "TransportConfig",
    "TransportError",
    "WrongNetwork",
]

_CONTROL_BUFFER_LIMIT: Final = 64 * 1024
"""Skip a ping/pong when this much is already queued: the peer is not reading anyway."""

_CLOSE_GRACE_S: Final = 1.0


def _log() -> Any:
    # Fetched per use so that a later structlog configuration (or a test capture) applies.
    return get_logger("transport")


@dataclass(frozen=True)
class TransportConfig:
    """Limits and timers of one transport.  Rates count received frames and bytes."""

    network_id: bytes
    max_message: int = DEFAULT_MAX_MESSAGE
    handshake_timeout_s: float = 5.0
    keepalive_s: float = 10.0
    idle_timeout_s: float = 30.0
    max_connections: int = 256
    recv_bytes_per_s: int = 64 * 1024 * 1024
    recv_msgs_per_s: int = 50_000
    burst_s: float = 1.0
    handshakes_per_ip_per_s: float = 10.0
    handshake_burst: int = 20
    reserved_for_kept: int = 64
    """Connection slots that only kept peers (friends, community, our own dials) may use."""
    handshakes_per_ip: int = 8
    """Connections one address may hold before they are authenticated."""
    log_interval_s: float = 10.0
    log_lines_per_interval: int = 20
    """Refusals logged one line each per interval; the rest are counted in one summary."""

    def __post_init__(self) -> None:
        check_network_id(self.network_id)
        positive = (
            self.max_message,
            self.handshake_timeout_s,
            self.keepalive_s,
            self.idle_timeout_s,
            self.max_connections,
            self.recv_bytes_per_s,
            self.recv_msgs_per_s,
            self.burst_s,
            self.handshakes_per_ip_per_s,
            self.handshake_burst,
            self.handshakes_per_ip,
            self.log_interval_s,
            self.log_lines_per_interval,
        )
        if any(v <= 0 for v in positive) or self.reserved_for_kept < 0:
            raise LocalError("transport limits and timers must be positive")

    def policy(self) -> PolicyConfig:
        """The slot and log limits as the pure policy core takes them."""
        return PolicyConfig(
            max_connections=self.max_connections,
            reserved_for_kept=min(self.reserved_for_kept, self.max_connections // 4),
            handshakes_per_ip=self.handshakes_per_ip,
            log_interval_s=self.log_interval_s,
            log_lines_per_interval=self.log_lines_per_interval,
        )


class TokenBucket:
    """A token bucket that lets a caller run into debt and tells it how long to wait.

    Pure (``now`` is passed in): the reader takes a frame's cost, then sleeps for the returned
    delay instead of dropping anything, so an over-budget peer is slowed by TCP backpressure.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst <= 0:
            raise LocalError("a token bucket needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, amount: float, now: float) -> float:
        """Spend ``amount`` (possibly into debt); seconds to wait until the debt is repaid."""
        self._refill(now)
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def try_take(self, amount: float, now: float) -> bool:
        """Spend ``amount`` only if it is available now."""
        self._refill(now)
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.burst


class HelloSigner(Protocol):
    """Who this transport speaks for, without necessarily holding the Ed25519 secret.

    The node's network actor passes one that forwards Hello transcripts to the member actor
    (the only holder of the identity); tests and tools pass an :class:`Identity`, which
    :class:`IdentitySigner` adapts.
    """

    member_id: MemberId
    x25519_private: bytes
    """The Noise static key: :func:`peoplenet.runtime.net.noise_channel.static_private_key` of the
    identity."""

    async def sign_hello(self, transcript: bytes) -> bytes:
        """The Ed25519 signature of a Hello transcript (``b"peoplenet.hello.v1"`` + ...)."""
        ...


class IdentitySigner:
    """A :class:`HelloSigner` backed by an :class:`Identity` held in this process."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self.member_id: MemberId = identity.member_id
        self.x25519_private = static_private_key(identity)

    async def sign_hello(self, transcript: bytes) -> bytes:
        if not transcript.startswith(HELLO_CONTEXT):
            raise LocalError("refusing to sign something that is not a Hello transcript")
        return self._identity.sign(transcript)


class ConnectionHandler(Protocol):
    """What the node's network actor implements.  Calls for one connection are sequential."""

    async def on_connected(self, conn: Connection) -> None: ...

    async def on_message(self, conn: Connection, msg: Value) -> None: ...

    async def on_closed(self, conn: Connection, error: Exception | None) -> None: ...


@runtime_checkable
class BytesHandler(Protocol):
    """A handler that takes messages as bytes (see :meth:`Connection.limit`'s ``as_bytes``).

    Why: the node's network actor only routes messages; their owners decode them, once
    (runtime/net/peer_message.py).  ``tag`` is the record tag read from the header (None: not a
    record).
    """

    async def on_bytes(self, conn: Connection, data: bytes, tag: int | None) -> None: ...


@dataclass
class ConnectionStats:
    """Counters of one connection; bytes include frame headers and AEAD tags."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0


def _addr(remote: tuple[str, int]) -> str:
    return f"{remote[0]}:{remote[1]}"


class Connection:
    """An authenticated, encrypted connection to one member."""

    def __init__(
        self,
        transport: Transport,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        channel: SecureChannel,
        peer: MemberId,
        *,
        initiator: bool,
        remote: tuple[str, int],
    ) -> None:
        self.peer = peer
        self.initiator = initiator
        self.remote = remote
        self.closed = False
        self.stats = ConnectionStats()
        self.close_reason: str | None = None
        self.error: Exception | None = None
        self._transport = transport
        self._handler = transport.handler
        self._config = transport.config
        self._reader = reader
        self._writer = writer
        self._channel = channel
        self._assembler = MessageAssembler(self._config.max_message)
        self.max_message = self._config.max_message
        self.accept_tags: frozenset[int] | None = None
        """Record tags this peer may send (None: any); set by the handler."""
        self.as_bytes: BytesHandler | None = None
        """Set: messages go to its ``on_bytes`` undecoded (see :meth:`limit`)."""
        self.metered = False
        self.last_cost = 0
        """Estimated decoded size of the last message (measured while ``metered``)."""
        self._send_lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._done = asyncio.Event()
        self._finishing = False
        self._greeted = False
        """Whether the handler heard ``on_connected`` (only then does it hear ``on_closed``)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._loop = loop
        self._last_recv = now
        self._last_sent = now
        self._last_ping = now
        self._busy = False
        cfg = self._config
        self._bytes_bucket = TokenBucket(
            cfg.recv_bytes_per_s, cfg.recv_bytes_per_s * cfg.burst_s, now
        )
        self._msgs_bucket = TokenBucket(cfg.recv_msgs_per_s, cfg.recv_msgs_per_s * cfg.burst_s, now)
        self._reader_task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Connection({fingerprint(self.peer)} {_addr(self.remote)} {state})"

    def limit(
        self,
        max_message: int,
        accept_tags: frozenset[int] | None,
        *,
        metered: bool,
        msgs_per_s: float | None = None,
        as_bytes: bool = False,
    ) -> None:
        """Set what this peer may send from now on (the handler knows who it is).

        ``max_message`` bounds each message before it is assembled; a record whose tag is not
        in ``accept_tags`` is refused before it is decoded (``unexpected_message``);
        ``metered`` measures each message's decoded size first (:attr:`last_cost`);
        ``msgs_per_s`` slows the reader to that many messages a second; ``as_bytes`` hands
        each message to the handler's ``on_bytes`` undecoded (its owner decodes it).
        """
        if as_bytes and not isinstance(self._handler, BytesHandler):
            raise LocalError("as_bytes needs a handler with on_bytes")
        self.max_message = min(max_message, self._config.max_message)
        self._assembler.max_message = self.max_message
        self.accept_tags = accept_tags
        self.metered = metered
        handler = self._handler
        self.as_bytes = handler if as_bytes and isinstance(handler, BytesHandler) else None
        now = self._loop.time()
        rate = msgs_per_s if msgs_per_s is not None else self._config.recv_msgs_per_s
        self._msgs_bucket = TokenBucket(rate, max(1.0, rate * self._config.burst_s), now)

    def set_kept(self, kept: bool) -> None:
        """Mark this connection as one of a kept peer: it may use the reserved slots."""
        self._transport.slots.set_kept(self, kept)

    # -- sending -----------------------------------------------------------------------------

    async def send(self, msg: Value) -> None:
        """Encrypt and write one message in order; waits while the peer does not keep up."""
        await self.send_encoded(codec.encode(msg))

    async def send_encoded(self, encoded: bytes) -> None:
        """:meth:`send` for a message already encoded (canonically) by its maker."""
        if len(encoded) > self._config.max_message:
            raise EncodeError(f"message of {len(encoded)} bytes > {self._config.max_message}")
        async with self._send_lock:
            if self.closed:
                raise ConnectionClosed(f"connection to {fingerprint(self.peer)} is closed")
            frames = self._channel.seal_message(encoded)
            self._writer.writelines(frames)
            self.stats.bytes_sent += sum(len(f) for f in frames)
            self.stats.messages_sent += 1
            self._last_sent = self._loop.time()
            try:
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                self._fail(exc, "connection_lost")
                raise ConnectionClosed("the connection was lost while sending") from exc

    def _control(self, kind: int) -> None:
        """Write a ping or pong now, without the send lock and without waiting."""
        if self.closed or self._writer.transport.get_write_buffer_size() > _CONTROL_BUFFER_LIMIT:
            return
        frame = self._channel.seal(kind)
        self._writer.write(frame)
        self.stats.bytes_sent += len(frame)
        self._last_sent = self._loop.time()

    # -- closing -----------------------------------------------------------------------------

    async def close(self, reason: str = "local_close") -> None:
        """Close the connection and wait until ``on_closed`` has run (unless called from it)."""
        self._fail(None, reason)
        if asyncio.current_task() is not self._reader_task:
            await self._done.wait()

    async def wait_closed(self) -> None:
        await self._done.wait()

    def violated(self, error: RemoteProtocolError) -> None:
        """The handler's owner found ``error`` in a message this peer sent (it decodes the
        bytes, not the transport): close as the reader would have, and say why."""
        self._fail(error, error.reason)

    def _fail(self, error: Exception | None, reason: str) -> None:
        """Mark closed (first call wins), stop the socket and the tasks."""
        if self.closed:
            return
        self.closed = True
        self.error = error
        self.close_reason = reason
        if error is None:
            self._writer.close()
        else:
            self._writer.transport.abort()
        current = asyncio.current_task()
        for task in (self._keepalive_task, self._reader_task):
            if task is not None and task is not current:
                task.cancel()

    # -- the reader task ---------------------------------------------------------------------

    def _start(self) -> None:
        self._reader_task = asyncio.create_task(self._run(), name=f"transport-read {self!r}")
        self._reader_task.add_done_callback(self._reader_ended)

    def _reader_ended(self, task: asyncio.Task[None]) -> None:
        """A reader cancelled before it ever ran (a slot eviction right after the handshake,
        say) skipped its own ``_finish``: finish here, or ``close()`` would wait for ever."""
        if self._done.is_set() or self._finishing:
            return
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, Exception):
            # A bug of ours escaped the reader: close this connection rather than leave it
            # half alive, and say what it was.
            self._fail(exc, "internal_error")
            _log().error("reader_failed", peer=_addr(self.remote), error=repr(exc))
        asyncio.get_running_loop().create_task(self._finish(), name=f"transport-end {self!r}")

    async def _run(self) -> None:
        try:
            await self._serve()
        except asyncio.CancelledError:
            if not self.closed:  # cancelled from outside: clean up, then honour it
                self._fail(None, "cancelled")
                await self._finish()
                raise
        except RemoteProtocolError as exc:
            self._fail(exc, exc.reason)
        except (ConnectionError, OSError) as exc:
            self._fail(exc, "connection_lost")
        await self._finish()

    async def _serve(self) -> None:
        self._greeted = True
        try:
            await self._handler.on_connected(self)
        except Exception as exc:
            self._handler_failed(exc)
            return
        finally:
            self._ready.set()
        if self.closed:
            return
        self._keepalive_task = asyncio.create_task(self._keepalive())
        await self._read_loop()

    def _handler_failed(self, exc: Exception) -> None:
        _log().exception("handler_error", peer=_addr(self.remote), member=fingerprint(self.peer))
        self._fail(exc, "handler_error")

    async def _read_loop(self) -> None:
        reader = self._reader
        while not self.closed:
            self._busy = False
            try:
                header = await reader.readexactly(FRAME_HEADER.size)
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    self._fail(None, "remote_close")
                    return
                raise ProtocolViolation("truncated", "the peer closed inside a frame") from None
            size = frame_length(header)
            try:
                body = await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                raise ProtocolViolation("truncated", "the peer closed inside a frame") from None
            self._busy = True
            now = self._loop.time()
            self._last_recv = now
            self.stats.bytes_received += size + FRAME_HEADER.size
            delay = max(
                self._bytes_bucket.take(size + FRAME_HEADER.size, now),
                self._msgs_bucket.take(1, now),
            )
            if delay > 0:
                await asyncio.sleep(delay)
            kind, data = self._channel.open(body)
            if kind == KIND_PING:
                self._control(KIND_PONG)
                continue
            if kind == KIND_PONG:
                continue
            whole = self._assembler.feed(kind, data)
            if whole is None:
                continue
            tag = record_tag(whole)
            if self.accept_tags is not None and tag not in self.accept_tags:
                raise ProtocolViolation("unexpected_message", "a message this peer may not send")
            if self.metered:
                self.last_cost = decode_cost(whole)
            as_bytes = self.as_bytes
            msg = None if as_bytes is not None else decode_message(whole, self.max_message)
            self.stats.messages_received += 1
            try:
                if as_bytes is not None:
                    await as_bytes.on_bytes(self, whole, tag)
                else:
                    await self._handler.on_message(self, msg)
            except Exception as exc:
                self._handler_failed(exc)
                return

    async def _keepalive(self) -> None:
        """Ping a quiet peer; close one that stays silent for ``idle_timeout_s``."""
        cfg = self._config
        tick = max(0.005, min(cfg.keepalive_s, cfg.idle_timeout_s) / 4)
        while not self.closed:
            await asyncio.sleep(tick)
            now = self._loop.time()
            if self._busy:  # our reader is not reading: the silence is ours, not the peer's
                self._last_recv = now
            quiet = now - self._last_recv
            if quiet >= cfg.idle_timeout_s:
                self._fail(PeerTimeout("idle", f"nothing received for {quiet:.1f} s"), "idle")
                return
            if now - self._last_ping >= cfg.keepalive_s and (
                quiet >= cfg.keepalive_s or now - self._last_sent >= cfg.keepalive_s
            ):
                self._last_ping = now
                self._control(KIND_PING)

    async def _finish(self) -> None:
        if self._finishing:
            return
        self._finishing = True
        error, reason = self.error, self.close_reason or "closed"
        try:
            if isinstance(error, RemoteProtocolError):
                self._transport.refused(self.remote, reason, self.peer, error)
            elif reason != "handler_error":
                self._transport.closed_line(self, reason)
            try:
                await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_GRACE_S)
            except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError):
                # Cancelled too: the handler must still hear of the close and close() end.
                self._writer.transport.abort()
            if self._greeted:
                await self._handler.on_closed(self, error)
        except Exception:
            _log().exception(
                "handler_error", peer=_addr(self.remote), member=fingerprint(self.peer)
            )
        finally:
            self._transport._forget(self)
            self._ready.set()  # a dialler waiting for on_connected gets the closed connection
            self._done.set()


class Transport:
    """Listens for and dials peers; owns every connection it made or accepted."""

    def __init__(
        self,
        identity: Identity | HelloSigner,
        config: TransportConfig,
        handler: ConnectionHandler,
    ) -> None:
        self.signer: HelloSigner = (
            IdentitySigner(identity) if isinstance(identity, Identity) else identity
        )
        self.member_id: MemberId = self.signer.member_id
        self.config = config
        self.handler = handler
        self._preamble = preamble(config.network_id)
        self._server: asyncio.Server | None = None
        self._conns: set[Connection] = set()
        self._handshakes: set[asyncio.Task[object]] = set()
        self._ip_buckets: dict[str, TokenBucket] = {}
        self._closing = False
        policy = config.policy()
        self.slots = SlotTable(policy)
        self._tally = RefusalTally(policy)
        self._quiet = RefusalTally(policy)
        """The same rate limit for info lines anyone can cause (closes of unkept connections)."""

    def closed_line(self, conn: Connection, reason: str) -> None:
        """Log a closed connection: always for kept peers, rate-limited for everyone else."""
        fields = {"peer": _addr(conn.remote), "member": fingerprint(conn.peer), "reason": reason}
        if self.slots.is_kept(conn):
            _log().info("connection_closed", **fields)
        else:
            self.quiet_line("connection_closed", **fields)

    def quiet_line(self, event: str, **fields: str) -> None:
        now = asyncio.get_running_loop().time()
        if self._quiet.record(fields.get("reason", event), now):
            _log().info(event, **fields)
        self.flush_refusals(now)

    def refused(
        self,
        remote: tuple[str, int],
        reason: str,
        member: bytes | None,
        error: Exception | None,
    ) -> None:
        """Log a refusal: a line of its own while few, else counted for the summary."""
        now = asyncio.get_running_loop().time()
        if self._tally.record(reason, now):
            _log().warning(
                "peer_refused",
                peer=_addr(remote),
                member=fingerprint(member) if member else None,
                reason=reason,
                error=type(error).__name__ if error is not None else None,
                detail=getattr(error, "detail", ""),
            )
        self.flush_refusals(now)

    def flush_refusals(self, now: float | None = None) -> None:
        """Log the summary of refusals not logged one by one, once per interval."""
        if now is None:
            now = asyncio.get_running_loop().time()
        counts = self._tally.due(now)
        if counts is not None:
            _log().warning("peers_refused_summary", interval_s=self.config.log_interval_s, **counts)
        closed = self._quiet.due(now)
        if closed is not None:
            _log().info(
                "connections_closed_summary", interval_s=self.config.log_interval_s, **closed
            )

    def connections(self) -> list[Connection]:
        return [c for c in self._conns if not c.closed]

    async def listen(self, host: str, port: int) -> tuple[str, int]:
        """Start accepting peers; ``port`` 0 picks a free one.  Returns the bound address."""
        if self._closing:
            raise LocalError("the transport is closed")
        if self._server is not None:
            raise LocalError("the transport is already listening")
        self._server = await asyncio.start_server(self._on_accept, host, port)
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def connect(self, host: str, port: int, *, expect: MemberId | None = None) -> Connection:
        """Dial a peer; returns once ``on_connected`` ran (if that raised, the result is closed).

        Raises ``OSError`` if the peer is unreachable, a :class:`TransportError` if refused.
        """
        if self._closing:
            raise LocalError("the transport is closed")
        try:
            async with asyncio.timeout(self.config.handshake_timeout_s):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise HandshakeError("timeout", "connecting took too long") from None
        remote = (host, port)
        channel, peer = await self._secure(reader, writer, remote, initiator=True, expect=expect)
        conn = self._adopt(reader, writer, channel, peer, initiator=True, remote=remote)
        await conn._ready.wait()
        return conn

    async def close(self) -> None:
        """Stop listening, close every connection and wait for their tasks."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._handshakes):
            task.cancel()
        if self._handshakes:
            await asyncio.wait(list(self._handshakes))
        for conn in list(self._conns):
            await conn.close("transport_closed")
        if self._server is not None:
            await self._server.wait_closed()

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    def _forget(self, conn: Connection) -> None:
        self._conns.discard(conn)
        self.slots.closed(conn)

    def _admit(self, ip: str) -> str | None:
        """Why a new inbound connection must be refused, or None (see conn_policy.SlotTable)."""
        if self._closing:
            return "shutting_down"
        now = asyncio.get_running_loop().time()
        admission = self.slots.admit(ip, now)
        if not admission.accept:
            return admission.reason
        if len(self._ip_buckets) > 4096:
            self._ip_buckets = {k: b for k, b in self._ip_buckets.items() if not b.full(now)}
        bucket = self._ip_buckets.get(ip)
        if bucket is None:
            cfg = self.config
            bucket = TokenBucket(cfg.handshakes_per_ip_per_s, cfg.handshake_burst, now)
            self._ip_buckets[ip] = bucket
        if not bucket.try_take(1, now):
            return "handshake_rate_limited"
        if isinstance(admission.evict, asyncio.Task):  # only now: the newcomer is admitted
            self.slots.closed(admission.evict)
            admission.evict.cancel()
        return None

    async def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        remote = (str(peername[0]), int(peername[1])) if peername else ("?", 0)
        refusal = self._admit(remote[0])
        if refusal is not None:
            self.refused(remote, refusal, None, None)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handshakes.add(task)
        self.slots.opened(task, remote[0], asyncio.get_running_loop().time(), authenticated=False)
        try:
            channel, peer = await self._secure(reader, writer, remote, initiator=False)
        except (RemoteProtocolError, ConnectionError, OSError):
            return  # already logged and closed by _secure
        except asyncio.CancelledError:
            # Transport.close() (or a newcomer evicting this handshake) cancelled us.  Ending
            # normally matters: Python 3.11's stream server calls task.exception() on this
            # task, which raises if it was cancelled.
            return
        finally:
            self._handshakes.discard(task)
            self.slots.closed(task)
        with contextlib.suppress(ConnectionClosed):  # the transport closed meanwhile
            self._adopt(reader, writer, channel, peer, initiator=False, remote=remote)

    def _adopt(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        channel: SecureChannel,
        peer: MemberId,
        *,
        initiator: bool,
        remote: tuple[str, int],
    ) -> Connection:
        if self._closing:
            writer.transport.abort()
            raise ConnectionClosed("the transport closed during the handshake")
        conn = Connection(self, reader, writer, channel, peer, initiator=initiator, remote=remote)
        self._conns.add(conn)
        self.slots.opened(conn, remote[0], self._loop_time(), authenticated=True, kept=initiator)
        conn._start()
        return conn

    async def _secure(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        remote: tuple[str, int],
        *,
        initiator: bool,
        expect: MemberId | None = None,
    ) -> tuple[SecureChannel, MemberId]:
        """Run preamble, handshake and Hello under the handshake timeout; log and close on error."""
        try:
            async with asyncio.timeout(self.config.handshake_timeout_s):
                return await self._handshake(reader, writer, initiator=initiator, expect=expect)
        except TimeoutError:
            error: Exception = HandshakeError("timeout", "the handshake took too long")
        except asyncio.IncompleteReadError:
            error = HandshakeError("truncated", "the peer closed during the handshake")
        except RemoteProtocolError as exc:
            error = exc
        except (ConnectionError, OSError):
            writer.transport.abort()
            self.quiet_line("handshake_lost", peer=_addr(remote), reason="lost")
            raise
        except BaseException:
            writer.transport.abort()
            raise
        assert isinstance(error, RemoteProtocolError)
        self.refused(remote, error.reason, getattr(error, "member", None), error)
        writer.transport.abort()
        raise error

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        initiator: bool,
        expect: MemberId | None,
    ) -> tuple[SecureChannel, MemberId]:
        writer.write(self._preamble)
        try:
            theirs = await reader.readexactly(PREAMBLE_LEN)
        except asyncio.IncompleteReadError as exc:
            if exc.partial and not self._preamble.startswith(exc.partial[:5]):
                raise HandshakeError("bad_preamble", "not a Peoplenet transport") from None
            raise
        check_preamble(self._preamble, theirs)
        noise = NoiseHandshake(
            self.signer.x25519_private, self.config.network_id, initiator=initiator
        )
        while not noise.finished:
            if noise.my_turn:
                writer.write(noise.write())
            else:
                (size,) = HANDSHAKE_HEADER.unpack(await reader.readexactly(HANDSHAKE_HEADER.size))
                noise.read(await reader.readexactly(size))
        channel = noise.channel()
        transcript = hello_message(channel.handshake_hash, initiator=initiator)
        signature = await self.signer.sign_hello(transcript)
        ours = Hello(self.member_id, signature)
        writer.write(channel.seal(KIND_FINAL, codec.encode(ours)))
        await writer.drain()
        size = frame_length(await reader.readexactly(FRAME_HEADER.size))
        kind, data = channel.open(await reader.readexactly(size))
        hello = parse_hello(kind, data)
        try:
            peer = check_hello(
                hello,
                channel.handshake_hash,
                sender_is_initiator=not initiator,
                own=self.member_id,
                expect=expect,
            )
        except IdentityMismatch as exc:
            exc.member = hello.member
            raise
        return channel, peer
