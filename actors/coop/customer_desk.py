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
* **remembers** the later events the app declares in the result of an applied transaction
  (``customer_event``: ``assigned``, ``finished``...), each at that transaction's place;
* **answers** a query with a receipt of that outcome signed by this member (domain
  ``peoplenet/customer-receipt``, through the consumer's restricted signer), or ``unknown``.

Outcomes are rebuilt from the stored order when the node starts (the consumer replays it); at
most :data:`MAX_OUTCOMES` are kept, the oldest forgotten first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Final

import msgpack

from peoplenet.actors.governance.records import AppTx, GovTx
from peoplenet.actors.work.customers import CustomerRequest
from peoplenet.actors.work.receipts import (
    CUSTOMER_EVENTS,
    REFUSED,
    SUBMITTED,
    UNKNOWN,
    CustomerReceipt,
    InvalidReceipt,
    ReceiptQuery,
    Statement,
    customer_event,
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
        self.outcomes: dict[tuple[bytes, str], Statement] = {}
        """(Request digest, event) -> the first outcome the order gave it: event ``""`` for
        the request's own (applied or rejected), else a later event its app declared."""

    # -- the order --------------------------------------------------------------------------

    def delivered(self, d: Delivery, app_result: Mapping[str, Value] | None) -> None:
        """An ordered transaction and what its app made of it (None: not an app's)."""
        tx = d.tx
        if app_result is None or not isinstance(tx, GovTx) or not isinstance(tx.action, AppTx):
            return
        app = tx.action.app
        outcome = str(app_result.get("status", ""))
        why = "" if outcome == "applied" else str(app_result.get("reason", ""))[:MAX_DETAIL]
        for req in carried_requests(tx.action.body):
            if req.community != self.community:
                continue
            status, detail = outcome, why
            if req.app != app:  # the app's fold refuses it; say so, whatever it did
                status, detail = "rejected", "wrong_app"
            self._note(req.digest, "", (req.app, d.epoch, d.position, status, detail))
        if outcome == "applied":
            for digest, event, detail in declared_events(app_result.get("result")):
                self._note(digest, event, (app, d.epoch, d.position, event, detail))

    def _note(self, digest: bytes, event: str, what: tuple[str, int, int, str, str]) -> None:
        """Keep the first outcome of (request, event); forget the oldest beyond the bound."""
        if (digest, event) in self.outcomes:
            return
        app, epoch, position, status, detail = what
        statement = (self.community, app, digest, epoch, position, status, detail)
        self.outcomes[digest, event] = statement
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
            return self._answer(msg.request, msg.event)
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

    def _answer(self, request: bytes, event: str) -> CustomerReceipt:
        known = self.outcomes.get((request, event))
        if known is None:
            return self._sign((self.community, "", request, 0, 0, UNKNOWN, ""))
        return self._sign(known)

    def _word(self, req: CustomerRequest, status: str, detail: str) -> CustomerReceipt:
        return self._sign((self.community, req.app, req.digest, 0, 0, status, detail[:MAX_DETAIL]))

    def _sign(self, statement: Statement) -> CustomerReceipt:
        return make_receipt(self.me, self.signer.sign, statement)


_REQUEST_TAG: Final = msgpack.packb(CustomerRequest.wire_tag)


def carried_requests(body: bytes) -> tuple[CustomerRequest, ...]:
    """The customer requests an app transaction carries as fields of its record (top level).

    The app's record is opaque here (the node's trusted side never imports app code); the
    requests inside it decode as :class:`CustomerRequest` all the same (tag 163).  A body
    without the bytes of that tag (msgpack ``cc a3``: a record's first item is its tag) holds
    none, and is not decoded: most app transactions carry no customer's request.
    """
    if _REQUEST_TAG not in body:
        return ()
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


def declared_events(result: Value) -> list[tuple[bytes, str, str]]:
    """The later events an app's apply result declares (:func:`customer_event`), as
    ``(request digest, event, detail)``; anything malformed is skipped (the result is the app's,
    the same on every node, so every node skips alike)."""
    if not isinstance(result, dict):
        return []
    declared = result.get(CUSTOMER_EVENTS)
    found: list[tuple[bytes, str, str]] = []
    for item in declared if isinstance(declared, tuple) else ():
        if not isinstance(item, dict):
            continue
        request, event, detail = item.get("request"), item.get("event"), item.get("detail", "")
        if isinstance(request, str):  # the host shows bytes as hex
            try:
                request = bytes.fromhex(request)
            except ValueError:
                continue
        if not (isinstance(request, bytes) and isinstance(event, str) and isinstance(detail, str)):
            continue
        try:
            customer_event(request, event, detail)
        except InvalidReceipt:
            continue
        found.append((request, event, detail))
    return found


def _detail(exc: PeoplenetError) -> str:
    detail = getattr(exc, "detail", "")
    return detail if isinstance(detail, str) and detail else str(exc)


__all__ = ["MAX_OUTCOMES", "Carry", "CustomerDesk", "carried_requests", "declared_events"]
