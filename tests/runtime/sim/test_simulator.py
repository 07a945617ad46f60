"""Tests for the deterministic network simulator (runtime/sim/simulator.py)."""

from __future__ import annotations

import dataclasses
import random
import struct
from collections.abc import Callable, Iterable

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.sim.simulator import (
    Action,
    CancelTimer,
    EventLimitError,
    LinkModel,
    Send,
    SetTimer,
    SimNode,
    SimulationError,
    Simulator,
)

# --------------------------------------------------------------------------- helpers

Reaction = Callable[[float], Iterable[Action]]


class Recorder:
    """A scriptable node that records everything it is given."""

    def __init__(
        self,
        on_start: Reaction | None = None,
        on_receive: Callable[[str, bytes, float], Iterable[Action]] | None = None,
        on_timer: Callable[[str, float], Iterable[Action]] | None = None,
    ) -> None:
        self._on_start = on_start
        self._on_receive = on_receive
        self._on_timer = on_timer
        self.started_at: float | None = None
        self.received: list[tuple[float, str, bytes]] = []
        self.fired: list[tuple[float, str]] = []

    def start(self, now: float) -> Iterable[Action]:
        self.started_at = now
        return self._on_start(now) if self._on_start else ()

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        self.received.append((now, src, data))
        return self._on_receive(src, data, now) if self._on_receive else ()

    def timer(self, key: str, now: float) -> Iterable[Action]:
        self.fired.append((now, key))
        return self._on_timer(key, now) if self._on_timer else ()


def live(sim: Simulator, name: str) -> Recorder:
    node = sim.node(name)
    assert isinstance(node, Recorder)
    return node


def num(i: int) -> bytes:
    return struct.pack(">I", i)


def unnum(data: bytes) -> int:
    value: int = struct.unpack(">I", data)[0]
    return value


def burst(n: int, dst: str = "b") -> Reaction:
    """On start, send ``n`` numbered messages to ``dst`` at once."""
    return lambda now: [Send(dst, num(i)) for i in range(n)]


def pair(link: LinkModel, n: int, *, seed: int = 7) -> tuple[Simulator, Recorder]:
    """``a`` sends ``n`` numbered messages to ``b`` at t=0; returns the sim and ``b``."""
    sim = Simulator(seed, link)
    sim.add_node("a", lambda: Recorder(on_start=burst(n)))
    sim.add_node("b", Recorder)
    sim.run()
    return sim, live(sim, "b")


# --------------------------------------------------------------------------- actions and model


def test_actions_are_frozen_and_slotted() -> None:
    for action in (Send("x", b"1"), SetTimer("k", 1.0), CancelTimer("k")):
        assert not hasattr(action, "__dict__")
        field = dataclasses.fields(action)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(action, field, "other")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_delay": -0.1},
        {"min_delay": 0.5, "max_delay": 0.1},
        {"max_delay": float("inf")},
        {"min_delay": float("nan")},
        {"drop_rate": -0.01},
        {"drop_rate": 1.5},
        {"duplicate_rate": float("nan")},
        {"reorder": 1},
    ],
)
def test_link_model_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(LocalError):
        LinkModel(**kwargs)  # type: ignore[arg-type]


def test_simulator_rejects_bad_calls() -> None:
    sim = Simulator(1)
    sim.add_node("a", Recorder)
    with pytest.raises(LocalError):
        sim.add_node("a", Recorder)
    with pytest.raises(LocalError):
        sim.add_node("", Recorder)
    with pytest.raises(LocalError):
        sim.crash("nobody", 1.0)
    with pytest.raises(LocalError):
        sim.send_external("a", "text", 1.0)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        sim.partition([["a"]], 2.0, 1.0)
    with pytest.raises(LocalError):
        sim.partition([["a"], ["a"]], 0.0)
    with pytest.raises(LocalError):
        sim.run(max_events=0)
    with pytest.raises(LocalError):
        Simulator(1.5)  # type: ignore[arg-type]
    sim.run(until=5.0)
    with pytest.raises(LocalError):
        sim.crash("a", 4.0)  # the past
    with pytest.raises(LocalError):
        sim.run(until=3.0)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_trace_and_different_seed_differs() -> None:
    link = LinkModel(0.01, 0.3, drop_rate=0.2, duplicate_rate=0.2)

    def trace(seed: int) -> list[tuple[object, ...]]:
        sim, _ = gossip_sim_with_stores(seed, 12, link, trace=True)
        sim.crash("n3", 0.7)
        sim.restart("n3", 1.4)
        sim.partition([["n0", "n1", "n2"]], 0.5, 1.0)
        sim.run(until=4.0)
        assert sim.trace is not None
        return sim.trace

    first = trace(42)
    assert len(first) > 300
    assert {event[0] for event in first} >= {"deliver", "drop", "timer", "start", "crash"}
    assert trace(42) == first
    assert trace(43) != first


