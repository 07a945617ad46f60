"""Discovery on loopback mDNS: peers of our network are found, everything else is ignored.

Every instance in these tests binds 127.0.0.1:5353 at the same time (zeroconf sets
SO_REUSEPORT), which is itself under test: the multi-instance tests fail if it does not work.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId, fingerprint
from peoplenet.runtime.net.discovery import (
    SERVICE_TYPE,
    Discovery,
    PeerHint,
    network_tag,
    parse_static_peer,
    parse_txt,
    service_name,
    txt_properties,
)
from peoplenet.runtime.net.sockets_probe import listening_sockets

LOOPBACK = "127.0.0.1"
# Fresh per run: concurrent test runs on this host share loopback mDNS and must not see each other.
NET = b"test-" + os.urandom(8).hex().encode()
OTHER_NET = b"other-" + os.urandom(8).hex().encode()
REPO = Path(__file__).resolve().parents[3]


def new_member() -> MemberId:
    return Identity.generate().member_id


class Seen:
    """Collects one Discovery's callbacks; lets a test wait for a condition on them."""

    def __init__(self) -> None:
        self.peers: list[PeerHint] = []
        self.gone: list[MemberId] = []

    def on_peer(self, hint: PeerHint) -> None:
        self.peers.append(hint)

    def on_gone(self, member: MemberId) -> None:
        self.gone.append(member)

    def members(self) -> set[MemberId]:
        return {hint.member for hint in self.peers}

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; peers={self.peers} gone={self.gone}")
            await asyncio.sleep(0.01)


def make(
    seen: Seen, member: MemberId, port: int, network_id: bytes = NET, probe: bool = False
) -> Discovery:
    return Discovery(
        member=member,
        network_id=network_id,
        port=port,
        interfaces=[LOOPBACK],
        on_peer=seen.on_peer,
        on_gone=seen.on_gone,
        advertise_host=LOOPBACK,
        probe=probe,
    )


@asynccontextmanager
async def running(*discoveries: Discovery) -> AsyncIterator[None]:
    """Start in order; always stop all of them."""
    try:
        for discovery in discoveries:
            await discovery.start()
        yield
    finally:
        await asyncio.gather(*(d.stop() for d in discoveries))


