"""The peer transport over real sockets on 127.0.0.1: round trips, attacks, limits, timers.

Every attack case checks the typed error and reason, the one ``peer_refused`` log line, that the
connection is closed, and that the listener still serves a good peer afterwards.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId, fingerprint
from peoplenet.runtime.net.noise_channel import (
    FRAME_HEADER,
    HANDSHAKE_HEADER,
    KIND_CHUNK,
    KIND_FINAL,
    KIND_PING,
    MAX_CHUNK,
    PREAMBLE_LEN,
    Hello,
    NoiseHandshake,
    SecureChannel,
    hello_frame,
    make_hello,
    parse_hello,
    preamble,
    static_private_key,
)
from peoplenet.runtime.net.transport import (
    Connection,
    ConnectionClosed,
    DecryptError,
    FrameTooLarge,
    HandshakeError,
    IdentityMismatch,
    IdentitySigner,
    PeerTimeout,
    ProtocolViolation,
    TokenBucket,
    Transport,
    TransportConfig,
    WrongNetwork,
)
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import Record, Value, wire_type

NET = b"test-net"
HOST = "127.0.0.1"
CONFIG = TransportConfig(network_id=NET, handshake_timeout_s=2.0)


@wire_type(990)
@dataclass(frozen=True, slots=True)
class Note(Record):
    """A test-only application record."""

    sender: str
    seq: int
    data: bytes


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a test body; any error the event loop would only have logged fails the test."""
    loop_errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        await asyncio.wait_for(coro, 30)

    asyncio.run(main())
    assert loop_errors == []


async def until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


class Recorder:
    """A ConnectionHandler that records everything; ``gate`` holds each on_message."""

    def __init__(self) -> None:
        self.connected: list[Connection] = []
        self.messages: list[Value] = []
        self.closed: list[tuple[Connection, Exception | None]] = []
        self.gate: asyncio.Event | None = None
        self.fail_on: Value = None

    async def on_connected(self, conn: Connection) -> None:
        self.connected.append(conn)

    async def on_message(self, conn: Connection, msg: Value) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_on is not None and msg == self.fail_on:
            raise ValueError("handler bug")
        self.messages.append(msg)

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        self.closed.append((conn, error))


@dataclass
class Server:
    transport: Transport
    handler: Recorder
    port: int
    identity: Identity


@asynccontextmanager
async def serving(config: TransportConfig = CONFIG) -> AsyncIterator[Server]:
    identity = Identity.generate()
    handler = Recorder()
    transport = Transport(identity, config, handler)
    try:
        _, port = await transport.listen(HOST, 0)
        yield Server(transport, handler, port, identity)
    finally:
        await transport.close()


@asynccontextmanager
async def client(config: TransportConfig = CONFIG) -> AsyncIterator[tuple[Transport, Recorder]]:
    handler = Recorder()
    transport = Transport(Identity.generate(), config, handler)
    try:
        yield transport, handler
    finally:
        await transport.close()


async def assert_still_serves(srv: Server) -> None:
    """A good peer can connect and deliver a message after whatever happened before."""
    before = len(srv.handler.messages)
    async with client() as (transport, _):
        conn = await transport.connect(HOST, srv.port, expect=MemberId(srv.identity.member_id))
        await conn.send("still here")
        await until(lambda: len(srv.handler.messages) > before)
        assert srv.handler.messages[-1] == "still here"


def refusals(logs: Sequence[Mapping[str, Any]], reason: str) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "peer_refused" and e["reason"] == reason]


