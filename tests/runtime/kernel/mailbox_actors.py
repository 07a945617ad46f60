"""Actors for the mailbox tests: a parent and its child that message each other in bursts,
as the node's supervisor and its children do (importable by module path, as the multiproc
bases need)."""

from __future__ import annotations

from peoplenet.runtime.kernel import Actor, Ref

CHILD = "echo"


class Echo(Actor):
    """Answers every ``("ping", n)`` with ``("pong", n)`` to whoever sent it."""

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, tuple) and msg[0] == "ping":
            self.tell(sender, ("pong", msg[1]))


class Burst(Actor):
    """On ``("burst", n)`` sends its child ``n`` pings in one go (it reads nothing meanwhile);
    counts the pongs; answers ``"pongs"`` with the count."""

    def on_start(self, init: object) -> None:
        self.pongs = 0
        self.spawn(Echo, CHILD, None)

    def receive(self, msg: object, sender: Ref) -> None:
        if msg == "pongs":
            self.reply(self.pongs)
        elif isinstance(msg, tuple) and msg[0] == "burst":
            child = self.child(CHILD)
            assert child is not None
            for n in range(msg[1]):
                self.tell(child, ("ping", n))
        elif isinstance(msg, tuple) and msg[0] == "pong":
            self.pongs += 1
