"""Containing a plugin that raises or hangs, so the node and the other apps go on.

Each app instance (one app in one community) gets a worker thread; every hook call runs there
and the caller waits at most ``deadline_s``.  A call that raises (anything but the app's own
:class:`~peoplenet.plugins.api.AppTxRejected`) is a *failure*; ``max_failures`` failures in a row
fault
the instance (counted per hook: a hook that always raises is not saved by another hook that
works).  A call that misses its deadline faults it at once: its thread is stuck in the
plugin's code, and Python cannot stop a thread, so the instance is abandoned (the daemon thread
dies with the process; a restart replays the app from the lace).  A faulted instance gets no
more calls; why it faulted is kept for ``peoplenet apps list``.

Several hooks of one instance can run in one visit to its thread (:meth:`Guard.call_many`:
the blocks a message brought, then the duties), with the same deadline per hook and the same
failure count as one :meth:`Guard.call` each: a visit is two thread switches, and a node
answers many small messages.

Why threads and not processes: an app's state lives in the app's Python objects and is
touched on every ordered transaction; a process per app would copy it across a pipe per call.
A hung plugin costs one stuck thread until the node restarts -- contained, not free.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from peoplenet.plugins.api import AppCommandError, AppTxRejected, ConsentRefused
from peoplenet.runtime.errors import PluginError
from peoplenet.runtime.log import get_logger

DEFAULT_DEADLINE_S: Final = 2.0
DEFAULT_MAX_FAILURES: Final = 3

EXPECTED: Final = (AppTxRejected, AppCommandError, ConsentRefused)
"""What an app raises on purpose (a refusal): passed through, never a failure."""

T = TypeVar("T")
_log = get_logger("peoplenet.plugins.guard")


class PluginFailed(PluginError):
    """A hook raised or hung; ``faulted`` says whether the instance is now out of service."""

    reason = "plugin_failed"

    def __init__(
        self,
        app: str,
        hook: str,
        detail: str,
        *,
        faulted: bool,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(f"{app}.{hook}: {detail}")
        self.app, self.hook, self.detail, self.faulted = app, hook, detail, faulted
        self.error = error
        """What the hook raised (None: it hung)."""


class PluginRaised(PluginFailed):
    """A hook raised something other than the app's own refusals (:data:`EXPECTED`)."""

    reason = "plugin_raised"


class PluginHung(PluginFailed):
    """A hook did not return within the deadline (its thread is abandoned), or returned later
    than it."""

    reason = "plugin_hung"


class AppFaulted(PluginError):
    """The instance was faulted earlier; nothing is called any more."""

    reason = "app_faulted"


class _Lane:
    """One worker thread's way in and out: the work on a queue, and one byte on a pipe to wake
    the thread, one byte on another when it is done.

    Why pipes: ``os.write`` and ``os.read`` let go of the GIL around the system call, so the
    thread being woken finds it free and runs at once.  Woken through a lock or an event (the
    waker still holding the GIL), it first sleeps again waiting for the GIL, and so does the
    waker on the way back: five or six context switches a visit instead of two, and about
    twice the CPU.  The thread closes the pipes when it ends (:data:`None` posted); a thread
    stuck in a plugin keeps its lane, so a byte it writes late reaches no other thread.
    """

    __slots__ = ("_done_r", "_done_w", "_poll", "_wake_r", "_wake_w", "items")

    def __init__(self) -> None:
        self.items: queue.SimpleQueue[_Call | _Batch | None] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        self._done_r, self._done_w = os.pipe()
        self._poll = select.poll()
        self._poll.register(self._done_r, select.POLLIN)

    def post(self, item: _Call | _Batch | None) -> None:
        """Hand the thread ``item`` (None: end)."""
        self.items.put(item)
        os.write(self._wake_w, b"\0")

    def wait(self, timeout_s: float) -> bool:
        """Whether the item posted last was done within ``timeout_s``."""
        if not self._poll.poll(max(timeout_s, 0.0) * 1000):
            return False
        os.read(self._done_r, 1)
        return True

    def serve(self) -> None:
        """The thread's loop: run what is posted, say when each is done, until None."""
        try:
            while True:
                os.read(self._wake_r, 1)
                item = self.items.get_nowait()
                if item is None:
                    return
                item.run()
                os.write(self._done_w, b"\0")
        finally:
            for fd in (self._wake_r, self._wake_w, self._done_r, self._done_w):
                os.close(fd)


