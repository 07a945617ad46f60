"""Actor: the base class every Peoplenet actor subclasses, over thespian's message loop.

Why our own base: subclasses see a small typed API (``receive``, ``tell``, ``reply``, ``after``,
``spawn``) and never a thespian system message; the kernel here does start-up with an init
value, timers, the bridge, heartbeats and let-it-crash supervision of children.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal, TypeVar

from thespian.actors import (
    Actor as _ThespianActor,
)
from thespian.actors import (
    ActorExitRequest,
    ActorSystemMessage,
    ChildActorExited,
    PoisonMessage,
    WakeupMessage,
)

from peoplenet.runtime.errors import LocalError, Unrecoverable
from peoplenet.runtime.kernel.bridge import Bridge
from peoplenet.runtime.kernel.gc_tuning import tune_gc
from peoplenet.runtime.kernel.messages import (
    Ask,
    AskFailed,
    BridgeTick,
    Failed,
    HeartbeatDue,
    Hello,
    PidQuery,
    Ping,
    Pong,
    Reply,
    RestartDue,
    Start,
    Stopping,
    StopRequest,
    TimerFired,
)
from peoplenet.runtime.kernel.policy import RestartPolicy, RestartWindow
from peoplenet.runtime.kernel.ref import Ref, ref_of
from peoplenet.runtime.kernel.safelog import SafeLogger
from peoplenet.runtime.log import get_logger

A = TypeVar("A", bound="Actor")

_State = Literal["new", "running", "failed", "stopping"]

BRIDGE_DRAIN_LIMIT = 1000
"""Most bridge messages delivered per wakeup, so pings and timers still get a turn."""


@dataclass(frozen=True, slots=True)
class TimerHandle:
    """Returned by :meth:`Actor.after`; pass it to :meth:`Actor.cancel`."""

    timer_id: int


@dataclass(slots=True)
class _ChildSlot:
    """A parent's view of one named child across its restarts."""

    name: str
    cls: type[Actor]
    init: object
    policy: RestartPolicy
    window: RestartWindow
    ref: Ref | None = None
    generation: int = 0
    pid: int | None = None
    exit_reason: tuple[str, str] | None = None  # (error_type, text); ("", "") = clean stop
    fatal: bool = False  # the child crashed with an Unrecoverable error: never restart it
    ping_seq: int = 0
    pong_seq: int = 0
    history: list[float] = field(default_factory=list)


_CLEAN_STOP = ("", "")


