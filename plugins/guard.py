"""Containing a plugin that raises or hangs, so the node and the other apps go on.

Each app instance (one app in one community) gets a worker thread; every hook call runs there
and the caller waits at most ``deadline_s``.  A call that raises (anything but the app's own
:class:`~plugins.api.AppTxRejected`) is a *failure*; ``max_failures`` failures in a row fault
the instance (counted per hook: a hook that always raises is not saved by another hook that
works).  A call that misses its deadline faults it at once: its thread is stuck in the
plugin's code, and Python cannot stop a thread, so the instance is abandoned (the daemon thread
dies with the process; a restart replays the app from the lace).  A faulted instance gets no
more calls; why it faulted is kept for ``peoplenet apps list``.

Why threads and not processes: an app's state lives in the app's Python objects and is
touched on every ordered transaction; a process per app would copy it across a pipe per call.
A hung plugin costs one stuck thread until the node restarts -- contained, not free.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from plugins.api import AppCommandError, AppTxRejected, ConsentRefused
from runtime.errors import LocalError
from runtime.log import get_logger

DEFAULT_DEADLINE_S: Final = 2.0
DEFAULT_MAX_FAILURES: Final = 3

EXPECTED: Final = (AppTxRejected, AppCommandError, ConsentRefused)
"""What an app raises on purpose (a refusal): passed through, never a failure."""

T = TypeVar("T")
_log = get_logger("plugins.guard")


class PluginFailed(LocalError):
    """A hook raised or hung; ``faulted`` says whether the instance is now out of service."""

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


class AppFaulted(LocalError):
    """The instance was faulted earlier; nothing is called any more."""


@dataclass(slots=True)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


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
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def _worker(self) -> None:
        while True:
            call = self._queue.get()
            if call is None:
                return
            try:
                call.result = call.fn(*call.args)
            except BaseException as exc:  # handed to the caller, never lost
                call.error = exc
            call.done.set()

    def call(
        self,
        hook: str,
        fn: Callable[..., T],
        *args: Any,
        expected: tuple[type[BaseException], ...] = EXPECTED,
    ) -> T:
        """``fn(*args)`` on the worker; the app's refusals (:data:`EXPECTED`) pass through."""
        if self.faulted:
            raise AppFaulted(f"{self.app} is out of service here: {self.faulted}")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._worker, name=f"app-{self.app}", daemon=True
            )
            self._thread.start()
        call = _Call(fn, args)
        self._queue.put(call)
        if not call.done.wait(self.deadline_s):
            self._fault(hook, f"no answer within {self.deadline_s} s (hung)")
            self._thread = None  # abandoned: it is stuck in the plugin
            raise PluginFailed(self.app, hook, self.faulted, faulted=True)
        if call.error is None:
            self.failures.pop(hook, None)
            result: T = call.result
            return result
        if expected and isinstance(call.error, expected):
            self.failures.pop(hook, None)
            raise call.error
        count = self.failures[hook] = self.failures.get(hook, 0) + 1
        detail = f"raised {call.error!r}"
        _log.warning("plugin_failed", app=self.app, hook=hook, error=repr(call.error))
        if count >= self.max_failures:
            self._fault(hook, f"{count} failures in a row, last: {detail}")
        raise PluginFailed(self.app, hook, detail, faulted=bool(self.faulted), error=call.error)

    def _fault(self, hook: str, why: str) -> None:
        self.faulted = f"{hook}: {why}"
        _log.error("plugin_faulted", app=self.app, hook=hook, why=why)

    def close(self) -> None:
        """Let an idle worker end (a stuck one cannot be helped)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None


__all__ = ["DEFAULT_DEADLINE_S", "DEFAULT_MAX_FAILURES", "AppFaulted", "Guard", "PluginFailed"]
