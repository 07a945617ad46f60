"""The contract every sans-IO core keeps with its shell, and its one unit of time.

A core (consensus, an app lace replica, the social core with its dissemination, the
simulator's anti-entropy) never reads a clock, sleeps or does I/O.  The shell (an actor, the
simulator, a benchmark) calls it with what happened and ``now``, and gets back a :class:`Step`:

* **what to send** -- ``sends``: ``(peer, message)`` pairs, in order;
* **what happened** -- the core's own typed fields (deliveries, added blocks, refusals,
  events), named for what they are;
* **when to wake** -- ``wake_at``: call the core's ``tick`` at that time (``None``: nothing is
  due, stay quiet; a later step's ``wake_at`` replaces an earlier one).

**Time** is float seconds on the shell's monotonic clock (``time.monotonic()`` in a node, the
virtual clock in the simulator), passed as ``now``; ``wake_at`` is on the same clock.  Wall-
clock time is never a core's ``now``: what must be agreed across members (a decision's
deadline) travels in blocks, and the app hosts that keep it take it as their own argument
(``now_ms``, integer milliseconds of wall-clock time: see docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

M_co = TypeVar("M_co", covariant=True)


@runtime_checkable
class Step(Protocol[M_co]):
    """What a core's call asks of its shell (see the module docstring)."""

    @property
    def sends(self) -> Sequence[tuple[bytes, M_co]]:
        """``(peer, message)`` to send, in order."""
        ...

    @property
    def wake_at(self) -> float | None:
        """When to call ``tick`` (shell's monotonic seconds), or None."""
        ...


def earliest(*times: float | None) -> float | None:
    """The earliest of ``times`` that is set (None if none is): two wishes to be woken."""
    due = [t for t in times if t is not None]
    return min(due) if due else None


__all__ = ["Step", "earliest"]