def mdns_sockets() -> set[tuple[str, str, int]]:
    """This process's sockets on the mDNS port (zeroconf binds 127.0.0.1 and 0.0.0.0)."""
    found = listening_sockets([os.getpid()])
    return {(s.proto, s.host, s.port) for s in found if s.port == 5353}


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test; any exception the event loop swallowed (e.g. from a handler) fails it."""
    unhandled: list[dict[str, Any]] = []
    threads = threading.active_count()

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: unhandled.append(ctx))
        await asyncio.wait_for(test(), 30)
        assert len(asyncio.all_tasks()) == 1, "tasks left running"

    asyncio.run(main())
    assert unhandled == []
    assert threading.active_count() == threads


# --- pure parts -------------------------------------------------------------------------------


def test_txt_round_trip_and_tag() -> None:
    member = new_member()
    props = txt_properties(member, NET)
    assert props == {
        "id": member.hex(),
        "net": hashlib.blake2b(NET, digest_size=8).hexdigest(),
        "v": "1",
    }
    raw = {k.encode(): v.encode() for k, v in props.items()}
    assert parse_txt(raw) == (member, network_tag(NET))
    assert network_tag(NET) != network_tag(OTHER_NET)
    assert service_name(member) == f"peoplenet-{fingerprint(member)}.{SERVICE_TYPE}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({b"v": b"2"}, "version"),
        ({b"v": None}, "version"),
        ({b"id": b"zz" * 32}, "id"),
        ({b"id": b"ab" * 31}, "id"),
        ({b"id": b"AB" * 32}, "id"),
        ({b"id": b"\xff" * 64}, "id"),
        ({b"id": None}, "id"),
        ({b"net": b"00" * 9}, "net"),
        ({b"net": b"g" * 16}, "net"),
    ],
)
def test_parse_txt_rejects_malformed(change: dict[bytes, bytes | None], message: str) -> None:
    raw: dict[bytes, bytes | None] = {
        k.encode(): v.encode() for k, v in txt_properties(new_member(), NET).items()
    }
    raw.update(change)
    with pytest.raises(ValueError, match=message):
        parse_txt(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:7000", ("127.0.0.1", 7000)),
        (" node-1.example.org:65535 ", ("node-1.example.org", 65535)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:7000", ("::1", 7000)),
        ("[fe80::1:2]:80", ("fe80::1:2", 80)),
    ],
)
def test_parse_static_peer(text: str, expected: tuple[str, int]) -> None:
    assert parse_static_peer(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "expected 'host:port'"),
        (":7000", "host is empty"),
        ("::1:7000", "brackets"),
        ("[::1]7000", r"\[address\]:port"),
        ("[::1:7000", "missing ']'"),
        ("[nope]:7000", "not an IPv6 address"),
        ("host:0", "outside 1-65535"),
        ("host:65536", "outside 1-65535"),
        ("host:", "must be a number"),
        ("host:7e3", "must be a number"),
        ("999.1.1.1:80", "not an IPv4 address"),
        ("bad_host:80", "not a valid host name"),
        ("-bad.example:80", "not a valid host name"),
    ],
)
def test_parse_static_peer_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_static_peer(text)


def test_constructor_rejects_bad_arguments() -> None:
    seen = Seen()
    with pytest.raises(LocalError):
        make(seen, new_member(), 7000, network_id=b"")
    with pytest.raises(LocalError):
        make(seen, new_member(), 0)
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        Discovery(
            member=new_member(),
            network_id=NET,
            port=7000,
            interfaces=[LOOPBACK],
            on_peer=seen.on_peer,
            advertise_host="localhost",
        )


# --- loopback mDNS ----------------------------------------------------------------------------


def test_peers_find_each_other_and_other_networks_are_ignored() -> None:
    a_id, b_id, c_id = new_member(), new_member(), new_member()
    a_seen, b_seen, c_seen = Seen(), Seen(), Seen()
    a, b = make(a_seen, a_id, 7001), make(b_seen, b_id, 7002)
    c = make(c_seen, c_id, 7003, network_id=OTHER_NET)

    async def test() -> None:
        async with running(a, c, b):
            await a_seen.until(lambda: b_id in a_seen.members())
            await b_seen.until(lambda: a_id in b_seen.members())
            await asyncio.sleep(0.2)  # C announced before B: A has long processed it
            assert a_seen.peers == [PeerHint(b_id, LOOPBACK, 7002, "mdns")]
            assert b_seen.peers == [PeerHint(a_id, LOOPBACK, 7001, "mdns")]
            assert c_seen.peers == []  # nobody else is on C's network
            assert a.peers() == a_seen.peers
        assert a.peers() == []

    run(test)


def test_stop_is_reported_as_gone_and_is_idempotent() -> None:
    a_id, b_id = new_member(), new_member()
    a_seen = Seen()
    a, b = make(a_seen, a_id, 7001), make(Seen(), b_id, 7002)

    async def test() -> None:
        async with running(a, b):
            await a_seen.until(lambda: b_id in a_seen.members())
            assert ("udp", LOOPBACK, 5353) in mdns_sockets()
            await b.stop()
            await a_seen.until(lambda: b_id in a_seen.gone and a.peers() == [])
            await b.stop()
            assert not b.running
            assert set(a_seen.gone) == {b_id}
        assert mdns_sockets() == set()  # stop() closed every socket
        with pytest.raises(LocalError):
            await a.start()  # a stopped Discovery does not come back

    run(test)


def test_address_change_is_reported() -> None:
    a_id, b_id = new_member(), new_member()
    a_seen = Seen()
    a, b = make(a_seen, a_id, 7001), make(Seen(), b_id, 7002)

    async def test() -> None:
        async with running(a, b):
            await a_seen.until(lambda: b_id in a_seen.members())
            await b.update_port(7999)
            await a_seen.until(lambda: a_seen.peers[-1].port == 7999)
            assert a_seen.peers == [
                PeerHint(b_id, LOOPBACK, 7002, "mdns"),
                PeerHint(b_id, LOOPBACK, 7999, "mdns"),
            ]
            assert a_seen.gone == []

    run(test)


def test_malformed_announcements_are_ignored() -> None:
    a_seen = Seen()
    a = make(a_seen, new_member(), 7001)
    tag = network_tag(NET).encode()
    bad_txts: list[dict[bytes, bytes | None]] = [
        {b"id": b"zz" * 32, b"net": tag, b"v": b"1"},
        {b"id": b"ab" * 31, b"net": tag, b"v": b"1"},
        {b"id": b"\xff" * 64, b"net": tag, b"v": b"1"},
        {b"id": None, b"net": tag, b"v": b"1"},
        {b"id": new_member().hex().encode(), b"net": b"12", b"v": b"1"},
        {b"id": new_member().hex().encode(), b"net": tag},
        {b"junk": b"\x00\x01"},
    ]
    good = new_member()
    token = os.urandom(4).hex()  # names unique to this run

    def raw_info(index: int, properties: dict[bytes, bytes | None]) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE,
            f"raw-{token}-{index}.{SERVICE_TYPE}",
            port=7100 + index,
            properties=properties,
            server=f"raw-{token}-{index}.local.",
            parsed_addresses=[LOOPBACK],
        )

    async def test() -> None:
        announcer = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
        try:
            async with running(a):
                for i, txt in enumerate(bad_txts):
                    await announcer.async_register_service(
                        raw_info(i, txt), cooperating_responders=True
                    )
                good_txt = {k.encode(): v.encode() for k, v in txt_properties(good, NET).items()}
                good_info = raw_info(len(bad_txts), dict(good_txt))
                await announcer.async_register_service(good_info, cooperating_responders=True)
                await a_seen.until(lambda: good in a_seen.members())
                await asyncio.sleep(0.1)
                assert set(a_seen.peers) == {PeerHint(good, LOOPBACK, 7100 + len(bad_txts), "mdns")}
                await announcer.async_unregister_all_services()
                await a_seen.until(lambda: good in a_seen.gone and a.peers() == [])
                assert set(a_seen.gone) == {good}
        finally:
            await announcer.async_close()

    run(test)


def test_probing_renames_a_second_instance_of_the_same_member() -> None:
    """With probing on, a clash (same member twice) is resolved by zeroconf renaming us."""
    member, watcher = new_member(), new_member()
    w_seen = Seen()
    first = make(Seen(), member, 7001)
    second = make(Seen(), member, 7002, probe=True)
    w = make(w_seen, watcher, 7003)

    async def test() -> None:
        async with running(w, first, second):
            assert first.registered_name == service_name(member)
            assert second.registered_name == service_name(member).replace(
                "._peoplenet", "-2._peoplenet"
            )
            await w_seen.until(lambda: {h.port for h in w_seen.peers} == {7001, 7002})
            await second.stop()
            await asyncio.sleep(0.4)
            assert w_seen.gone == []  # the member is still announced under its first name
            await first.stop()
            await w_seen.until(lambda: member in w_seen.gone and w.peers() == [])

    run(test)


def test_a_callback_that_raises_does_not_break_discovery() -> None:
    b_id, c_id = new_member(), new_member()
    calls: list[PeerHint] = []

    def on_peer(hint: PeerHint) -> None:
        calls.append(hint)
        raise RuntimeError("bug in the caller")

    a = Discovery(
        member=new_member(),
        network_id=NET,
        port=7001,
        interfaces=[LOOPBACK],
        on_peer=on_peer,
        advertise_host=LOOPBACK,
        probe=False,
    )
    b, c = make(Seen(), b_id, 7002), make(Seen(), c_id, 7003)

    async def test() -> None:
        async with running(a, b, c):
            await Seen().until(lambda: {h.member for h in calls} == {b_id, c_id})

    run(test)


CHILD = """
import asyncio, sys
from peoplenet.runtime.net.discovery import Discovery
from peoplenet.runtime.keys.identity import MemberId

