"""Customers: people who reach a cooperative without joining it, by requests they sign.

A rider, a diner, a buyer is a person with their own identity (an Ed25519 key, like any
member's) who never votes and never orders anything in the cooperative's consensus: a member's
node carries their :class:`CustomerRequest` into the cooperative as one of the app's
transactions, and the app's fold checks the *customer's* signature, never the carrier's.  So
a carrier can refuse to carry, or carry late, but cannot invent a request, change one, replay
one, or move one to another cooperative or app: the signature covers the customer, the
community, the app, a per-customer sequence number and the app's request bytes, under a signing
domain of its own (``peoplenet/customer-request``), so it can never pass for a block, a surety
or a key vouch.

Pure: no clock, no I/O.  :class:`CustomerBook` is fold state (the last sequence number of each
customer), so a replay or an old request is refused (``replayed``) the same way on every node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from peoplenet.actors.coop.apps import AppTxRejected
from peoplenet.runtime.consensus.consumer import domain_message
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, verify
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, wire_type

CUSTOMER_COMMAND: Final = "customer_request"
"""The command a member's node runs in an app to carry a customer's request: apps that serve
customers declare it (one argument, ``request``, kind ``any``: the request's encoding)."""
REQUEST_DOMAIN: Final = b"peoplenet/customer-request"
"""The signing domain of a customer's request (docs/wire-format.md §4)."""
_REQUEST_PERSON: Final = b"peoplenet.cust1"
MAX_BODY: Final = 8 * 1024
"""Largest app request a customer may sign: a ride request is a few hundred bytes, and the whole
request must fit the 16 KiB a node takes in one message from a peer it does not keep."""
MAX_COMMUNITY: Final = 64
MAX_APP: Final = 40
MAX_SEQ: Final = 2**63 - 1


class InvalidCustomerRequest(RemoteProtocolError):
    """A customer request whose shape is wrong, whoever sent it (it never decodes)."""

    reason = "invalid_customer_request"


class RequestSigner(Protocol):
    """Whoever signs for the customer: their own identity (never a member's key for them)."""

    @property
    def member_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class HasCommunity(Protocol):
    """What :func:`verify_request` reads of the fold's context (a ``FoldContext`` has it)."""

    @property
    def community(self) -> bytes: ...


@wire_type(163)
@dataclass(frozen=True, slots=True)
class CustomerRequest(Record):
    """A customer's signed request to one app of one cooperative.

    ``seq`` rises with each request the customer makes to that app of that cooperative (the
    fold refuses one not above the last it took); ``body`` is the app's own request record,
    encoded; ``signature`` is the customer's over :func:`request_message` of everything else.
    """

    customer: bytes
    community: bytes
    app: str
    seq: int
    body: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.customer) != ID_LEN:
            raise InvalidCustomerRequest("bad_customer", "a customer is a 32-byte id")
        if not 1 <= len(self.community) <= MAX_COMMUNITY:
            raise InvalidCustomerRequest("bad_community", f"1..{MAX_COMMUNITY} bytes")
        if not 1 <= len(self.app) <= MAX_APP:
            raise InvalidCustomerRequest("bad_app", f"an app name is 1..{MAX_APP} characters")
        if not 1 <= self.seq <= MAX_SEQ:
            raise InvalidCustomerRequest("bad_seq", f"seq is 1..{MAX_SEQ}")
        if len(self.body) > MAX_BODY:
            raise InvalidCustomerRequest("body_too_large", f"at most {MAX_BODY} bytes")
        if len(self.signature) != SIGNATURE_LEN:
            raise InvalidCustomerRequest("bad_signature", "a signature is 64 bytes")

    @property
    def digest(self) -> bytes:
        """What the customer signed (and what receipts name the request by)."""
        return request_digest(self.customer, self.community, self.app, self.seq, self.body)


def request_digest(customer: bytes, community: bytes, app: str, seq: int, body: bytes) -> bytes:
    """``H(32, "peoplenet.cust1")(enc([customer, community, app, seq, body]))``."""
    data = encode((customer, community, app, seq, body))
    return hashlib.blake2b(data, digest_size=32, person=_REQUEST_PERSON).digest()


def request_message(digest: bytes) -> bytes:
    """What the customer's key signs: the digest under :data:`REQUEST_DOMAIN`."""
    return domain_message(REQUEST_DOMAIN, digest)


def sign_request(
    signer: RequestSigner, community: bytes, app: str, seq: int, body: Record | bytes
) -> CustomerRequest:
    """The customer's request: ``body`` (the app's request record, or its encoding) signed.

    Runs on the customer's own node, with the customer's own identity.  Raises
    :class:`InvalidCustomerRequest` for a request no fold would take (too large, bad seq).
    """
    raw = body if isinstance(body, bytes) else encode(body)
    customer = bytes(signer.member_id)
    digest = request_digest(customer, community, app, seq, raw)
    signature = signer.sign(request_message(digest))
    return CustomerRequest(customer, community, app, seq, raw, signature)


