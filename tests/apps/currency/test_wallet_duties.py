"""The wallet's duties from the ledger's work indexes equal a plain scan of every transfer.

The reference below is ``Wallet.duties`` as it was before the indexes (it scans every
transfer and copies the chain state up front).  The Hypothesis machine of
``test_currency_state_machine`` (forks, double spends, redemptions, credit lines, any delivery
order) checks after every step, on every node and for every member, that both give the same
drafts, the same credit offers and the same claims.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

from peoplenet.apps.currency.ledger import VOID, CoinLedger, Transfer
from peoplenet.apps.currency.records import (
    MAX_BALANCE,
    Accept,
    Approve,
    CoinRecord,
    Disapprove,
    Redeem,
    Repay,
)
from peoplenet.apps.currency.state import ChainState, compute_repayments
from peoplenet.apps.currency.wallet import Draft, Wallet
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId
from tests.apps.currency import test_state_machine as machine


def scan_duties(ledger: CoinLedger, me: MemberId) -> list[Draft]:
    """``Wallet.duties`` by a full scan of the ledger's transfers (the reference)."""
    state = ledger.chain_state(me)
    parent = ledger.latest(me)
    drafts: list[Draft] = []

    def attempt(payload: CoinRecord, refs: Iterable[BlockId], purpose: str) -> bool:
        refs = tuple(refs)
        if ledger.check(me, payload, refs, state) is not None:
            return False
        drafts.append(Draft(payload, refs, purpose, parent, chained=bool(drafts)))
        return True

    def judge(t: Transfer) -> None:
        if t.id in state.approved or t.id in state.disapproved:
            return
        tip = state.approved_tip.get(t.payer)
        if tip is not None and ledger.conflicting(BlockId(tip), t.id):
            attempt(Disapprove(t.id, tip), (t.id, BlockId(tip)), "disapprove")
        else:
            attempt(Approve(t.id), (t.id,), "approve")

    def double_spent(t: Transfer) -> bool:
        return any(
            ledger.conflicting(o.id, t.id) and ledger.accepts(o.id)
            for o in ledger.transfers()
            if o.payer == t.payer and o.currency == t.currency
        )

    def take(t: Transfer) -> None:
        if ledger.status(t.id) == VOID:
            return
        new = state.balance(t.currency) + t.amount
        if new > MAX_BALANCE:
            return
        if t.needs_approval:
            approvals = ledger.approvals(t.id)
            if approvals:
                attempt(Accept(t.id, approvals[0], new), (t.id, approvals[0]), "accept")
            return
        if t.currency == me:
            tip = state.approved_tip.get(t.payer)
            if tip is not None and ledger.conflicting(BlockId(tip), t.id):
                if t.id not in state.disapproved:
                    attempt(Disapprove(t.id, tip), (t.id, BlockId(tip)), "disapprove")
                return
        elif t.payer in ledger.equivocators() and double_spent(t):
            return
        attempt(Accept(t.id, None, new), (t.id,), "accept")

    def repay(claim: BlockId) -> None:
        redeem = ledger.payload(claim)
        assert isinstance(redeem, Redeem)
        while claim in state.claims:
            remaining = state.claims[claim]
            cur, amount = compute_repayments(remaining, redeem.prefs, state.balances, me)[0]
            have = state.balance(cur)
            if amount > have:
                return
            if not attempt(Repay(claim, cur, amount, have - amount), (claim,), "repay"):
                return

    def deadline(claim: bytes) -> int:
        redeem = ledger.payload(BlockId(claim))
        assert isinstance(redeem, Redeem)
        return redeem.deadline

    transfers = ledger.transfers()
    for t in transfers:
        if t.currency == me and t.needs_approval:
            judge(t)
    for t in transfers:
        if t.payee == me and t.kind != "credit_offer" and t.id not in state.consumed:
            take(t)
    for claim in sorted(state.claims, key=lambda c: (deadline(c), c)):
        repay(BlockId(claim))
    return drafts


def scan_credit_offers(ledger: CoinLedger, me: MemberId) -> list[Transfer]:
    taken = ledger.chain_state(me).consumed
    return [
        t
        for t in ledger.transfers()
        if t.kind == "credit_offer" and t.payee == me and t.id not in taken
    ]


class IndexedDutiesMachine(machine.FlashMachine):
    @invariant()
    def indexed_duties_equal_a_full_scan(self) -> None:
        for node in self.nodes:
            led = node.ledger
            for me in self.ids:
                wallet = Wallet(me, led)
                assert wallet.duties(self.now) == scan_duties(led, me)
                assert wallet.credit_offers() == scan_credit_offers(led, me)
            redeems = sorted(t.id for t in led.transfers() if t.kind == "redeem")
            assert [c.id for c in led.claims(self.now)] == redeems


IndexedDutiesMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_indexed_duties_equal_a_full_scan = IndexedDutiesMachine.TestCase


class ManyIndexedDutiesMachine(IndexedDutiesMachine):
    pass


ManyIndexedDutiesMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_indexed_duties_equal_a_full_scan_many = pytest.mark.slow(ManyIndexedDutiesMachine.TestCase)


def test_settled_duties_never_scan_the_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """After many settled payments, duties read only the work indexes (and find none)."""
    people = [Identity.from_seed(bytes([0x70 + i]) * 32) for i in range(3)]
    payer, payee, sovereign = (p.member_id for p in people)
    ledger = CoinLedger(machine.LACE)

    def sign(who: Identity, draft: Draft) -> None:
        latest = ledger.latest(who.member_id)
        block = Block.create(who, machine.LACE, draft.payload, draft.pointers_after(latest))
        assert ledger.apply(block).ok

    def settle() -> None:
        while True:
            work = [(p, Wallet(p.member_id, ledger).duties(0)) for p in people]
            if not any(drafts for _, drafts in work):
                return
            for p, drafts in work:
                for d in drafts:
                    sign(p, d)

    sign(people[2], Wallet(sovereign, ledger).mint(1000))
    sign(people[2], Wallet(sovereign, ledger).pay(payer, 1000))
    settle()
    for _ in range(300):  # every payment: issue, approve (sovereign), accept (payee)
        sign(people[0], Wallet(payer, ledger).pay(payee, 1, sovereign))
        settle()
    assert ledger.chain_state(payee).balance(sovereign) == 300
    for m in (payer, payee, sovereign):
        assert ledger.awaiting_judgement(m) == [] and ledger.unaccepted(m) == []

    def no_scan(self: CoinLedger) -> list[Transfer]:
        raise AssertionError("duties scanned every transfer")

    monkeypatch.setattr(CoinLedger, "transfers", no_scan)
    sign(people[0], Wallet(payer, ledger).pay(payee, 1, sovereign))
    drafts = Wallet(sovereign, ledger).duties(0)
    assert [d.purpose for d in drafts] == ["approve"]
    assert Wallet(payee, ledger).duties(0) == []  # not approved yet: nothing to accept
    sign(people[2], drafts[0])
    assert [d.purpose for d in Wallet(payee, ledger).duties(0)] == ["accept"]
    assert Wallet(payer, ledger).duties(0) == []


def test_a_payment_copies_no_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drafting a payment and its duties copies none of the chains' growing sets: what one
    payment costs must not grow with the number of payments before it."""
    people = [Identity.from_seed(bytes([0x60 + i]) * 32) for i in range(3)]
    payer, payee, sovereign = (p.member_id for p in people)
    ledger = CoinLedger(machine.LACE)
    copied = [0]
    copy = ChainState.copy

    def counting_copy(state: ChainState) -> ChainState:
        copied[0] += len(state.consumed) + len(state.approved) + len(state.disapproved)
        return copy(state)

    monkeypatch.setattr(ChainState, "copy", counting_copy)

    def sign(who: Identity, draft: Draft) -> None:
        block = Block.create(
            who, machine.LACE, draft.payload, draft.pointers_after(ledger.latest(who.member_id))
        )
        assert ledger.apply(block).ok

    def pay(times: int) -> int:
        """Items copied by ``times`` payments (issue, approve, accept), each settled."""
        before = copied[0]
        for _ in range(times):
            sign(people[0], Wallet(payer, ledger).pay(payee, 1, sovereign))
            for who, member in ((people[2], sovereign), (people[1], payee), (people[0], payer)):
                for d in Wallet(member, ledger).duties(0):
                    sign(who, d)
        return copied[0] - before

    sign(people[2], Wallet(sovereign, ledger).mint(1000))
    sign(people[2], Wallet(sovereign, ledger).pay(payer, 1000))
    for d in Wallet(payer, ledger).duties(0):
        sign(people[0], d)
    early = pay(10)
    pay(100)
    late = pay(10)
    assert ledger.chain_state(payee).balance(sovereign) == 120
    assert late == early  # not O(payments so far)


def test_a_draft_never_changes_the_state_it_reads() -> None:
    base = ChainState(consumed={b"a"}, approved={b"b"})
    draft = base.draft()
    draft.consumed.add(b"c")
    draft.consumed.add(b"a")
    draft.approved.discard(b"b")
    draft.balances[b"x"] = 1
    assert base.consumed == {b"a"} and base.approved == {b"b"} and base.balances == {}
    assert set(draft.consumed) == {b"a", b"c"} and len(draft.consumed) == 2
    assert b"b" not in draft.approved and len(draft.approved) == 0
