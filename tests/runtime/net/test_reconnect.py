"""Backoff arithmetic, and the redialer bringing a connection back after the listener restarts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.net.reconnect import Backoff, Redialer
from peoplenet.runtime.net.transport import Connection, Transport, TransportConfig
from peoplenet.runtime.wire.codec import Value

HOST = "127.0.0.1"
CONFIG = TransportConfig(network_id=b"test-net", handshake_timeout_s=1.0)


class Recorder:
    """A minimal ConnectionHandler that keeps the messages it receives."""

    def __init__(self) -> None:
        self.messages: list[Value] = []

    async def on_connected(self, conn: Connection) -> None:
        pass

    async def on_message(self, conn: Connection, msg: Value) -> None:
        self.messages.append(msg)

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        pass


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_backoff_grows_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.1, 1.0, factor=2.0, jitter=0.0, rng=random.Random(1))
    assert [backoff.next_delay() for _ in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1, 1])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_backoff_jitter_stays_in_its_band_and_is_reproducible() -> None:
    delays = [Backoff(1.0, 10.0, jitter=0.2, rng=random.Random(7)).next_delay() for _ in range(3)]
    assert len(set(delays)) == 1  # same seed, same delay
    backoff = Backoff(1.0, 10.0, jitter=0.2, rng=random.Random(3))
    samples = [backoff.next_delay() for _ in range(50)]
    assert all(s <= 10.0 for s in samples)
    assert 0.8 <= samples[0] <= 1.2 and 1.6 <= samples[1] <= 2.4
    with pytest.raises(LocalError):
        Backoff(2.0, 1.0)


def test_redialer_reconnects_after_the_listener_restarts() -> None:
    async def body() -> None:
        server_id = Identity.generate()
        member = MemberId(server_id.member_id)
        server = Transport(server_id, CONFIG, Recorder())
        client_handler = Recorder()
        dialer = Transport(Identity.generate(), CONFIG, client_handler)
        redialer = Redialer(dialer, initial_s=0.02, max_s=0.1, rng=random.Random(0))
        restarted: Transport | None = None
        try:
            _, port = await server.listen(HOST, 0)
            redialer.want(member, HOST, port)
            await until(lambda: redialer.connection(member) is not None)
            first = redialer.connection(member)
            await server.close()  # the peer goes away; redials fail for a while
            await until(lambda: first is not None and first.closed)
            await asyncio.sleep(0.3)
            assert redialer.connection(member) is None
            restarted_handler = Recorder()
            restarted = Transport(server_id, CONFIG, restarted_handler)
            await restarted.listen(HOST, port)
            await until(lambda: redialer.connection(member) is not None)
            conn = redialer.connection(member)
            assert conn is not None and conn is not first and conn.peer == member
            await conn.send("back")
            await until(lambda: restarted_handler.messages == ["back"])
            redialer.unwant(member)
            assert redialer.wanted() == []
        finally:
            await redialer.close()
            await dialer.close()
            await server.close()
            if restarted is not None:
                await restarted.close()

    run(body())


def test_update_address_moves_the_redialer_to_the_new_listener() -> None:
    async def body() -> None:
        server_id = Identity.generate()
        member = MemberId(server_id.member_id)
        server = Transport(server_id, CONFIG, Recorder())
        dialer = Transport(Identity.generate(), CONFIG, Recorder())
        redialer = Redialer(dialer, initial_s=5.0, max_s=10.0)  # long waits: only a wake helps
        try:
            _, port = await server.listen(HOST, 0)
            redialer.want(member, HOST, 1)  # nobody listens on port 1
            await asyncio.sleep(0.1)
            assert redialer.connection(member) is None
            redialer.update_address(member, HOST, port)
            await until(lambda: redialer.connection(member) is not None, timeout=2.0)
        finally:
            await redialer.close()
            await dialer.close()
            await server.close()

    run(body())
