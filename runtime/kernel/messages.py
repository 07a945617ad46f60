"""The kernel's private messages between actors, supervisors and the system handle.

Why frozen dataclasses at module level: the multiproc bases pickle every message, and pickle
finds classes by module path; slotted and keyword-only as every actor message is
(actors/member/messages.py says why).  None of these ever reaches an actor's ``receive``.
"""

from __future__ import annotations

from dataclasses import dataclass

from peoplenet.runtime.kernel.policy import RestartPolicy
from peoplenet.runtime.kernel.ref import Ref


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Parent -> new child: who you are, and the init value for ``on_start``."""

    name: str
    generation: int
    init: object
    parent: Ref | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """Child -> parent, before ``on_start``: its real Ref and the PID a hang detector may kill.

    Why the Ref: ``createActor`` returns a provisional local address in the parent; only the
    child knows the address every other process will see.
    """

    name: str
    generation: int
    pid: int
    ref: Ref


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """Child -> parent: I crashed (error type and text) and am exiting.

    ``fatal``: the error was :class:`~peoplenet.runtime.errors.Unrecoverable`; do not restart me.
    """

    name: str
    generation: int
    error_type: str
    error: str
    fatal: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopping:
    """Child -> parent: I am stopping on purpose; do not restart me."""

    name: str
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequest:
    """Handle -> actor: stop cleanly (the kernel tells the parent first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PidQuery:
    """Handle -> root: answer ``Reply(tag, (pid, ppid))`` (the ppid is the admin)."""

    tag: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Parent -> child heartbeat; answered by the kernel from the message loop."""

    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """Child -> parent heartbeat answer."""

    name: str
    generation: int
    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask:
    """Handle -> actor: a message whose answer the handle is waiting for under ``tag``."""

    tag: int
    msg: object


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """Actor -> handle: the answer to ask ``tag``."""

    tag: int
    msg: object


@dataclass(frozen=True, slots=True, kw_only=True)
class AskFailed:
    """Actor (kernel) -> handle: the asked actor crashed or is exiting, no answer will come."""

    tag: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SpawnRequest:
    """Handle -> root: start a supervised top-level actor."""

    cls: type
    name: str
    init: object
    policy: RestartPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class SpawnError:
    """Root -> handle: the spawn was refused (a duplicate name, say)."""

    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildQuery:
    """Handle -> root: the current Ref of a top-level actor."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FailuresQuery:
    """Handle -> root: which top-level actors were given up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """Wakeup payload of :meth:`Actor.after`."""

    timer_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeTick:
    """Wakeup payload: drain the bridge queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartDue:
    """Wakeup payload: the backoff for child ``name`` is over."""

    name: str
    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatDue:
    """Wakeup payload: ping child ``name`` (``seq`` 0) or check it answered ping ``seq``."""

    name: str
    generation: int
    seq: int
