"""Customers' signed requests: who signed what, for which cooperative and app, and only once."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from peoplenet.actors.work.customers import (
    MAX_BODY,
    CustomerBook,
    CustomerRequest,
    InvalidCustomerRequest,
    request_digest,
    sign_request,
    verify_request,
)
from peoplenet.plugins import kit
from peoplenet.plugins.api import AppTxRejected, FoldContext
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import decode, decode_as, encode
from tests.strategies import canonical_values, mutate_bytes

COMMUNITY = b"f/" + bytes(range(32))
OTHER = b"f/" + bytes(32)
APP = "rides"
RIDER = Identity.from_seed(bytes([7]) * 32)
MALLORY = Identity.from_seed(bytes([9]) * 32)
BODY = encode({"from": "station", "to": "market"})


def ctx(community: bytes = COMMUNITY) -> FoldContext:
    return FoldContext(community, 1_000, frozenset(), {}, {})


def request(seq: int = 1, body: bytes = BODY, who: Identity = RIDER) -> CustomerRequest:
    return sign_request(who, COMMUNITY, APP, seq, body)


def test_a_signed_request_verifies_and_gives_back_the_body() -> None:
    req = request()
    assert req.customer == RIDER.member_id
    assert verify_request(req, ctx(), APP) == {"from": "station", "to": "market"}
    assert decode_as(CustomerRequest, encode(req)) == req


def test_a_body_given_as_bytes_is_kept_and_a_record_is_encoded() -> None:
    assert request(body=b"\x90").body == b"\x90"
    inner = request(1)
    nested = sign_request(RIDER, COMMUNITY, APP, 2, inner)
    assert nested.body == encode(inner)
    assert verify_request(nested, ctx(), APP) == inner


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"community": OTHER}, "wrong_community"),
        ({"app": "deliveries"}, "wrong_app"),
    ],
)
def test_a_request_checked_in_another_cooperative_or_app_is_refused(
    change: dict[str, object], reason: str
) -> None:
    req = request()
    community = change.get("community", COMMUNITY)
    app = change.get("app", APP)
    assert isinstance(community, bytes)
    assert isinstance(app, str)
    with pytest.raises(AppTxRejected) as caught:
        verify_request(req, ctx(community), app)
    assert caught.value.reason == reason


def test_a_carrier_cannot_sign_for_the_customer() -> None:
    honest = request()
    forged = CustomerRequest(
        honest.customer, COMMUNITY, APP, 1, BODY, MALLORY.sign(b"peoplenet/customer-request")
    )
    with pytest.raises(AppTxRejected) as caught:
        verify_request(forged, ctx(), APP)
    assert caught.value.reason == "bad_customer_signature"


def test_the_signature_is_domain_separated_from_a_bare_digest() -> None:
    """A signature of the bare digest (what a careless signer might produce) is not one."""
    req = request()
    bare = RIDER.sign(req.digest)
    with pytest.raises(AppTxRejected) as caught:
        verify_request(CustomerRequest(*_fields(req)[:5], bare), ctx(), APP)
    assert caught.value.reason == "bad_customer_signature"


def test_a_body_that_is_not_a_value_is_refused_typed() -> None:
    req = sign_request(RIDER, COMMUNITY, APP, 1, b"\xc1")  # msgpack's never-used byte
    with pytest.raises(AppTxRejected) as caught:
        verify_request(req, ctx(), APP)
    assert caught.value.reason == "bad_request_body"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"customer": b"short"}, "bad_customer"),
        ({"community": b""}, "bad_community"),
        ({"app": ""}, "bad_app"),
        ({"seq": 0}, "bad_seq"),
        ({"body": bytes(MAX_BODY + 1)}, "body_too_large"),
        ({"signature": bytes(63)}, "bad_signature"),
    ],
)
def test_a_malformed_request_never_exists(fields: dict[str, object], reason: str) -> None:
    good = dict(
        zip(
            ("customer", "community", "app", "seq", "body", "signature"),
            _fields(request()),
            strict=True,
        )
    )
    with pytest.raises(InvalidCustomerRequest) as caught:
        CustomerRequest(**{**good, **fields})  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_the_book_takes_each_sequence_number_once_and_only_rising() -> None:
    book = CustomerBook()
    assert book.accept(request(1), ctx(), APP) == decode(BODY)
    with pytest.raises(AppTxRejected) as caught:
        book.accept(request(1), ctx(), APP)  # the same request again: a replay
    assert caught.value.reason == "replayed"
    book.accept(request(5), ctx(), APP)
    with pytest.raises(AppTxRejected) as caught:
        book.admit(request(3), ctx(), APP)  # an old one signed before, carried late
    assert caught.value.reason == "replayed"
    assert book.last_seq(RIDER.member_id) == 5
    assert book.last_seq(MALLORY.member_id) == 0


def test_admit_changes_nothing_and_a_refused_request_changes_nothing() -> None:
    book = CustomerBook()
    book.admit(request(1), ctx(), APP)
    assert book.to_value() == ()
    book.accept(request(1), ctx(), APP)
    before = book.to_value()
    forged = CustomerRequest(*_fields(request(2))[:5], bytes(64))
    for bad in (forged, request(1)):
        with pytest.raises(AppTxRejected):
            book.accept(bad, ctx(), APP)
    assert book.to_value() == before


def test_customers_do_not_share_sequence_numbers() -> None:
    book = CustomerBook()
    book.accept(request(1), ctx(), APP)
    book.accept(request(1, who=MALLORY), ctx(), APP)
    assert len(book) == 2


def test_the_book_round_trips_through_the_codec() -> None:
    book = CustomerBook()
    book.accept(request(3), ctx(), APP)
    book.accept(request(1, who=MALLORY), ctx(), APP)
    value = decode(encode(book.to_value()))
    again = CustomerBook.from_value(value)
    assert again.to_value() == book.to_value()
    assert again.last_seq(RIDER.member_id) == 3


@pytest.mark.parametrize(
    "value",
    [None, ((b"x", 1),), ((bytes(32), 0),), ((bytes(32), 1), (bytes(32), 2)), ((bytes(32),),)],
)
def test_a_broken_book_snapshot_is_refused_typed(value: object) -> None:
    with pytest.raises(InvalidCustomerRequest) as caught:
        CustomerBook.from_value(value)  # type: ignore[arg-type]
    assert caught.value.reason == "bad_book"


def test_the_digest_covers_every_field() -> None:
    base = (RIDER.member_id, COMMUNITY, APP, 1, BODY)
    variants = [
        (MALLORY.member_id, COMMUNITY, APP, 1, BODY),
        (RIDER.member_id, OTHER, APP, 1, BODY),
        (RIDER.member_id, COMMUNITY, "rides2", 1, BODY),
        (RIDER.member_id, COMMUNITY, APP, 2, BODY),
        (RIDER.member_id, COMMUNITY, APP, 1, BODY + b"\x00"),
    ]
    digests = {request_digest(*v) for v in [base, *variants]}
    assert len(digests) == len(variants) + 1


def test_the_kit_re_exports_the_customers_piece() -> None:
    assert kit.CustomerRequest is CustomerRequest
    assert kit.verify_request is verify_request
    assert {"CustomerBook", "CustomerRequest", "sign_request", "verify_request"} <= set(kit.__all__)


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A signed request's bytes, and those bytes with one to three bytes changed."""
    body, seq = draw(canonical_values()), draw(st.integers(1, 2**63 - 1))
    original = encode(sign_request(RIDER, COMMUNITY, APP, seq, encode(body)))
    return original, mutate_bytes(draw, original)


