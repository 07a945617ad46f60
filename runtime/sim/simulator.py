"""A deterministic discrete-event network simulator for sans-IO protocol cores.

Every Peoplenet protocol is a pure core: it is handed inputs plus ``now`` and answers with
actions (:class:`Send`, :class:`SetTimer`, :class:`CancelTimer`).  This module runs many such
cores in one process over a faulty simulated network -- random delays, drops, duplicates,
reordering, partitions, crashes and restarts -- so consensus, governance and apps can be
tested with hundreds of members.  Why a simulator rather than real sockets: a run is a pure
function of its seed, so a failure found once can be replayed, traced and bisected.

Determinism: all network randomness comes from one ``random.Random(seed)``; each node gets
its own stream from :meth:`Simulator.rng_for`; simultaneous events run in the order they
were scheduled.  Nothing reads the wall clock.  See ``docs/simulator.md``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from peoplenet.runtime.errors import LocalError

__all__ = [
    "Action",
    "CancelTimer",
    "EventLimitError",
    "LinkModel",
    "RunStats",
    "Send",
    "SetTimer",
    "SimNode",
    "SimulationError",
    "Simulator",
    "StopReason",
    "TraceEvent",
]


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``data`` to node ``dst``.  Bytes only, so no live object can leak between nodes."""

    dst: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call the node's ``timer(key, now)`` at absolute sim time ``at``.

    Setting a key that is already pending replaces it.  A time in the past fires at ``now``.
    """

    key: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Forget the pending timer ``key``, if any."""

    key: str


Action = Send | SetTimer | CancelTimer
"""What a node may ask of the simulator."""


class SimNode(Protocol):
    """A sans-IO protocol core as the simulator drives it.

    The object is the node's *volatile* state: a crash discards it.  Anything that must
    survive a crash lives in objects the node's factory closes over.
    """

    def start(self, now: float) -> Iterable[Action]:
        """Called once per incarnation, before any message or timer."""
        ...

    def receive(self, src: str, data: bytes, now: float) -> Iterable[Action]:
        """A message from ``src`` arrived."""
        ...

    def timer(self, key: str, now: float) -> Iterable[Action]:
        """The timer ``key`` set earlier by this incarnation fired."""
        ...


# --------------------------------------------------------------------------- errors


class SimulationError(LocalError):
    """A node misbehaved during a run (raised, or returned an invalid action).

    ``node`` and ``event`` say where; the node's own exception, if any, is ``__cause__``.
    The simulator should not be run further after this: the node may be half-updated.
    """

    reason = "simulation_error"

    def __init__(self, message: str, *, node: str = "", event: str = "", at: float = 0.0):
        self.node = node
        self.event = event
        self.at = at
        super().__init__(message)


class EventLimitError(SimulationError):
    """``run`` processed ``max_events`` events and work was still due.

    Raised rather than reported because a run that never settles (a message storm, a
    zero-delay timer loop) is almost always a bug; ``stats`` says how far it got.
    """

    reason = "event_limit"

    def __init__(self, message: str, stats: RunStats) -> None:
        self.stats = stats
        super().__init__(message, at=stats.now)


# --------------------------------------------------------------------------- network model


