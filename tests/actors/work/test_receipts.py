"""Receipts: a customer accepts an outcome once more than a third of the members signed it."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.actors.work.receipts import (
    RECEIPT_DOMAIN,
    ConflictingReceipts,
    CustomerReceipt,
    InvalidReceipt,
    Statement,
    make_receipt,
    needed,
    receipt_digest,
    receipt_message,
    tally,
)
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import decode_as, encode

COMMUNITY = b"f/" + bytes(range(32))
REQUEST = bytes([1]) * 32
MEMBERS = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(7)]
IDS = [m.member_id for m in MEMBERS]
OUTSIDER = Identity.from_seed(bytes([99]) * 32)
APPLIED: Statement = (COMMUNITY, "rides", REQUEST, 0, 12, "applied", "")
REFUSED: Statement = (COMMUNITY, "rides", REQUEST, 0, 12, "rejected", "replayed")


def signed(who: Identity, statement: Statement = APPLIED) -> CustomerReceipt:
    return make_receipt(
        who.member_id, lambda domain, digest: who.sign(domain + b"\x00" + digest), statement
    )


def test_a_receipt_is_signed_under_its_own_domain_and_round_trips() -> None:
    r = signed(MEMBERS[0])
    assert r.valid()
    assert receipt_message(r.digest) == RECEIPT_DOMAIN + b"\x00" + receipt_digest(APPLIED)
    assert decode_as(CustomerReceipt, encode(r)) == r


def test_more_than_a_third_is_needed() -> None:
    assert [needed(n) for n in (1, 2, 3, 4, 6, 7, 9)] == [1, 1, 2, 2, 3, 3, 4]
    assert needed(4, Fraction(1, 2)) == 3


def test_an_outcome_is_accepted_once_more_than_a_third_signed_it() -> None:
    receipts = [signed(m) for m in MEMBERS[:2]]
    short = tally(receipts, IDS, REQUEST)
    assert short.accepted is None
    assert (short.signers, short.needed) == (2, 3)
    enough = tally([*receipts, signed(MEMBERS[2])], IDS, REQUEST)
    assert enough.accepted is not None
    assert enough.accepted.statement == APPLIED
    assert enough.signers == 3


def test_outsiders_forgeries_duplicates_and_other_requests_do_not_count() -> None:
    forged = CustomerReceipt(*APPLIED, IDS[2], OUTSIDER.sign(b"anything"))
    other = signed(MEMBERS[3], (COMMUNITY, "rides", bytes(32), 0, 1, "applied", ""))
    receipts = [signed(MEMBERS[0]), signed(MEMBERS[0]), signed(MEMBERS[1])]
    receipts += [signed(OUTSIDER), forged, other]
    result = tally(receipts, IDS, REQUEST)
    assert result.accepted is None
    assert result.signers == 2
    assert result.ignored == 4


def test_a_member_who_signs_two_outcomes_counts_for_neither() -> None:
    receipts = [signed(MEMBERS[0]), signed(MEMBERS[0], REFUSED), signed(MEMBERS[1])]
    receipts.append(signed(MEMBERS[2]))
    result = tally(receipts, IDS, REQUEST)
    assert result.accepted is None
    assert result.signers == 2


def test_two_outcomes_both_past_the_threshold_are_a_conflict() -> None:
    receipts = [signed(m) for m in MEMBERS[:3]] + [signed(m, REFUSED) for m in MEMBERS[3:6]]
    with pytest.raises(ConflictingReceipts) as caught:
        tally(receipts, IDS, REQUEST)
    assert caught.value.reason == "conflicting_receipts"


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (2, b"short", "bad_request"),
        (3, -1, "bad_position"),
        (5, "", "bad_status"),
        (6, "x" * 257, "bad_detail"),
        (7, b"x", "bad_member"),
        (8, b"x", "bad_signature"),
    ],
)
def test_a_malformed_receipt_never_exists(index: int, value: object, reason: str) -> None:
    fields: list[object] = [*APPLIED, IDS[0], bytes(64)]
    fields[index] = value
    with pytest.raises(InvalidReceipt) as caught:
        CustomerReceipt(*fields)  # type: ignore[arg-type]
    assert caught.value.reason == reason


@given(
    honest=st.integers(0, 7),
    liars=st.integers(0, 2),
)
def test_fewer_than_a_third_of_liars_never_make_a_false_outcome_accepted(
    honest: int, liars: int
) -> None:
    """With at most 2 of 7 lying (below a third), only the true outcome can pass."""
    lying = [signed(m, REFUSED) for m in MEMBERS[:liars]]
    telling = [signed(m) for m in MEMBERS[liars : liars + honest]]
    result = tally([*lying, *telling], IDS, REQUEST)
    if result.accepted is not None:
        assert result.accepted.statement == APPLIED
    assert (result.accepted is not None) == (min(honest, 7 - liars) >= needed(7))
