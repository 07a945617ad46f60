"""The member actor: the node's only signer of its personal lace.

It holds the member's secret key and signs two things only: the blocks the store actor prepared
and the transport's hello transcripts, which must start with ``HELLO_PREFIX`` (so the network
side cannot have it sign anything else).
"""

from __future__ import annotations

from peoplenet.actors.member.messages import (
    BlockSigned,
    HelloSigned,
    MemberInit,
    SignBlock,
    SignHello,
)
from peoplenet.runtime.kernel import Actor, Ref
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, LaceId

HELLO_PREFIX = b"peoplenet.hello.v1"


class MemberActor(Actor):
    """The signer: signs blocks the store prepared and hello transcripts, nothing else."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, MemberInit)
        self.identity = Identity.from_seed(init.seed)

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, SignBlock):
            block = Block.create(self.identity, LaceId(msg.lace), msg.payload, msg.pointers)
            self.reply(BlockSigned(request=msg.request, raw=block.to_bytes()))
        elif isinstance(msg, SignHello):
            if not msg.transcript.startswith(HELLO_PREFIX):
                self.log.error("refused_to_sign", reason="not a hello transcript")
                return
            self.reply(
                HelloSigned(request=msg.request, signature=self.identity.sign(msg.transcript))
            )
