"""The actor kernel: our typed actor API over thespian (the only code that imports thespian).

See docs/actors.md for supervision, timers, the bridge and the choice of base.
"""

from peoplenet.runtime.kernel.actor import Actor, TimerHandle
from peoplenet.runtime.kernel.bridge import Bridge
from peoplenet.runtime.kernel.policy import RestartDecision, RestartPolicy, RestartWindow
from peoplenet.runtime.kernel.ref import Ref
from peoplenet.runtime.kernel.system import (
    ActorError,
    ActorFailed,
    ActorSystemHandle,
    AskTimeout,
    Base,
    Failure,
    free_tcp_port,
)

__all__ = [
    "Actor",
    "ActorError",
    "ActorFailed",
    "ActorSystemHandle",
    "AskTimeout",
    "Base",
    "Bridge",
    "Failure",
    "Ref",
    "RestartDecision",
    "RestartPolicy",
    "RestartWindow",
    "TimerHandle",
    "free_tcp_port",
]