async def main() -> None:
    member, network_id = MemberId(bytes.fromhex(sys.argv[1])), bytes.fromhex(sys.argv[2])
    d = Discovery(member=member, network_id=network_id, port=int(sys.argv[3]),
                  interfaces=["127.0.0.1"], on_peer=lambda h: None,
                  advertise_host="127.0.0.1", probe=False)
    await d.start()
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    finally:
        await d.stop()

asyncio.run(main())
"""


@pytest.mark.processes
def test_a_member_in_another_process_is_found() -> None:
    child_id = new_member()
    a_seen = Seen()
    a = make(a_seen, new_member(), 7001)

    async def until_exit(proc: subprocess.Popen[str]) -> int:
        while (code := proc.poll()) is None:
            await asyncio.sleep(0.02)
        return code

    async def test() -> None:
        async with running(a):
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, child_id.hex(), NET.hex(), "7444"],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
            )
            try:
                await a_seen.until(lambda: child_id in a_seen.members(), timeout=15)
                assert set(a_seen.peers) == {PeerHint(child_id, LOOPBACK, 7444, "mdns")}
                assert proc.stdin is not None
                proc.stdin.write("stop\n")
                proc.stdin.close()
                await a_seen.until(lambda: child_id in a_seen.gone)
                assert await asyncio.wait_for(until_exit(proc), 10) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    run(test)