class RawPeer:
    """A hand-driven client for attacks: it speaks the protocol only as far as it is told."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.channel: SecureChannel | None = None

    @classmethod
    async def open(cls, port: int) -> RawPeer:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def handshake(self, identity: Identity, network_id: bytes = NET) -> SecureChannel:
        self.writer.write(preamble(network_id))
        assert await self.reader.readexactly(PREAMBLE_LEN) == preamble(NET)
        noise = NoiseHandshake(identity, network_id, initiator=True)
        while not noise.finished:
            if noise.my_turn:
                self.writer.write(noise.write())
            else:
                (size,) = HANDSHAKE_HEADER.unpack(await self.reader.readexactly(2))
                noise.read(await self.reader.readexactly(size))
        self.channel = noise.channel()
        return self.channel

    async def read_frame(self) -> tuple[int, bytes]:
        assert self.channel is not None
        (size,) = FRAME_HEADER.unpack(await self.reader.readexactly(4))
        return self.channel.open(await self.reader.readexactly(size))

    async def login(self, identity: Identity) -> SecureChannel:
        """Handshake and exchange valid Hellos: a fully bound raw connection."""
        channel = await self.handshake(identity)
        self.writer.write(hello_frame(channel, identity, initiator=True))
        parse_hello(*await self.read_frame())
        return channel

    async def closed_by_peer(self) -> bool:
        """Whether the other side closed: EOF or reset, after draining what it sent."""
        try:
            async with asyncio.timeout(3):
                while await self.reader.read(65536):
                    pass
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.transport.abort()


async def refused_raw(
    srv: Server,
    attack: Callable[[RawPeer], Awaitable[None]],
    reason: str,
    error: type[RemoteProtocolError],
    *,
    bound: bool,
) -> Mapping[str, Any]:
    """Run ``attack`` from a raw peer; check the refusal, the log line and the survivors."""
    with capture_logs() as logs:
        raw = await RawPeer.open(srv.port)
        try:
            await attack(raw)
            assert await raw.closed_by_peer()
            await until(lambda: bool(refusals(logs, reason)))
        finally:
            raw.close()
    (line,) = refusals(logs, reason)
    assert line["log_level"] == "warning"
    assert line["error"] == error.__name__
    assert line["peer"].startswith(f"{HOST}:")
    if bound:  # the connection had been bound to a member: the handler saw it close
        await until(lambda: bool(srv.handler.closed))
        conn, err = srv.handler.closed[-1]
        assert conn.closed and isinstance(err, error) and err.reason == reason
        assert line["member"] == fingerprint(conn.peer)
        assert conn not in srv.transport.connections()
    await assert_still_serves(srv)
    return line


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65_519, 65_520, 1024 * 1024])
def test_round_trip_of_messages_of_many_sizes(size: int) -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, handler):
            conn = await transport.connect(HOST, srv.port, expect=MemberId(srv.identity.member_id))
            assert conn.peer == srv.identity.member_id and conn.initiator
            payload = os.urandom(size)
            await conn.send(Note("a", 1, payload))
            await conn.send(payload)
            await until(lambda: len(srv.handler.messages) == 2)
            assert srv.handler.messages == [Note("a", 1, payload), payload]
            inbound = srv.handler.connected[0]
            assert inbound.peer == transport.member_id and not inbound.initiator
            await inbound.send({"echo": size})
            await until(lambda: handler.messages == [{"echo": size}])
            assert conn.stats.messages_sent == 2 and inbound.stats.messages_received == 2
            assert inbound.stats.bytes_received == conn.stats.bytes_sent > 2 * size

    run(body())


def test_two_concurrent_senders_keep_order_per_sender() -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, _):
            conn = await transport.connect(HOST, srv.port)

            async def sender(name: str, size: int) -> None:
                for seq in range(40):
                    await conn.send(Note(name, seq, b"x" * size))

            await asyncio.gather(sender("a", 100), sender("b", 70_000))
            await until(lambda: len(srv.handler.messages) == 80)
            for name in "ab":
                seqs = [
                    m.seq for m in srv.handler.messages if isinstance(m, Note) and m.sender == name
                ]
                assert seqs == list(range(40))

    run(body())


def test_close_is_seen_by_both_sides_and_send_after_close_raises() -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, handler):
            conn = await transport.connect(HOST, srv.port)
            await conn.close()
            assert conn.closed and handler.closed == [(conn, None)]
            assert transport.connections() == []
            await until(lambda: len(srv.handler.closed) == 1)
            assert srv.handler.closed[0][1] is None
            assert srv.handler.closed[0][0].close_reason == "remote_close"
            with pytest.raises(ConnectionClosed):
                await conn.send("late")
            conn2 = await transport.connect(HOST, srv.port)
            with pytest.raises(EncodeError):  # larger than the peer accepts: refused locally
                await conn2.send(b"x" * CONFIG.max_message)
            assert not conn2.closed

    run(body())


def test_transport_close_ends_handshakes_and_connections() -> None:
    async def body() -> None:
        async with client() as (transport, _):
            srv_handler = Recorder()
            server = Transport(Identity.generate(), CONFIG, srv_handler)
            _, port = await server.listen(HOST, 0)
            conn = await transport.connect(HOST, port)
            raw = await RawPeer.open(port)  # stays mid-handshake
            try:
                await until(lambda: len(server._handshakes) == 1)
                await server.close()
                assert await raw.closed_by_peer()
            finally:
                raw.close()
            assert [c.close_reason for c, _ in srv_handler.closed] == ["transport_closed"]
            assert server.connections() == [] and not server._handshakes
            await conn.wait_closed()
            with pytest.raises(ConnectionRefusedError):
                await transport.connect(HOST, port)

    run(body())


# -- refusals during the handshake ---------------------------------------------------------


def test_garbage_bytes_are_refused() -> None:
    async def body() -> None:
        async with serving() as srv:

            async def attack(raw: RawPeer) -> None:
                raw.writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64))

            await refused_raw(srv, attack, "bad_preamble", HandshakeError, bound=False)

    run(body())


def test_truncated_handshake_and_truncated_frame_are_refused() -> None:
    async def body() -> None:
        async with serving() as srv:

            async def half_preamble(raw: RawPeer) -> None:
                raw.writer.write(preamble(NET)[:7])
                raw.writer.write_eof()

            await refused_raw(srv, half_preamble, "truncated", HandshakeError, bound=False)

            async def half_frame(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                frame = channel.seal(KIND_FINAL, codec.encode("hello world"))
                raw.writer.write(frame[: len(frame) // 2])
                raw.writer.write_eof()

            await refused_raw(srv, half_frame, "truncated", ProtocolViolation, bound=True)

    run(body())


def test_wrong_network_is_refused_on_both_sides() -> None:
    async def body() -> None:
        async with serving() as srv, client(replace(CONFIG, network_id=b"other")) as (other, _):
            with capture_logs() as logs:
                with pytest.raises(WrongNetwork) as err:
                    await other.connect(HOST, srv.port)
                assert err.value.reason == "wrong_network"
                await until(lambda: len(refusals(logs, "wrong_network")) == 2)
            assert {e["error"] for e in refusals(logs, "wrong_network")} == {"WrongNetwork"}
            assert other.connections() == [] and srv.transport.connections() == []
            await assert_still_serves(srv)

    run(body())


def test_a_peer_claiming_someone_elses_key_is_refused() -> None:
    victim = Identity.generate()

    async def body() -> None:
        async with serving() as srv:

            async def forged(raw: RawPeer) -> None:
                channel = await raw.handshake(Identity.generate())
                hello = Hello(victim.member_id, os.urandom(64))
                raw.writer.write(channel.seal(KIND_FINAL, codec.encode(hello)))

            line = await refused_raw(
                srv, forged, "bad_hello_signature", IdentityMismatch, bound=False
            )
            assert line["member"] == victim.fingerprint

            # The victim's genuine Hello from an earlier session, replayed in a new one.
            raw = await RawPeer.open(srv.port)
            try:
                old = await raw.handshake(victim)
                captured = make_hello(victim, old.handshake_hash, initiator=True)
            finally:
                raw.close()

            async def replayed(raw: RawPeer) -> None:
                channel = await raw.handshake(Identity.generate())
                raw.writer.write(channel.seal(KIND_FINAL, codec.encode(captured)))

            await refused_raw(srv, replayed, "bad_hello_signature", IdentityMismatch, bound=False)

    run(body())


def test_unexpected_peer_and_self_connection_are_refused() -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, _):
            with capture_logs() as logs, pytest.raises(IdentityMismatch) as err:
                await transport.connect(HOST, srv.port, expect=MemberId(b"\x07" * 32))
            assert err.value.reason == "unexpected_peer"
            assert refusals(logs, "unexpected_peer")[0]["member"] == srv.identity.fingerprint
            # Dialing ourselves: both ends of the connection refuse it.
            with capture_logs() as logs, pytest.raises(IdentityMismatch) as own:
                await srv.transport.connect(HOST, srv.port)
            assert own.value.reason == "self_connection"
            await until(lambda: len(refusals(logs, "self_connection")) == 2)
            assert srv.transport.connections() == []
            await assert_still_serves(srv)

    run(body())


def test_handshake_timeout() -> None:
    async def body() -> None:
        async with serving(replace(CONFIG, handshake_timeout_s=0.2)) as srv:

            async def silent(raw: RawPeer) -> None:
                assert await raw.reader.readexactly(PREAMBLE_LEN) == preamble(NET)

            await refused_raw(srv, silent, "timeout", HandshakeError, bound=False)

    run(body())


# -- refusals after the handshake ----------------------------------------------------------


def test_replayed_and_reordered_frames_are_refused() -> None:
    async def body() -> None:
        async with serving() as srv:

            async def replay(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                frame = channel.seal(KIND_FINAL, codec.encode("once"))
                raw.writer.write(frame + frame)

            await refused_raw(srv, replay, "decrypt_failed", DecryptError, bound=True)
            assert srv.handler.messages[-2:] == ["once", "still here"]

            async def reorder(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                first = channel.seal(KIND_FINAL, codec.encode("first"))
                second = channel.seal(KIND_FINAL, codec.encode("second"))
                raw.writer.write(second + first)

            await refused_raw(srv, reorder, "decrypt_failed", DecryptError, bound=True)
            assert "first" not in srv.handler.messages and "second" not in srv.handler.messages

    run(body())


def test_oversize_frame_length_is_refused_before_its_body() -> None:
    async def body() -> None:
        async with serving() as srv:

            async def oversize(raw: RawPeer) -> None:
                await raw.login(Identity.generate())
                raw.writer.write(struct.pack(">I", 65_536))  # and no body at all

            await refused_raw(srv, oversize, "frame_too_large", FrameTooLarge, bound=True)

    run(body())


def test_oversize_reassembled_message_is_refused() -> None:
    async def body() -> None:
        async with serving(replace(CONFIG, max_message=100_000)) as srv:

            async def oversize(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                raw.writer.write(channel.seal(KIND_CHUNK, b"x" * MAX_CHUNK))
                raw.writer.write(channel.seal(KIND_CHUNK, b"x" * MAX_CHUNK))

            await refused_raw(srv, oversize, "message_too_large", FrameTooLarge, bound=True)

    run(body())


def test_unknown_kind_byte_and_bad_encoding_are_refused() -> None:
    async def body() -> None:
        async with serving() as srv:

            async def unknown(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                raw.writer.write(channel.seal(0x09, b"?"))

            await refused_raw(srv, unknown, "unknown_kind", ProtocolViolation, bound=True)

            async def not_canonical(raw: RawPeer) -> None:
                channel = await raw.login(Identity.generate())
                raw.writer.write(channel.seal(KIND_FINAL, b"\xcb" + b"\x00" * 8))  # a float

            await refused_raw(srv, not_canonical, "not_canonical", RemoteProtocolError, bound=True)

    run(body())


def test_handler_error_closes_only_that_connection() -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, _):
            srv.handler.fail_on = "boom"
            conn = await transport.connect(HOST, srv.port)
            with capture_logs() as logs:
                await conn.send("boom")
                await until(lambda: bool(srv.handler.closed))
                await conn.wait_closed()
            inbound, err = srv.handler.closed[0]
            assert inbound.close_reason == "handler_error" and isinstance(err, ValueError)
            assert any(e["event"] == "handler_error" and e.get("exc_info") for e in logs)
            await assert_still_serves(srv)

    run(body())


# -- timers --------------------------------------------------------------------------------


def test_silent_peer_is_pinged_then_dropped_as_idle() -> None:
    async def body() -> None:
        config = replace(CONFIG, keepalive_s=0.05, idle_timeout_s=0.3)
        async with serving(config) as srv:
            pings: list[int] = []

            async def silent(raw: RawPeer) -> None:
                await raw.login(Identity.generate())
                kind, _ = await raw.read_frame()
                pings.append(kind)

            await refused_raw(srv, silent, "idle", PeerTimeout, bound=True)
            assert pings == [KIND_PING]

    run(body())


def test_keepalive_keeps_a_quiet_but_live_connection_open() -> None:
    async def body() -> None:
        config = replace(CONFIG, keepalive_s=0.05, idle_timeout_s=0.25)
        async with serving(config) as srv, client(config) as (transport, _):
            conn = await transport.connect(HOST, srv.port)
            await asyncio.sleep(1.0)
            assert not conn.closed and srv.handler.closed == []
            assert conn.stats.bytes_received > 0  # pings and pongs flowed
            await conn.send("alive")
            await until(lambda: srv.handler.messages == ["alive"])

    run(body())


# -- limits --------------------------------------------------------------------------------


def test_slow_handler_makes_send_wait_instead_of_buffering() -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, _):
            srv.handler.gate = asyncio.Event()
            conn = await transport.connect(HOST, srv.port)
            chunk = b"x" * 60_000
            sent = 0
            blocked = False
            while sent < 2000:  # 120 MB if nothing ever pushed back
                try:
                    await asyncio.wait_for(conn.send(chunk), 0.5)
                except TimeoutError:
                    blocked = True
                    break
                sent += 1
            assert blocked, "send() never waited for the slow receiver"
            assert sent * len(chunk) < 40 * 1024 * 1024  # bounded by socket buffers
            assert conn._writer.transport.get_write_buffer_size() < 2 * 1024 * 1024
            srv.handler.gate.set()
            await until(lambda: len(srv.handler.messages) >= sent, timeout=10)

    run(body())


def test_receive_rate_limit_slows_the_reader() -> None:
    async def body() -> None:
        config = replace(CONFIG, recv_msgs_per_s=100, burst_s=0.1)
        async with serving(config) as srv, client() as (transport, _):
            conn = await transport.connect(HOST, srv.port)
            start = time.monotonic()
            for i in range(40):
                await conn.send(i)
            await until(lambda: len(srv.handler.messages) == 40)
            # 10 frames of burst, then 100/s: at least 0.3 s for the other 30.
            assert time.monotonic() - start >= 0.25
            assert srv.handler.messages == list(range(40))

    run(body())


def test_excess_connections_and_handshake_floods_are_closed_after_accept() -> None:
    async def body() -> None:
        async with serving(replace(CONFIG, max_connections=1)) as srv, client() as (t, _):
            first = await t.connect(HOST, srv.port)
            with capture_logs() as logs:
                raw = await RawPeer.open(srv.port)
                assert await raw.closed_by_peer()
                raw.close()
            assert refusals(logs, "too_many_connections")
            await first.close()
            await until(lambda: srv.transport.connections() == [])
            await assert_still_serves(srv)

        config = replace(CONFIG, handshakes_per_ip_per_s=0.01, handshake_burst=2)
        async with serving(config) as srv, client() as (t, _):
            await t.connect(HOST, srv.port)
            await t.connect(HOST, srv.port)
            with capture_logs() as logs, pytest.raises((HandshakeError, OSError)):
                await t.connect(HOST, srv.port)
            assert refusals(logs, "handshake_rate_limited")
            assert len(srv.transport.connections()) == 2

    run(body())


# -- throughput (reported, with a loose floor) ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("size", "count"), [(200, 20_000), (50 * 1024, 2_000)])
def test_throughput_on_loopback(size: int, count: int) -> None:
    async def body() -> None:
        async with serving() as srv, client() as (transport, _):
            conn = await transport.connect(HOST, srv.port)
            payload = os.urandom(size)
            start = time.perf_counter()
            for _ in range(count):
                await conn.send(payload)
            await until(lambda: len(srv.handler.messages) == count, timeout=120)
            elapsed = time.perf_counter() - start
            rate = count / elapsed
            print(
                f"\nthroughput {size} B: {rate:,.0f} msg/s, {rate * size / 1e6:,.1f} MB/s"
                f" ({count} messages in {elapsed:.2f} s)"
            )
            assert rate > 500

    run(body())


# -- pure pieces ---------------------------------------------------------------------------


def test_token_bucket_charges_debt_and_refills() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert bucket.take(5, now=0.0) == 0.0
    assert bucket.take(5, now=0.0) == pytest.approx(0.5)  # 5 tokens of debt at 10/s
    assert not bucket.try_take(1, now=0.4)
    assert bucket.try_take(1, now=0.7)
    assert not bucket.full(now=0.7) and bucket.full(now=10.0)
    assert bucket.take(1, now=100.0) == 0.0  # refill is capped at the burst
    assert bucket.take(5, now=100.0) == pytest.approx(0.1)


def test_config_refuses_bad_values() -> None:
    with pytest.raises(LocalError):
        TransportConfig(network_id=b"")
    with pytest.raises(LocalError):
        TransportConfig(network_id=b"x" * 65)
    with pytest.raises(LocalError):
        replace(CONFIG, idle_timeout_s=0)


class SlowSigner:
    """A HelloSigner that, like the node's member actor, signs elsewhere and takes its time."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self.member_id = MemberId(identity.member_id)
        self.x25519_private = static_private_key(identity)
        self.signed: list[bytes] = []

    async def sign_hello(self, transcript: bytes) -> bytes:
        await asyncio.sleep(0.02)
        self.signed.append(transcript)
        return self._identity.sign(transcript)


