"""Dissemination latency on loopback: one real node posts, N friends receive.

The poster is a real node process (actors, SQLite, Noise transport).  Its N friends are
lightweight peers in this process: each has its own identity and Transport, is a friend in the
poster's data directory (both Befriend blocks present), discloses what it holds, acknowledges
every Blocks message with a fresh Disclose, exactly like a node.  Latency = time from the post
request to the moment a friend holds the signed, verified post.

Prints JSON: friends, posts, p50_ms, p95_ms, max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from peoplenet.runtime import log
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, verify_block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.net.transport import Connection, Transport, TransportConfig
from peoplenet.runtime.sim.localnet import LocalNode, create_node
from peoplenet.runtime.social.dissemination import Blocks, Disclose, Heads
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace
from peoplenet.runtime.wire.codec import Value


class _Friend:
    """A peer that only receives: holds the poster's lace tip and acknowledges what arrives."""

    def __init__(self, identity: Identity, own_first: Block, poster: MemberId) -> None:
        self.identity = identity
        self.own = own_first
        self.poster_lace = personal_lace(poster)
        self.tip: bytes | None = None
        self.arrived: dict[str, float] = {}  # post text -> monotonic time of arrival
        self.conn: Connection | None = None

    def disclose(self) -> Disclose:
        return Disclose(
            (
                Heads(bytes(personal_lace(self.identity.member_id)), (self.own.id,)),
                Heads(bytes(self.poster_lace), (self.tip,) if self.tip else ()),
            )
        )

    async def on_connected(self, conn: Connection) -> None:
        self.conn = conn
        await conn.send(self.disclose())

    async def on_message(self, conn: Connection, msg: Value) -> None:
        if not isinstance(msg, Blocks):
            return
        now = time.monotonic()
        for raw in msg.blocks:
            block = Block.from_bytes(raw)
            verify_block(block)
            if block.lace == self.poster_lace:
                self.tip = block.id
                if isinstance(block.payload, Post):
                    self.arrived.setdefault(block.payload.text, now)
        await conn.send(self.disclose())

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        self.conn = None


def _prepare(root: Path, count: int) -> tuple[LocalNode, list[tuple[Identity, Block]]]:
    poster_id = Identity.generate()
    data, _ = create_node(
        root / "poster", network=f"latency-{time.time_ns()}", identity=poster_id, mdns=False
    )
    lace = personal_lace(poster_id.member_id)
    store = SqliteStore(str(data.blocks_db))
    blocklace = Blocklace(store)
    friends: list[tuple[Identity, Block]] = []
    tip: tuple[bytes, ...] = ()
    for _ in range(count):
        friend = Identity.generate()
        mine = Block.create(poster_id, lace, Befriend(friend.member_id), tip)
        theirs = Block.create(
            friend, personal_lace(friend.member_id), Befriend(poster_id.member_id), ()
        )
        blocklace.add_many([mine, theirs], verified=True)
        tip = (mine.id,)
        friends.append((friend, theirs))
    store.close()
    return LocalNode("poster", data, poster_id.member_id), friends


async def _connect(transport: Transport, node: LocalNode) -> None:
    """Dial the poster; its per-IP handshake limit (all friends are on 127.0.0.1) may say wait."""
    for _ in range(100):
        try:
            await transport.connect(node.host, node.port, expect=node.member)
            return
        except (OSError, RemoteProtocolError):
            await asyncio.sleep(0.2)
    raise RuntimeError("could not connect to the poster")


async def _run(node: LocalNode, friends: list[tuple[Identity, Block]], posts: int) -> list[float]:
    peers: list[_Friend] = []
    transports: list[Transport] = []
    config = TransportConfig(network_id=node.data.settings().network_id)
    try:
        for identity, first in friends:
            peer = _Friend(identity, first, node.member)
            transport = Transport(identity, config, peer)
            transports.append(transport)
            peers.append(peer)
            await _connect(transport, node)
        await asyncio.sleep(3.0)  # sessions up, backlog (the Befriend blocks) delivered
        latencies: list[float] = []
        loop = asyncio.get_running_loop()
        for i in range(posts):
            text = f"latency probe {i}"
            sent = time.monotonic()
            args: dict[str, Value] = {"text": text}
            await loop.run_in_executor(None, node.call, "post", args)
            deadline = time.monotonic() + 30.0
            while any(text not in p.arrived for p in peers) and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            missing = [p for p in peers if text not in p.arrived]
            if missing:
                raise RuntimeError(f"{len(missing)} friends never received {text!r}")
            latencies.extend((p.arrived[text] - sent) * 1000 for p in peers)
            await asyncio.sleep(0.05)
        return latencies
    finally:
        for transport in transports:
            await transport.close()


def measure(friends: int, posts: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="peoplenet-latency-") as tmp:
        node, prepared = _prepare(Path(tmp), friends)
        try:
            node.start()
            latencies = asyncio.run(_run(node, prepared, posts))
        finally:
            node.stop()
    ordered = sorted(latencies)
    return {
        "friends": friends,
        "posts": posts,
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--friends", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--posts", type=int, default=20)
    args = parser.parse_args()
    log.configure(level=logging.WARNING)
    for count in args.friends:
        print(json.dumps(measure(count, args.posts)))


if __name__ == "__main__":
    main()