@dataclass(slots=True)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    result: Any = None
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed to the caller, never lost
            self.error = exc


@dataclass(slots=True)
class _Batch:
    """Hooks run in order in one visit; the visit stops at the first that raises or runs long."""

    calls: Sequence[tuple[str, Callable[[], Any]]]
    deadline_s: float
    refusals: Sequence[tuple[type[BaseException], ...]] = ()
    """Per hook, what it may raise on purpose (:meth:`Guard.call`'s ``expected``)."""
    results: list[Any] = field(default_factory=list)
    """The results of the hooks that returned, in order."""
    error: BaseException | None = None
    """What the hook after them raised (it ends the visit)."""
    refused: bool = False
    """``error`` is that hook's refusal, not a failure."""
    slow: bool = False
    """The last hook run took longer than the deadline."""
    current: tuple[int, float] = (0, 0.0)
    """The hook running now and when it started (read by the waiting caller)."""
    cancelled: bool = False
    """Set by the caller once a hook hung: nothing after it may run."""
    finished: bool = False
    """The visit is over (read by the waiting caller)."""

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.finished = True

    def _run(self) -> None:
        for i, (_, fn) in enumerate(self.calls):
            if self.cancelled:
                return
            started = time.monotonic()
            self.current = (i, started)
            try:
                self.results.append(fn())
            except BaseException as exc:  # handed to the caller, never lost
                self.error = exc
                self.refused = i < len(self.refusals) and isinstance(exc, self.refusals[i])
                return
            if time.monotonic() - started > self.deadline_s:
                self.slow = True
                return


Outcome = Any
"""What :meth:`Guard.call_many` gives per hook: its result, its refusal, or the
:class:`PluginFailed` / :class:`AppFaulted` that :meth:`Guard.call` would have raised."""


