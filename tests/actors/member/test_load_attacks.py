"""Bounded load tests: each known attack, a few seconds on loopback, against a real
NetworkService, measuring this process's memory (RSS) and an honest peer's success meanwhile.

Run with ``pytest -s`` to see the ``FIGURES`` lines quoted in docs/security.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from structlog.testing import capture_logs

from peoplenet.actors.member.messages import Inbound
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import OpaqueRecord
from tests.net_attack import (
    HOST,
    RawClient,
    Sampler,
    connect,
    cpu_timer,
    friend_request,
    nested_attack_message,
    quietly,
    report,
    running_node,
    source,
    until,
)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


async def honest_request(port: int, src: str = HOST) -> tuple[Identity, bool]:
    """A newcomer (from ``src``) hands over its friend request; could it connect?"""
    me = Identity.generate()
    try:
        client = await connect(port, me, src)
    except Exception:  # refused: the honest attempt failed
        return me, False
    try:
        await client.send(friend_request(me))
        await asyncio.sleep(0.05)
    finally:
        client.close()
    return me, True


def test_strangers_cannot_make_the_node_hold_decoded_memory() -> None:
    """Four throwaway keys each send eight 1 MiB nested-array messages (28 MiB decoded each)."""
    attack = nested_attack_message()

    async def stranger(port: int, i: int) -> None:
        client = await connect(port, Identity.generate(), source(i))
        try:
            for _ in range(8):
                await client.send_encoded(attack)
        finally:
            await asyncio.sleep(0.5)
            client.close()

    async def body() -> None:
        async with running_node() as node:
            with Sampler() as mem:
                await asyncio.gather(*(quietly(stranger(node.port, i)) for i in range(4)))
                me, _ = await honest_request(node.port)
                took = await until(lambda: node.requests_from(me.member_id) > 0, 3)
            report("held_memory", rss_growth_mib=round(mem.growth_mib, 1), honest=took)
            assert took
            assert mem.growth_mib < 64

    run(body())


def test_friend_request_flood_from_many_addresses_leaves_a_newcomer_through() -> None:
    """32 idle fake strangers hold connections while 50 addresses spam requests from new keys."""

    async def idle_stranger(port: int, i: int) -> RawClient:
        client = await connect(port, Identity.generate(), source(i))
        await client.send(friend_request(Identity.generate()))
        return client

    async def spammer(port: int, i: int, stop: float) -> None:
        while time.monotonic() < stop:
            await quietly(spam_once(port, i))
            await asyncio.sleep(0.02)

    async def spam_once(port: int, i: int) -> None:
        key = Identity.generate()
        client = await connect(port, key, source(100 + i))
        try:
            await client.send(friend_request(key))
        finally:
            client.close()

    async def body() -> None:
        async with running_node() as node:
            idle = [await idle_stranger(node.port, i) for i in range(32)]
            stop = time.monotonic() + 3.0
            spam = [asyncio.ensure_future(spammer(node.port, i, stop)) for i in range(50)]
            await asyncio.sleep(1.5)
            me, connected = await honest_request(node.port)
            took = await until(lambda: node.requests_from(me.member_id) > 0, 2)
            await asyncio.gather(*spam)
            forwarded = sum(1 for e in node.inbound() if e.peer != me.member_id)
            for client in idle:
                client.close()
            report("request_flood", forwarded_requests=forwarded, honest=took)
            assert connected and took
            assert forwarded <= 32 + 50 * 4 + 10

    run(body())


def test_a_friend_repeating_unexpected_messages_is_cut_off_and_backed_off() -> None:
    """A friend sends 20 copies of a 1 MiB message no peer may send, reconnecting each time."""
    big = codec.encode(OpaqueRecord(500, (b"x" * (1024 * 1024 - 64),)))

    async def body() -> None:
        async with running_node() as node:
            friend = Identity.generate()
            node.service.set_social({MemberId(friend.member_id)}, {}, {})
            logins: list[bool] = []
            with cpu_timer() as cpu, capture_logs() as logs:
                for _ in range(20):
                    await quietly(send_once(node.port, friend, big, logins))
            judged = sum(1 for e in logs if e.get("reason") == "unexpected_message")
            backed_off = sum(1 for e in logs if e.get("reason") == "backed_off")
            delivered = sum(
                1 for e in node.inbound() if isinstance(e, Inbound) and e.peer == friend.member_id
            )
            report(
                "friend_violations",
                delivered=delivered,
                cpu_s=round(cpu["s"], 2),
                refused_unexpected=judged,
                refused_backed_off=backed_off,
            )
            assert delivered == 0
            assert judged <= 4  # the third bans; one more may be read while it is judged

    async def send_once(port: int, friend: Identity, data: bytes, logins: list[bool]) -> None:
        client = await connect(port, friend)
        logins.append(True)
        try:
            await client.send_encoded(data)
            async with asyncio.timeout(1.0):  # until the node has judged it (closed us)
                await client.reader.read(1)
            raise ConnectionError("closed")
        finally:
            client.close()

    run(body())


def test_connection_flood_from_sixty_addresses_leaves_room_for_honest_handshakes() -> None:
    """60 addresses keep opening connections that never handshake; 10 honest peers connect."""

    async def flooder(port: int, i: int, stop: float, held: list[asyncio.StreamWriter]) -> None:
        while time.monotonic() < stop:
            try:
                _, writer = await asyncio.open_connection(HOST, port, local_addr=(source(i), 0))
                held.append(writer)
            except OSError:
                pass
            await asyncio.sleep(0.3)

    async def body() -> None:
        transport = {"max_connections": 64, "handshake_timeout_s": 5.0}
        async with running_node(transport=transport) as node:
            held: list[asyncio.StreamWriter] = []
            stop = time.monotonic() + 4.0
            flood = [asyncio.ensure_future(flooder(node.port, i, stop, held)) for i in range(60)]
            await asyncio.sleep(1.0)
            ok = 0
            for k in range(10):
                me, connected = await honest_request(node.port, f"127.0.5.{k + 1}")
                ok += connected and await until(
                    lambda me=me: node.requests_from(me.member_id) > 0, 1
                )
            await asyncio.gather(*flood)
            for writer in held:
                writer.transport.abort()
            report("connection_flood", honest_ok=f"{ok}/10", flood_connections=len(held))
            assert ok >= 9

    run(body())


def test_refused_connections_do_not_flood_the_log() -> None:
    """One client opens 300 connections that send garbage: how many log lines result?"""

    async def body() -> None:
        async with running_node() as node:
            with capture_logs() as logs:
                for _ in range(300):
                    reader, writer = await asyncio.open_connection(HOST, node.port)
                    writer.write(b"GET / HTTP/1.0\r\n\r\n")
                    await quietly(reader.read())
                    writer.transport.abort()
                await asyncio.sleep(0.1)
            lines = [e for e in logs if e["log_level"] == "warning"]
            size = sum(len(repr(e)) for e in lines)
            report("refusal_log", lines=len(lines), bytes=size)
            assert len(lines) <= 25

    run(body())
