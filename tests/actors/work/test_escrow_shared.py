"""Shared escrow jobs over the cooperative's coins: held with no payee, paid out to several.

``hold_open`` + ``settle`` (escrow) and ``cash_shared`` (cash), through the real currency
ledger behind the real funds handle.  Each refusal has its stable reason and leaves the book
and the ledger exactly as they were (snapshots compared).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from peoplenet.actors.work.escrow import (
    CASH,
    HELD,
    MAX_PAYEES,
    REFUNDED,
    SETTLED,
    EscrowJob,
    escrow_account,
    treasury_account,
)
from peoplenet.plugins import kit
from peoplenet.plugins.api import AppTxRejected, FoldContext
from peoplenet.plugins.funds import FundsHandle
from tests.actors.work.coop_money import APP, COMMUNITY, MEMBERS, OUTSIDER, Coop

A, B, C, D = MEMBERS
JOB = b"order-1"
ESCROW = escrow_account(COMMUNITY, APP)
TREASURY = treasury_account(COMMUNITY)

Step = Callable[[FundsHandle, FoldContext], Any]


def _hold_open(coop: Coop, amount: int = 1000, job: bytes = JOB, payer: bytes = A) -> EscrowJob:
    book = coop.book
    return coop.tx(
        payer, lambda f, ctx: book.hold_open(job, payer, "community", amount, funds=f, ctx=ctx)
    )


def _settle(coop: Coop, payouts: Sequence[Any], commission: int, job: bytes = JOB) -> Step:
    return lambda f, ctx: coop.book.settle(job, payouts, commission, funds=f, ctx=ctx)


def _refused(coop: Coop, sender: bytes, step: Step, reason: str) -> None:
    before = coop.snapshot()
    with pytest.raises(AppTxRejected) as caught:
        coop.tx(sender, step)
    assert caught.value.reason == reason, caught.value
    assert coop.snapshot() == before
    assert coop.book.conserved()


def _cash_refused(coop: Coop, call: Callable[[], Any], reason: str) -> None:
    before = coop.snapshot()
    with pytest.raises(AppTxRejected) as caught:
        call()
    assert caught.value.reason == reason, caught.value
    assert coop.snapshot() == before


# -- paying several payees ------------------------------------------------------------------------


def test_an_open_hold_has_no_payee_and_settles_to_several_at_once() -> None:
    coop = Coop()
    held = _hold_open(coop, 1000)
    assert (held.state, held.payee, held.shared, held.payouts) == (HELD, b"", True, ())
    assert (coop.balance(A), coop.balance(ESCROW), coop.book.held()) == (0, 1000, 1000)
    job = coop.tx(C, _settle(coop, [(C, 300), (B, 540), (D, 60)], 80))
    assert (job.state, job.to_payee, job.commission, job.refunded) == (SETTLED, 900, 80, 20)
    assert job.payouts == ((B, 540), (C, 300), (D, 60))  # sorted by payee
    assert (coop.balance(B), coop.balance(C), coop.balance(D)) == (1540, 1300, 1060)
    assert (coop.balance(TREASURY), coop.balance(A), coop.balance(ESCROW)) == (80, 20, 0)
    totals = coop.book.total("community")
    assert (totals.paid_in, totals.paid_out, totals.commission, totals.refunds) == (
        1000,
        900,
        80,
        20,
    )
    assert totals.held == 0
    assert coop.book.conserved()
    assert coop.ledger.total() == coop.ledger.minted


def test_zero_payouts_are_left_out_and_everything_may_go_back() -> None:
    coop = Coop()
    _hold_open(coop, 500)
    job = coop.tx(B, _settle(coop, [(B, 0), (C, 0)], 0))
    assert (job.payouts, job.to_payee, job.refunded) == ((), 0, 500)
    assert coop.balance(A) == 1000
    assert coop.book.conserved()


def test_a_settled_shared_job_is_settled_for_good() -> None:
    coop = Coop()
    _hold_open(coop, 500)
    coop.tx(B, _settle(coop, [(B, 500)], 0))
    for step in (
        _settle(coop, [(B, 1)], 0),
        lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx),
        lambda f, ctx: coop.book.hold_open(JOB, A, "community", 5, funds=f, ctx=ctx),
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 5, funds=f, ctx=ctx),
    ):
        _refused(coop, A, step, "already_settled")


def test_an_open_hold_is_refunded_in_full_but_takes_no_fee() -> None:
    coop = Coop()
    _hold_open(coop, 500)
    _refused(coop, A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx, fee=1), "shared_job")
    job = coop.tx(A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx))
    assert (job.state, job.refunded, coop.balance(A)) == (REFUNDED, 500, 1000)
    assert coop.book.conserved()


@pytest.mark.parametrize(
    "step",
    [
        lambda book, f, ctx: book.release(JOB, "1/10", funds=f, ctx=ctx),
        lambda book, f, ctx: book.split(JOB, "1/2", "1/10", funds=f, ctx=ctx),
    ],
)
def test_one_payee_settlements_refuse_a_shared_job(step: Callable[..., Any]) -> None:
    coop = Coop()
    _hold_open(coop, 500)
    _refused(coop, A, lambda f, ctx: step(coop.book, f, ctx), "shared_job")


def test_settle_refuses_a_one_payee_job_and_an_unknown_one() -> None:
    coop = Coop()
    coop.tx(A, lambda f, ctx: coop.book.hold(JOB, A, B, "community", 500, funds=f, ctx=ctx))
    _refused(coop, A, _settle(coop, [(B, 500)], 0), "not_shared")
    _refused(coop, A, _settle(coop, [(B, 500)], 0, job=b"nope"), "no_such_job")


@pytest.mark.parametrize(
    ("payouts", "commission", "reason"),
    [
        ([(B, -1)], 0, "bad_payouts"),
        ([(B, 100), (B, 100)], 0, "bad_payouts"),
        ([(B, 100), (A, 100)], 0, "bad_payouts"),  # the payer among the payees
        ([(B, 900), (C, 101)], 0, "bad_payouts"),  # over the amount
        ([(B, 900)], 101, "bad_payouts"),  # over the amount with the commission
        ([(TREASURY, 10)], 0, "bad_payouts"),
        ([(b"short", 10)], 0, "bad_payouts"),
        ([("text", 10)], 0, "bad_payouts"),
        ([(B, True)], 0, "bad_payouts"),
        ([(B, 10, 1)], 0, "bad_payouts"),
        ([B], 0, "bad_payouts"),
        ({B: 10}, 0, "bad_payouts"),
        ([(bytes([i]) * 32, 1) for i in range(MAX_PAYEES + 1)], 0, "bad_payouts"),
        ([(B, 10)], -1, "bad_commission"),
        ([(B, 10)], True, "bad_commission"),
        ([(OUTSIDER, 10)], 0, "unknown_account"),  # a payee who is not a member
    ],
)
def test_settle_refuses_bad_payouts_and_changes_nothing(
    payouts: Any, commission: Any, reason: str
) -> None:
    coop = Coop()
    _hold_open(coop, 1000)
    _refused(coop, C, _settle(coop, payouts, commission), reason)
    assert coop.book.jobs[JOB].state == HELD
    assert coop.balance(ESCROW) == 1000


def test_a_refused_leg_moves_no_other_leg() -> None:
    """All or nothing: the store's and the treasury's legs would be taken, not the outsider's."""
    coop = Coop()
    _hold_open(coop, 1000)
    _refused(coop, C, _settle(coop, [(B, 500), (OUTSIDER, 100)], 50), "unknown_account")
    assert (coop.balance(B), coop.balance(TREASURY), coop.balance(A)) == (1000, 0, 0)


