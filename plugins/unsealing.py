"""How an app's sealed details get opened: by the member's node, for the app, never by the app.

An app seals with public keys only (:func:`~peoplenet.actors.work.sealed.seal`); opening needs
the member's secret key, which no app ever holds.  :meth:`NodeContext.unseal` therefore asks the
node: in a worker (the node's usual set-up) the request crosses to the node as an ``unseal``
callback (plugins/worker/remote_host.py), which checks it and has the member's signer open the
one box addressed to the member (:meth:`Identity.open_sealed_box`); only the details come back.

What the node checks first, wherever the apps run (:func:`check_request`):

* the context names this cooperative and the app asking (during a command: the command's app;
  otherwise one of the cooperative's apps): details sealed for another cooperative or app
  are not opened, whatever the app claims;
* a call opens at most :data:`MAX_UNSEALS_PER_CALL` records: opening is a convenience for the
  member's own commands and duties, not a service to drain the node's time;
* never in the fold: a fold must compute the same on every node, and only some nodes can open
  (the hooks of the fold get no :class:`~peoplenet.plugins.api.NodeContext`, and the node
  serves no ``unseal`` during a call that runs them).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final, Protocol

from peoplenet.actors.work.sealed import (
    BadSealRequest,
    NotARecipient,
    Sealed,
    SealedMalformed,
    SealedTampered,
    open_sealed,
    parse_context,
)
from peoplenet.plugins.api import ConsentRefused
from peoplenet.runtime.errors import PeoplenetError

MAX_UNSEALS_PER_CALL: Final = 256
"""Most sealed records one call to the apps (a command, a round of duties) may open."""


class UnsealRefused(ConsentRefused):
    """The member's node refused to open sealed details: another cooperative's or app's, too
    many in one call, in the fold, or this node has no key to open them with."""

    reason = "unseal_refused"


class BoxOpener(Protocol):
    """A signer that opens the box of sealed details addressed to the member (the node's)."""

    def open_sealed_box(self, box: bytes) -> bytes | None: ...


class Unsealer(Protocol):
    """A signer that has the node open the whole record (the worker's: a callback)."""

    def unseal(self, sealed: Sealed, context: bytes) -> bytes: ...


def check_request(context: bytes, community: bytes, apps: Collection[str]) -> str:
    """The app ``context`` names, if it is this ``community``'s and one of ``apps``;
    :class:`UnsealRefused` otherwise (:class:`BadSealRequest`: not a seal context)."""
    bound, app, _ = parse_context(context)
    if bound != community:
        raise UnsealRefused("these details were sealed for another cooperative")
    if app not in apps:
        raise UnsealRefused(f"these details were sealed for another app ({app!r})")
    return app


def unseal_with(signer: object, me: bytes, sealed: Sealed, context: bytes) -> bytes:
    """Open ``sealed`` for ``me`` through ``signer``: the node's own (it holds an opener), or
    the worker's (it asks the node).  :class:`UnsealRefused` if it can do neither."""
    if type(sealed) is not Sealed:
        raise BadSealRequest(f"unseal takes a Sealed record, not {type(sealed).__name__}")
    ask = getattr(signer, "unseal", None)
    if ask is not None:
        plain: bytes = ask(sealed, context)
        return plain
    opener = getattr(signer, "open_sealed_box", None)
    if opener is None:
        raise UnsealRefused("this node has no key to open sealed details with")
    return open_sealed(sealed, context, me, opener)


_REFUSALS: Final[dict[str, type[PeoplenetError]]] = {
    cls.__name__: cls
    for cls in (
        NotARecipient,
        SealedTampered,
        SealedMalformed,
        BadSealRequest,
        UnsealRefused,
        ConsentRefused,
    )
}


def refusal(kind: str, detail: str) -> PeoplenetError | None:
    """The node's refusal of an ``unseal`` callback, rebuilt by its class name (both ends are
    one install), or None if it is not one of these."""
    cls = _REFUSALS.get(kind)
    if cls is None:
        return None
    if issubclass(cls, SealedTampered | SealedMalformed):
        _, _, detail = detail.partition(": ")  # str() of these is "reason: detail"
    return cls(detail)


__all__ = [
    "MAX_UNSEALS_PER_CALL",
    "BoxOpener",
    "UnsealRefused",
    "Unsealer",
    "check_request",
    "refusal",
    "unseal_with",
]
