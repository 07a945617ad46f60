"""Ref: our own handle on an actor, so no module outside the kernel touches thespian types.

Why a wrapper: thespian's ActorAddress is unhashable and untyped; a frozen Ref can key dicts,
travels by pickle in the multiproc bases, and carries the private reply tag that lets an
``ask`` match its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Ref:
    """A picklable, hashable reference to one actor (one incarnation of it).

    ``key`` is the transport's address string and defines equality; ``address`` is the opaque
    thespian address used for sending.  ``reply_tag`` is set only on the sender Ref of a message
    that came from :meth:`ActorSystemHandle.ask`, so a later ``tell`` to it answers that ask.
    """

    address: Any = field(compare=False, repr=False)
    key: str
    reply_tag: int | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, int | None]]:
        # The key is recomputed where the Ref lands: thespian resolves a parent's provisional
        # local address into the real one when it pickles it.
        return (ref_of, (self.address, self.reply_tag))

    def __repr__(self) -> str:
        tag = "" if self.reply_tag is None else f" ask#{self.reply_tag}"
        return f"Ref({self.key}{tag})"


def ref_of(address: Any, reply_tag: int | None = None) -> Ref:
    """Wrap a thespian address."""
    return Ref(address, address.actorAddressString, reply_tag)
