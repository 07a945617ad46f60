"""Actors used by the kernel tests (importable by module path, as the multiproc bases need)."""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field

from peoplenet.runtime.errors import StoreCorrupt
from peoplenet.runtime.kernel import Actor, Bridge, Ref, RestartPolicy, TimerHandle


@dataclass(frozen=True)
class WorkerInit:
    """Init for :class:`Worker`: where to report and how to behave."""

    recorder: Ref | None = None
    label: str = ""
    fail_on_start: bool = False


@dataclass(frozen=True)
class Event:
    """What actors report to the :class:`Recorder`."""

    kind: str
    label: str
    pid: int
    at: float
    ref: Ref | None = None
    detail: tuple[str, ...] = field(default=())


class Recorder(Actor):
    """Collects events; answers "events" with all of them."""

    def on_start(self, init: object) -> None:
        self.events: list[Event] = []

    def receive(self, msg: object, sender: Ref) -> None:
        if msg == "events":
            self.reply(tuple(self.events))
        elif isinstance(msg, Event):
            self.events.append(msg)


class Worker(Actor):
    """Echoes, crashes, hangs, replies late, and reports its life to a recorder."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, WorkerInit)
        self.init = init
        self.seen: list[str] = []
        self.timers: dict[str, TimerHandle] = {}
        self._report("started")
        if init.fail_on_start:
            raise RuntimeError("cannot start")

    def on_stop(self) -> None:
        self._report("stopped")

    def _report(self, kind: str, *detail: str) -> None:
        if self.init.recorder is not None:
            event = Event(kind, self.init.label, os.getpid(), time.monotonic(), self.me, detail)
            self.tell(self.init.recorder, event)

    def receive(self, msg: object, sender: Ref) -> None:
        self.seen.append(f"{type(msg).__module__}.{type(msg).__name__}")
        match msg:
            case "crash":
                raise RuntimeError("boom")
            case "damaged":
                raise StoreCorrupt("store.sqlite is damaged")
            case "hang":
                time.sleep(60)
            case "pid":
                self.reply(os.getpid())
            case "gc":
                self.reply(gc.get_threshold())
            case "label":
                self.reply(self.init.label)
            case "me":
                self.reply(self.me)
            case "parent":
                self.reply(self.parent)
            case "seen":
                self.reply(tuple(self.seen))
            case ("later", float() as delay, answer):
                self.after(delay, ("answer", sender, answer))
            case ("answer", Ref() as asker, answer):
                self.tell(asker, answer)
            case ("timers", str() as keep, str() as drop):
                self.timers[keep] = self.after(0.02, ("fired", keep))
                self.timers[drop] = self.after(0.02, ("fired", drop))
                self.cancel(self.timers[drop])
            case ("fired", str() as name):
                self._report("fired", name)
            case ("echo", value):
                self.reply(value)
            case _:
                self._report("unknown", repr(msg))


@dataclass(frozen=True)
class SupervisorInit:
    """Init for :class:`Supervisor`: its one child's init and policy."""

    recorder: Ref
    child_init: WorkerInit
    child_policy: RestartPolicy


class Supervisor(Actor):
    """Runs one Worker "w" and reports its restarts."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, SupervisorInit)
        self.init = init
        self.spawn(Worker, "w", init.child_init, init.child_policy)

    def on_child_restarted(self, name: str, ref: Ref) -> None:
        self.tell(self.init.recorder, Event("restarted", name, os.getpid(), time.monotonic(), ref))

    def receive(self, msg: object, sender: Ref) -> None:
        if msg == "child":
            self.reply(self.child("w"))
        elif isinstance(msg, tuple) and msg[0] == "to_child":
            ref = self.child("w")
            if ref is not None:
                self.tell(ref, msg[1])


@dataclass(frozen=True)
class BridgeInit:
    """Init for :class:`BridgeUser`: how many messages its thread posts."""

    count: int
    gap_s: float = 0.0


class BridgeUser(Actor):
    """A thread posts numbered, timestamped messages; the actor records delivery latency."""

    def on_start(self, init: object) -> None:
        import threading  # noqa: PLC0415

        assert isinstance(init, BridgeInit)
        self.bridge: Bridge = self.start_bridge()
        self.got: list[int] = []
        self.latencies: list[float] = []
        self.senders_ok = True
        self.done_at = 0.0
        self.started_at = time.monotonic()
        self.thread = threading.Thread(target=self._post, args=(init,), daemon=True)
        self.thread.start()

    def _post(self, init: BridgeInit) -> None:
        for n in range(init.count):
            self.bridge.post(("posted", n, time.monotonic()))
            if init.gap_s:
                time.sleep(init.gap_s)

    def receive(self, msg: object, sender: Ref) -> None:
        match msg:
            case ("posted", int() as n, float() as at):
                self.got.append(n)
                self.latencies.append(time.monotonic() - at)
                self.senders_ok = self.senders_ok and sender == self.me
                self.done_at = time.monotonic()
            case "result":
                self.reply(
                    (
                        tuple(self.got),
                        tuple(self.latencies),
                        self.senders_ok,
                        self.done_at - self.started_at,
                    )
                )
