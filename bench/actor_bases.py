"""Actor system bases compared: start, spawn, one-way and ask rates, shutdown, open sockets.

Why: the node must pick a thespian base by numbers, not by default.  Everything runs through
our kernel (``peoplenet.runtime.kernel``), so the numbers include its small per-message routing
cost;
``thespian_tcp_one_way_rate`` is the baseline the transport benchmark compares against.
Run: ``python -m peoplenet.bench.actor_bases [--seconds S]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peoplenet.runtime.kernel import Actor, ActorSystemHandle, Base, Bridge, Ref

BASES: tuple[Base, ...] = ("simple", "multiproc_queue", "multiproc_tcp")
BATCH_ITEMS = 256
ITEM_BYTES = 200
BURST = 100
"""Messages a driver sends before yielding to its own mailbox (a self-message)."""


@dataclass(frozen=True)
class Blast:
    """Driver instruction: send to ``sink`` for ``seconds``; ``batch`` sends 256 x 200 B."""

    sink: Ref
    seconds: float
    batch: bool


@dataclass(frozen=True)
class Done:
    """Driver -> sink: the blast is over; answer ``(messages, elapsed_s)`` to ``reply_to``."""

    reply_to: Ref
    started: float


class Sink(Actor):
    """Counts what it receives; reports on :class:`Done`."""

    def on_start(self, init: object) -> None:
        self.count = 0

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, Done):
            self.tell(msg.reply_to, (self.count, time.monotonic() - msg.started))
            self.count = 0
        elif isinstance(msg, tuple):
            self.count += len(msg)
        elif msg == "pid":
            self.reply(os.getpid())
        else:
            self.count += 1


class Driver(Actor):
    """Sends one-way messages to a sink as fast as the transport accepts them."""

    def on_start(self, init: object) -> None:
        self.blast: Blast | None = None
        self.asker: Ref | None = None
        self.started = self.until = 0.0
        self.payload: object = 1

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, Blast):
            self.blast, self.asker = msg, sender
            self.payload = (
                tuple(os.urandom(ITEM_BYTES) for _ in range(BATCH_ITEMS)) if msg.batch else 1
            )
            self.started = time.monotonic()
            self.until = self.started + msg.seconds
            self.tell(self.me, "more")
        elif msg == "more" and self.blast is not None:
            for _ in range(BURST):
                self.tell(self.blast.sink, self.payload)
            if time.monotonic() < self.until:
                self.tell(self.me, "more")
            else:
                assert self.asker is not None
                self.tell(self.blast.sink, Done(self.asker, self.started))
                self.blast = None
        elif msg == "pid":
            self.reply(os.getpid())


class Echo(Actor):
    """Answers every ask with its message."""

    def receive(self, msg: object, sender: Ref) -> None:
        self.reply(msg)


@dataclass(frozen=True)
class BridgeRun:
    """Post ``count`` messages from a thread, ``gap_s`` apart."""

    count: int
    gap_s: float


class BridgeProbe(Actor):
    """Measures bridge delivery latency and throughput inside one actor process."""

    def on_start(self, init: object) -> None:
        self.bridge: Bridge = self.start_bridge()
        self.latencies: list[float] = []
        self.first = self.last = 0.0
        self.expected = 0
        self.asker: Ref | None = None

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, BridgeRun):
            self.latencies, self.expected, self.asker = [], msg.count, sender
            threading.Thread(target=self._post, args=(msg,), daemon=True).start()
        elif isinstance(msg, float):
            now = time.monotonic()
            if not self.latencies:
                self.first = msg
            self.latencies.append(now - msg)
            self.last = now
            if len(self.latencies) == self.expected and self.asker is not None:
                self.tell(self.asker, (tuple(self.latencies), self.last - self.first))

    def _post(self, run: BridgeRun) -> None:
        for _ in range(run.count):
            self.bridge.post(time.monotonic())
            if run.gap_s:
                time.sleep(run.gap_s)


def _one_way(handle: ActorSystemHandle, seconds: float, batch: bool, tag: str) -> float:
    sink = handle.spawn(Sink, f"sink-{tag}", None)
    driver = handle.spawn(Driver, f"driver-{tag}", None)
    answer = handle.ask(driver, Blast(sink, seconds, batch), seconds + 60)
    assert isinstance(answer, tuple)
    messages, elapsed = answer
    return float(messages / elapsed)


def thespian_tcp_one_way_rate(seconds: float) -> float:
    """Actor-to-actor one-way messages/s on multiprocTCPBase (free admin port; shut down)."""
    with (
        tempfile.TemporaryDirectory() as logs,
        ActorSystemHandle.start("multiproc_tcp", "tcp-rate", log_dir=Path(logs)) as handle,
    ):
        return _one_way(handle, seconds, batch=False, tag="raw")


def _ask_rate(handle: ActorSystemHandle, seconds: float) -> float:
    echo = handle.spawn(Echo, "echo", None)
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        handle.ask(echo, n, 10)
        n += 1
    return n / (time.monotonic() - start)


def _bridge(handle: ActorSystemHandle) -> dict[str, float]:
    probe = handle.spawn(BridgeProbe, "bridge", None)
    out: dict[str, float] = {}
    for label, run in (("burst", BridgeRun(20_000, 0.0)), ("steady_1ms", BridgeRun(300, 0.001))):
        answer = handle.ask(probe, run, 60)
        assert isinstance(answer, tuple)
        latencies, span = answer
        ms = sorted(x * 1000 for x in latencies)
        out[f"{label}_p50_ms"] = round(statistics.median(ms), 2)
        out[f"{label}_p99_ms"] = round(ms[int(len(ms) * 0.99) - 1], 2)
        if label == "burst":
            out["burst_posts_per_s"] = round(len(ms) / span) if span > 0 else 0.0
    idle: list[float] = []
    for _ in range(10):
        time.sleep(0.6)  # past the fast-cadence linger: the actor is on the idle cadence
        answer = handle.ask(probe, BridgeRun(1, 0.0), 10)
        assert isinstance(answer, tuple)
        idle.append(answer[0][0] * 1000)
    out["idle_p50_ms"] = round(statistics.median(idle), 2)
    out["idle_max_ms"] = round(max(idle), 2)
    return out


def _proc_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _process_tree(pids: set[int]) -> set[int]:
    """The actors' admin (thespian double-forks it, so it is found upwards) and all under it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_proc_stat(int(entry))[1])
            except OSError:
                continue
    tops = set()
    for start in pids:
        pid = start
        while parents.get(pid, 1) not in (1, os.getpid()):
            pid = parents[pid]
        tops.add(pid)
    tree, frontier = set(tops), set(tops)
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - tree
        tree |= frontier
    return tree | {os.getpid()}