@dataclass(frozen=True, slots=True)
class LinkModel:
    """How one directed link behaves.

    Each message independently: dropped with ``drop_rate``; otherwise delivered after a
    delay uniform in ``[min_delay, max_delay]``, plus (with ``duplicate_rate``) one extra copy
    with its own delay.  Independent delays reorder messages unless ``reorder`` is False,
    which makes the link FIFO: a message is held back behind the previous one on the link,
    so its delay can then exceed ``max_delay``.
    """

    min_delay: float = 0.01
    max_delay: float = 0.1
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.min_delay, self.max_delay
        if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi):
            raise LocalError(f"need finite 0 <= min_delay <= max_delay, got {lo!r}, {hi!r}")
        for name in ("drop_rate", "duplicate_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:  # also rejects NaN
                raise LocalError(f"{name} must be within [0, 1], got {rate!r}")
        if type(self.reorder) is not bool:
            raise LocalError("reorder must be a bool")


StopReason = Literal["until", "idle", "stop_when"]
"""Why ``run`` returned: reached ``until``; no events left; ``stop_when`` said so."""

TraceEvent = tuple[Any, ...]
"""One traced event, e.g. ``("deliver", t, src, dst, data)``; see :class:`Simulator`."""


@dataclass(frozen=True, slots=True)
class RunStats:
    """Counters since the simulator was created (cumulative over ``run`` calls)."""

    now: float
    events: int
    """Events processed: deliveries (and delivery-time drops), timers, starts, crashes."""
    sent: int
    """Messages handed to the network, external injections included, copies not."""
    delivered: int
    """Copies handed to a node's ``receive`` (a duplicated message counts twice)."""
    dropped_link: int
    dropped_partition: int
    dropped_crashed: int
    duplicated: int
    timers_fired: int
    starts: int
    crashes: int
    stop_reason: StopReason | None = None
    """Set on the value ``run`` returns; None from :attr:`Simulator.stats`."""

    @property
    def dropped(self) -> int:
        return self.dropped_link + self.dropped_partition + self.dropped_crashed


# Event kinds.  An event is a tuple (time, seq, kind, node, a, b, c): seq is unique, so the
# heap never compares past it and ties run in scheduling order.
_DELIVER: Final = 0  # node=dst, a=src, b=data, c=sent_at (-1.0: external, no partitions)
_TIMER: Final = 1  # node, a=key
_START: Final = 2  # node
_CRASH: Final = 3  # node

_Event = tuple[float, int, int, str, Any, Any, float]

DEFAULT_MAX_EVENTS: Final = 5_000_000

_INF: Final = math.inf
_heappush: Final = heapq.heappush
_heappop: Final = heapq.heappop


class Simulator:
    """Runs :class:`SimNode` s over a simulated faulty network, deterministically from a seed.

    Fault model summary (details in ``docs/simulator.md``):

    * Link faults (drop, delay, duplicate) are decided at send time from the network RNG.
    * A partition drops a message at delivery time if the message's flight
      ``[sent_at, delivered_at]`` overlaps the partition window ``[start, end)`` and the two
      ends are in different groups -- so in-flight messages are cut too.
    * A message arriving at a node that is down (crashed, or not yet started) is dropped.
      Messages already in flight from a node that crashes are still delivered.
    """

    def __init__(self, seed: int, link: LinkModel | None = None, *, trace: bool = False):
        if type(seed) is not int:
            raise LocalError("seed must be an int")
        self.seed: Final = seed
        self.default_link: LinkModel = link if link is not None else LinkModel()
        self.trace: list[TraceEvent] | None = [] if trace else None
        """Every event as a tuple, when enabled (for determinism tests and debugging):
        ``("deliver", t, src, dst, data)``, ``("drop", t, cause, src, dst)`` with cause
        ``"link"`` (at send time), ``"partition"`` or ``"crashed"``, ``("timer", t, node, key)``,
        ``("start", t, node)``, ``("crash", t, node)``."""

        self._rng = random.Random(seed)  # noqa: S311 -- simulation, not cryptography
        self._node_rngs: dict[str, random.Random] = {}
        self._now = 0.0
        self._heap: list[_Event] = []
        self._seq = itertools.count()
        self._running = False

        self._factories: dict[str, Callable[[], SimNode]] = {}
        self._live: dict[str, SimNode] = {}
        self._timers: dict[str, dict[str, int]] = {}  # node -> key -> seq of its heap entry
        self._links: dict[str, dict[str, LinkModel]] = {}  # src -> dst -> override
        self._fifo_last: dict[tuple[str, str], float] = {}  # last delivery time, FIFO links
        # (start, end, group index by node, id); unlisted nodes share group -1.
        self._partitions: list[tuple[float, float, dict[str, int], int]] = []
        self._partition_ids = itertools.count(1)

        self._events = 0
        self._sent = 0
        self._delivered = 0
        self._dropped_link = 0
        self._dropped_partition = 0
        self._dropped_crashed = 0
        self._duplicated = 0
        self._timers_fired = 0
        self._starts = 0
        self._crashes = 0

    # ----------------------------------------------------------------------- inspection

    @property
    def now(self) -> float:
        """Simulator time in seconds (starts at 0.0; only ``run`` advances it)."""
        return self._now

    @property
    def names(self) -> list[str]:
        """Every added node, in the order added."""
        return list(self._factories)

    def node(self, name: str) -> SimNode | None:
        """The live node object, or None while ``name`` is down (crashed or not started)."""
        self._check_known(name)
        return self._live.get(name)

    def is_up(self, name: str) -> bool:
        self._check_known(name)
        return name in self._live

    def rng_for(self, name: str) -> random.Random:
        """A random stream for ``name``, derived from the seed alone.

        Node factories should draw their randomness here, never from the ``random`` module.
        The same object is returned on every call, so an incarnation after a restart continues
        the stream instead of replaying its predecessor's choices.
        """
        rng = self._node_rngs.get(name)
        if rng is None:
            # str seeds are hashed with SHA-512 by random.Random: stable across processes.
            rng = random.Random(f"peoplenet.sim/{self.seed}/{name}")  # noqa: S311 -- simulation
            self._node_rngs[name] = rng
        return rng

    @property
    def stats(self) -> RunStats:
        """The counters so far (``stop_reason`` is None)."""
        return self._snapshot(None)

    def pending_events(self) -> int:
        """Scheduled entries, including replaced timers not yet discarded."""
        return len(self._heap)

    # ----------------------------------------------------------------------- setup

    def add_node(
        self, name: str, factory: Callable[[], SimNode], *, at: float | None = None
    ) -> None:
        """Add a node, started (``factory()`` then ``start``) at ``at`` (default: now).

        The factory runs again at every restart: whatever it closes over is durable state.
        """
        if type(name) is not str or not name:
            raise LocalError("a node name is a non-empty str")
        if name in self._factories:
            raise LocalError(f"node {name!r} already added")
        if not callable(factory):
            raise LocalError("factory must be callable")
        when = self._check_time(self._now if at is None else at)
        self._factories[name] = factory
        self._timers[name] = {}
        self._push(when, _START, name)

    def set_link(self, src: str, dst: str, link: LinkModel) -> None:
        """Override the link model for messages from ``src`` to ``dst`` (one direction)."""
        self._check_known(src)
        self._check_known(dst)
        if not isinstance(link, LinkModel):
            raise LocalError("link must be a LinkModel")
        self._links.setdefault(src, {})[dst] = link

    def partition(
        self, groups: Iterable[Iterable[str]], start: float, end: float | None = None
    ) -> int:
        """Cut the network between ``groups`` during ``[start, end)`` (forever if ``end`` is None).

        Nodes named in no group form one more group together, so ``partition([["a"]], ...)``
        isolates ``a``.  Returns an id for :meth:`heal`.  Overlapping partitions combine: a
        message is dropped if any of them separates its two ends.
        """
        index: dict[str, int] = {}
        if isinstance(groups, str):
            raise LocalError("groups is an iterable of iterables of node names")
        for i, group in enumerate(groups):
            if isinstance(group, str):
                raise LocalError("each group is an iterable of node names, not a str")
            for name in group:
                self._check_known(name)
                if name in index:
                    raise LocalError(f"node {name!r} is in two groups")
                index[name] = i
        start = self._check_time(start, allow_past=True)
        stop = _INF if end is None else self._check_time(end, allow_past=True)
        if not stop > start:  # also rejects NaN
            raise LocalError(f"partition end {end!r} must be after start {start!r}")
        pid = next(self._partition_ids)
        self._partitions.append((start, stop, index, pid))
        return pid

    def heal(self, partition_id: int, at: float) -> None:
        """End partition ``partition_id`` at ``at`` (it can only be shortened)."""
        at = self._check_time(at, allow_past=True)
        for i, (start, stop, index, pid) in enumerate(self._partitions):
            if pid == partition_id:
                if not at > start:
                    raise LocalError("a partition must heal after it starts")
                self._partitions[i] = (start, min(stop, at), index, pid)
                return
        raise LocalError(f"no partition {partition_id!r}")

    def crash(self, name: str, at: float) -> None:
        """At ``at``: discard the node object, its pending timers; drop messages to it.

        Crashing a node that is already down does nothing.
        """
        self._check_known(name)
        self._push(self._check_time(at), _CRASH, name)

    def restart(self, name: str, at: float) -> None:
        """At ``at``: call the factory again and ``start`` the new object.

        Restarting a live node reboots it: it is crashed first, at the same instant.
        """
        self._check_known(name)
        self._push(self._check_time(at), _START, name)

    def send_external(self, dst: str, data: bytes, at: float, *, src: str = "external") -> None:
        """Deliver ``data`` to ``dst`` at exactly ``at``, as if from ``src``.

        For tests and simulated clients: no link faults or partitions apply (the caller is
        the network here), but a node that is down at ``at`` does not get it.
        """
        self._check_known(dst)
        if type(data) is not bytes:
            raise LocalError("message data must be bytes")
        if type(src) is not str:
            raise LocalError("src must be a str")
        when = self._check_time(at)
        self._sent += 1
        self._push(when, _DELIVER, dst, src=src, data=data, sent_at=-1.0)

    # ----------------------------------------------------------------------- running

    def run(
        self,
        until: float | None = None,
        *,
        stop_when: Callable[[Simulator], bool] | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> RunStats:
        """Process events in time order until one of:

        * the next event is later than ``until`` (then ``now`` becomes ``until``);
        * no events are left ("idle"; ``now`` becomes ``until`` if given);
        * ``stop_when(self)``, checked after every event, returns True.

        Raises :class:`EventLimitError` if ``max_events`` events were processed in this call
        and another is still due, so a run can never loop forever.  Raises
        :class:`SimulationError` if a node raises or returns an invalid action.
        """
        if self._running:
            raise LocalError("run() is not reentrant")
        limit = _INF
        if until is not None:
            limit = float(until)
            if not limit >= self._now or limit == _INF:
                raise LocalError(f"until={until!r} must be finite and >= now ({self._now})")
        if type(max_events) is not int or max_events < 1:
            raise LocalError("max_events must be a positive int")

        heap = self._heap
        timers = self._timers
        stop_at = self._events + max_events  # self._events stays current for stop_when
        reason: StopReason = "idle"
        self._running = True
        try:
            while heap:
                if heap[0][0] > limit:
                    reason = "until"
                    break
                t, seq, kind, name, a, b, c = _heappop(heap)
                if kind == _TIMER and timers[name].get(a) != seq:
                    continue  # replaced, cancelled, or its incarnation crashed
                if self._events >= stop_at:
                    _heappush(heap, (t, seq, kind, name, a, b, c))
                    raise EventLimitError(
                        f"max_events={max_events} reached at t={self._now:.6f} with events "
                        "still due (message storm or zero-delay timer loop?)",
                        self._snapshot(None),
                    )
                self._events += 1
                self._now = t
                if kind == _DELIVER:
                    self._deliver(name, a, b, c, t)
                elif kind == _TIMER:
                    self._fire(name, a, t)
                elif kind == _START:
                    self._do_start(name, t)
                else:
                    self._do_crash(name, t)
                if stop_when is not None and stop_when(self):
                    reason = "stop_when"
                    break
        finally:
            self._running = False
        if reason != "stop_when" and until is not None:
            self._now = limit
        return self._snapshot(reason)

    # ----------------------------------------------------------------------- internals

    def _deliver(self, dst: str, src: str, data: bytes, sent_at: float, now: float) -> None:
        """Hand one message copy to ``dst`` unless it is down or cut off by a partition.

        ``sent_at`` is negative for external injections, which partitions do not affect.
        """
        node = self._live.get(dst)
        if node is None:
            self._dropped_crashed += 1
            if self.trace is not None:
                self.trace.append(("drop", now, "crashed", src, dst))
            return
        if sent_at >= 0.0 and self._partitions and self._cut(src, dst, sent_at, now):
            self._dropped_partition += 1
            if self.trace is not None:
                self.trace.append(("drop", now, "partition", src, dst))
            return
        self._delivered += 1
        if self.trace is not None:
            self.trace.append(("deliver", now, src, dst, data))
        try:
            self._apply(dst, node.receive(src, data, now))
        except SimulationError:
            raise
        except Exception as exc:
            raise self._wrap(exc, dst, f"receive from {src!r}") from exc

    def _fire(self, name: str, key: str, now: float) -> None:
        del self._timers[name][key]
        node = self._live[name]  # a pending timer implies a live incarnation
        self._timers_fired += 1
        if self.trace is not None:
            self.trace.append(("timer", now, name, key))
        try:
            self._apply(name, node.timer(key, now))
        except SimulationError:
            raise
        except Exception as exc:
            raise self._wrap(exc, name, f"timer {key!r}") from exc

    def _apply(self, src: str, actions: Iterable[Action]) -> None:
        """Carry out a node's actions (called inside the node's ``try``)."""
        if actions is None:
            raise SimulationError(f"node {src!r} returned None; return () for no actions", node=src)
        now = self._now
        for act in actions:
            if type(act) is Send:
                data = act.data
                if data.__class__ is not bytes:
                    raise SimulationError(
                        f"node {src!r} sent {type(data).__name__}, not bytes", node=src
                    )
                self._send(src, act.dst, data, now)
            elif type(act) is SetTimer:
                at = act.at
                if not at >= now:
                    if at < now:
                        at = now
                    else:
                        raise SimulationError(f"node {src!r} set a timer at {at!r}", node=src)
                elif at == _INF:
                    raise SimulationError(f"node {src!r} set a timer at infinity", node=src)
                seq = next(self._seq)
                self._timers[src][act.key] = seq
                _heappush(self._heap, (at, seq, _TIMER, src, act.key, None, 0.0))
            elif type(act) is CancelTimer:
                self._timers[src].pop(act.key, None)
            else:
                raise SimulationError(f"node {src!r} returned {act!r}, not an Action", node=src)

    def _send(self, src: str, dst: str, data: bytes, now: float) -> None:
        if dst not in self._factories:
            raise SimulationError(f"node {src!r} sent to unknown node {dst!r}", node=src)
        self._sent += 1
        link = self.default_link
        if self._links:
            overrides = self._links.get(src)
            if overrides is not None:
                link = overrides.get(dst, link)
        rng = self._rng
        if link.drop_rate and rng.random() < link.drop_rate:
            self._dropped_link += 1
            if self.trace is not None:
                self.trace.append(("drop", now, "link", src, dst))
            return
        lo = link.min_delay
        span = link.max_delay - lo
        at = now + lo + span * rng.random()
        copy = link.duplicate_rate and rng.random() < link.duplicate_rate
        if copy:
            self._duplicated += 1
            at2 = now + lo + span * rng.random()
        if not link.reorder:
            pair = (src, dst)
            at = max(at, self._fifo_last.get(pair, at))
            if copy:
                at2 = max(at2, at)
            self._fifo_last[pair] = at2 if copy else at
        _heappush(self._heap, (at, next(self._seq), _DELIVER, dst, src, data, now))
        if copy:
            _heappush(self._heap, (at2, next(self._seq), _DELIVER, dst, src, data, now))

    def _cut(self, src: str, dst: str, sent_at: float, now: float) -> bool:
        """Whether an active partition separates ``src`` and ``dst`` during the flight."""
        for start, stop, index, _ in self._partitions:
            if start <= now and stop > sent_at and index.get(src, -1) != index.get(dst, -1):
                return True
        return False

    def _do_start(self, name: str, now: float) -> None:
        if name in self._live:
            self._do_crash(name, now)
        self._starts += 1
        if self.trace is not None:
            self.trace.append(("start", now, name))
        try:
            node = self._factories[name]()
            self._live[name] = node
            self._apply(name, node.start(now))
        except SimulationError:
            raise
        except Exception as exc:
            raise self._wrap(exc, name, "start") from exc

    def _do_crash(self, name: str, now: float) -> None:
        if self._live.pop(name, None) is None:
            return
        self._timers[name].clear()
        self._crashes += 1
        if self.trace is not None:
            self.trace.append(("crash", now, name))

    def _wrap(self, exc: Exception, name: str, event: str) -> SimulationError:
        return SimulationError(
            f"node {name!r} raised {type(exc).__name__} in {event} at t={self._now:.6f}: {exc}",
            node=name,
            event=event,
            at=self._now,
        )

    def _push(
        self,
        at: float,
        kind: int,
        name: str,
        *,
        src: str = "",
        data: bytes = b"",
        sent_at: float = 0.0,
    ) -> None:
        _heappush(self._heap, (at, next(self._seq), kind, name, src, data, sent_at))

    def _check_known(self, name: str) -> None:
        if name not in self._factories:
            raise LocalError(f"unknown node {name!r}")

    def _check_time(self, at: float, *, allow_past: bool = False) -> float:
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise LocalError(f"a time is a number, got {at!r}")
        at = float(at)
        if not math.isfinite(at) or at < 0.0 or (not allow_past and at < self._now):
            raise LocalError(f"time {at!r} must be finite and not before now ({self._now})")
        return at

    def _snapshot(self, reason: StopReason | None) -> RunStats:
        return RunStats(
            now=self._now,
            events=self._events,
            sent=self._sent,
            delivered=self._delivered,
            dropped_link=self._dropped_link,
            dropped_partition=self._dropped_partition,
            dropped_crashed=self._dropped_crashed,
            duplicated=self._duplicated,
            timers_fired=self._timers_fired,
            starts=self._starts,
            crashes=self._crashes,
            stop_reason=reason,
        )