class Actor(_ThespianActor):  # type: ignore[misc]
    """Base class: override ``on_start``, ``receive`` and, if needed, ``on_stop``.

    Everything raised by ``on_start``/``receive``/``on_child_restarted`` crashes this actor: the
    kernel reports the error to the parent, which restarts it per its :class:`RestartPolicy`.
    """

    bridge_busy_s: ClassVar[float] = 0.002
    """Bridge drain cadence while messages flow."""
    bridge_idle_s: ClassVar[float] = 0.05
    """Bridge drain cadence when idle."""
    bridge_linger_s: ClassVar[float] = 0.5
    """How long after the last bridged message the fast cadence is kept."""

    def __init__(self) -> None:
        super().__init__()
        self._state: _State = "new"
        self._name = ""
        self._generation = 0
        self._parent: Ref | None = None
        self._me: Ref | None = None
        self._log: Any = None
        self._stash: list[tuple[object, Ref]] = []
        self._sender: Ref | None = None
        self._timer_ids = itertools.count(1)
        self._timers: dict[int, object] = {}
        self._bridge: Bridge | None = None
        self._bridge_last_item = 0.0
        self._children: dict[str, _ChildSlot] = {}
        self._child_by_key: dict[str, str] = {}

    # -- the API for subclasses ------------------------------------------------------------

    def on_start(self, init: object) -> None:
        """Called once per incarnation with the spawn's init value."""

    def receive(self, msg: object, sender: Ref) -> None:
        """Handle one message (``sender`` is ``self.me`` for timers and bridged posts)."""

    def on_stop(self) -> None:
        """Called when the actor exits (clean stop, crash or system shutdown)."""

    def on_child_restarted(self, name: str, ref: Ref) -> None:
        """Called after child ``name`` was restarted under a new ``ref``."""

    def on_child_failed(self, name: str, error_type: str, error: str) -> None:
        """Child ``name`` ended with an error (SIGKILL included): it is restarted or given up.

        A hook: messages the child held or was sent meanwhile are lost; a parent that
        forwarded requests to it answers their askers here instead of leaving them waiting.
        """

    @property
    def me(self) -> Ref:
        """This actor's own Ref."""
        if self._me is None:
            self._me = ref_of(self.myAddress)
        return self._me

    @property
    def name(self) -> str:
        """The name the parent gave this actor (stable across restarts)."""
        return self._name

    @property
    def parent(self) -> Ref | None:
        """The supervising parent (None only for the kernel's root)."""
        return self._parent

    @property
    def log(self) -> Any:
        """structlog logger bound with this actor's name."""
        if self._log is None:
            name = self._name or type(self).__name__
            self._log = SafeLogger(get_logger("actor", actor=name))
        return self._log

    def tell(self, ref: Ref, msg: object) -> None:
        """Send ``msg`` to ``ref`` (fire and forget)."""
        if ref.reply_tag is not None:
            self.send(ref.address, Reply(tag=ref.reply_tag, msg=msg))
        else:
            self.send(ref.address, msg)

    def reply(self, msg: object) -> None:
        """Answer the sender of the message being handled (this also answers an ``ask``)."""
        if self._sender is None:
            raise LocalError("reply() outside of receive()")
        self.tell(self._sender, msg)

    def after(self, seconds: float, msg: object) -> TimerHandle:
        """Deliver ``msg`` to ``receive`` (sender = ``self.me``) after ``seconds``."""
        timer_id = next(self._timer_ids)
        self._timers[timer_id] = msg
        self.wakeupAfter(
            timedelta(seconds=max(seconds, 0.0)), payload=TimerFired(timer_id=timer_id)
        )
        return TimerHandle(timer_id)

    def cancel(self, handle: TimerHandle) -> None:
        """Cancel a timer; harmless if it already fired."""
        self._timers.pop(handle.timer_id, None)

    def spawn(
        self, cls: type[A], name: str, init: object, policy: RestartPolicy | None = None
    ) -> Ref:
        """Start a supervised child; ``cls`` must be importable by module path.

        The returned Ref works at once but is provisional in the multiproc bases (it compares
        unequal to the child's ``self.me``); ``self.child(name)`` gives the real one as soon as
        the child has started.
        """
        if name in self._children:
            raise LocalError(f"a child named {name!r} already exists")
        pol = policy if policy is not None else RestartPolicy()
        slot = _ChildSlot(name, cls, init, pol, RestartWindow(pol))
        self._children[name] = slot
        return self._launch(slot)

    def child(self, name: str) -> Ref | None:
        """The current Ref of child ``name`` (None while it restarts or after it stopped)."""
        slot = self._children.get(name)
        return None if slot is None else slot.ref

    def child_pid(self, name: str) -> int | None:
        """The process of child ``name`` (None before its first hello or while it restarts)."""
        slot = self._children.get(name)
        return None if slot is None or slot.ref is None else slot.pid

    def children(self) -> dict[str, Ref | None]:
        """Current Refs of all children by name."""
        return {name: slot.ref for name, slot in self._children.items()}

    def stop_child(self, name: str) -> None:
        """Stop child ``name`` for good (no restart)."""
        slot = self._children.get(name)
        if slot is None:
            return
        if slot.ref is None:
            del self._children[name]
            return
        slot.exit_reason = _CLEAN_STOP
        self.send(slot.ref.address, ActorExitRequest())

    def stop(self) -> None:
        """Stop this actor cleanly: the parent is told first, so it will not restart it."""
        if self._state in ("failed", "stopping"):
            return
        self._state = "stopping"
        if self._parent is not None:
            self.send(self._parent.address, Stopping(name=self._name, generation=self._generation))
        self.send(self.myAddress, ActorExitRequest())

    def start_bridge(self) -> Bridge:
        """Open a thread-safe mailbox (see :class:`Bridge`); closed when the actor stops."""
        if self._bridge is not None:
            raise LocalError("bridge already started")
        self._bridge = Bridge()
        self.wakeupAfter(timedelta(seconds=self.bridge_idle_s), payload=BridgeTick())
        return self._bridge

    # -- thespian entry point --------------------------------------------------------------

    def receiveMessage(self, msg: object, sender: Any) -> None:
        """Route one thespian message; system messages stop here."""
        if isinstance(msg, ActorSystemMessage):
            self._on_system_message(msg)
        elif isinstance(msg, Ask):
            self._deliver(msg.msg, ref_of(sender, msg.tag))
        elif isinstance(msg, Ping):
            if self._parent is not None:
                self.send(
                    self._parent.address,
                    Pong(name=self._name, generation=self._generation, seq=msg.seq),
                )
        elif isinstance(msg, Start):
            self._on_start_message(msg)
        elif isinstance(msg, Hello | Failed | Stopping | Pong):
            self._on_child_report(msg)
        elif isinstance(msg, StopRequest):
            self.stop()
        elif isinstance(msg, PidQuery):
            self.send(sender, Reply(tag=msg.tag, msg=(os.getpid(), os.getppid())))
        else:
            self._deliver(msg, ref_of(sender))

    def _on_system_message(self, msg: object) -> None:
        if isinstance(msg, WakeupMessage):
            self._on_wakeup(msg.payload)
        elif isinstance(msg, ChildActorExited):
            self._on_child_exited(msg.childAddress)
        elif isinstance(msg, ActorExitRequest):
            self._on_exit()
        elif isinstance(msg, PoisonMessage):
            self.log.warning("undeliverable", message=repr(msg.poisonMessage)[:200])
        else:
            self.log.debug("system_message_ignored", kind=type(msg).__name__)

    def _on_start_message(self, msg: Start) -> None:
        if self._state != "new":
            return
        self._name, self._generation, self._parent = msg.name, msg.generation, msg.parent
        self._log = None
        if self._parent is not None:
            hello = Hello(name=msg.name, generation=msg.generation, pid=os.getpid(), ref=self.me)
            self.send(self._parent.address, hello)
        self._state = "running"
        tune_gc()  # every actor runs in a long-lived process of its own
        if not self._guard(lambda: self.on_start(msg.init)):
            return
        stash, self._stash = self._stash, []
        for item, sender in stash:
            self._deliver(item, sender)

    def _deliver(self, msg: object, sender: Ref) -> None:
        if self._state == "new":
            self._stash.append((msg, sender))
            return
        if self._state != "running":
            if sender.reply_tag is not None:
                self.send(
                    sender.address, AskFailed(tag=sender.reply_tag, reason=f"actor {self._state}")
                )
            return
        self._sender = sender
        try:
            self._guard(lambda: self.receive(msg, sender))
        finally:
            self._sender = None

    def _guard(self, call: Callable[[], None]) -> bool:
        """Run user code; an exception crashes this actor (let it crash)."""
        try:
            call()
        except Exception as exc:
            self._fail(type(exc).__name__, str(exc), fatal=isinstance(exc, Unrecoverable))
            return False
        return True

    def _fail(self, error_type: str, error: str, *, fatal: bool = False) -> None:
        if self._state in ("failed", "stopping"):
            return
        self._state = "failed"
        self.log.error("actor_crashed", error_type=error_type, error=error, fatal=fatal)
        if self._sender is not None and self._sender.reply_tag is not None:
            self.send(
                self._sender.address, AskFailed(tag=self._sender.reply_tag, reason=error_type)
            )
        if self._parent is not None:
            failed = Failed(
                name=self._name,
                generation=self._generation,
                error_type=error_type,
                error=error,
                fatal=fatal,
            )
            self.send(self._parent.address, failed)
        self.send(self.myAddress, ActorExitRequest())

    def _on_exit(self) -> None:
        if self._state != "failed":
            self._state = "stopping"
        if self._bridge is not None:
            self._bridge.close()
        self._timers.clear()
        try:
            self.on_stop()
        except Exception as exc:
            self.log.warning("on_stop_failed", error_type=type(exc).__name__, error=str(exc))

    def _on_wakeup(self, payload: object) -> None:
        if isinstance(payload, TimerFired):
            msg = self._timers.pop(payload.timer_id, None)
            if msg is not None:
                self._deliver(msg, self.me)
        elif isinstance(payload, BridgeTick):
            self._drain_bridge()
        elif isinstance(payload, RestartDue):
            self._on_restart_due(payload)
        elif isinstance(payload, HeartbeatDue):
            self._on_heartbeat_due(payload)

    def _drain_bridge(self) -> None:
        bridge = self._bridge
        if bridge is None or bridge.closed or self._state != "running":
            return
        items = bridge.drain(BRIDGE_DRAIN_LIMIT)
        now = time.monotonic()
        if items:
            self._bridge_last_item = now
        for item in items:
            if not self._running():
                return
            self._deliver(item, self.me)
        busy = now - self._bridge_last_item < self.bridge_linger_s
        delay = self.bridge_busy_s if busy else self.bridge_idle_s
        self.wakeupAfter(timedelta(seconds=delay), payload=BridgeTick())

    # -- supervision (parent side) ---------------------------------------------------------

    def _running(self) -> bool:
        """A method, not an inline test, so type narrowing forgets it across user calls."""
        return self._state == "running"

    def _launch(self, slot: _ChildSlot) -> Ref:
        slot.generation += 1
        slot.pid = None
        slot.exit_reason = None
        slot.fatal = False
        slot.ping_seq = slot.pong_seq = 0
        address = self.createActor(slot.cls)
        slot.ref = ref_of(address)
        self._child_by_key[slot.ref.key] = slot.name
        self.send(
            address,
            Start(name=slot.name, generation=slot.generation, init=slot.init, parent=self.me),
        )
        return slot.ref

    def _current_slot(self, name: str, generation: int) -> _ChildSlot | None:
        slot = self._children.get(name)
        if slot is None or slot.generation != generation or slot.ref is None:
            return None
        return slot

    def _on_child_report(self, msg: Hello | Failed | Stopping | Pong) -> None:
        slot = self._current_slot(msg.name, msg.generation)
        if slot is None:
            return
        if isinstance(msg, Hello):
            slot.pid = msg.pid
            if slot.ref is not None:
                self._child_by_key.pop(slot.ref.key, None)
            slot.ref = msg.ref
            self._child_by_key[msg.ref.key] = slot.name
            self._on_child_ready(slot.name, msg.ref)
            if slot.generation > 1:
                self._guard(lambda: self.on_child_restarted(msg.name, msg.ref))
            hb = slot.policy.heartbeat_s
            if hb is not None:
                due = HeartbeatDue(name=slot.name, generation=slot.generation, seq=0)
                self.wakeupAfter(timedelta(seconds=hb), payload=due)
        elif isinstance(msg, Failed):
            slot.exit_reason = (msg.error_type, msg.error)
            slot.fatal = msg.fatal
        elif isinstance(msg, Stopping):
            slot.exit_reason = _CLEAN_STOP
        else:
            slot.pong_seq = max(slot.pong_seq, msg.seq)

    def _on_heartbeat_due(self, due: HeartbeatDue) -> None:
        slot = self._current_slot(due.name, due.generation)
        if slot is None or slot.exit_reason is not None or self._state != "running":
            return
        policy = slot.policy
        assert slot.ref is not None
        assert policy.heartbeat_s is not None
        if due.seq == 0:  # time to ping
            slot.ping_seq += 1
            self.send(slot.ref.address, Ping(seq=slot.ping_seq))
            check = HeartbeatDue(name=slot.name, generation=slot.generation, seq=slot.ping_seq)
            self.wakeupAfter(timedelta(seconds=policy.heartbeat_timeout_s), payload=check)
            self.wakeupAfter(timedelta(seconds=policy.heartbeat_s), payload=due)
        elif slot.pong_seq < due.seq:
            self._kill_hung_child(slot)

    def _kill_hung_child(self, slot: _ChildSlot) -> None:
        text = f"no heartbeat answer within {slot.policy.heartbeat_timeout_s}s"
        if slot.pid is None or slot.pid == os.getpid():
            self.log.warning("child_hung_cannot_kill", child=slot.name, error=text)
            return
        self.log.warning("child_hung_killing", child=slot.name, pid=slot.pid, error=text)
        slot.exit_reason = ("Hang", text)
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, signal.SIGKILL)
        # multiprocQueueBase notices dead children only when its queue wait times out
        # (every 2 s otherwise); these wakeups make that wait short.
        for delay in (0.01, 0.05, 0.2, 0.5):
            self.wakeupAfter(timedelta(seconds=delay), payload=None)

    def _on_child_exited(self, address: Any) -> None:
        key = ref_of(address).key
        name = self._child_by_key.pop(key, None)
        if name is None:  # exited before its Hello: only the provisional address is known
            for candidate in self._children.values():
                if candidate.ref is not None and candidate.ref.address == address:
                    name, key = candidate.name, candidate.ref.key
                    self._child_by_key.pop(key, None)
                    break
        if name is None or self._state != "running":
            return
        slot = self._children.get(name)
        if slot is None or slot.ref is None or slot.ref.key != key:
            return
        reason = slot.exit_reason or ("ChildExited", "the child process exited unexpectedly")
        slot.ref = None
        slot.pid = None
        if reason == _CLEAN_STOP:
            del self._children[name]
            return
        self._guard(lambda: self.on_child_failed(name, reason[0], reason[1]))
        if not self._running():
            return
        decision = slot.window.on_failure(time.monotonic())
        escalate = decision.escalate or slot.fatal
        self.log.info(
            "child_failed",
            child=name,
            error_type=reason[0],
            error=reason[1],
            failures_in_window=decision.failures_in_window,
            escalate=escalate,
            fatal=slot.fatal,
            restart_in_s=0.0 if escalate else decision.delay_s,
        )
        if escalate:
            del self._children[name]
            if slot.fatal:
                self._give_up_fatal(name, reason[0], reason[1])
            else:
                self._give_up(name, reason[0], reason[1], decision.failures_in_window)
            return
        due = RestartDue(name=name, generation=slot.generation)
        self.wakeupAfter(timedelta(seconds=decision.delay_s), payload=due)

    def _on_restart_due(self, due: RestartDue) -> None:
        slot = self._children.get(due.name)
        if slot is None or slot.generation != due.generation or slot.ref is not None:
            return
        if not self._running():
            return
        self._launch(slot)

    def _on_child_ready(self, name: str, ref: Ref) -> None:
        """Child ``name`` runs at ``ref`` (its real address); a hook for the root."""

    def _give_up(self, name: str, error_type: str, error: str, failures: int) -> None:
        """Too many failures of child ``name``: fail this actor, so our parent decides."""
        self._fail(
            "Escalated",
            f"child {name!r} failed {failures} times within the window; last: "
            f"{error_type}: {error}",
        )

    def _give_up_fatal(self, name: str, error_type: str, error: str) -> None:
        """Child ``name`` failed unrecoverably: fail with its error, fatal too, up to the top."""
        self._fail(error_type, error, fatal=True)
