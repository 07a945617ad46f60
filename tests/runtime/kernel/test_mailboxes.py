"""Mailboxes in the multiproc queue base: a burst between a parent and its child never
blocks either of them (thespian's bounded queues made each wait for the other, minutes)."""

from __future__ import annotations

import time

import pytest

from peoplenet.runtime.kernel import ActorSystemHandle
from tests.runtime.kernel.mailbox_actors import Burst

pytestmark = pytest.mark.processes

BURST = 200
"""Far more than a bounded mailbox holds (thespian's: 10 messages per actor)."""


@pytest.mark.parametrize("actor_system", ["multiproc_queue"], indirect=True)
def test_a_burst_each_way_between_parent_and_child_does_not_deadlock(
    actor_system: ActorSystemHandle,
) -> None:
    """The parent sends its child a burst without reading its own mailbox, and the child
    answers each message at once: with bounded mailboxes the child's answers fill the
    parent's, the child waits, its own mailbox fills and the parent waits too -- both
    stuck for thespian's five-minute send timeout, and every ask through the parent (the
    root's, too) with them."""
    parent = actor_system.spawn(Burst, "burst", None)
    actor_system.tell(parent, ("burst", BURST))
    deadline = time.monotonic() + 15.0
    pongs = 0
    while pongs < BURST and time.monotonic() < deadline:
        pongs_now = actor_system.ask(parent, "pongs", 10.0)
        assert isinstance(pongs_now, int)
        pongs = pongs_now
        time.sleep(0.05)
    assert pongs == BURST
    assert actor_system.child("burst") == parent  # the root answers too
