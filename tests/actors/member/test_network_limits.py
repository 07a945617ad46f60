"""Limits on what peers can make the node hold or do: decode cost, stranger message size,
held messages, unexpected messages, friend-request quotas (a real NetworkService on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import sys
import time
import tracemalloc
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from structlog.testing import capture_logs

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import MAX_BLOCK_SIZE
from peoplenet.runtime.net.conn_policy import STRANGER_MAX_MESSAGE
from peoplenet.runtime.social.dissemination import Blocks, Disclose, FriendRequest
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import OpaqueRecord, Value
from peoplenet.runtime.wire.decode_cost import (
    MAX_COST_PER_BYTE,
    MAX_DECODED_COST,
    TooCostly,
    check_decode_cost,
    decode_cost,
)
from tests.net_attack import (
    connect,
    friend_request,
    nested_attack_message,
    quietly,
    running_node,
    until,
)
from tests.strategies import canonical_values


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


# -- decoded size, bounded before decoding ---------------------------------------------------


def test_a_nested_message_is_refused_before_any_object_is_built() -> None:
    attack = nested_attack_message()
    tracemalloc.start()
    try:
        with pytest.raises(TooCostly) as caught:
            codec.decode(attack, max_size=2 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == "too_costly"
    assert isinstance(caught.value, RemoteProtocolError)
    assert peak < 2 * 1024 * 1024  # decoding it would take 28 MiB


def test_maps_and_records_count_too() -> None:
    maps = b"\xdd\x00\x01\x00\x00" + b"\x81\xa0\xc0" * 65536  # 192 KiB: 12 MiB of dicts
    assert decode_cost(maps) > 12 * 1024 * 1024
    with pytest.raises(TooCostly):
        check_decode_cost(maps, 8 * 1024 * 1024)
    record = codec.encode(OpaqueRecord(300, tuple((None,) for _ in range(1000))))
    assert decode_cost(record) >= 1000 * 48


def _deep_size(value: object, seen: set[int]) -> int:
    """The memory a decoded value holds of its own (shared singletons excluded)."""
    if id(value) in seen or value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int) and -5 <= value <= 256:
        return 0
    if isinstance(value, str | bytes | tuple) and len(value) == 0:
        return 0
    if isinstance(value, str) and len(value) == 1 and ord(value) < 256:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, tuple):
        size += sum(_deep_size(v, seen) for v in value)
    elif isinstance(value, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in value.items())
    elif isinstance(value, OpaqueRecord):
        size += _deep_size(value.items, seen)
    return size


@settings(max_examples=300, deadline=None)
@given(canonical_values(max_leaves=40))
def test_the_estimate_is_never_below_what_decoding_builds(value: Value) -> None:
    data = codec.encode(value)
    assert decode_cost(data) >= _deep_size(codec.decode(data), set())


def test_ordinary_block_traffic_is_not_scanned_or_cheaply() -> None:
    blocks = codec.encode(Blocks(tuple(b"b" * 8000 for _ in range(64))))
    assert len(blocks) > 500_000
    assert decode_cost(blocks) < 2 * len(blocks)  # binaries are skipped, not read
    assert len(codec.encode(Disclose(()))) * 96 < MAX_DECODED_COST  # small: never scanned


# -- what strangers and friends may send -----------------------------------------------------


def test_a_stranger_may_send_only_a_small_message() -> None:
    async def body() -> None:
        async with running_node() as node:
            stranger = Identity.generate()
            client = await connect(node.port, stranger)
            await client.send(FriendRequest(b"x" * (STRANGER_MAX_MESSAGE + 1000)))
            assert await client.reader.read() == b""  # closed by the node
            client.close()
            assert node.requests_from(stranger.member_id) == 0
            client = await connect(node.port, stranger)  # a small one still goes through
            await client.send(friend_request(stranger))
            assert await until(lambda: node.requests_from(stranger.member_id) == 1)
            client.close()

    run(body())


def test_a_friend_and_someone_we_asked_may_send_large_messages() -> None:
    big = Blocks(tuple(b"b" * 8000 for _ in range(60)))

    async def body() -> None:
        async with running_node() as node:
            friend, asked = Identity.generate(), Identity.generate()
            node.service.set_social(
                {MemberId(friend.member_id)},
                {},
                {MemberId(asked.member_id): friend_request(node.identity)},
            )
            for who, msg in ((friend, big), (asked, FriendRequest(b"x" * 100_000))):
                client = await connect(node.port, who)
                await client.send(msg)
                assert await until(lambda w=who: any(e.peer == w.member_id for e in node.inbound()))
                client.close()

    run(body())


def test_what_a_stranger_holds_is_bounded_and_overflow_disconnects() -> None:
    disclose = Disclose(())

    async def body() -> None:
        async with running_node() as node:
            service = node.service
            stranger = Identity.generate()
            client = await connect(node.port, stranger)
            cfg = service.policy
            for _ in range(cfg.held_messages_per_stranger):
                await client.send(disclose)
            assert await until(lambda: service.strangers.held_bytes > 0)
            assert service.strangers.held_bytes <= cfg.held_bytes_per_stranger
            with capture_logs() as logs:
                await client.send(disclose)  # one too many
                assert await client.reader.read() == b""
            assert [e["reason"] for e in logs if e["event"] == "peer_refused"] == ["too_much_held"]
            client.close()
            assert await until(lambda: len(service.strangers) == 0)
            assert service.strangers.held_bytes == 0  # released with the connection
            member, now = MemberId(stranger.member_id), time.monotonic()
            assert not service.scores.banned(member, now)  # strangers are cut off, not scored

    run(body())


def test_a_message_no_peer_may_send_is_refused_before_decoding() -> None:
    async def body() -> None:
        async with running_node() as node:
            friend = Identity.generate()
            node.service.set_social({MemberId(friend.member_id)}, {}, {})
            for _ in range(3):
                client = await connect(node.port, friend)
                await client.send(OpaqueRecord(500, (b"x" * 1000,)))
                assert await client.reader.read() == b""
                client.close()
            assert not node.inbound()
            member = MemberId(friend.member_id)
            assert await until(lambda: node.service.scores.banned(member, time.monotonic()))
            client = await connect(node.port, friend)  # backed off: refused at once
            assert await client.reader.read() == b""
            client.close()

    run(body())


def test_one_address_may_introduce_only_a_few_new_requesters() -> None:
    async def body() -> None:
        async with running_node() as node:
            keys = [Identity.generate() for _ in range(8)]
            for key in keys:
                client = await connect(node.port, key)
                await client.send(friend_request(key))
                await asyncio.sleep(0.02)
                client.close()
            await asyncio.sleep(0.1)
            forwarded = [k for k in keys if node.requests_from(k.member_id)]
            assert len(forwarded) == node.service.policy.new_requesters_burst
            again = keys[0]  # a key already seen may repeat its request (not too often)
            await asyncio.sleep(node.service.policy.request_repeat_s)
            client = await connect(node.port, again)
            await client.send(friend_request(again))
            assert await until(lambda: node.requests_from(again.member_id) == 2)
            client.close()

    run(body())


def test_no_block_ever_pays_for_the_scan() -> None:
    assert MAX_BLOCK_SIZE * MAX_COST_PER_BYTE <= MAX_DECODED_COST  # blocks skip the scan


async def connect_and_send(port: int, key: Identity) -> None:
    client = await connect(port, key)
    try:
        await client.send(friend_request(key))
        if await client.reader.read() == b"":
            raise ConnectionError("closed by the node")
    finally:
        client.close()


def test_a_backed_off_peer_reconnecting_does_not_flood_the_log() -> None:
    async def body() -> None:
        async with running_node() as node:
            key = Identity.generate()
            peer = MemberId(key.member_id)
            now = time.monotonic()
            for _ in range(3):
                node.service.scores.violation(peer, 1.0, now)
            with capture_logs() as logs:
                for _ in range(60):  # refused after the handshake, or rate-limited before
                    assert not await quietly(connect_and_send(node.port, key))
                await asyncio.sleep(0.05)
            assert sum(1 for e in logs if e.get("reason") == "backed_off") <= 2 * 20
            assert len(logs) <= 45

    run(body())
