"""A cooperative's counter for customers, on one member's node: carry, remember, sign receipts.

A customer's node hands a member's node a signed :class:`CustomerRequest` or asks it what
became of one (:class:`ReceiptQuery`).  The desk

* **carries** a request into the order by running the app's ``customer_request`` command
  (:data:`CUSTOMER_COMMAND`): the app checks the customer's signature and sequence number as
  its fold will and submits its own transaction wrapping the request; the customer gets this
  node's word back (a receipt with status ``submitted`` or ``refused: REASON``), which is
  only one node's word;
* **remembers** the first outcome of every request the order carried -- an ordered ``AppTx``
  whose record has a ``CustomerRequest`` among its fields -- as the app's fold decided it
  (``applied``, or ``rejected`` with the fold's reason only: its detail text is not part of
  what members compare), with its place in the order.  Every honest
  member's node derives the same outcome from the same order; a later copy of the request
  (a replay, a second carrier) does not replace it;
* **answers** a query with a receipt of that outcome signed by this member (domain
  ``peoplenet/customer-receipt``, through the consumer's restricted signer), or ``unknown``.

Outcomes are rebuilt from the stored order when the node starts (the consumer replays it); at
most :data:`MAX_OUTCOMES` are kept, the oldest forgotten first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Final

from peoplenet.actors.governance.records import AppTx, GovTx
from peoplenet.actors.work.customers import CustomerRequest
from peoplenet.actors.work.receipts import (
    REFUSED,
    SUBMITTED,
    UNKNOWN,
    CustomerReceipt,
    ReceiptQuery,
    Statement,
    make_receipt,
)
from peoplenet.runtime.consensus.consumer import Signer
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.errors import PeoplenetError, RemoteProtocolError, reason_of
from peoplenet.runtime.net.peer_message import decode_peer_message
from peoplenet.runtime.wire.codec import OpaqueRecord, Record, Value, decode

MAX_OUTCOMES: Final = 100_000
MAX_DETAIL: Final = 256

Carry = Callable[[str, bytes], str]
"""Run the app's ``customer_request`` command with the request's bytes; the submitted
transaction's key (hex), or a :class:`PeoplenetError` with the refusal's reason."""


class CustomerDesk:
    """One cooperative's customer protocol on this node (see the module)."""

    def __init__(self, community: bytes, signer: Signer) -> None:
        self.community = community
        self.signer = signer
        self.me = bytes(signer.member)
        self.outcomes: dict[bytes, Statement] = {}
        """Request digest -> the first outcome the order gave it."""

    # -- the order --------------------------------------------------------------------------

    def delivered(self, d: Delivery, app_result: Mapping[str, Value] | None) -> None:
        """An ordered transaction and what its app made of it (None: not an app's)."""
        tx = d.tx
        if app_result is None or not isinstance(tx, GovTx) or not isinstance(tx.action, AppTx):
            return
        outcome = str(app_result.get("status", ""))
        why = "" if outcome == "applied" else str(app_result.get("reason", ""))[:MAX_DETAIL]
        for req in carried_requests(tx.action.body):
            if req.digest in self.outcomes or req.community != self.community:
                continue
            status, detail = outcome, why
            if req.app != tx.action.app:  # the app's fold refuses it; say so, whatever it did
                status, detail = "rejected", "wrong_app"
            self.outcomes[req.digest] = (
                self.community,
                req.app,
                req.digest,
                d.epoch,
                d.position,
                status,
                detail,
            )
            if len(self.outcomes) > MAX_OUTCOMES:
                del self.outcomes[next(iter(self.outcomes))]

    # -- customers ---------------------------------------------------------------------------

    def receive(
        self, peer: bytes, data: bytes, carry: Carry, *, member: bool = True
    ) -> CustomerReceipt:
        """A customer's message (its bytes): the receipt to send back.

        ``member``: whether this node's member is one of the cooperative's now (an observer's
        node answers queries but carries nothing: the order would reject its transaction).

        Raises :class:`RemoteProtocolError` if it is no customer message at all (the peer is
        then reported, like any peer sending garbage).
        """
        msg = decode_peer_message(data)
        if isinstance(msg, ReceiptQuery):
            return self._answer(msg.request)
        if not isinstance(msg, CustomerRequest):
            raise RemoteProtocolError("unexpected_message", type(msg).__name__)
        if msg.customer != peer:
            return self._word(msg, REFUSED, "not_the_customer: customers hand over their own")
        if msg.community != self.community:
            return self._word(msg, REFUSED, "wrong_community")
        if not member:
            return self._word(msg, REFUSED, "not_a_member: this node's member cannot carry")
        try:
            key = carry(msg.app, data)
        except PeoplenetError as exc:
            return self._word(msg, REFUSED, f"{reason_of(exc)}: {_detail(exc)}")
        return self._word(msg, SUBMITTED, key)

    def _answer(self, request: bytes) -> CustomerReceipt:
        known = self.outcomes.get(request)
        if known is None:
            return self._sign((self.community, "", request, 0, 0, UNKNOWN, ""))
        return self._sign(known)

    def _word(self, req: CustomerRequest, status: str, detail: str) -> CustomerReceipt:
        return self._sign((self.community, req.app, req.digest, 0, 0, status, detail[:MAX_DETAIL]))

    def _sign(self, statement: Statement) -> CustomerReceipt:
        return make_receipt(self.me, self.signer.sign, statement)


def carried_requests(body: bytes) -> tuple[CustomerRequest, ...]:
    """The customer requests an app transaction carries as fields of its record (top level).

    The app's record is opaque here (the node's trusted side never imports app code); the
    requests inside it decode as :class:`CustomerRequest` all the same (tag 163).
    """
    try:
        tx = decode(body)
    except RemoteProtocolError:
        return ()  # the app refused it as bad_tx already
    if isinstance(tx, OpaqueRecord):
        fields: tuple[Value, ...] = tx.items
    elif isinstance(tx, Record):  # the app's class is loaded here (tests, one process)
        fields = tuple(getattr(tx, f.name) for f in dataclasses.fields(tx) if f.init)  # type: ignore[arg-type]
    else:
        return ()
    return tuple(f for f in fields if isinstance(f, CustomerRequest))


def _detail(exc: PeoplenetError) -> str:
    detail = getattr(exc, "detail", "")
    return detail if isinstance(detail, str) and detail else str(exc)


__all__ = ["MAX_OUTCOMES", "Carry", "CustomerDesk", "carried_requests"]
