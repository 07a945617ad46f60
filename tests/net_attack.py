"""Hostile and honest peers against a real NetworkService on 127.0.0.1, for the attack tests.

The service runs in this process (its own event loop, the test's), so what it holds shows in
this process's memory; attackers send pre-encoded bytes so their own memory stays small.
Attackers may bind other loopback source addresses (127.0.0.2, 127.0.0.3, ...), which Linux
routes to the same host: that is how "60 source addresses" are played on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from peoplenet.actors.member.messages import Batch, Inbound
from peoplenet.actors.member.network_service import NetworkService, NetworkSettings
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.net.noise_channel import (
    FRAME_HEADER,
    HANDSHAKE_HEADER,
    PREAMBLE_LEN,
    NoiseHandshake,
    SecureChannel,
    hello_frame,
    parse_hello,
    preamble,
)
from peoplenet.runtime.net.peer_message import record_tag
from peoplenet.runtime.net.transport import IdentitySigner
from peoplenet.runtime.social.dissemination import FriendRequest
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import Value

NET = b"attack-net"
HOST = "127.0.0.1"


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def nested_attack_message() -> bytes:
    """1 MiB of ``[[nil] x 65536] x 8``: 28 MiB of tuples once decoded (canonical msgpack)."""
    return b"\x98" + (b"\xdd\x00\x01\x00\x00" + b"\x91\xc0" * 65536) * 8


def source(i: int) -> str:
    """The i-th attacker source address (127.0.0.2 onwards; 127.0.0.1 is the honest peers')."""
    return f"127.0.{(i + 2) // 250}.{(i + 2) % 250 or 250}"


@dataclass
class Node:
    """A NetworkService listening on 127.0.0.1 and everything it reported."""

    service: NetworkService
    port: int
    identity: Identity
    events: list[object] = field(default_factory=list)

    def inbound(self) -> list[Inbound]:
        return [e for e in self.events if isinstance(e, Inbound)]

    def requests_from(self, member: bytes) -> int:
        return sum(
            1
            for e in self.inbound()
            if e.peer == member and record_tag(e.data) == FriendRequest.wire_tag
        )


@asynccontextmanager
async def running_node(**settings: Any) -> AsyncIterator[Node]:
    identity = Identity.generate()
    node: Node | None = None

    def emit(batch: object) -> None:
        assert node is not None
        node.events.extend(batch.items if isinstance(batch, Batch) else (batch,))

    config = NetworkSettings(
        member=MemberId(identity.member_id),
        network_id=NET,
        listen_host=HOST,
        listen_port=0,
        advertise_host=HOST,
        mdns=False,
        mdns_interfaces=(),
        peers=(),
        **settings,
    )
    service = NetworkService(config, IdentitySigner(identity), emit)
    _, port = await service.start()
    node = Node(service, port, identity)
    try:
        yield node
    finally:
        await service.stop()


class RawClient:
    """A hand-driven peer that can bind a source address and send any bytes as a message."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.channel: SecureChannel | None = None

    @classmethod
    async def open(cls, port: int, src: str = HOST) -> RawClient:
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(src, 0))
        return cls(reader, writer)

    async def login(self, identity: Identity) -> None:
        self.writer.write(preamble(NET))
        await self.reader.readexactly(PREAMBLE_LEN)
        noise = NoiseHandshake(identity, NET, initiator=True)
        while not noise.finished:
            if noise.my_turn:
                self.writer.write(noise.write())
            else:
                (size,) = HANDSHAKE_HEADER.unpack(await self.reader.readexactly(2))
                noise.read(await self.reader.readexactly(size))
        self.channel = noise.channel()
        self.writer.write(hello_frame(self.channel, identity, initiator=True))
        (size,) = FRAME_HEADER.unpack(await self.reader.readexactly(4))
        parse_hello(*self.channel.open(await self.reader.readexactly(size)))

    async def send_encoded(self, encoded: bytes) -> None:
        assert self.channel is not None
        self.writer.writelines(self.channel.seal_message(encoded))
        await self.writer.drain()

    async def send(self, msg: Value) -> None:
        await self.send_encoded(codec.encode(msg))

    def close(self) -> None:
        self.writer.transport.abort()


async def connect(port: int, identity: Identity, src: str = HOST) -> RawClient:
    client = await RawClient.open(port, src)
    try:
        async with asyncio.timeout(5):
            await client.login(identity)
    except BaseException:
        client.close()
        raise
    return client


async def quietly(coro: Any) -> bool:
    """Run ``coro``; False if the peer refused or dropped us (what attackers expect)."""
    try:
        await coro
    except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return False
    except Exception:  # any refusal by the node is the attack's expected end
        return False
    return True


class Sampler:
    """Samples the process's RSS every few milliseconds while the attack runs."""

    def __init__(self) -> None:
        self.base = rss()
        self.peak = self.base
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss())
            await asyncio.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, rss())
        if self._task is not None:
            self._task.cancel()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / 2**20


async def until(pred: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def friend_request(identity: Identity) -> FriendRequest:
    """A friend request as the network service sees it (it forwards; the store verifies)."""
    return FriendRequest(b"befriend " + identity.member_id)


def report(name: str, **figures: object) -> None:
    """One line of figures, shown with ``pytest -s`` (docs/security.md quotes them)."""
    print(f"\nFIGURES {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@contextlib.contextmanager
def cpu_timer() -> Any:
    start = time.process_time()
    box = {"s": 0.0}
    yield box
    box["s"] = time.process_time() - start
