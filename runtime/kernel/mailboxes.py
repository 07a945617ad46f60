"""Unbounded mailboxes for thespian's multiproc queue base: a send never blocks an actor.

Why: thespian gives each actor's queue room for 10 messages (the admin's: 40), and a send to a
full queue blocks the sending actor for up to its transmit timeout, five minutes.  Between a
parent and its child that is a deadlock: the parent sends its child a burst while the child
answers each message, the answers fill the parent's queue, the child waits to send, its own
queue fills and the parent waits too.  On a node the supervisor relays every message between
its children (the network and a community's consensus actor send each other peers' blocks
through it), so a consensus actor busy for a moment under traffic was enough: the supervisor
and it waited on each other, the root waited to hand the supervisor the next command, and
every command to the node answered "the node is restarting" for minutes, with nothing logged.

With unbounded queues an actor's send returns at once (multiprocessing's feeder thread writes
into the pipe), so no actor waits on another; what bounds a node's traffic is its own limits
on peers' messages (docs/security.md), not the mailboxes.
"""

from __future__ import annotations

from typing import Final

from thespian.system.transport import MultiprocessQueueTransport as _queue_transport

UNBOUNDED: Final = 0
"""``multiprocessing.Queue(0)``: no limit (the platform's semaphore maximum)."""


def unbounded_mailboxes() -> None:
    """Make every queue thespian creates from now on, in this process and the processes it
    forks (the admin, every actor), unbounded.  Idempotent; call before starting a system."""
    _queue_transport.MAX_ACTOR_QUEUESIZE = UNBOUNDED
    _queue_transport.MAX_ADMIN_QUEUESIZE = UNBOUNDED


def mailbox_limits() -> tuple[int, int]:
    """The queue sizes thespian will use now: (actor, admin); 0 is unbounded."""
    return (
        int(_queue_transport.MAX_ACTOR_QUEUESIZE),
        int(_queue_transport.MAX_ADMIN_QUEUESIZE),
    )


__all__ = ["UNBOUNDED", "mailbox_limits", "unbounded_mailboxes"]
