"""The supervisor's book of control requests it passed to a child and not yet seen answered.

Why: a child that dies (a crash, SIGKILL) loses the requests it held or was sent meanwhile,
and their asker -- the member's command -- waited for its full timeout (20 s) for an answer
that could not come.  The supervisor now passes each request on under its own number with
itself as the one to answer, relays the answer, and when the child fails answers every
request still open at once, with the reason.  Pure bookkeeping: the actor shell sends.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Final, Generic, TypeVar

from peoplenet.actors.member.messages import ControlReply, ControlRequest

ChildFailed: Final = "child_failed"
"""``ControlReply.reason`` of a request lost with the child that held it."""

NODE_RESTARTING: Final = "node_restarting"
"""``ControlReply.reason`` of a request that came while the actor to answer it is restarting."""

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class _Open(Generic[A]):
    child: str
    request: int
    """The asker's own request number (restored on the answer)."""
    asker: A


class Relay(Generic[A]):
    """Requests passed on, by the number they were passed on under; ``A``: whom to answer."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._open: dict[int, _Open[A]] = {}
        self._failures: dict[str, str] = {}

    def pass_on(self, child: str, req: ControlRequest, asker: A) -> ControlRequest:
        """The request to send ``child`` (renumbered); its answer goes through :meth:`answer`."""
        number = next(self._numbers)
        self._open[number] = _Open(child, req.request, asker)
        return replace(req, request=number)

    def answer(self, reply: ControlReply) -> tuple[A, ControlReply] | None:
        """Whom to send the child's ``reply`` to, renumbered back (None: not ours, or late)."""
        entry = self._open.pop(reply.request, None)
        if entry is None:
            return None
        self._failures.pop(entry.child, None)
        return entry.asker, replace(reply, request=entry.request)

    def child_failed(self, child: str, reason: str) -> list[tuple[A, ControlReply]]:
        """``child`` died: an answer for every request it held, saying why."""
        self._failures[child] = reason
        lost = [n for n, e in self._open.items() if e.child == child]
        out = []
        for number in lost:
            entry = self._open.pop(number)
            text = f"the node's {child} actor failed ({reason}) before answering; it is restarted"
            lost_reply = ControlReply(
                request=entry.request, ok=False, result=None, error=text, reason=ChildFailed
            )
            out.append((entry.asker, lost_reply))
        return out

    def last_failure(self, child: str) -> str | None:
        """Why ``child`` last failed, until it answers a request again."""
        return self._failures.get(child)

    def __len__(self) -> int:
        return len(self._open)


__all__ = ["NODE_RESTARTING", "ChildFailed", "Relay"]
