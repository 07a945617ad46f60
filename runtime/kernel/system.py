"""ActorSystemHandle: start, use and always shut down one thespian actor system.

Why a handle: thespian's ActorSystem is a process-wide singleton, its ``ask`` returns whatever
message comes next, and leftover admin processes outlive a crashed program.  The handle owns a
private (``transientUnique``) system with its own log files, tags each ask so a late answer is
never mistaken for the current one, and supervises top-level actors through a root actor.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

from thespian.actors import ActorSystem

from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.kernel.actor import Actor
from peoplenet.runtime.kernel.mailboxes import unbounded_mailboxes
from peoplenet.runtime.kernel.messages import (
    Ask,
    AskFailed,
    ChildQuery,
    FailuresQuery,
    PidQuery,
    Reply,
    SpawnError,
    SpawnRequest,
    Start,
    StopRequest,
)
from peoplenet.runtime.kernel.policy import RestartPolicy
from peoplenet.runtime.kernel.proctree import reap, tree
from peoplenet.runtime.kernel.ref import Ref, ref_of
from peoplenet.runtime.kernel.safelog import SafeLogger
from peoplenet.runtime.log import get_logger

Base = Literal["simple", "multiproc_queue", "multiproc_tcp"]

THESPIAN_BASES: Final[dict[str, str]] = {
    "simple": "simpleSystemBase",
    "multiproc_queue": "multiprocQueueBase",
    "multiproc_tcp": "multiprocTCPBase",
}

CONTROL_TIMEOUT_S: Final = 10.0
"""How long spawn/child/failures wait for the root actor."""

_log = SafeLogger(get_logger("kernel"))
SHUTDOWN_GRACE_S: Final = 3.0
"""How long shutdown waits for the admin's process tree before killing it by PID."""
A = TypeVar("A", bound=Actor)


class ActorError(PeoplenetError):
    """An actor did not answer as asked."""

    reason = "actor_error"


class AskTimeout(ActorError):
    """No answer to an ``ask`` within its timeout (the actor may be dead or busy)."""

    reason = "actor_timeout"


class ActorFailed(ActorError):
    """The asked actor crashed while handling the question, or was already exiting."""

    reason = "actor_failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A top-level actor the system gave up on (restart limit exceeded)."""

    name: str
    error_type: str
    error: str
    fatal: bool = False
    """Given up at once on an :class:`~peoplenet.runtime.errors.Unrecoverable` error, not after
    retries."""


class _Root(Actor):
    """Supervises the handle's top-level actors and records the ones given up."""

    def on_start(self, init: object) -> None:
        self._given_up: list[Failure] = []
        self._spawn_waiters: dict[str, Ref] = {}

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, SpawnRequest):
            if msg.name in self.children():
                self.reply(SpawnError(error=f"a top-level actor named {msg.name!r} exists"))
                return
            self.spawn(msg.cls, msg.name, msg.init, msg.policy)
            self._spawn_waiters[msg.name] = sender  # answered with the real Ref on Hello
        elif isinstance(msg, ChildQuery):
            self.reply(self.child(msg.name))
        elif isinstance(msg, FailuresQuery):
            self.reply(tuple(self._given_up))

    def _on_child_ready(self, name: str, ref: Ref) -> None:
        waiter = self._spawn_waiters.pop(name, None)
        if waiter is not None:
            self.tell(waiter, ref)

    def _give_up(self, name: str, error_type: str, error: str, failures: int) -> None:
        self.log.error("top_level_actor_given_up", child=name, error_type=error_type, error=error)
        self._given_up.append(Failure(name=name, error_type=error_type, error=error))

    def _give_up_fatal(self, name: str, error_type: str, error: str) -> None:
        self.log.error(
            "top_level_actor_given_up", child=name, error_type=error_type, error=error, fatal=True
        )
        self._given_up.append(Failure(name=name, error_type=error_type, error=error, fatal=True))


def free_tcp_port() -> int:
    """A currently free TCP port on 127.0.0.1 (for thespian's admin port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _log_defs(path: Path) -> dict[str, Any]:
    """Thespian logDefs: actors' stdlib WARNING+ records to one file (never ``False``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s p%(process)d %(levelname)s %(name)s %(message)s"}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(path),
                "formatter": "plain",
                "level": "WARNING",
            }
        },
        "root": {"handlers": ["file"], "level": "WARNING"},
    }


def _set_thesplog_file(path: Path) -> None:
    """Point thespian's internal log at ``path`` for systems started from now on.

    THESPLOG_FILE is read once per process and cached, and forked admins inherit the cache.
    """
    from thespian.system import utilis  # noqa: PLC0415 - kernel-internal detail

    os.environ["THESPLOG_FILE"] = str(path)
    utilis._thesplog_file = None


