"""A peer's message is decoded once between the socket and its owner; outgoing ones not at all.

The chain is the node's, in one process: a friend's messages go over a real Noise connection
into a real :class:`NetworkService`, through the network actor's routing, to the store actor
(dissemination), the consensus actor and its real core (epoch messages) and the app-lace
host (lace messages).  Every parser a message may meet is wrapped and counts the calls that
parse *that message's bytes* into a value.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import peoplenet.runtime.consensus.core
import peoplenet.runtime.lace.app_lace
import peoplenet.runtime.wire.codec
from peoplenet.actors.community.consensus_actor import ConsensusActor
from peoplenet.actors.member.messages import (
    Batch,
    ConsensusRoute,
    Inbound,
    Outbound,
    PeerDown,
    PeerViolation,
)
from peoplenet.actors.member.network_actor import NetworkActor
from peoplenet.actors.member.store_actor import StoreActor
from peoplenet.apps.currency import plugin
from peoplenet.apps.currency.records import Mint
from peoplenet.bench.coop_net import CoopNet
from peoplenet.plugins.testing import AppHarness
from peoplenet.plugins.worker.app_worker import _lace_msg
from peoplenet.plugins.worker.process import WorkerProcess
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.consumer import ConsumerOutput
from peoplenet.runtime.consensus.core import ConsensusCore, EpochHave, epoch_blocks_bytes
from peoplenet.runtime.consensus.rules import RoundPayload
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.kernel import Ref
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.app_lace import (
    LaceBlocks,
    LaceHave,
    app_lace_id,
    decode_lace_message,
)
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.net.peer_message import APP_LACE_TAGS, record_lace, record_tag
from peoplenet.runtime.social.core import SocialStep
from peoplenet.runtime.social.dissemination import Blocks, Disclose
from peoplenet.runtime.wire.codec import Value, encode
from tests.net_attack import RawClient, running_node

IDS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(4)]
GENESIS = Genesis.first(b"decode-once", Constitution.of([i.member_id for i in IDS]))
APP_LACE = app_lace_id(b"decode-once", "flash")
STORE = Ref(None, "store")
CONSENSUS = Ref(None, "consensus")


class Counter:
    """Wraps parsers; counts those that turned one of ``watched``'s byte strings into a value."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, watched: list[bytes]) -> None:
        self.watched = watched
        self.parses: dict[bytes, int] = dict.fromkeys(watched, 0)
        self.seen: set[bytes] = set()
        """Every input any wrapped parser turned into a value."""
        targets: list[tuple[Any, str]] = [
            (peoplenet.runtime.wire.codec, "decode"),
            (peoplenet.runtime.wire.codec, "decode_as"),
            (peoplenet.runtime.consensus.core, "decode"),
            (peoplenet.runtime.consensus.core, "usual_epoch_blocks"),
            (peoplenet.runtime.consensus.core, "_parse_epoch_blocks"),
            (peoplenet.runtime.lace.app_lace, "decode"),
            (peoplenet.runtime.lace.app_lace, "usual_epoch_blocks"),
        ]
        for module, name in targets:
            monkeypatch.setattr(module, name, self._wrap(getattr(module, name)))

    def _wrap(self, parse: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = parse(*args, **kwargs)
            data = next((a for a in args if isinstance(a, bytes | bytearray)), None)
            if result is not None and data is not None:
                self.seen.add(bytes(data))
                if bytes(data) in self.parses:
                    self.parses[bytes(data)] += 1
            return result

        return counted


class _Social:
    """The store actor's core, recording what it was given."""

    def __init__(self) -> None:
        self.got: list[Value] = []

    def on_wire(self, peer: MemberId, msg: Value, now: float) -> SocialStep:
        self.got.append(msg)
        return SocialStep()

    def own_problems(self) -> list[object]:
        return []


class _Consumer:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def receive(self, peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
        self.got.append(data)
        return ConsumerOutput()

    def laces(self) -> tuple[bytes, ...]:
        return (APP_LACE,)


def _network_actor(told: list[tuple[Ref, object]]) -> NetworkActor:
    actor = NetworkActor.__new__(NetworkActor)
    actor.store, actor.backlog, actor.up = STORE, [], set()
    route = ConsensusRoute(
        laces=(bytes(GENESIS.lace()), APP_LACE), members=(IDS[1].member_id,), actor=CONSENSUS
    )
    actor.routes = dict.fromkeys(route.laces, route)
    actor.tell = lambda ref, msg: told.append((ref, msg))  # type: ignore[method-assign]
    return actor


def _store_actor(core: _Social) -> StoreActor:
    actor = StoreActor.__new__(StoreActor)
    actor.core = core  # type: ignore[assignment]
    actor.network, actor.member, actor.signing = None, None, None
    actor.own_queue, actor._outbox = deque(), []
    actor.wake_at, actor.generation = None, 0
    actor._log, actor._name = None, "store"
    return actor


def _consensus_actor(consumer: _Consumer) -> ConsensusActor:
    actor = ConsensusActor.__new__(ConsensusActor)
    actor.core = ConsensusCore(IDS[0], GENESIS, Blocklace(MemoryStore()))
    actor.consumer = consumer  # type: ignore[assignment]
    actor.consumer_laces = (APP_LACE,)
    actor.network, actor._outbox = None, []
    actor.wake_at, actor.generation = None, 0
    actor.consumer_wake_at, actor.consumer_generation = None, 0
    actor.started = 0.0
    actor._log, actor._name = None, "consensus"
    actor.after = lambda seconds, msg: None  # type: ignore[method-assign,assignment,return-value]
    actor.community = None  # type: ignore[assignment]  # (no deliveries in this exchange)
    return actor


def _messages() -> list[bytes]:
    lace = GENESIS.lace()
    block = Block.create(IDS[1], lace, RoundPayload((("t", 1),)), ()).to_bytes()
    app_block = Block.create(IDS[1], APP_LACE, Mint(3, 3), ()).to_bytes()
    return [
        epoch_blocks_bytes(lace, (block,)),
        encode(EpochHave(lace, ((IDS[1].member_id, 0),), ())),
        encode(LaceHave(APP_LACE, (), ())),
        encode(LaceBlocks(APP_LACE, (app_block,))),
        encode(Disclose(())),
        encode(Blocks(())),
    ]


async def _arrive(messages: list[bytes]) -> list[Inbound]:
    """Send ``messages`` as a friend over a real connection; what the service reported."""
    async with running_node() as node:
        node.service.set_social({MemberId(IDS[1].member_id)}, {}, {})
        client = await RawClient.open(node.port)
        await client.login(IDS[1])
        for data in messages:
            await client.send_encoded(data)
        for _ in range(200):
            if len(node.inbound()) == len(messages):
                break
            await asyncio.sleep(0.01)
        client.writer.close()
    return node.inbound()


def test_each_arriving_message_is_decoded_once_on_its_way_to_its_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages = _messages()
    counter = Counter(monkeypatch, messages)
    inbound = asyncio.run(asyncio.wait_for(_arrive(messages), 30))
    assert [i.data for i in inbound] == messages  # the bytes as sent: nothing decoded yet
    assert counter.parses == dict.fromkeys(messages, 0)

    told: list[tuple[Ref, object]] = []
    _network_actor(told)._dispatch(inbound)
    social, consumer = _Social(), _Consumer()
    store, consensus = _store_actor(social), _consensus_actor(consumer)
    for ref, batch in told:
        assert isinstance(batch, Batch)
        (store if ref == STORE else consensus).receive(batch, None)  # type: ignore[arg-type]

    lace_messages = [m for m in messages if record_tag(m) in APP_LACE_TAGS]
    # the app-lace messages reach the consumer as the bytes that arrived: their owner, the app
    # worker, decodes them (see the test after this one); every other message once, here
    assert consumer.got == lace_messages and len(lace_messages) == 2
    assert counter.parses == {m: 0 if m in lace_messages else 1 for m in messages}
    assert [type(m).__name__ for m in social.got] == ["Disclose", "Blocks"]
    assert consensus.core._bl.creator_frontier(GENESIS.lace())[IDS[1].member_id] == 0
    # what the core answers travels as its bytes: not decoded back
    sends = [o for o in consensus._outbox if isinstance(o, Outbound)]
    assert sends and all(type(o.data) is bytes for o in sends)
    assert not {o.data for o in sends} & counter.seen


def test_an_arriving_lace_block_is_decoded_once_in_the_app_worker_not_in_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real members with the currency in their keyless workers: each ``LaceBlocks`` a member's
    node takes crosses to its worker as the very bytes that arrived, parsed nowhere on the node."""
    crossed: list[bytes] = []
    call = WorkerProcess.call

    def watched_call(self: WorkerProcess, method: str, args: Value, **kw: Any) -> Value:
        if method == "receive_then_duties" and isinstance(args, dict):
            data = args["msg"]
            assert type(data) is bytes  # the bytes, not a decoded record
            crossed.append(data)
        return call(self, method, args, **kw)

    monkeypatch.setattr(WorkerProcess, "call", watched_call)
    net = CoopNet(tmp_path, n=2)
    try:
        net.connect()
        net.decide_app("currency", {})
        net.connect()
        arrived: list[bytes] = []
        pump = net.nodes[1].receive

        def receive(peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
            arrived.append(data)
            return pump(peer, data, now_ms)

        monkeypatch.setattr(net.nodes[1], "receive", receive)
        counter = Counter(monkeypatch, [])
        net.app(0, "mint", amount=5)
        net.settle()
        blocks = [data for data in arrived if record_tag(data) == 67]
        assert blocks and all(data in crossed for data in blocks)
        assert not set(arrived) & counter.seen  # not one parsed in the node's process
        # member 1's worker took them
        held = [node.apps.host.status("currency")["lace_blocks"] for node in net.nodes]
        assert held[0] == held[1] and isinstance(held[1], int) and held[1] >= 1
    finally:
        net.close()


def test_the_app_host_decodes_the_bytes_it_is_given_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's handler and the in-process host (test kit, bench) each decode once."""
    with AppHarness(plugin, members=2) as h:
        h.enable({})
        block = h.sign(1, Mint(3, 3), ())
        data = encode(LaceBlocks(block.lace, (block.to_bytes(),)))
        counter = Counter(monkeypatch, [data])
        h.host.receive_then_duties(h.members[1], data, h.now_ms)
        assert counter.parses == {data: 1}
        assert h.host.status("currency")["lace_blocks"] == 1
    handed = _lace_msg({"msg": data})
    assert counter.parses == {data: 2} and handed == LaceBlocks(block.lace, (block.to_bytes(),))


def test_a_malformed_lace_block_is_refused_and_reported_as_before(tmp_path: Path) -> None:
    """The worker refuses it with the reason decoding gives; the consensus actor reports the
    peer as it did when it decoded the message itself; the worker lives on."""
    bad = encode(LaceBlocks(APP_LACE, ()))[:-1] + b"\xc0"  # the right tag, blocks not a list
    with pytest.raises(RemoteProtocolError) as refused:
        decode_lace_message(bad)
    with pytest.raises(RemoteProtocolError) as in_process:
        _lace_msg({"msg": bad})
    assert (in_process.value.reason, in_process.value.detail) == (
        refused.value.reason,
        refused.value.detail,
    )
    net = CoopNet(tmp_path, n=2)
    try:
        net.connect()
        net.decide_app("currency", {})
        net.connect()
        consensus = _consensus_actor(net.nodes[0])  # type: ignore[arg-type]
        consensus.receive(Inbound(peer=IDS[1].member_id, data=bad, friend=True), None)  # type: ignore[arg-type]
        (violation,) = consensus._outbox
        assert isinstance(violation, PeerViolation) and violation.peer == IDS[1].member_id
        assert (violation.reason, violation.detail) == (refused.value.reason, refused.value.detail)
        assert net.app(0, "mint", amount=5)["block"]  # the same worker still serves
    finally:
        net.close()


def test_the_lace_and_tag_are_read_from_the_header_alone() -> None:
    lace = GENESIS.lace()
    for data, tag in zip(_messages(), (65, 66, 68, 67, 50, 51), strict=True):
        assert record_tag(data) == tag
        assert record_lace(data) == ({65: lace, 66: lace, 67: APP_LACE, 68: APP_LACE}.get(tag))
    assert record_tag(b"\xc1") is None and record_lace(b"\xc1") is None
    assert record_lace(encode(EpochHave(lace, (), ()))[:-1]) is None  # cut short


def test_a_message_its_owner_cannot_decode_is_reported_to_the_network() -> None:
    social = _Social()
    store = _store_actor(social)
    told: list[tuple[Ref, object]] = []
    store.network = Ref(None, "network")
    store.tell = lambda ref, msg: told.append((ref, msg))  # type: ignore[method-assign]
    bad = encode(Disclose(()))[:-1] + b"\xc0"  # the right tag, a body the codec refuses
    message = Inbound(peer=IDS[1].member_id, data=bad, friend=True)
    store.receive(message, None)  # type: ignore[arg-type]
    assert social.got == []
    ((_, batch),) = told
    assert isinstance(batch, Batch)
    (violation,) = batch.items
    assert isinstance(violation, PeerViolation) and violation.peer == IDS[1].member_id
    assert violation.reason == "bad_field"


async def _reported(reason: str) -> tuple[bool, float, list[object]]:
    """A friend's connection, then its owner reports a violation: closed? scored? events."""
    async with running_node() as node:
        friend = MemberId(IDS[1].member_id)
        node.service.set_social({friend}, {}, {})
        client = await RawClient.open(node.port)
        await client.login(IDS[1])
        for _ in range(200):
            if friend in node.service.active:
                break
            await asyncio.sleep(0.01)
        node.service.violation(friend, RemoteProtocolError(reason, "from its owner"))
        closed = await asyncio.wait_for(client.reader.read(), 5) == b""
        for _ in range(200):
            if friend not in node.service.active:
                break
            await asyncio.sleep(0.01)
        score = node.service.scores.score(friend, time.monotonic())
        client.writer.close()
        return closed and friend not in node.service.active, score, node.events


def test_a_violation_its_owner_reports_closes_and_scores_the_connection() -> None:
    closed, score, events = asyncio.run(asyncio.wait_for(_reported("bad_field"), 30))
    assert closed
    assert score == pytest.approx(1.0, abs=0.01)  # a kept peer is scored, as before
    assert any(isinstance(e, PeerDown) for e in events)