def test_a_remote_signer_can_stand_in_for_the_identity() -> None:
    async def body() -> None:
        signer = SlowSigner(Identity.generate())
        async with serving() as srv:
            transport = Transport(signer, CONFIG, Recorder())
            try:
                conn = await transport.connect(HOST, srv.port)
                await conn.send("signed elsewhere")
                await until(lambda: srv.handler.messages == ["signed elsewhere"])
                assert srv.handler.connected[0].peer == signer.member_id
                assert len(signer.signed) == 1
                assert signer.signed[0].startswith(b"peoplenet.hello.v1I")
            finally:
                await transport.close()
        with pytest.raises(LocalError):
            await IdentitySigner(Identity.generate()).sign_hello(b"a block to sign")

    run(body())


def test_a_connection_closed_before_its_reader_ran_still_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slot eviction right after the handshake cancels a reader task that never ran: the
    dialler must get the closed connection and ``close()`` (and the transport's) must end."""
    made: list[Connection] = []
    start = Connection._start

    def start_then_evict(self: Connection) -> None:
        made.append(self)
        start(self)
        self._fail(None, "evicted")

    async def body() -> None:
        async with serving() as srv, client() as (transport, handler):
            monkeypatch.setattr(Connection, "_start", start_then_evict)
            conn = await asyncio.wait_for(transport.connect(HOST, srv.port), 5)
            monkeypatch.setattr(Connection, "_start", start)
            assert conn in made and conn.closed and conn.close_reason == "evicted"
            await asyncio.wait_for(conn.close(), 5)
            assert transport.connections() == []
            assert handler.closed == []  # it never heard on_connected, so no on_closed either

    run(body())


def test_a_bug_escaping_the_reader_closes_the_connection_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken_read_loop(self: Connection) -> None:
        raise ValueError("I/O operation on closed file.")  # e.g. a log stream closed under us

    async def body() -> None:
        async with serving() as srv, client() as (transport, handler):
            monkeypatch.setattr(Connection, "_read_loop", broken_read_loop)
            conn = await asyncio.wait_for(transport.connect(HOST, srv.port), 5)
            await until(lambda: conn.closed)
            assert conn.close_reason == "internal_error"
            await asyncio.wait_for(conn.close(), 5)
            assert transport.connections() == []
            assert handler.closed and handler.closed[0][0] is conn

    run(body())