class ActorSystemHandle:
    """One private actor system.  Use as a context manager; ``shutdown`` is idempotent."""

    def __init__(self, system: Any, root: Ref, base: Base, name: str, log_dir: Path) -> None:
        self._system: Any = system
        self._root = root
        self.base: Base = base
        self.name = name
        self.log_dir = log_dir
        self._ask_tags = itertools.count(1)
        self._admin_pid: int | None = None
        self.killed_on_shutdown: frozenset[int] = frozenset()
        """PIDs that did not end after thespian's shutdown and were SIGKILLed (normally none)."""

    @classmethod
    def start(
        cls,
        base: Base,
        name: str,
        *,
        log_dir: Path,
        admin_port: int | None = None,
        capabilities: dict[str, object] | None = None,
    ) -> ActorSystemHandle:
        """Start a private system on ``base``; thespian logs go to files in ``log_dir``.

        ``multiproc_tcp`` binds its admin port (a free one unless given) on all interfaces.
        """
        if base not in THESPIAN_BASES:
            raise LocalError(f"unknown actor system base {base!r}")
        log_dir.mkdir(parents=True, exist_ok=True)
        unbounded_mailboxes()  # before the admin forks: every actor's queue inherits it
        _set_thesplog_file(log_dir / f"{name}.thespian.log")
        caps: dict[str, object] = dict(capabilities or {})
        if base == "multiproc_tcp":
            caps["Admin Port"] = admin_port if admin_port is not None else free_tcp_port()
        # simpleSystemBase applies logDefs to *this* process's logging; False skips that there.
        # In the multiproc bases False crashes every actor start (thespian 4.0.1), so use a dict.
        log_defs: object = False if base == "simple" else _log_defs(log_dir / f"{name}.actors.log")
        started = time.monotonic()
        system = ActorSystem(
            THESPIAN_BASES[base], caps or None, logDefs=log_defs, transientUnique=True
        )
        try:
            root = ref_of(system.createActor(_Root))
            system.tell(root.address, Start(name="root", generation=0, init=None, parent=None))
        except BaseException:
            system.shutdown()
            raise
        handle = cls(system, root, base, name, log_dir)
        if base != "simple":
            try:
                handle._admin_pid = handle._find_admin()
            except BaseException:
                handle.shutdown()
                raise
        _log.debug("actor_system_started", base=base, name=name, s=time.monotonic() - started)
        return handle

    def _find_admin(self) -> int:
        """The admin's PID: the root actor's parent process."""
        system = self._live()
        tag = next(self._ask_tags)
        system.tell(self._root.address, PidQuery(tag=tag))
        deadline = time.monotonic() + CONTROL_TIMEOUT_S
        while (remaining := deadline - time.monotonic()) > 0:
            got = system.listen(remaining)
            if isinstance(got, Reply) and got.tag == tag:
                pids = got.msg
                assert isinstance(pids, tuple)
                ppid = pids[1]
                assert isinstance(ppid, int)
                return ppid
        raise AskTimeout("the root actor did not answer at start")

    def __enter__(self) -> ActorSystemHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    @property
    def running(self) -> bool:
        """False after ``shutdown``."""
        return self._system is not None

    def _live(self) -> Any:
        if self._system is None:
            raise LocalError("the actor system is shut down")
        return self._system

    def spawn(
        self,
        cls: type[A],
        name: str,
        init: object,
        policy: RestartPolicy | None = None,
    ) -> Ref:
        """Start a supervised top-level actor ``name`` (unique per system)."""
        pol = policy if policy is not None else RestartPolicy()
        answer = self.ask(
            self._root, SpawnRequest(cls=cls, name=name, init=init, policy=pol), CONTROL_TIMEOUT_S
        )
        if isinstance(answer, SpawnError):
            raise LocalError(answer.error)
        assert isinstance(answer, Ref)
        return answer

    def child(self, name: str) -> Ref | None:
        """The current Ref of top-level actor ``name`` (None while restarting or when gone)."""
        answer = self.ask(self._root, ChildQuery(name=name), CONTROL_TIMEOUT_S)
        assert answer is None or isinstance(answer, Ref)
        return answer

    def failures(self) -> tuple[Failure, ...]:
        """Top-level actors given up after exceeding their restart policy."""
        answer = self.ask(self._root, FailuresQuery(), CONTROL_TIMEOUT_S)
        assert isinstance(answer, tuple)
        return answer

    def tell(self, ref: Ref, msg: object) -> None:
        """Send ``msg`` to ``ref`` from outside the system."""
        self._live().tell(ref.address, msg)

    def stop(self, ref: Ref) -> None:
        """Ask ``ref`` to stop cleanly; its supervisor will not restart it."""
        self._live().tell(ref.address, StopRequest())

    def ask(self, ref: Ref, msg: object, timeout: float) -> object:
        """Send ``msg`` and wait for the actor's ``reply``.

        Raises :class:`AskTimeout` after ``timeout`` seconds and :class:`ActorFailed` when the
        actor crashed on the question; answers to earlier, timed-out asks are discarded.
        """
        system = self._live()
        tag = next(self._ask_tags)
        system.tell(ref.address, Ask(tag=tag, msg=msg))
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            got = system.listen(remaining)
            if isinstance(got, Reply) and got.tag == tag:
                return got.msg
            if isinstance(got, AskFailed) and got.tag == tag:
                raise ActorFailed(f"{ref!r} failed on {type(msg).__name__}: {got.reason}")
            if got is not None:
                _log.debug("stale_answer_dropped", kind=type(got).__name__)
        raise AskTimeout(f"no answer from {ref!r} to {type(msg).__name__} within {timeout}s")

    def shutdown(self) -> None:
        """Stop every actor and the admin/logger processes.  Safe to call twice."""
        system, self._system = self._system, None
        if system is None:
            return
        started = time.monotonic()
        processes = tree(self._admin_pid) if self._admin_pid is not None else set()
        try:
            system.shutdown()
        except Exception as exc:
            _log.warning("actor_system_shutdown_failed", name=self.name, error=repr(exc))
        killed = reap(processes, SHUTDOWN_GRACE_S)
        self.killed_on_shutdown = frozenset(killed)
        if killed:
            _log.warning("actor_processes_killed", name=self.name, pids=sorted(killed))
        _log.debug("actor_system_shut_down", name=self.name, s=time.monotonic() - started)


logging.getLogger("thespian").addHandler(logging.NullHandler())
