"""The consensus actor's shell (actors/community/consensus_actor.py), without thespian: the core
and the consumer are recorders, ``after`` is replaced by a recorder, the rest is the real code.

* A batch of consensus messages is drained into one ``receive_many`` call.  Why: a node then
  gets the benchmark's schedule (one blocklace batch and one step per inbox), while app-lace
  messages and everything else keep their handling and their place in the order.
* The timer for the community consumer: asked-for ticks are never lost.  A regression: a member
  polling ``coop show`` (a command whose output asks for no timer) used to cancel the pending
  timer that submits ``Close`` at a decision's deadline, so on a quiet cooperative the decision
  stayed open for ever.
"""

from __future__ import annotations

import time
from typing import Any

from peoplenet.actors.community.consensus_actor import ConsensusActor, _ConsumerWake
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

    def receive(self, peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
        self.calls.append(("consumer", peer, data))
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
        ("consumer", ALICE, encode(app)),  # the bytes: the app worker decodes them
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


# -- the consumer's timer ---------------------------------------------------------------------


class _TickingConsumer:
    """Only what ``_consume`` touches, plus a tick that asks for a fixed next wake."""

    def __init__(self, next_wake: int | None) -> None:
        self.next_wake = next_wake
        self.ticks = 0

    def laces(self) -> tuple[bytes, ...]:
        return ()

    def tick(self, now_ms: int) -> ConsumerOutput:
        self.ticks += 1
        return ConsumerOutput(wake_at_ms=self.next_wake)


def _timer_actor(
    consumer: _TickingConsumer,
) -> tuple[ConsensusActor, list[tuple[float, _ConsumerWake]]]:
    actor = ConsensusActor.__new__(ConsensusActor)
    timers: list[tuple[float, _ConsumerWake]] = []
    actor._outbox = []
    actor.consumer = consumer  # type: ignore[assignment]
    actor.consumer_laces = ()
    actor.consumer_generation = 0
    actor.consumer_wake_at = None

    def after(delay: float, msg: object) -> None:
        assert isinstance(msg, _ConsumerWake)
        timers.append((delay, msg))

    actor.after = after  # type: ignore[method-assign,assignment]
    return actor, timers


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_output_without_a_wake_keeps_the_pending_timer() -> None:
    actor, timers = _timer_actor(_TickingConsumer(None))
    deadline = _now_ms() + 5_000
    actor._consume(ConsumerOutput(wake_at_ms=deadline))
    assert len(timers) == 1 and 4.0 < timers[0][0] <= 5.0
    actor._consume(ConsumerOutput())  # e.g. the answer to ``coop show``
    actor._consume(ConsumerOutput(wake_at_ms=deadline + 60_000))  # a later ask
    assert len(timers) == 1 and actor.consumer_wake_at == deadline
    # the timer still fires and is not stale
    actor._handle(timers[0][1])
    assert actor.consumer is not None and actor.consumer.ticks == 1  # type: ignore[attr-defined]


def test_an_earlier_ask_brings_the_timer_forward_and_the_old_one_goes_stale() -> None:
    consumer = _TickingConsumer(None)
    actor, timers = _timer_actor(consumer)
    now = _now_ms()
    actor._consume(ConsumerOutput(wake_at_ms=now + 60_000))
    actor._consume(ConsumerOutput(wake_at_ms=now + 1_000))
    assert len(timers) == 2 and timers[1][0] <= 1.0
    actor._handle(timers[0][1])  # the superseded timer
    assert consumer.ticks == 0
    actor._handle(timers[1][1])
    assert consumer.ticks == 1


def test_a_tick_asks_again_and_is_scheduled_afresh() -> None:
    now = _now_ms()
    consumer = _TickingConsumer(now + 3_000)
    actor, timers = _timer_actor(consumer)
    actor._consume(ConsumerOutput(wake_at_ms=now))
    actor._handle(timers[0][1])
    assert consumer.ticks == 1
    assert len(timers) == 2 and actor.consumer_wake_at == now + 3_000
    assert 2.0 < timers[1][0] <= 3.0
