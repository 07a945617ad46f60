"""A test actor that keeps the control replies sent to it, for tests that drive node actors
without a control socket."""

from __future__ import annotations

import time

from peoplenet.actors.member.messages import ControlReply
from peoplenet.runtime.kernel import Actor, ActorSystemHandle, Ref


class Replies(Actor):
    """Collects the ControlReplies sent to it; answers "replies" with all of them."""

    def on_start(self, init: object) -> None:
        self.got: list[ControlReply] = []

    def receive(self, msg: object, sender: Ref) -> None:
        if msg == "replies":
            self.reply(tuple(self.got))
        elif isinstance(msg, ControlReply):
            self.got.append(msg)


def replies(
    system: ActorSystemHandle, rec: Ref, at_least: int = 0, within: float = 15.0
) -> tuple[ControlReply, ...]:
    """The replies so far, waiting (up to ``within`` seconds) until there are ``at_least``."""
    deadline = time.monotonic() + within
    while True:
        got = system.ask(rec, "replies", 5)
        assert isinstance(got, tuple)
        if len(got) >= at_least or time.monotonic() > deadline:
            return got
        time.sleep(0.02)