@pytest.mark.parametrize(
    ("job", "payer", "amount", "reason"),
    [
        (b"", A, 5, "bad_job"),
        (JOB, b"short", 5, "bad_account"),
        (JOB, A, 0, "bad_amount"),
        (JOB, A, 1001, "insufficient_funds"),
    ],
)
def test_hold_open_refuses_bad_arguments(
    job: bytes, payer: bytes, amount: int, reason: str
) -> None:
    coop = Coop()
    book = coop.book
    _refused(
        coop,
        A,
        lambda f, ctx: book.hold_open(job, payer, "community", amount, funds=f, ctx=ctx),
        reason,
    )


def test_hold_open_takes_only_the_senders_coins_and_only_once() -> None:
    coop = Coop()
    book = coop.book
    _refused(
        coop,
        C,
        lambda f, ctx: book.hold_open(JOB, A, "community", 5, funds=f, ctx=ctx),
        "not_your_funds",
    )
    _hold_open(coop, 5)
    _refused(
        coop,
        A,
        lambda f, ctx: book.hold_open(JOB, A, "community", 5, funds=f, ctx=ctx),
        "already_held",
    )


def test_a_one_payee_hold_still_refuses_an_empty_payee() -> None:
    coop = Coop()
    book = coop.book
    _refused(
        coop,
        A,
        lambda f, ctx: book.hold(JOB, A, b"", "community", 5, funds=f, ctx=ctx),
        "bad_account",
    )


