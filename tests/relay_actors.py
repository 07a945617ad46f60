"""Actors for the relay tests (importable by module path, as the multiproc bases need)."""

from __future__ import annotations

from peoplenet.actors.member.control_relay import NODE_RESTARTING, Relay
from peoplenet.actors.member.messages import ControlReply, ControlRequest, Forwarded
from peoplenet.runtime.kernel import Actor, Ref, RestartPolicy


class Answerer(Actor):
    """Answers a forwarded request with its op; crashes on ``boom`` before answering."""

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, Forwarded) and isinstance(msg.msg, ControlRequest):
            assert isinstance(msg.reply_to, Ref)
            if msg.msg.op == "boom":
                raise RuntimeError("boom on purpose")
            self.tell(
                msg.reply_to, ControlReply(request=msg.msg.request, ok=True, result=msg.msg.op)
            )


class Forwarder(Actor):
    """A supervisor in miniature: passes requests to its child through a :class:`Relay`."""

    def on_start(self, init: object) -> None:
        self.relay: Relay[Ref] = Relay()
        self.spawn(Answerer, "child", None, policy=RestartPolicy(max_restarts=3))

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, ControlRequest):
            child = self.child("child")
            if child is None:
                self.tell(
                    sender,
                    ControlReply(
                        request=msg.request,
                        ok=False,
                        result=None,
                        error="restarting",
                        reason=NODE_RESTARTING,
                    ),
                )
            else:
                self.tell(
                    child, Forwarded(msg=self.relay.pass_on("child", msg, sender), reply_to=self.me)
                )
        elif isinstance(msg, ControlReply):
            relayed = self.relay.answer(msg)
            if relayed is not None:
                self.tell(*relayed)

    def on_child_failed(self, name: str, error_type: str, error: str) -> None:
        for asker, reply in self.relay.child_failed(name, f"{error_type}: {error}"):
            self.tell(asker, reply)