def listening_sockets(pids: set[int]) -> list[str]:
    """TCP listeners and bound UDP sockets owned by ``pids`` (from /proc/net and fd links)."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found: set[str] = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/net/{proto}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if inode not in inodes or (proto.startswith("tcp") and state != "0A"):
                continue
            host, port = local.split(":")
            addr = "any" if set(host) == {"0"} else host  # "any": bound on all interfaces
            found.add(f"{proto} {addr}:{int(port, 16)}")
    return sorted(found)


def measure_base(base: Base, seconds: float) -> dict[str, object]:
    """Every number for one base."""
    with tempfile.TemporaryDirectory() as logs:
        t0 = time.monotonic()
        handle = ActorSystemHandle.start(base, f"bench-{base}", log_dir=Path(logs))
        result: dict[str, object] = {"start_s": round(time.monotonic() - t0, 4)}
        try:
            t0 = time.monotonic()
            for n in range(10):
                handle.spawn(Echo, f"spawn{n}", None)
            result["spawn_ms"] = round((time.monotonic() - t0) * 100, 2)
            result["one_way_small_per_s"] = round(_one_way(handle, seconds, False, "small"))
            batch_rate = _one_way(handle, seconds, True, "batch")
            result["one_way_batch256x200B_items_per_s"] = round(batch_rate)
            result["one_way_batch256x200B_msgs_per_s"] = round(batch_rate / BATCH_ITEMS, 1)
            result["ask_round_trips_per_s"] = round(_ask_rate(handle, seconds))
            if base != "simple":
                result["bridge"] = _bridge(handle)
            sink = handle.spawn(Sink, "pid-probe", None)
            pid = handle.ask(sink, "pid", 5)
            assert isinstance(pid, int)
            tree = _process_tree({pid}) if pid != os.getpid() else {pid}
            result["processes"] = len(tree - {os.getpid()})
            result["listening_sockets"] = listening_sockets(tree)
        finally:
            t0 = time.monotonic()
            handle.shutdown()
            result["shutdown_s"] = round(time.monotonic() - t0, 4)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every base and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each rate phase")
    parser.add_argument("--bases", nargs="*", default=list(BASES), choices=BASES)
    args = parser.parse_args(argv)
    report: dict[str, object] = {"seconds_per_phase": args.seconds}
    for base in args.bases:
        report[base] = measure_base(base, args.seconds)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    import logging

    from peoplenet.runtime.log import configure

    configure(level=logging.WARNING)  # stdout carries only the JSON
    raise SystemExit(main())