def test_trace_is_off_by_default() -> None:
    sim = Simulator(1)
    assert sim.trace is None


def test_rng_for_is_seeded_per_name_and_stable() -> None:
    a, b = Simulator(5), Simulator(5)
    assert a.rng_for("x") is a.rng_for("x")
    assert [a.rng_for("x").random() for _ in range(3)] == [
        b.rng_for("x").random() for _ in range(3)
    ]
    assert Simulator(5).rng_for("x").random() != Simulator(5).rng_for("y").random()
    assert Simulator(5).rng_for("x").random() != Simulator(6).rng_for("x").random()


# --------------------------------------------------------------------------- link faults


def test_delays_stay_within_bounds() -> None:
    _, b = pair(LinkModel(0.2, 0.7), 2000)
    times = [t for t, _, _ in b.received]
    assert len(times) == 2000
    assert min(times) >= 0.2
    assert max(times) <= 0.7
    assert min(times) < 0.21
    assert max(times) > 0.69  # the whole range is used


def test_zero_delay_link_delivers_at_send_time() -> None:
    _, b = pair(LinkModel(0.0, 0.0), 5)
    assert [(t, unnum(d)) for t, _, d in b.received] == [(0.0, i) for i in range(5)]


def test_drop_rate_zero_delivers_everything() -> None:
    sim, b = pair(LinkModel(drop_rate=0.0), 1000)
    assert sorted(unnum(d) for _, _, d in b.received) == list(range(1000))
    assert sim.stats.dropped == 0
    assert sim.stats.sent == sim.stats.delivered == 1000


def test_drop_rate_one_delivers_nothing() -> None:
    sim, b = pair(LinkModel(drop_rate=1.0, duplicate_rate=1.0), 1000)
    assert b.received == []
    assert sim.stats.dropped_link == 1000
    assert sim.stats.duplicated == 0


def test_drop_rate_is_statistically_right() -> None:
    sim, b = pair(LinkModel(drop_rate=0.2), 10_000)
    assert 7700 <= len(b.received) <= 8300
    assert sim.stats.dropped_link + sim.stats.delivered == 10_000


def test_duplicates_are_delivered_twice() -> None:
    sim, b = pair(LinkModel(duplicate_rate=1.0), 500)
    counts = [0] * 500
    for _, _, data in b.received:
        counts[unnum(data)] += 1
    assert counts == [2] * 500
    stats = sim.stats
    assert (stats.sent, stats.duplicated, stats.delivered) == (500, 500, 1000)


def test_duplicate_rate_is_statistically_right() -> None:
    sim, _ = pair(LinkModel(duplicate_rate=0.3), 5000)
    assert 1350 <= sim.stats.duplicated <= 1650
    assert sim.stats.delivered == 5000 + sim.stats.duplicated


def test_wide_delays_reorder_messages() -> None:
    _, b = pair(LinkModel(0.0, 1.0), 200)
    order = [unnum(d) for _, _, d in b.received]
    assert sorted(order) == list(range(200))
    assert order != list(range(200))


def test_fixed_delay_never_reorders() -> None:
    _, b = pair(LinkModel(0.3, 0.3), 200)
    assert [unnum(d) for _, _, d in b.received] == list(range(200))


def test_fifo_link_never_reorders_even_with_wide_delays_and_copies() -> None:
    _, b = pair(LinkModel(0.0, 1.0, duplicate_rate=0.5, reorder=False), 200)
    order = [unnum(d) for _, _, d in b.received]
    assert len(order) > 250
    assert order == sorted(order)  # copies arrive right behind (or with) their original