class _NotRun:
    """The outcome of a chained hook whose predecessor did not return (:meth:`Guard.call_many`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN: Final = _NotRun()


class Guard:
    """One app instance's calls: on its worker thread, with a deadline and a failure count."""

    def __init__(
        self,
        app: str,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.max_failures = max_failures
        self.failures: dict[str, int] = {}
        """Failures in a row, per hook."""
        self.faulted = ""
        self._lane: _Lane | None = None
        self._ending: weakref.finalize[[_Call | _Batch | None], Guard] | None = None

    def _start(self) -> _Lane:
        lane = self._lane
        if lane is None:
            lane = self._lane = _Lane()
            # The thread holds the lane, never the guard: a guard dropped without close()
            # still ends its idle thread (and closes the pipes).
            threading.Thread(target=lane.serve, name=f"app-{self.app}", daemon=True).start()
            self._ending = weakref.finalize(self, lane.post, None)
            self._ending.atexit = False  # at exit the daemon thread just stops
        return lane

    def _abandon(self) -> None:
        """Leave the thread (stuck in the plugin, or idle): it ends if it ever comes back."""
        if self._ending is not None:
            self._ending()  # posts None to the lane, once
        self._lane = self._ending = None

    def call(
        self,
        hook: str,
        fn: Callable[..., T],
        *args: Any,
        expected: tuple[type[BaseException], ...] = EXPECTED,
        deadline_s: float | None = None,
    ) -> T:
        """``fn(*args)`` on the worker; the app's refusals (:data:`EXPECTED`) pass through.

        ``deadline_s`` shortens the wait for this call (a hook called inside another app's
        hook must answer well within that hook's own deadline)."""
        if self.faulted:
            raise AppFaulted(f"{self.app} is out of service here: {self.faulted}")
        lane = self._start()
        call = _Call(fn, args)
        lane.post(call)
        wait_s = self.deadline_s if deadline_s is None else deadline_s
        if not lane.wait(wait_s):
            raise self._hung(hook, wait_s)
        if call.error is None:
            self.failures.pop(hook, None)
            result: T = call.result
            return result
        if expected and isinstance(call.error, expected):
            self.failures.pop(hook, None)
            raise call.error
        raise self._failed(hook, call.error)

    def call_many(
        self,
        calls: Sequence[tuple[str, Callable[[], Any]]],
        *,
        refusals: Sequence[tuple[type[BaseException], ...]] = (),
        chain_from: int | None = None,
    ) -> list[Outcome]:
        """Each ``(hook, fn)`` in order, as :meth:`call` would run it (with ``refusals[i]`` as
        its ``expected``, none by default), but in as few visits to the thread as the hooks
        allow (one when none fails).

        Returns one outcome per call: its result, the refusal it raised, or the
        :class:`PluginFailed` (it raised, hung or ran past the deadline) or
        :class:`AppFaulted` (not run: the instance was faulted before it) that :meth:`call`
        would have raised.  A hook runs only if every hook before it left the instance in
        service, as with one :meth:`call` each; from ``chain_from`` on, only if the hook
        before it returned (the ones after a refusal or a failure there are :data:`NOT_RUN`:
        check, then apply).
        """
        out: list[Outcome] = []
        while len(out) < len(calls):
            if self.faulted:
                gone = AppFaulted(f"{self.app} is out of service here: {self.faulted}")
                out.extend(gone for _ in calls[len(out) :])
                break
            lane = self._start()
            done = len(out)
            batch = _Batch(
                calls[done:], self.deadline_s, refusals[done:], current=(0, time.monotonic())
            )
            lane.post(batch)
            hung = self._wait(lane, batch)
            if hung is not None:
                batch.cancelled = True  # should the hook ever return, run nothing after it
                for hook, _ in batch.calls[:hung]:
                    self.failures.pop(hook, None)
                out.extend(batch.results[:hung])
                out.append(self._hung(batch.calls[hung][0]))
                continue
            ran = batch.results
            for hook, _ in batch.calls[: len(ran)]:
                self.failures.pop(hook, None)
            if batch.slow:  # the last one answered, but later than call() would have waited
                out.extend(ran[:-1])
                out.append(self._hung(batch.calls[len(ran) - 1][0], abandon=False))
            elif batch.error is not None:
                out.extend(ran)
                hook = batch.calls[len(ran)][0]
                if batch.refused:
                    self.failures.pop(hook, None)
                    out.append(batch.error)
                else:
                    out.append(self._failed(hook, batch.error))
                if chain_from is not None and len(out) > chain_from:
                    out.extend(NOT_RUN for _ in calls[len(out) :])
            else:
                out.extend(ran)
        return out

    def _wait(self, lane: _Lane, batch: _Batch) -> int | None:
        """Wait for the visit, each hook ``deadline_s`` from its start; the one that hung, or
        None."""
        if lane.wait(self.deadline_s):
            return None
        while True:
            seen = batch.current
            left = seen[1] + self.deadline_s - time.monotonic()
            if left <= 0 and batch.current is seen and not batch.finished:
                return seen[0]
            if lane.wait(max(left, 0.001)):
                return None

    def _hung(self, hook: str, wait_s: float | None = None, *, abandon: bool = True) -> PluginHung:
        waited = self.deadline_s if wait_s is None else wait_s
        self._fault(hook, f"no answer within {waited} s (hung)")
        if abandon:
            self._abandon()  # it is stuck in the plugin
        return PluginHung(self.app, hook, self.faulted, faulted=True)

    def _failed(self, hook: str, error: BaseException) -> PluginRaised:
        count = self.failures[hook] = self.failures.get(hook, 0) + 1
        detail = f"raised {error!r}"
        _log.warning("plugin_failed", app=self.app, hook=hook, error=repr(error))
        if count >= self.max_failures:
            self._fault(hook, f"{count} failures in a row, last: {detail}")
        return PluginRaised(self.app, hook, detail, faulted=bool(self.faulted), error=error)

    def _fault(self, hook: str, why: str) -> None:
        self.faulted = f"{hook}: {why}"
        _log.error("plugin_faulted", app=self.app, hook=hook, why=why)

    def close(self) -> None:
        """Let an idle worker end (a stuck one cannot be helped)."""
        self._abandon()


__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_FAILURES",
    "NOT_RUN",
    "AppFaulted",
    "Guard",
    "PluginFailed",
    "PluginHung",
    "PluginRaised",
]