@given(pair=mutated_requests())
def test_any_mutation_of_a_signed_request_fails_typed(pair: tuple[bytes, bytes]) -> None:
    """Whatever bytes a carrier changes, the fold refuses the request with a typed reason."""
    original, mutated = pair
    assume(mutated != original)
    with pytest.raises((RemoteProtocolError, AppTxRejected)) as caught:
        CustomerBook().admit(decode_as(CustomerRequest, mutated), ctx(), APP)
    if isinstance(caught.value, AppTxRejected):
        assert caught.value.reason in {"bad_customer_signature", "wrong_community", "wrong_app"}
    else:  # never decoded: the decoder's (or the record's) stable reason
        assert caught.value.reason != RemoteProtocolError.reason


def _fields(req: CustomerRequest) -> tuple[bytes, bytes, str, int, bytes, bytes]:
    return (req.customer, req.community, req.app, req.seq, req.body, req.signature)


def test_a_node_routes_customer_messages_by_the_community_they_name() -> None:
    from peoplenet.actors.work.receipts import ReceiptQuery  # noqa: PLC0415
    from peoplenet.runtime.net.peer_message import (  # noqa: PLC0415
        CONSUMER_TAGS,
        record_community,
        record_tag,
    )

    req = request()
    query = ReceiptQuery(OTHER, req.digest, "")
    assert {record_tag(encode(req)), record_tag(encode(query))} == CONSUMER_TAGS
    assert record_community(encode(req)) == COMMUNITY
    assert record_community(encode(query)) == OTHER
    assert record_community(encode(req)[:-70]) is None  # cut short: no community to route by
    assert record_community(BODY) is None