def test_set_link_overrides_one_direction_only() -> None:
    sim = Simulator(3, LinkModel(0.1, 0.1))
    sim.add_node("a", lambda: Recorder(on_start=burst(10, "b")))
    sim.add_node("b", lambda: Recorder(on_start=burst(10, "a")))
    sim.set_link("a", "b", LinkModel(drop_rate=1.0))
    sim.run()
    assert live(sim, "b").received == []
    assert len(live(sim, "a").received) == 10


# --------------------------------------------------------------------------- partitions


def pinger(peer: str, every: float) -> Callable[[], Recorder]:
    """A node that sends its current time to ``peer`` every ``every`` seconds."""

    def make() -> Recorder:
        def tick(key: str, now: float) -> list[Action]:
            return [Send(peer, struct.pack(">d", now)), SetTimer("tick", now + every)]

        return Recorder(on_start=lambda now: tick("tick", now), on_timer=tick)

    return make


def sent_times(node: Recorder) -> list[float]:
    return [struct.unpack(">d", d)[0] for _, _, d in node.received]


def test_partition_blocks_both_directions_then_heals() -> None:
    sim = Simulator(1, LinkModel(0.3, 0.3))
    sim.add_node("a", pinger("b", 0.25))
    sim.add_node("b", pinger("a", 0.25))
    sim.partition([["a"], ["b"]], 1.0, 2.0)
    sim.run(until=4.0)
    for name in ("a", "b"):
        sent = sent_times(live(sim, name))
        # A message is cut if its flight [sent, sent + 0.3] overlaps [1.0, 2.0).
        assert all(t + 0.3 < 1.0 or t >= 2.0 for t in sent)
        assert 0.5 in sent  # delivered at 0.8, before the cut
        assert 0.75 not in sent  # in flight when the cut began
        assert 2.0 in sent  # sent after healing
        assert max(sent) == 3.5
    assert sim.stats.dropped_partition == 2 * 5  # sent at 0.75, 1.0, 1.25, 1.5, 1.75


def test_nodes_in_no_group_form_one_group() -> None:
    sim = Simulator(1, LinkModel(0.1, 0.1))
    sim.add_node("a", lambda: Recorder(on_start=lambda now: [Send("b", b"x"), Send("c", b"x")]))
    sim.add_node("b", Recorder)
    sim.add_node("c", Recorder)
    sim.partition([["c"]], 0.0)  # isolate c forever; a and b stay together
    sim.run()
    assert len(live(sim, "b").received) == 1
    assert live(sim, "c").received == []


def test_heal_ends_an_open_partition() -> None:
    sim = Simulator(1, LinkModel(0.1, 0.1))
    sim.add_node("a", pinger("b", 1.0))
    sim.add_node("b", Recorder)
    pid = sim.partition([["a"], ["b"]], 0.5)
    sim.run(until=3.5)
    assert sent_times(live(sim, "b")) == [0.0]
    sim.heal(pid, 5.0)
    sim.run(until=7.5)
    assert sent_times(live(sim, "b")) == [0.0, 5.0, 6.0, 7.0]
    with pytest.raises(LocalError):
        sim.heal(pid + 1, 8.0)


def test_external_messages_ignore_partitions_but_not_crashes() -> None:
    sim = Simulator(1)
    sim.add_node("a", Recorder)
    sim.partition([["a"]], 0.0)
    sim.send_external("a", b"hello", 1.5, src="client")
    sim.crash("a", 2.0)
    sim.send_external("a", b"lost", 2.5)
    sim.run()
    assert sim.node("a") is None
    stats = sim.stats
    assert (stats.sent, stats.delivered, stats.dropped_crashed) == (2, 1, 1)


def test_send_external_arrives_at_exactly_the_given_time() -> None:
    sim = Simulator(1)
    sim.add_node("a", Recorder)
    sim.send_external("a", b"hello", 1.5, src="client")
    sim.run(until=2.0)
    assert live(sim, "a").received == [(1.5, "client", b"hello")]


# --------------------------------------------------------------------------- crashes and restarts


