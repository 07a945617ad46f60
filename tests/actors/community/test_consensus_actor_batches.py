"""The consensus actor drains a batch of consensus messages into one ``receive_many`` call.

Why: a node then gets the benchmark's schedule (one blocklace batch and one step per inbox),
while app-lace messages and everything else keep their handling and their place in the order.
The shell is exercised without thespian: the core and the consumer are recorders.
"""

from __future__ import annotations

from typing import Any

from peoplenet.actors.community.consensus_actor import ConsensusActor
from peoplenet.actors.member.messages import Batch, Inbound, PeerUp
from peoplenet.runtime.consensus.consumer import ConsumerOutput
from peoplenet.runtime.consensus.core import EpochHave, Output
from peoplenet.runtime.lace.app_lace import LaceBlocks
from peoplenet.runtime.wire.codec import encode

LACE = b"c/" + b"\x05" * 32
APP_LACE = b"a/" + b"\x06" * 32
ALICE = b"\x0a" * 32
BOB = b"\x0b" * 32


class _Core:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def receive(self, peer: bytes, data: bytes, now: float) -> Output:
        self.calls.append(("receive", peer, data))
        return Output()

    def receive_many(self, messages: list[tuple[bytes, bytes]], now: float) -> Output:
        self.calls.append(("receive_many", list(messages)))
        return Output()

    def peer_up(self, peer: bytes, now: float) -> Output:
        self.calls.append(("peer_up", peer))
        return Output()


class _Consumer:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def laces(self) -> tuple[bytes, ...]:
        return ()

    def receive(self, peer: bytes, msg: object, now_ms: int) -> ConsumerOutput:
        self.calls.append(("consumer", peer, msg))
        return ConsumerOutput()

    def peer_up(self, peer: bytes, now_ms: int) -> ConsumerOutput:
        self.calls.append(("consumer_peer_up", peer))
        return ConsumerOutput()


def _actor() -> tuple[ConsensusActor, list[tuple[Any, ...]]]:
    calls: list[tuple[Any, ...]] = []
    actor = ConsensusActor.__new__(ConsensusActor)
    actor._outbox = []
    actor.network = None
    actor.core = _Core(calls)  # type: ignore[assignment]
    actor.consumer = _Consumer(calls)  # type: ignore[assignment]
    actor.consumer_laces = ()
    actor.consumer_wake_at = None
    actor.consumer_generation = 0
    actor.wake_at = None
    actor.generation = 0
    return actor, calls


def _have(n: int) -> EpochHave:
    return EpochHave(LACE, ((ALICE, n),), ())


def test_consecutive_consensus_messages_make_one_receive_many_in_order() -> None:
    actor, calls = _actor()
    app = LaceBlocks(APP_LACE, ())
    batch = Batch(
        items=(
            Inbound(peer=ALICE, data=encode(_have(1)), friend=True),
            Inbound(peer=BOB, data=encode(_have(2)), friend=False),
            Inbound(peer=ALICE, data=encode(app), friend=True),
            Inbound(peer=BOB, data=encode(_have(3)), friend=True),
            PeerUp(peer=ALICE),
            Inbound(peer=ALICE, data=encode(_have(4)), friend=True),
            Inbound(peer=BOB, data=encode(_have(5)), friend=True),
        )
    )
    actor.receive(batch, None)  # type: ignore[arg-type]
    assert calls == [
        ("receive_many", [(ALICE, encode(_have(1))), (BOB, encode(_have(2)))]),
        ("consumer", ALICE, app),
        ("receive", BOB, encode(_have(3))),
        ("peer_up", ALICE),
        ("consumer_peer_up", ALICE),
        ("receive_many", [(ALICE, encode(_have(4))), (BOB, encode(_have(5)))]),
    ]


def test_a_lone_message_still_goes_through_receive() -> None:
    actor, calls = _actor()
    actor.receive(Inbound(peer=ALICE, data=encode(_have(7)), friend=True), None)  # type: ignore[arg-type]
    actor.receive(Batch(items=(Inbound(peer=BOB, data=encode(_have(8)), friend=True),)), None)  # type: ignore[arg-type]
    assert calls == [("receive", ALICE, encode(_have(7))), ("receive", BOB, encode(_have(8)))]