# -- snapshot forms ----------------------------------------------------------------------------


def test_one_payee_jobs_keep_their_ten_field_form_and_shared_ones_add_their_payouts() -> None:
    coop = Coop()
    coop.tx(A, lambda f, ctx: coop.book.hold(b"one", A, B, "community", 100, funds=f, ctx=ctx))
    one = coop.book.jobs[b"one"].to_value()
    assert one == (A, B, "community", 100, coop.now_ms, HELD, -1, 0, 0, 0)
    held = _hold_open(coop, 100)
    at = coop.now_ms
    assert held.to_value() == (A, b"", "community", 100, at, HELD, -1, 0, 0, 0, ())
    coop.tx(B, _settle(coop, [(C, 60), (B, 30)], 10))
    paid = ((B, 30), (C, 60))
    assert held.to_value() == (A, b"", "community", 100, at, SETTLED, coop.now_ms, 90, 10, 0, paid)


# -- cash shared by several -----------------------------------------------------------------------


def test_cash_shared_records_the_parts_and_the_collector_owes_the_commission() -> None:
    coop = Coop()
    before = coop.ledger.snapshot()
    job = coop.book.cash_shared(
        JOB, OUTSIDER, C, [(B, 900), (C, 400), (D, 0)], 200, ctx=coop.ctx(C)
    )
    assert (job.state, job.amount, job.payee, job.to_payee, job.commission) == (
        CASH,
        1500,
        C,
        1300,
        200,
    )
    assert job.payouts == ((B, 900), (C, 400))
    assert coop.ledger.snapshot() == before  # paid outside: no coin moved
    assert (coop.book.debts(C), coop.book.debts(B)) == (200, 0)
    totals = coop.book.total("community")
    assert (totals.cash_fares, totals.cash_commission, totals.paid_in) == (1500, 200, 0)
    coop.tx(C, lambda f, ctx: coop.book.settle_debt(C, 200, funds=f, ctx=ctx))
    assert coop.book.debts(C) == 0
    assert coop.balance(TREASURY) == 200
    assert coop.book.conserved()


def test_cash_shared_without_commission_leaves_no_debt() -> None:
    coop = Coop()
    coop.book.cash_shared(JOB, OUTSIDER, B, [(B, 300)], 0, ctx=coop.ctx(B))
    assert coop.book.debts(B) == 0
    assert coop.book.conserved()


@pytest.mark.parametrize(
    ("job", "payer", "collector", "payouts", "commission", "reason"),
    [
        (b"", OUTSIDER, C, [(B, 10)], 0, "bad_job"),
        (JOB, OUTSIDER, b"short", [(B, 10)], 0, "bad_account"),
        (JOB, b"short", C, [(B, 10)], 0, "bad_account"),
        (JOB, OUTSIDER, OUTSIDER, [(B, 10)], 0, "self_payment"),
        (JOB, OUTSIDER, C, [(B, 0)], 0, "bad_amount"),  # a fare of nothing
        (JOB, OUTSIDER, C, [(B, -5)], 10, "bad_payouts"),
        (JOB, OUTSIDER, C, [(B, 5), (B, 5)], 0, "bad_payouts"),
        (JOB, OUTSIDER, C, [(OUTSIDER, 5)], 0, "bad_payouts"),
        (JOB, OUTSIDER, C, [(TREASURY, 5)], 0, "bad_payouts"),
        (JOB, OUTSIDER, C, [(B, 5)], -1, "bad_commission"),
        (JOB, OUTSIDER, C, [(B, 10**15)], 1, "bad_amount"),
        (b"held", OUTSIDER, A, [(B, 10)], 0, "already_held"),
    ],
)
def test_cash_shared_refusals_change_nothing(
    job: bytes, payer: bytes, collector: bytes, payouts: Any, commission: Any, reason: str
) -> None:
    coop = Coop()
    _hold_open(coop, 100, job=b"held")
    _cash_refused(
        coop,
        lambda: coop.book.cash_shared(job, payer, collector, payouts, commission, ctx=coop.ctx(C)),
        reason,
    )


def test_the_kit_exports_the_shared_escrow() -> None:
    assert {"SETTLED", "MAX_PAYEES", "Payouts"} <= set(kit.__all__)
    assert kit.SETTLED == SETTLED
