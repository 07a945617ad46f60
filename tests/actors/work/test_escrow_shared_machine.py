"""Shared escrow jobs mixed with one-payee ones under random sequences (Hypothesis).

The one-payee machine's rules and invariants (tests/actors/work/test_escrow_machine.py), plus
open holds, multi-payee settlements and shared cash: after every step money is conserved per
currency, the escrow account holds what the book says is held, the treasury holds the
commissions and the settled debts, no coin is made or lost, no balance is negative, and no
job settles twice.  A refused step changes neither the book nor the ledger.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from peoplenet.actors.work.escrow import SETTLED, treasury_account
from tests.actors.work.coop_money import COMMUNITY, MEMBERS, OUTSIDER
from tests.actors.work.test_escrow_machine import EscrowMachine, jobs, members, people

TREASURY = treasury_account(COMMUNITY)
payouts = st.lists(
    st.tuples(st.sampled_from((*MEMBERS, OUTSIDER, TREASURY)), st.integers(-1, 200)), max_size=4
)


class SharedEscrowMachine(EscrowMachine):
    @rule(job=jobs, payer=members, amount=st.integers(-1, 400), sender=members)
    def hold_open(self, job: bytes, payer: bytes, amount: int, sender: bytes) -> None:
        book = self.coop.book
        self._step(
            sender,
            lambda f, ctx: book.hold_open(job, payer, "community", amount, funds=f, ctx=ctx),
        )

    @rule(job=jobs, paid=payouts, commission=st.integers(-1, 100), sender=members)
    def settle(
        self, job: bytes, paid: list[tuple[bytes, int]], commission: int, sender: bytes
    ) -> None:
        book = self.coop.book
        result = self._step(
            sender, lambda f, ctx: book.settle(job, paid, commission, funds=f, ctx=ctx)
        )
        self._settled(job, result)
        if result is not None:
            assert result.state == SETTLED
            assert result.to_payee + result.commission + result.refunded == result.amount

    @rule(
        job=jobs,
        payer=people,
        collector=people,
        paid=payouts,
        commission=st.integers(-1, 100),
    )
    def cash_shared(
        self,
        job: bytes,
        payer: bytes,
        collector: bytes,
        paid: list[tuple[bytes, int]],
        commission: int,
    ) -> None:
        book = self.coop.book
        result = self._step(
            collector,
            lambda f, ctx: book.cash_shared(job, payer, collector, paid, commission, ctx=ctx),
        )
        self._settled(job, result)

    @invariant()
    def shared_jobs_add_up(self) -> None:
        for job in self.coop.book.jobs.values():
            if job.shared and job.state != "held":
                assert sum(n for _, n in job.payouts) == job.to_payee
                assert job.to_payee + job.commission + job.refunded == job.amount


SharedEscrowMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_shared_escrow_invariants = SharedEscrowMachine.TestCase


class ManySharedEscrowMachine(SharedEscrowMachine):
    pass


ManySharedEscrowMachine.TestCase.settings = settings(
    max_examples=600,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_shared_escrow_invariants_many = pytest.mark.slow(ManySharedEscrowMachine.TestCase)