class Counter:
    """Counts messages in volatile state and in a durable store it was given."""

    def __init__(self, store: dict[str, int], log: list[str]) -> None:
        self.store = store
        self.volatile = 0
        self.log = log
        log.append("factory")

    def start(self, now: float) -> Iterable[Action]:
        self.log.append(f"start@{now}")
        return [SetTimer("t", now + 3.0)]

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        self.volatile += 1
        self.store["count"] = self.store.get("count", 0) + 1
        return ()

    def timer(self, key: str, now: float) -> Iterable[Action]:
        self.log.append(f"timer@{now}")
        return ()


def test_crash_drops_messages_timers_and_volatile_state_restart_keeps_durable() -> None:
    store: dict[str, int] = {}
    log: list[str] = []
    sim = Simulator(1)
    sim.add_node("c", lambda: Counter(store, log))
    for at in (0.5, 1.0, 2.5, 3.0, 5.0):
        sim.send_external("c", b"m", at)
    sim.crash("c", 2.0)  # before its timer at 3.0
    sim.restart("c", 4.0)

    sim.run(until=3.5)
    assert sim.node("c") is None
    assert not sim.is_up("c")
    assert store == {"count": 2}
    assert sim.stats.dropped_crashed == 2
    assert log == ["factory", "start@0.0"]  # the timer at 3.0 never fired

    sim.run(until=10.0)
    node = sim.node("c")
    assert isinstance(node, Counter)
    assert node.volatile == 1  # fresh object: only the message at 5.0
    assert store == {"count": 3}  # durable state survived
    assert log == ["factory", "start@0.0", "factory", "start@4.0", "timer@7.0"]
    assert (sim.stats.starts, sim.stats.crashes) == (2, 1)


def test_restart_of_a_live_node_reboots_it() -> None:
    log: list[str] = []
    sim = Simulator(1)
    sim.add_node("c", lambda: Counter({}, log))
    sim.restart("c", 1.0)
    sim.run(until=5.0)
    assert log == ["factory", "start@0.0", "factory", "start@1.0", "timer@4.0"]
    assert sim.stats.crashes == 1


def test_crash_of_a_down_node_is_a_no_op() -> None:
    sim = Simulator(1)
    sim.add_node("c", Recorder)
    sim.crash("c", 1.0)
    sim.crash("c", 2.0)
    sim.run()
    assert sim.stats.crashes == 1


def test_messages_in_flight_from_a_crashed_node_still_arrive() -> None:
    sim = Simulator(1, LinkModel(1.0, 1.0))
    sim.add_node("a", lambda: Recorder(on_start=burst(3)))
    sim.add_node("b", Recorder)
    sim.crash("a", 0.5)
    sim.run()
    assert len(live(sim, "b").received) == 3


def test_node_added_later_is_down_until_it_starts() -> None:
    sim = Simulator(1)
    sim.add_node("a", Recorder, at=2.0)
    sim.send_external("a", b"early", 1.0)
    sim.send_external("a", b"late", 3.0)
    sim.run(until=1.5)
    assert sim.node("a") is None
    sim.run()
    node = live(sim, "a")
    assert node.started_at == 2.0
    assert node.received == [(3.0, "external", b"late")]


# --------------------------------------------------------------------------- timers


def test_timers_fire_in_order_and_replaced_or_cancelled_ones_do_not() -> None:
    def setup(now: float) -> list[Action]:
        return [
            SetTimer("a", 3.0),
            SetTimer("b", 1.0),
            SetTimer("c", 2.0),
            SetTimer("d", 5.0),
            SetTimer("d", 1.5),  # replaces d@5
            CancelTimer("c"),
            CancelTimer("never-set"),
            SetTimer("e", 1.0),  # same time as b: scheduling order breaks the tie
        ]

    sim = Simulator(1)
    sim.add_node("n", lambda: Recorder(on_start=setup))
    stats = sim.run()
    assert live(sim, "n").fired == [(1.0, "b"), (1.0, "e"), (1.5, "d"), (3.0, "a")]
    assert stats.timers_fired == 4
    assert stats.now == 3.0


def test_timer_in_the_past_fires_now_and_timer_can_be_rearmed_from_itself() -> None:
    def again(key: str, now: float) -> list[Action]:
        if key == "late":
            return []
        return [SetTimer("k", now + 1.0)] if now < 3.0 else [SetTimer("late", now - 10.0)]

    sim = Simulator(1)
    sim.add_node("n", lambda: Recorder(on_start=lambda now: [SetTimer("k", 1.0)], on_timer=again))
    sim.run(until=10.0)
    assert live(sim, "n").fired == [(1.0, "k"), (2.0, "k"), (3.0, "k"), (3.0, "late")]


