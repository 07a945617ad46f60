"""A customer's order through an app's command, fold and a member's desk, in one process.

The app (tests/actors/work/orders_app.py) runs in the conformance kit's harness (the real app
host); the desk is the member node's (actors/coop/customer_desk.py).  What the process test
shows over real nodes, this shows step by step: the carrier checks as the fold will, the fold
checks again, the desk remembers the first outcome and signs receipts a customer can count.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peoplenet.actors.coop.customer_desk import CustomerDesk, carried_requests, declared_events
from peoplenet.actors.governance.records import AppTx, GovTx
from peoplenet.actors.work.customers import CUSTOMER_COMMAND, CustomerRequest, sign_request
from peoplenet.actors.work.receipts import (
    CUSTOMER_EVENTS,
    InvalidReceipt,
    ReceiptQuery,
    customer_event,
    tally,
)
from peoplenet.plugins.api import AppCommandError
from peoplenet.plugins.harness import COMMUNITY, AppHarness
from peoplenet.runtime.consensus.consumer import IdentitySigner
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.wire.codec import OpaqueRecord, Value, encode
from tests.actors.work import orders_app
from tests.actors.work.orders_app import Order, Serve

RIDER = Identity.from_seed(bytes([42]) * 32)
MALLORY = Identity.from_seed(bytes([43]) * 32)


@pytest.fixture
def harness() -> Iterator[AppHarness]:
    h = AppHarness(orders_app, members=4)
    h.enable()
    yield h
    h.close()


def order(seq: int, who: Identity = RIDER) -> CustomerRequest:
    return sign_request(who, COMMUNITY, "orders", seq, encode({"dish": "soup", "n": seq}))


def carry(h: AppHarness, req: CustomerRequest) -> list[object]:
    _result, submitted = h.command(CUSTOMER_COMMAND, {"request": encode(req)})
    return list(submitted)


def deliver(h: AppHarness, desks: list[CustomerDesk], tx: Order | Serve) -> dict[str, Value]:
    result = h.submit(tx)
    d = Delivery(
        h.position[0],
        h.position[1],
        BlockId(bytes(32)),
        MemberId(h.members[0]),
        GovTx(h.now_ms, AppTx("orders", encode(tx))),
    )
    for desk in desks:
        desk.delivered(d, result)
    return result


def test_a_carried_order_applies_and_enough_receipts_prove_it(harness: AppHarness) -> None:
    h = harness
    desks = [CustomerDesk(COMMUNITY, IdentitySigner(i)) for i in h.identities]
    req = order(1)
    submitted = carry(h, req)
    assert submitted == [Order(req)]
    assert deliver(h, desks, Order(req))["status"] == "applied"
    query = encode(ReceiptQuery(COMMUNITY, req.digest, ""))
    receipts = [desks[0].receive(RIDER.member_id, query, _no)]
    assert tally(receipts, h.members, req.digest).accepted is None  # one of four: not enough
    receipts.append(desks[1].receive(b"", query, _no))
    counted = tally(receipts, h.members, req.digest)
    assert counted.accepted is not None
    assert counted.accepted.status == "applied"
    assert counted.accepted.position == h.position[1]


def test_a_forged_order_is_refused_by_the_carrier_and_by_the_fold(harness: AppHarness) -> None:
    h = harness
    honest = order(1)
    forged = CustomerRequest(
        honest.customer, honest.community, honest.app, 1, honest.body, MALLORY.sign(b"x")
    )
    before = h.snapshot()
    with pytest.raises(AppCommandError) as caught:
        carry(h, forged)
    assert caught.value.reason == "bad_customer_signature"
    result = h.submit(Order(forged))  # a carrier that skips the check: the fold refuses
    assert (result["status"], result["reason"]) == ("rejected", "bad_customer_signature")
    assert h.snapshot() == before


def test_a_replayed_order_is_refused_and_keeps_its_first_outcome(harness: AppHarness) -> None:
    h = harness
    desks = [CustomerDesk(COMMUNITY, IdentitySigner(i)) for i in h.identities]
    req = order(1)
    deliver(h, desks, Order(req))
    after_first = h.snapshot()
    with pytest.raises(AppCommandError) as caught:
        carry(h, req)
    assert caught.value.reason == "replayed"
    again = deliver(h, desks, Order(req))  # a second carrier put it in the order anyway
    assert (again["status"], again["reason"]) == ("rejected", "replayed")
    assert h.snapshot() == after_first
    query = encode(ReceiptQuery(COMMUNITY, req.digest, ""))
    receipts = [desk.receive(b"", query, _no) for desk in desks]
    counted = tally(receipts, h.members, req.digest)
    assert counted.accepted is not None and counted.accepted.status == "applied"


def test_the_desk_carries_only_the_customers_own_request() -> None:
    carrier = Identity.from_seed(bytes([1]) * 32)
    desk = CustomerDesk(COMMUNITY, IdentitySigner(carrier))
    req = order(3)
    carried: list[bytes] = []

    def carry_it(app: str, raw: bytes) -> str:
        carried.append(raw)
        return "ab" * 16

    word = desk.receive(MALLORY.member_id, encode(req), carry_it)
    assert (word.status, word.detail.split(":")[0]) == ("refused", "not_the_customer")
    assert carried == []
    word = desk.receive(RIDER.member_id, encode(req), carry_it)
    assert (word.status, word.detail, word.member) == ("submitted", "ab" * 16, carrier.member_id)
    assert word.valid()
    assert tally([word], [carrier.member_id], req.digest).accepted is None  # a carrier's word


def test_a_node_whose_member_is_not_in_the_cooperative_carries_nothing() -> None:
    desk = CustomerDesk(COMMUNITY, IdentitySigner(Identity.from_seed(bytes([1]) * 32)))
    word = desk.receive(RIDER.member_id, encode(order(3)), _no, member=False)
    assert (word.status, word.detail.split(":")[0]) == ("refused", "not_a_member")


def test_a_refusal_reaches_the_customer_with_its_reason() -> None:
    desk = CustomerDesk(COMMUNITY, IdentitySigner(Identity.from_seed(bytes([1]) * 32)))

    def refuse(app: str, raw: bytes) -> str:
        raise AppCommandError("replayed", "seq 3 is not above 3")

    word = desk.receive(RIDER.member_id, encode(order(3)), refuse)
    assert (word.status, word.detail) == ("refused", "replayed: seq 3 is not above 3")


def test_the_desk_reports_a_peer_sending_anything_else() -> None:
    desk = CustomerDesk(COMMUNITY, IdentitySigner(Identity.from_seed(bytes([1]) * 32)))
    with pytest.raises(RemoteProtocolError):
        desk.receive(RIDER.member_id, encode({"not": "a request"}), _no)
    with pytest.raises(RemoteProtocolError):
        desk.receive(RIDER.member_id, b"\xc1", _no)


def test_requests_are_found_inside_opaque_app_records() -> None:
    req = order(2)
    opaque = OpaqueRecord(2000, (req, 5))
    assert carried_requests(encode(opaque)) == (req,)
    assert carried_requests(encode(Order(req))) == (req,)
    assert carried_requests(b"\xc1") == ()
    assert carried_requests(encode({"request": req})) == ()


def test_a_later_event_the_app_declares_is_receipted_on_its_own(harness: AppHarness) -> None:
    h = harness
    desks = [CustomerDesk(COMMUNITY, IdentitySigner(i)) for i in h.identities]
    req = order(1)
    deliver(h, desks, Order(req))
    served = encode(ReceiptQuery(COMMUNITY, req.digest, "served"))
    early = [desk.receive(b"", served, _no) for desk in desks]
    assert {r.status for r in early} == {"unknown"}
    assert tally(early, h.members, req.digest, event="served").accepted is None
    assert deliver(h, desks, Serve(1))["status"] == "applied"
    assert (deliver(h, desks, Serve(1))["reason"]) == "unknown_order"  # served once only
    late = [desk.receive(b"", served, _no) for desk in desks]
    counted = tally(late, h.members, req.digest, event="served")
    assert counted.accepted is not None
    assert (counted.accepted.status, counted.accepted.detail) == ("served", "order 1")
    own = encode(ReceiptQuery(COMMUNITY, req.digest, ""))
    first = [desks[0].receive(b"", own, _no), desks[1].receive(b"", own, _no)]
    outcome = tally([*first, *late], h.members, req.digest)  # the served ones: not asked
    assert outcome.accepted is not None and outcome.accepted.status == "applied"
    assert outcome.accepted.position < counted.accepted.position


def test_events_an_app_declares_are_read_strictly() -> None:
    digest = bytes(32)
    good = customer_event(digest, "assigned", "driver 3")
    shown: Value = {"ok": 1, CUSTOMER_EVENTS: ({**good, "request": digest.hex()},)}  # as the host
    assert declared_events(shown) == [(digest, "assigned", "driver 3")]
    for bad in ("applied", "refused", "Assigned", "", "x" * 41):
        with pytest.raises(InvalidReceipt):
            customer_event(digest, bad)
    junk: Value = {CUSTOMER_EVENTS: ({"request": "zz", "event": "x"}, {"event": "x"}, 5)}
    assert declared_events(junk) == []
    assert declared_events({CUSTOMER_EVENTS: ({"request": digest, "event": "applied"},)}) == []
    assert declared_events("not a map") == []


def _no(app: str, raw: bytes) -> str:
    pytest.fail("a query carries nothing")


def test_a_body_without_the_request_tag_is_not_decoded_and_one_with_it_is() -> None:
    """The desk skips decoding app records that cannot hold a request (the usual case); a
    body that merely contains the tag's bytes (an integer 163) still decodes, and holds none."""
    plain = encode(OpaqueRecord(2000, (5, "x")))
    assert b"\xcc\xa3" not in plain
    assert carried_requests(plain + b"\xc1") == ()  # not decoded: the junk would refuse it
    lookalike = encode(OpaqueRecord(2000, (163, "x")))
    assert b"\xcc\xa3" in lookalike
    assert carried_requests(lookalike) == ()
    assert carried_requests(encode(OpaqueRecord(2000, (163, order(4))))) == (order(4),)
