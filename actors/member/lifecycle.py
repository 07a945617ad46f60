"""The runner's messages to a running node: wait until it listens, stop its network.

They sit apart from the actors so that the runner, the supervisor and the network actor share
them without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitReady:
    """External -> supervisor: answer once the network listens (or failed to)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    host: str
    port: int
    member: bytes
    session: int
    """The session (and process group) of the actor processes: thespian's admin calls setsid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StopNetwork:
    """Supervisor -> network: close connections and unregister before the system goes down."""
