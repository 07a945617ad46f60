"""The consensus actor's timer for its community consumer: asked-for ticks are never lost.

A regression: a member polling ``coop show`` (a command whose output asks for no timer) used to
cancel the pending timer that submits ``Close`` at a decision's deadline, so on a quiet
cooperative the decision stayed open for ever.  The shell is exercised here without thespian:
``after`` is replaced by a recorder, everything else is the real method.
"""

from __future__ import annotations

import time

from peoplenet.actors.community.consensus_actor import ConsensusActor, _ConsumerWake
from peoplenet.runtime.consensus.consumer import ConsumerOutput


class _Consumer:
    """Only what ``_consume`` touches, plus a tick that asks for a fixed next wake."""

    def __init__(self, next_wake: int | None) -> None:
        self.next_wake = next_wake
        self.ticks = 0

    def laces(self) -> tuple[bytes, ...]:
        return ()

    def tick(self, now_ms: int) -> ConsumerOutput:
        self.ticks += 1
        return ConsumerOutput(wake_at_ms=self.next_wake)


def _actor(consumer: _Consumer) -> tuple[ConsensusActor, list[tuple[float, _ConsumerWake]]]:
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
    actor, timers = _actor(_Consumer(None))
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
    consumer = _Consumer(None)
    actor, timers = _actor(consumer)
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
    consumer = _Consumer(now + 3_000)
    actor, timers = _actor(consumer)
    actor._consume(ConsumerOutput(wake_at_ms=now))
    actor._handle(timers[0][1])
    assert consumer.ticks == 1
    assert len(timers) == 2 and actor.consumer_wake_at == now + 3_000
    assert 2.0 < timers[1][0] <= 3.0
