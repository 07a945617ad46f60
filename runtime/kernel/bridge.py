"""Bridge: hands messages from a foreign thread (an asyncio loop) to an actor's message loop.

Why a queue and a polling wakeup: thespian's send path is not thread-safe, so a loop thread must
never call it; the actor drains this queue on a timer instead (fast while traffic flows, slow
when idle) and delivers each item to ``receive`` in order.
"""

from __future__ import annotations

import queue
import threading


class Bridge:
    """A thread-safe, ordered mailbox into one actor.  Create with ``Actor.start_bridge``."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = threading.Event()

    def post(self, msg: object) -> bool:
        """Queue ``msg`` for the actor (any thread).  False once the bridge is closed."""
        if self._closed.is_set():
            return False
        self._queue.put(msg)
        return True

    @property
    def closed(self) -> bool:
        """True after the actor stopped; posts are dropped from then on."""
        return self._closed.is_set()

    def close(self) -> None:
        """Refuse further posts (called by the kernel when the actor stops)."""
        self._closed.set()

    def drain(self, limit: int) -> list[object]:
        """Take up to ``limit`` queued messages, oldest first (actor thread only)."""
        out: list[object] = []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out
