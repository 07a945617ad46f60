"""A tiny work app for the tests: jobs paid in cooperative coins held in escrow, or in cash.

Written as a third party would: it imports only ``peoplenet.plugins.api`` and
``peoplenet.plugins.kit``, and reaches the currency app's coins through ``ctx.funds``.  Its
records use tags 1168-1175 (the third-party range; tests only).  Also here: ``brokenbank``, a
funds provider whose hook raises, for the isolation tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from peoplenet.plugins.api import (
    FUNDS,
    AppSpec,
    AppTxRejected,
    FoldContext,
    Record,
    Value,
    hookimpl,
    wire_type,
)
from peoplenet.plugins.kit import COMMUNITY_COINS, EscrowBook, escrow_account

NAME: Final = "tinyjobs"


@wire_type(1168)
@dataclass(frozen=True, slots=True)
class HoldJob(Record):
    """The sender (the customer) puts ``amount`` in escrow for ``payee``'s job."""

    job: bytes
    payee: bytes
    amount: int
    currency: str = COMMUNITY_COINS


@wire_type(1169)
@dataclass(frozen=True, slots=True)
class FinishJob(Record):
    """The job is done: the payee gets the amount less the cooperative's commission."""

    job: bytes


@wire_type(1170)
@dataclass(frozen=True, slots=True)
class CancelJob(Record):
    job: bytes
    fee: int = 0


@wire_type(1171)
@dataclass(frozen=True, slots=True)
class CashJob(Record):
    """The sender (the worker) was paid ``fare`` in cash by ``payer``."""

    job: bytes
    payer: bytes
    fare: int


@wire_type(1172)
@dataclass(frozen=True, slots=True)
class SettleDebt(Record):
    amount: int


@wire_type(1173)
@dataclass(frozen=True, slots=True)
class HoldThenFail(Record):
    """Moves coins into escrow, then refuses: nothing may have moved."""

    amount: int


@wire_type(1174)
@dataclass(frozen=True, slots=True)
class Take(Record):
    """Tries to move ``amount`` from ``frm`` (someone else's coins, the treasury...)."""

    frm: bytes
    amount: int


@dataclass(slots=True)
class JobsState:
    book: EscrowBook = field(default_factory=lambda: EscrowBook(NAME))
    funds_seen: list[bool] = field(default_factory=list)
    """Whether each check/apply call had ``ctx.funds``."""


SPEC: Final = AppSpec(
    name=NAME,
    version="1.0",
    summary="jobs paid through escrow (a test app)",
    tx_types=(HoldJob, FinishJob, CancelJob, CashJob, SettleDebt, HoldThenFail, Take),
)


def _rate(ctx: FoldContext) -> str:
    return ctx.rates.get("commission", "0")


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return JobsState()


@hookimpl
def peoplenet_check_tx(state: JobsState, tx: Value, ctx: FoldContext) -> None:
    """Tries the hold's move as a dry run (``check_tx`` moves nothing, whatever it does)."""
    if isinstance(tx, HoldJob) and ctx.funds is not None:
        ctx.funds.move(
            ctx.sender, escrow_account(ctx.community, NAME), tx.currency, tx.amount, "dry run"
        )
    if isinstance(tx, FinishJob | CancelJob) and state.book.job(tx.job) is None:
        raise AppTxRejected("no_such_job", "checked early")


@hookimpl
def peoplenet_apply_tx(state: JobsState, tx: Value, ctx: FoldContext) -> Value:
    state.funds_seen.append(ctx.funds is not None)
    book, funds = state.book, ctx.funds
    if isinstance(tx, HoldJob):
        book.hold(tx.job, ctx.sender, tx.payee, tx.currency, tx.amount, funds=funds, ctx=ctx)
        return {"held": tx.amount}
    if isinstance(tx, FinishJob):
        job = book.release(tx.job, _rate(ctx), funds=funds, ctx=ctx)
        return {"paid": job.to_payee, "commission": job.commission}
    if isinstance(tx, CancelJob):
        job = book.refund(tx.job, funds=funds, ctx=ctx, fee=tx.fee)
        return {"refunded": job.refunded}
    if isinstance(tx, CashJob):
        job = book.cash(tx.job, tx.payer, ctx.sender, tx.fare, _rate(ctx), ctx=ctx)
        return {"debt": book.debts(ctx.sender)}
    if isinstance(tx, SettleDebt):
        return {"owed": book.settle_debt(ctx.sender, tx.amount, funds=funds, ctx=ctx)}
    if isinstance(tx, HoldThenFail):
        assert funds is not None
        funds.move(ctx.sender, escrow_account(ctx.community, NAME), COMMUNITY_COINS, tx.amount)
        raise AppTxRejected("changed_my_mind", "after moving")
    assert isinstance(tx, Take) and funds is not None
    funds.move(tx.frm, ctx.sender, COMMUNITY_COINS, tx.amount)
    return {"took": tx.amount}


@hookimpl
def peoplenet_snapshot(state: JobsState) -> Value:
    return state.book.to_value()


class BrokenBank:
    """A funds provider whose ``peoplenet_funds`` raises: a failure of the provider's, which
    refuses the calling app's transaction (``funds_failed``) and never faults the caller."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(name="brokenbank", version="1", summary="fails", provides=(FUNDS,))

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return {}

    @hookimpl
    def peoplenet_funds(
        self, state: object, op: str, args: Mapping[str, object], ctx: FoldContext
    ) -> Value:
        raise RuntimeError("the vault is stuck")

    @hookimpl
    def peoplenet_snapshot(self, state: object) -> Value:
        return {}


class SlowBank(BrokenBank):
    """A funds provider that hangs (answers after ``delay_s``)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(name="slowbank", version="1", summary="hangs", provides=(FUNDS,))

    @hookimpl
    def peoplenet_funds(
        self, state: object, op: str, args: Mapping[str, object], ctx: FoldContext
    ) -> Value:
        time.sleep(self.delay_s)
        return 0 if op == "balance" else ""


class LyingBank(BrokenBank):
    """A funds provider that accepts every move it is asked to check, then refuses to take
    them (a provider's bug)."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(name="lyingbank", version="1", summary="lies", provides=(FUNDS,))

    @hookimpl
    def peoplenet_funds(
        self, state: object, op: str, args: Mapping[str, object], ctx: FoldContext
    ) -> Value:
        if op == "move":
            raise AppTxRejected("vault_closed", "after all")
        return 10**6 if op == "balance" else ""
