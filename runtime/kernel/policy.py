"""Restart policy and its pure bookkeeping: backoff and the escalation window.

Why pure: the supervisor's decisions (when to restart, when to give up) are testable without
processes or clocks; callers pass ``now``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from peoplenet.runtime.errors import LocalError


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a parent treats a failing child.

    More than ``max_restarts`` failures within ``window_s`` seconds escalate (the parent stops
    the child and fails itself).  Restart ``n`` in the window waits
    ``min(backoff_initial_s * 2 ** (n - 1), backoff_max_s)``.  With ``heartbeat_s`` set the parent
    pings the child that often and kills it (multiproc bases) when no answer comes within
    ``heartbeat_timeout_s``.
    """

    max_restarts: int = 3
    window_s: float = 60.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    heartbeat_s: float | None = None
    heartbeat_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.window_s <= 0:
            raise LocalError("max_restarts must be >= 0 and window_s > 0")
        if self.backoff_initial_s < 0 or self.backoff_max_s < self.backoff_initial_s:
            raise LocalError("need 0 <= backoff_initial_s <= backoff_max_s")
        if self.heartbeat_s is not None and self.heartbeat_s <= 0:
            raise LocalError("heartbeat_s must be positive")
        if self.heartbeat_timeout_s <= 0:
            raise LocalError("heartbeat_timeout_s must be positive")


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """What to do after a failure: restart after ``delay_s``, or escalate."""

    escalate: bool
    delay_s: float
    failures_in_window: int


@dataclass(slots=True)
class RestartWindow:
    """Failure times of one child within the policy window."""

    policy: RestartPolicy
    _times: deque[float] = field(default_factory=deque)

    def on_failure(self, now: float) -> RestartDecision:
        """Record a failure at ``now`` and decide."""
        self._times.append(now)
        while self._times and self._times[0] < now - self.policy.window_s:
            self._times.popleft()
        n = len(self._times)
        if n > self.policy.max_restarts:
            return RestartDecision(True, 0.0, n)
        p = self.policy
        delay = min(p.backoff_initial_s * 2 ** (n - 1), p.backoff_max_s)
        return RestartDecision(False, delay, n)