def verify_request(req: CustomerRequest, ctx: HasCommunity, app: str) -> Value:
    """The request's body, decoded, if ``req`` is the customer's own for this app here.

    ``app`` is the name of the app whose fold is checking (a ``FoldContext`` does not carry
    it).  Raises :class:`AppTxRejected`: ``wrong_community``, ``wrong_app``,
    ``bad_customer_signature`` (the customer did not sign exactly this), ``bad_request_body``
    (signed, but not a value the codec takes).  Changes nothing.
    """
    if req.community != ctx.community:
        raise AppTxRejected("wrong_community", "the request names another cooperative")
    if req.app != app:
        raise AppTxRejected("wrong_app", f"the request is for {req.app!r}, not {app!r}")
    if not verify(req.customer, request_message(req.digest), req.signature):
        raise AppTxRejected("bad_customer_signature", "the customer did not sign this request")
    try:
        return decode(req.body, max_size=MAX_BODY)
    except RemoteProtocolError as exc:
        raise AppTxRejected("bad_request_body", exc.reason) from None


def request_from_bytes(raw: Value) -> CustomerRequest:
    """A request as a member's node hands it to the app (its encoding); typed errors only.

    Raises :class:`InvalidCustomerRequest` (``not_a_request`` or the decoder's reason).
    """
    if not isinstance(raw, bytes):
        raise InvalidCustomerRequest("not_a_request", "a customer request arrives as bytes")
    try:
        req = decode(raw, max_size=MAX_BODY + 1024)
    except RemoteProtocolError as exc:
        raise InvalidCustomerRequest(exc.reason, exc.detail) from None
    if not isinstance(req, CustomerRequest):
        raise InvalidCustomerRequest("not_a_request", f"a {type(req).__name__}, not a request")
    return req


def check_carried(raw: Value, book: CustomerBook, ctx: HasCommunity, app: str) -> CustomerRequest:
    """Node side, before a member's node carries a request into the order: the fold's check.

    Call it from the app's ``customer_request`` command (:data:`CUSTOMER_COMMAND`) with the
    bytes the node hands over and the app's book; submit the app's transaction wrapping the
    returned request.  It raises what the fold would (:class:`AppTxRejected`, or
    :class:`InvalidCustomerRequest` for bytes that are no request), so a forged or replayed
    request never reaches the order; the command turns either into an ``AppCommandError``
    with the same reason.  The fold checks again: a carrier that skips this gains nothing.
    """
    req = request_from_bytes(raw)
    book.admit(req, ctx, app)
    return req


class CustomerBook:
    """Fold state: each customer's last accepted sequence number, so nothing is taken twice.

    ``admit`` is the check (``peoplenet_check_tx``: changes nothing), ``accept`` the apply
    (records the sequence number); both verify first.  A customer is not a member: the book
    grants nothing but the right to be heard once per sequence number.
    """

    __slots__ = ("_last",)

    def __init__(self, last: Mapping[bytes, int] | None = None) -> None:
        self._last: dict[bytes, int] = dict(last or {})

    def last_seq(self, customer: bytes) -> int:
        """The customer's last accepted sequence number (0: none yet)."""
        return self._last.get(customer, 0)

    def admit(self, req: CustomerRequest, ctx: HasCommunity, app: str) -> Value:
        """The decoded body if ``req`` may apply now; :class:`AppTxRejected` if not."""
        body = verify_request(req, ctx, app)
        last = self.last_seq(req.customer)
        if req.seq <= last:
            raise AppTxRejected("replayed", f"seq {req.seq} is not above {last}")
        return body

    def accept(self, req: CustomerRequest, ctx: HasCommunity, app: str) -> Value:
        """:meth:`admit`, then record ``req.seq`` as the customer's last."""
        body = self.admit(req, ctx, app)
        self._last[req.customer] = req.seq
        return body

    def __len__(self) -> int:
        return len(self._last)

    def to_value(self) -> Value:
        """The book in codec form: ``[[customer, last seq]...]`` in customer order."""
        return tuple((c, s) for c, s in sorted(self._last.items()))

    @classmethod
    def from_value(cls, value: Value) -> CustomerBook:
        """The book :meth:`to_value` gave; :class:`InvalidCustomerRequest` if it is not one."""
        if not isinstance(value, tuple):
            raise InvalidCustomerRequest("bad_book", "a customer book is a list of pairs")
        last: dict[bytes, int] = {}
        for item in value:
            if not (
                isinstance(item, tuple)
                and len(item) == 2
                and isinstance(item[0], bytes)
                and len(item[0]) == ID_LEN
                and type(item[1]) is int
                and 1 <= item[1] <= MAX_SEQ
                and item[0] not in last
            ):
                raise InvalidCustomerRequest("bad_book", "each entry is [customer id, seq >= 1]")
            last[item[0]] = item[1]
        return cls(last)


__all__ = [
    "CUSTOMER_COMMAND",
    "MAX_BODY",
    "REQUEST_DOMAIN",
    "CustomerBook",
    "CustomerRequest",
    "HasCommunity",
    "InvalidCustomerRequest",
    "RequestSigner",
    "check_carried",
    "request_digest",
    "request_from_bytes",
    "request_message",
    "sign_request",
    "verify_request",
]
