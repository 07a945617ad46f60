"""EscrowBook over the cooperative's coins: every way money leaves escrow, and every refusal.

Each refusal is an ``AppTxRejected`` with its stable reason, and leaves both the book and the
currency's ledger exactly as they were (snapshots compared).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from peoplenet.actors.work.escrow import (
    CASH,
    ESCROW_DOMAIN,
    REFUNDED,
    RELEASED,
    SPLIT,
    TREASURY_DOMAIN,
    EscrowBook,
    escrow_account,
    treasury_account,
)
from peoplenet.actors.work.funds import Move
from peoplenet.plugins.api import AppTxRejected, FoldContext, PluginError
from peoplenet.plugins.funds import FundsHandle
from tests.actors.work.coop_money import APP, COMMUNITY, MEMBERS, OUTSIDER, Coop

A, B, C, D = MEMBERS
JOB = b"job-1"
ESCROW = escrow_account(COMMUNITY, APP)
TREASURY = treasury_account(COMMUNITY)

Step = Callable[[FundsHandle, FoldContext], Any]


def _hold(coop: Coop, job: bytes = JOB, amount: int = 500, payer: bytes = A) -> None:
    coop.tx(
        payer,
        lambda f, ctx: coop.book.hold(job, payer, B, "community", amount, funds=f, ctx=ctx),
    )


def _refused(coop: Coop, sender: bytes, step: Step, reason: str) -> None:
    before = coop.snapshot()
    with pytest.raises(AppTxRejected) as caught:
        coop.tx(sender, step)
    assert caught.value.reason == reason, caught.value
    assert coop.snapshot() == before
    assert coop.book.conserved()


# -- accounts -------------------------------------------------------------------------------------


def test_accounts_are_the_documented_hashes() -> None:
    def framed(domain: bytes, *parts: bytes) -> bytes:
        body = domain + b"".join(len(p).to_bytes(2, "big") + p for p in parts)
        return hashlib.blake2b(body, digest_size=32).digest()

    assert escrow_account(COMMUNITY, APP) == framed(ESCROW_DOMAIN, COMMUNITY, b"rides")
    assert treasury_account(COMMUNITY) == framed(TREASURY_DOMAIN, COMMUNITY)
    accounts = {
        escrow_account(COMMUNITY, "rides"),
        escrow_account(COMMUNITY, "delivery"),
        escrow_account(b"f/other", "rides"),
        treasury_account(COMMUNITY),
        treasury_account(b"f/other"),
    }
    assert len(accounts) == 5
    assert all(len(a) == 32 for a in accounts)


# -- the ways out of escrow ---------------------------------------------------------------------


def test_hold_then_release_pays_the_payee_less_the_commission() -> None:
    coop = Coop()
    _hold(coop, amount=500)
    assert (coop.balance(A), coop.balance(ESCROW), coop.book.held()) == (500, 500, 500)
    job = coop.tx(B, lambda f, ctx: coop.book.release(JOB, "1/10", funds=f, ctx=ctx))
    assert (job.state, job.to_payee, job.commission) == (RELEASED, 450, 50)
    assert (coop.balance(B), coop.balance(TREASURY), coop.balance(ESCROW)) == (1450, 50, 0)
    totals = coop.book.total("community")
    assert (totals.paid_in, totals.paid_out, totals.commission, totals.held) == (500, 450, 50, 0)
    assert coop.book.conserved()
    assert coop.ledger.total() == coop.ledger.minted


@pytest.mark.parametrize(
    ("amount", "rate", "commission"),
    [(105, "1/10", 11), (104, "1/10", 10), (5, "1/10", 1), (4, "1/10", 0), (7, "1/3", 2)],
)
def test_the_commission_is_rounded_half_up_and_nothing_is_lost(
    amount: int, rate: str, commission: int
) -> None:
    coop = Coop()
    _hold(coop, amount=amount)
    job = coop.tx(B, lambda f, ctx: coop.book.release(JOB, rate, funds=f, ctx=ctx))
    assert job.commission == commission
    assert job.to_payee + job.commission == amount
    assert coop.balance(TREASURY) == commission
    assert coop.book.conserved()


def test_refund_returns_the_amount_less_a_fee_to_the_payee() -> None:
    coop = Coop()
    _hold(coop, amount=300)
    job = coop.tx(A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx, fee=40))
    assert (job.state, job.refunded, job.to_payee) == (REFUNDED, 260, 40)
    assert (coop.balance(A), coop.balance(B), coop.balance(ESCROW)) == (960, 1040, 0)
    assert coop.book.total("community").refunds == 260
    assert coop.book.conserved()


def test_a_full_refund_moves_one_leg() -> None:
    coop = Coop()
    _hold(coop, amount=300)
    coop.tx(A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx))
    assert (coop.balance(A), coop.balance(B)) == (1000, 1000)


def test_split_shares_as_ruled() -> None:
    coop = Coop()
    _hold(coop, amount=100)
    job = coop.tx(C, lambda f, ctx: coop.book.split(JOB, Fraction(1, 3), "1/10", funds=f, ctx=ctx))
    # customer 33 (33.3 half up), worker 67, commission 7 (6.7 half up), payee 60
    assert (job.state, job.refunded, job.commission, job.to_payee) == (SPLIT, 33, 7, 60)
    assert (coop.balance(A), coop.balance(B), coop.balance(TREASURY)) == (933, 1060, 7)
    assert coop.book.conserved()


def test_cash_records_the_fare_and_the_commission_as_the_workers_debt() -> None:
    coop = Coop()
    before = coop.ledger.snapshot()
    job = coop.book.cash(JOB, OUTSIDER, B, 1234, "1/10", ctx=coop.ctx(B))
    assert (job.state, job.commission, job.to_payee) == (CASH, 123, 1111)
    assert coop.ledger.snapshot() == before  # paid outside: no coin moved
    assert coop.book.debts(B) == 123
    totals = coop.book.total("community")
    assert (totals.cash_fares, totals.cash_commission, totals.paid_in) == (1234, 123, 0)
    left = coop.tx(B, lambda f, ctx: coop.book.settle_debt(B, 100, funds=f, ctx=ctx))
    assert left == 23 == coop.book.debts(B)
    assert (coop.balance(B), coop.balance(TREASURY)) == (900, 100)
    coop.tx(B, lambda f, ctx: coop.book.settle_debt(B, 23, funds=f, ctx=ctx))
    assert coop.book.debts(B) == 0
    assert coop.book.total("community").debts_settled == 123
    assert coop.book.conserved()


# -- refusals: each leaves both states unchanged --------------------------------------------------


def test_hold_refused_for_insufficient_funds() -> None:
    coop = Coop(coins=100)
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 101, funds=f, ctx=ctx),
        "insufficient_funds",
    )


def test_every_move_refused_without_a_funds_provider() -> None:
    coop = Coop(provider=False)
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 1, funds=f, ctx=ctx),
        "no_funds_provider",
    )
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 1, funds=None, ctx=ctx),
        "no_funds_provider",
    )
    handle = coop.handle(A)
    assert handle.can_move(A, B, "community", 1) == "no_funds_provider"
    with pytest.raises(AppTxRejected, match="no_funds_provider"):
        handle.balance(A, "community")


def test_hold_refused_in_an_unknown_currency() -> None:
    coop = Coop()
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(JOB, A, B, "euro", 5, funds=f, ctx=ctx),
        "unknown_currency",
    )
    with pytest.raises(AppTxRejected, match="unknown_currency"):
        coop.handle(A).balance(A, "euro")


@pytest.mark.parametrize(
    ("job", "payer", "payee", "amount", "reason"),
    [
        (b"", A, B, 5, "bad_job"),
        (b"x" * 65, A, B, 5, "bad_job"),
        (JOB, A, A, 5, "self_payment"),
        (JOB, A, b"short", 5, "bad_account"),
        (JOB, A, B, 0, "bad_amount"),
        (JOB, A, B, -3, "bad_amount"),
        (JOB, A, B, 10**15 + 1, "bad_amount"),
        (JOB, A, B, True, "bad_amount"),
    ],
)
def test_hold_refuses_bad_arguments(
    job: bytes, payer: bytes, payee: bytes, amount: int, reason: str
) -> None:
    coop = Coop()
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(job, payer, payee, "community", amount, funds=f, ctx=ctx),
        reason,
    )


def test_hold_refused_from_someone_elses_coins() -> None:
    coop = Coop()
    _refused(
        coop,
        C,  # C submits, A's coins would move
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 5, funds=f, ctx=ctx),
        "not_your_funds",
    )


def test_a_job_is_held_once_and_settles_once() -> None:
    coop = Coop()
    _hold(coop)
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 5, funds=f, ctx=ctx),
        "already_held",
    )
    coop.tx(B, lambda f, ctx: coop.book.release(JOB, "1/10", funds=f, ctx=ctx))
    for step in (
        lambda f, ctx: coop.book.release(JOB, "1/10", funds=f, ctx=ctx),
        lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx),
        lambda f, ctx: coop.book.split(JOB, "1/2", "1/10", funds=f, ctx=ctx),
        lambda f, ctx: coop.book.hold(JOB, A, B, "community", 5, funds=f, ctx=ctx),
    ):
        _refused(coop, A, step, "already_settled")
    with pytest.raises(AppTxRejected, match="already_settled"):
        coop.book.cash(JOB, A, B, 5, "1/10", ctx=coop.ctx(B))


@pytest.mark.parametrize(
    "step",
    [
        lambda book, f, ctx: book.release(b"nope", "1/10", funds=f, ctx=ctx),
        lambda book, f, ctx: book.refund(b"nope", funds=f, ctx=ctx),
        lambda book, f, ctx: book.split(b"nope", "1/2", "1/10", funds=f, ctx=ctx),
    ],
)
def test_settling_an_unknown_job_is_refused(step: Callable[..., Any]) -> None:
    coop = Coop()
    _hold(coop)
    _refused(coop, A, lambda f, ctx: step(coop.book, f, ctx), "no_such_job")


@pytest.mark.parametrize(
    ("rate", "share", "reason"),
    [
        ("3/2", "0", "bad_rate"),
        ("-1/10", "0", "bad_rate"),
        ("x", "0", "bad_rate"),
        ("1/10", "5/4", "bad_share"),
        ("1/10", "1/0", "bad_share"),
    ],
)
def test_bad_rates_and_shares_are_refused(rate: str, share: str, reason: str) -> None:
    coop = Coop()
    _hold(coop)
    _refused(coop, B, lambda f, ctx: coop.book.split(JOB, share, rate, funds=f, ctx=ctx), reason)


@pytest.mark.parametrize("fee", [-1, 501, True])
def test_a_bad_fee_is_refused(fee: int) -> None:
    coop = Coop()
    _hold(coop, amount=500)
    _refused(coop, A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx, fee=fee), "bad_fee")


def test_release_to_a_payee_who_left_moves_no_leg() -> None:
    """All or nothing: the commission's leg would be taken, the payee's is refused."""
    coop = Coop()
    coop.tx(A, lambda f, ctx: coop.book.hold(JOB, A, OUTSIDER, "community", 100, funds=f, ctx=ctx))
    _refused(
        coop,
        A,
        lambda f, ctx: coop.book.release(JOB, "1/10", funds=f, ctx=ctx),
        "unknown_account",
    )
    assert coop.balance(TREASURY) == 0
    coop.tx(A, lambda f, ctx: coop.book.refund(JOB, funds=f, ctx=ctx))  # the way out
    assert coop.balance(A) == 1000


def test_settling_a_debt_is_refused_beyond_what_is_owed_or_held() -> None:
    coop = Coop(coins=10)
    _refused(coop, B, lambda f, ctx: coop.book.settle_debt(B, 1, funds=f, ctx=ctx), "no_debt")
    coop.book.cash(JOB, OUTSIDER, B, 500, "1/10", ctx=coop.ctx(B))  # owes 50, holds 10
    for amount, reason in ((51, "over_settle"), (0, "bad_amount"), (20, "insufficient_funds")):
        _refused(coop, B, _settle(coop, B, amount), reason)
    _refused(  # only the debtor's own transaction pays its debt
        coop, A, lambda f, ctx: coop.book.settle_debt(B, 5, funds=f, ctx=ctx), "not_your_funds"
    )
    assert coop.book.debts(B) == 50


def _settle(coop: Coop, member: bytes, amount: int) -> Step:
    return lambda f, ctx: coop.book.settle_debt(member, amount, funds=f, ctx=ctx)


def test_cash_refuses_a_job_already_held() -> None:
    coop = Coop()
    _hold(coop)
    before = coop.snapshot()
    with pytest.raises(AppTxRejected, match="already_held"):
        coop.book.cash(JOB, A, B, 5, "1/10", ctx=coop.ctx(B))
    assert coop.snapshot() == before


# -- the handle: what a fold may move ----------------------------------------------------------


def test_money_leaves_only_the_sender_or_the_apps_escrow() -> None:
    coop = Coop()
    coop.ledger.mint(coop.now_ms, TREASURY, 100, "test")
    other_escrow = escrow_account(COMMUNITY, "delivery")
    coop.ledger.mint(coop.now_ms, other_escrow, 100, "test")
    handle = coop.handle(A)
    assert handle.can_move(A, B, "community", 5) == ""
    assert handle.can_move(B, A, "community", 5) == "not_your_funds"
    assert handle.can_move(TREASURY, A, "community", 5) == "not_your_funds"
    assert handle.can_move(other_escrow, A, "community", 5) == "not_your_funds"
    assert handle.can_move(A, other_escrow, "community", 5) == "unknown_account"
    assert handle.can_move(A, OUTSIDER, "community", 5) == "unknown_account"
    assert handle.can_move(A, TREASURY, "community", 5) == ""
    assert handle.can_move(A, ESCROW, "community", 5) == ""
    assert handle.can_move(A, A, "community", 5) == "self_payment"


def test_moves_of_one_transaction_are_checked_together_and_taken_at_its_end() -> None:
    coop = Coop(coins=100)
    handle = coop.handle(A)
    handle.move(A, B, "community", 60)
    assert handle.balance(A, "community") == 40
    assert handle.balance(B, "community") == 160
    assert handle.can_move(A, C, "community", 41) == "insufficient_funds"
    with pytest.raises(AppTxRejected, match="insufficient_funds"):
        handle.move_all([Move(A, C, "community", 30), Move(A, D, "community", 11)])
    assert handle.journal == [Move(A, B, "community", 60)]  # the refused batch left nothing
    assert coop.balance(A) == 100  # nothing taken before the transaction ends
    handle.commit()
    assert (coop.balance(A), coop.balance(B)) == (40, 160)
    with pytest.raises(PluginError):  # a handle outlives its call only as a mistake
        handle.balance(A, "community")


def test_a_transaction_that_raises_after_moving_moves_nothing() -> None:
    coop = Coop()
    before = coop.snapshot()

    def hold_then_fail(f: FundsHandle, ctx: FoldContext) -> None:
        coop.book.hold(b"other", A, B, "community", 5, funds=f, ctx=ctx)
        raise AppTxRejected("changed_my_mind")

    coop.book = EscrowBook(APP)
    with pytest.raises(AppTxRejected, match="changed_my_mind"):
        coop.tx(A, hold_then_fail)
    assert coop.ledger.snapshot() == before[1]


def test_rates_are_exact_fractions_from_zero_to_one() -> None:
    coop = Coop()
    _hold(coop, job=b"a", amount=100)
    _refused(  # a decimal is not the wire form of a rate (the kit's parse_rate)
        coop, B, lambda f, ctx: coop.book.release(b"a", "0.1", funds=f, ctx=ctx), "bad_rate"
    )
    job = coop.tx(B, lambda f, ctx: coop.book.release(b"a", Fraction(1, 3), funds=f, ctx=ctx))
    assert (job.commission, job.to_payee) == (33, 67)
    _hold(coop, job=b"b", amount=100)
    job = coop.tx(B, lambda f, ctx: coop.book.release(b"b", "1", funds=f, ctx=ctx))
    assert (job.commission, job.to_payee) == (100, 0)
    assert coop.book.conserved()