# --------------------------------------------------------------------------- run control


def ticker(every: float) -> Recorder:
    def tick(key: str, now: float) -> list[Action]:
        return [SetTimer("tick", now + every)]

    return Recorder(on_start=lambda now: tick("tick", now), on_timer=tick)


def test_run_until_stops_at_that_time_and_resumes() -> None:
    sim = Simulator(1)
    sim.add_node("n", lambda: ticker(1.0))
    stats = sim.run(until=2.5)
    assert (stats.now, stats.stop_reason) == (2.5, "until")
    assert [t for t, _ in live(sim, "n").fired] == [1.0, 2.0]
    stats = sim.run(until=4.0)  # an event exactly at `until` is processed
    assert [t for t, _ in live(sim, "n").fired] == [1.0, 2.0, 3.0, 4.0]
    assert sim.now == 4.0


def test_run_reports_idle_when_nothing_is_left() -> None:
    sim = Simulator(1)
    sim.add_node("n", Recorder)
    stats = sim.run()
    assert (stats.stop_reason, stats.events, stats.now) == ("idle", 1, 0.0)
    stats = sim.run(until=9.0)
    assert (stats.stop_reason, stats.now) == ("idle", 9.0)


def test_stop_when_is_checked_after_each_event() -> None:
    sim = Simulator(1)
    sim.add_node("n", lambda: ticker(0.5))
    stats = sim.run(until=100.0, stop_when=lambda s: len(live(s, "n").fired) == 7)
    assert stats.stop_reason == "stop_when"
    assert stats.now == 3.5  # the time of the 7th tick, not `until`


def test_max_events_guard_raises_instead_of_looping_forever() -> None:
    def bounce(src: str, data: bytes, now: float) -> list[Action]:
        return [Send(src, data)]

    sim = Simulator(1, LinkModel(0.0, 0.0))  # a zero-delay storm: time never advances
    sim.add_node("a", lambda: Recorder(on_start=lambda now: [Send("b", b"x")], on_receive=bounce))
    sim.add_node("b", lambda: Recorder(on_receive=bounce))
    with pytest.raises(EventLimitError, match="max_events=1000") as info:
        sim.run(max_events=1000)
    assert info.value.stats.events == 1000
    assert sim.now == 0.0
    # The simulator stays consistent: it can be run on, and stats are live for stop_when.
    stats = sim.run(max_events=10, stop_when=lambda s: s.stats.events == 1005)
    assert (stats.events, stats.stop_reason) == (1005, "stop_when")


def test_exactly_max_events_is_not_an_error() -> None:
    sim = Simulator(1)
    sim.add_node("n", lambda: Recorder(on_start=lambda now: [SetTimer("x", 1.0)]))
    assert sim.run(max_events=2).events == 2


def test_run_is_not_reentrant() -> None:
    sim = Simulator(1)
    sim.add_node("n", Recorder)

    def nested(s: Simulator) -> bool:
        s.run()
        return True

    with pytest.raises(LocalError, match="reentrant"):
        sim.run(stop_when=nested)


# --------------------------------------------------------------------------- misbehaving nodes


def boom(*args: object) -> Iterable[Action]:
    raise ValueError("kaboom")


@pytest.mark.parametrize(
    ("make", "event"),
    [
        (lambda: Recorder(on_start=boom), "start"),
        (lambda: Recorder(on_receive=boom), "receive from 'external'"),
        (lambda: Recorder(on_start=lambda now: [SetTimer("k", 1.0)], on_timer=boom), "timer 'k'"),
    ],
)
def test_node_exception_surfaces_naming_node_and_event(
    make: Callable[[], SimNode], event: str
) -> None:
    sim = Simulator(1)
    sim.add_node("bad-node", make)
    sim.send_external("bad-node", b"x", 0.5)
    with pytest.raises(SimulationError, match="'bad-node' raised ValueError") as info:
        sim.run()
    assert info.value.node == "bad-node"
    assert info.value.event == event
    assert isinstance(info.value.__cause__, ValueError)


