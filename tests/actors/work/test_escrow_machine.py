"""EscrowBook and the currency's funds provider under random sequences of jobs (Hypothesis).

After every step: per currency ``paid_in == paid_out + commission + refunds + held``; the
escrow account holds exactly what the book says is held; the treasury holds the commissions
and the settled debts; no coin is made or lost (the ledger's total is what was minted); no
balance is negative; and no job settles twice (a model counts each job's settlements).  A
refused step changes neither the book nor the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from peoplenet.actors.work.escrow import HELD, escrow_account, treasury_account
from peoplenet.plugins.api import AppTxRejected, FoldContext
from peoplenet.plugins.funds import FundsHandle
from tests.actors.work.coop_money import APP, COMMUNITY, MEMBERS, OUTSIDER, Coop

ESCROW = escrow_account(COMMUNITY, APP)
TREASURY = treasury_account(COMMUNITY)
jobs = st.sampled_from([b"j%d" % i for i in range(6)])
people = st.sampled_from((*MEMBERS, OUTSIDER))
members = st.sampled_from(MEMBERS)
amounts = st.integers(-1, 400)
rates = st.sampled_from(["0", "1/10", "1/3", "1/2", "1", "3/2"])


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.coop = Coop(coins=300)
        self.minted = self.coop.ledger.minted
        self.settled: dict[bytes, int] = {}
        """Job -> how many steps settled it (a model: never above 1)."""

    def _step(self, sender: bytes, step: Callable[[FundsHandle, FoldContext], Any]) -> Any | None:
        before = self.coop.snapshot()
        try:
            return self.coop.tx(sender, step)
        except AppTxRejected as exc:
            refused = exc.reason
        assert refused  # a stable reason, and nothing changed anywhere
        assert self.coop.snapshot() == before
        return None

    def _settled(self, job: bytes, result: Any | None) -> None:
        if result is not None:
            self.settled[job] = self.settled.get(job, 0) + 1

    @rule(job=jobs, payer=members, payee=people, amount=amounts, sender=members)
    def hold(self, job: bytes, payer: bytes, payee: bytes, amount: int, sender: bytes) -> None:
        book = self.coop.book
        self._step(
            sender,
            lambda f, ctx: book.hold(job, payer, payee, "community", amount, funds=f, ctx=ctx),
        )

    @rule(job=jobs, rate=rates, sender=members)
    def release(self, job: bytes, rate: str, sender: bytes) -> None:
        book = self.coop.book
        result = self._step(sender, lambda f, ctx: book.release(job, rate, funds=f, ctx=ctx))
        self._settled(job, result)

    @rule(job=jobs, fee=st.integers(-1, 200), sender=members)
    def refund(self, job: bytes, fee: int, sender: bytes) -> None:
        book = self.coop.book
        result = self._step(sender, lambda f, ctx: book.refund(job, funds=f, ctx=ctx, fee=fee))
        self._settled(job, result)

    @rule(job=jobs, share=rates, rate=rates, sender=members)
    def split(self, job: bytes, share: str, rate: str, sender: bytes) -> None:
        book = self.coop.book
        result = self._step(sender, lambda f, ctx: book.split(job, share, rate, funds=f, ctx=ctx))
        self._settled(job, result)

    @rule(job=jobs, payer=people, payee=members, fare=amounts, rate=rates)
    def cash(self, job: bytes, payer: bytes, payee: bytes, fare: int, rate: str) -> None:
        book = self.coop.book
        result = self._step(payee, lambda f, ctx: book.cash(job, payer, payee, fare, rate, ctx=ctx))
        self._settled(job, result)

    @rule(member=members, amount=st.integers(-1, 60), sender=members)
    def settle_debt(self, member: bytes, amount: int, sender: bytes) -> None:
        book = self.coop.book
        self._step(sender, lambda f, ctx: book.settle_debt(member, amount, funds=f, ctx=ctx))

    @invariant()
    def money_is_conserved(self) -> None:
        book, ledger = self.coop.book, self.coop.ledger
        assert book.conserved()
        totals = book.total("community")
        assert ledger.balance(ESCROW) == totals.held == book.held()
        assert ledger.balance(TREASURY) == totals.commission + totals.debts_settled
        assert ledger.total() == ledger.minted == self.minted
        assert all(b >= 0 for b in ledger.balances.values())
        held = sum(j.amount for j in book.jobs.values() if j.state == HELD)
        assert held == totals.held

    @invariant()
    def no_job_settles_twice(self) -> None:
        assert all(n <= 1 for n in self.settled.values())
        for job, n in self.settled.items():
            assert n == 1 and self.coop.book.jobs[job].state != HELD


EscrowMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_escrow_invariants = EscrowMachine.TestCase


class ManyEscrowMachine(EscrowMachine):
    pass


ManyEscrowMachine.TestCase.settings = settings(
    max_examples=600,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_escrow_invariants_many = pytest.mark.slow(ManyEscrowMachine.TestCase)