def test_factory_exception_surfaces() -> None:
    def factory() -> SimNode:
        raise RuntimeError("no disk")

    sim = Simulator(1)
    sim.add_node("n", factory)
    with pytest.raises(SimulationError, match="'n' raised RuntimeError in start"):
        sim.run()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ([Send("b", "text")], "sent str, not bytes"),  # type: ignore[arg-type]
        ([Send("b", bytearray(b"x"))], "sent bytearray, not bytes"),  # type: ignore[arg-type]
        ([Send("nobody", b"x")], "unknown node 'nobody'"),
        (["not an action"], "not an Action"),
        ([SetTimer("k", float("nan"))], "set a timer at nan"),
        ([SetTimer("k", float("inf"))], "infinity"),
        (None, "returned None"),
    ],
)
def test_invalid_actions_are_rejected(actions: list[Action] | None, message: str) -> None:
    sim = Simulator(1)
    sim.add_node("a", lambda: Recorder(on_start=lambda now: actions))  # type: ignore[arg-type,return-value]
    sim.add_node("b", Recorder)
    with pytest.raises(SimulationError, match=message) as info:
        sim.run()
    assert info.value.node == "a"


# --------------------------------------------------------------------------- end to end


class Gossip:
    """Anti-entropy toy: every ``period`` push the whole set to ``fanout`` random peers.

    The set is written through to ``store`` (durable, survives crashes).
    """

    def __init__(
        self,
        name: str,
        peers: list[str],
        store: set[int],
        rng: random.Random,
        period: float = 0.2,
        fanout: int = 2,
    ) -> None:
        self.name = name
        self.peers = [p for p in peers if p != name]
        self.store = store
        self.known = set(store)  # volatile copy, rebuilt from the store on restart
        self.rng = rng
        self.period = period
        self.fanout = fanout

    def start(self, now: float) -> Iterable[Action]:
        return [SetTimer("push", now + self.rng.uniform(0, self.period))]

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        incoming = {int(x) for x in data.split(b",")}
        if not incoming <= self.known:
            self.known |= incoming
            self.store |= incoming
        return ()

    def timer(self, key: str, now: float) -> Iterable[Action]:
        payload = b",".join(b"%d" % x for x in sorted(self.known))
        actions: list[Action] = [Send(p, payload) for p in self.rng.sample(self.peers, self.fanout)]
        actions.append(SetTimer("push", now + self.period))
        return actions


def gossip_sim_with_stores(
    seed: int, n: int, link: LinkModel, *, trace: bool = False
) -> tuple[Simulator, dict[str, set[int]]]:
    sim = Simulator(seed, link, trace=trace)
    names = [f"n{i}" for i in range(n)]
    stores = {name: {i} for i, name in enumerate(names)}
    for name in names:
        rng = sim.rng_for(name)
        sim.add_node(
            name,
            lambda name=name, rng=rng: Gossip(name, names, stores[name], rng),  # type: ignore[misc]
        )
    return sim, stores


def test_gossip_converges_despite_every_fault() -> None:
    link = LinkModel(0.01, 0.5, drop_rate=0.3, duplicate_rate=0.1)
    sim, stores = gossip_sim_with_stores(2024, 50, link)
    names = sim.names
    sim.partition([names[:25], names[25:]], 0.0, 5.0)
    sim.crash("n3", 1.0)
    sim.restart("n3", 3.0)
    sim.crash("n40", 2.0)
    sim.restart("n40", 8.0)
    union = set(range(50))

    # During the partition neither half can learn the other's numbers.
    sim.run(until=4.9)
    assert all(stores[name] <= set(range(25)) for name in names[:25])
    assert all(stores[name] <= set(range(25, 50)) for name in names[25:])
    assert sim.node("n40") is None

    def converged(s: Simulator) -> bool:
        return s.now > 8.0 and all(
            isinstance(node := s.node(name), Gossip) and node.known == union for name in names
        )

    stats = sim.run(until=60.0, stop_when=converged)
    assert stats.stop_reason == "stop_when"
    assert all(stores[name] == union for name in names)
    assert stats.dropped_link > 0
    assert stats.dropped_partition > 0
    assert stats.dropped_crashed > 0
    assert stats.duplicated > 0
    assert (stats.starts, stats.crashes) == (52, 2)
