"""The coin ledger and wallet: block types, refusals, forks, redemption, credit, digest."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from peoplenet.apps.currency.errors import (
    BadAmount,
    CurrencyError,
    InsufficientFunds,
    UnknownMember,
)
from peoplenet.apps.currency.ledger import CoinLedger, Outcome
from peoplenet.apps.currency.records import (
    Accept,
    Approve,
    CoinRecord,
    CreditAccept,
    CreditOffer,
    Disapprove,
    Issue,
    Mint,
    Redeem,
    Repay,
)
from peoplenet.apps.currency.state import compute_repayments
from peoplenet.apps.currency.wallet import Draft, Wallet
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import Value, decode, encode

LACE = b"$/" + bytes(range(32))


class Coop:
    """One node's view: a ledger fed every block, and the keys to sign as any member."""

    def __init__(self, n: int = 4) -> None:
        self.ids = [Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)]
        self.ledger = CoinLedger(LACE)
        self.blocks: list[Block] = []

    def m(self, i: int) -> MemberId:
        return self.ids[i].member_id

    def wallet(self, i: int) -> Wallet:
        return Wallet(self.m(i), self.ledger, [x.member_id for x in self.ids])

    def feed(self, block: Block) -> Outcome:
        self.blocks.append(block)
        return self.ledger.apply(block)

    def do(self, i: int, draft: Draft) -> Outcome:
        block = Block.create(self.ids[i], LACE, draft.payload, draft.pointers)
        return self.feed(block)

    def raw(
        self, i: int, payload: Value, refs: Sequence[bytes] = (), *, parent: bool = True
    ) -> Outcome:
        """Sign anything as member ``i`` (forged and bad blocks included)."""
        ptrs = set(refs)
        latest = self.ledger.latest(self.m(i))
        if parent and latest is not None:
            ptrs.add(latest)
        return self.feed(Block.create(self.ids[i], LACE, payload, tuple(ptrs)))

    def duties(self, i: int, now: int = 0) -> list[Outcome]:
        out = []
        for d in self.wallet(i).duties(now):
            latest = self.ledger.latest(self.m(i))
            outcome = self.feed(
                Block.create(self.ids[i], LACE, d.payload, d.pointers_after(latest))
            )
            assert outcome.ok, outcome
            out.append(outcome)
        return out

    def settle(self, now: int = 0) -> None:
        """Run every member's duties until nobody has any."""
        while sum(len(self.duties(i, now)) for i in range(len(self.ids))):
            pass

    def conserved(self) -> None:
        led = self.ledger
        for c in led.currencies():
            total = sum(led.balance(m, c) for m in led.members())
            assert total + led.in_flight(c) == led.minted(c)


def test_mint_and_pay_own_coins_need_no_approval() -> None:
    coop = Coop()
    a, b = coop.m(0), coop.m(1)
    assert coop.do(0, coop.wallet(0).mint(1000)).ok
    pay = coop.do(0, coop.wallet(0).pay(b, 300))
    assert pay.ok and pay.kind == "issue"
    assert coop.ledger.status(pay.block) == "issued"
    assert coop.ledger.in_flight(a) == 300
    assert [d.purpose for d in coop.wallet(1).duties(0)] == ["accept"]
    coop.duties(1)
    assert coop.ledger.status(pay.block) == "accepted"
    assert coop.ledger.balances(a) == {a: 700}
    assert coop.ledger.balances(b) == {a: 300}
    assert coop.ledger.in_flight(a) == 0
    hist = coop.ledger.history(b)
    assert [(h.kind, h.state, h.amount) for h in hist] == [
        ("incoming", "accepted", 300),
        ("accept", "done", 300),
    ]
    assert [(h.kind, h.state) for h in coop.ledger.history(a)] == [
        ("mint", "done"),
        ("issue", "accepted"),
    ]
    coop.conserved()


def test_foreign_coins_need_the_sovereigns_approval() -> None:
    coop = Coop()
    a, b, c = coop.m(0), coop.m(1), coop.m(2)
    coop.do(0, coop.wallet(0).mint(100))
    coop.do(0, coop.wallet(0).pay(b, 100))
    coop.duties(1)
    pay = coop.do(1, coop.wallet(1).pay(c, 40, currency=a))
    assert coop.ledger.status(pay.block) == "issued"
    assert coop.wallet(2).duties(0) == []  # C waits for A's approval
    refused = coop.raw(2, Accept(pay.block, None, 40), [pay.block])
    assert refused.reason == "unapproved_spend"
    assert [d.purpose for d in coop.wallet(0).duties(0)] == ["approve"]
    coop.duties(0)
    assert coop.ledger.status(pay.block) == "approved"
    coop.duties(2)
    assert coop.ledger.balances(c) == {a: 40}
    assert coop.ledger.balances(b) == {a: 60}
    coop.conserved()


def _before_after(coop: Coop, i: int, payload: Value, refs: Sequence[bytes] = ()) -> str | None:
    """Sign a bad block and check it changed no balance; return its refusal reason."""
    before = coop.ledger.snapshot()
    assert isinstance(before, dict)
    outcome = coop.raw(i, payload, refs)
    after = coop.ledger.snapshot()
    assert isinstance(after, dict)
    for key in ("balances", "in_flight", "minted", "transfers"):
        assert before[key] == after[key]
    return outcome.reason


def test_every_refusal_reason_changes_nothing() -> None:
    coop = Coop()
    a, b, c, d = (coop.m(i) for i in range(4))
    coop.do(0, coop.wallet(0).mint(100))
    give = coop.do(0, coop.wallet(0).pay(b, 50))
    coop.duties(1)  # B holds 50 A
    bad = _before_after
    assert bad(coop, 1, Issue(c, a, 10, 39, "")) == "unbalanced"
    assert bad(coop, 1, Issue(c, a, 60, 0, "")) == "overspend"
    assert bad(coop, 1, Issue(b, a, 10, 40, "")) == "self_payment"
    assert bad(coop, 0, Mint(5, 99)) == "unbalanced"
    assert bad(coop, 0, Mint(10**15, 10**18)) == "unbalanced"
    assert bad(coop, 1, Redeem(b, 1, 0, (), 10)) == "own_currency"
    assert bad(coop, 1, 12345) == "bad_payload"
    pay = coop.raw(1, Issue(c, a, 10, 40, ""))
    assert pay.ok
    # forged approval: only A approves A-coins
    forged = coop.raw(3, Approve(pay.block), [pay.block])
    assert forged.reason == "not_sovereign"
    assert bad(coop, 2, Accept(pay.block, forged.block, 10), [pay.block, forged.block]) == (
        "unapproved_spend"
    )
    assert bad(coop, 2, Accept(pay.block, None, 10)) == "unknown_reference"  # not pointed to
    assert bad(coop, 0, Approve(forged.block), [forged.block]) == "refused_reference"
    ok = coop.raw(0, Approve(pay.block), [pay.block])
    assert ok.ok
    assert bad(coop, 0, Approve(pay.block), [pay.block]) == "already_approved"
    accepted = coop.blocks[2].id  # B's Accept: not a transfer
    assert bad(coop, 0, Approve(accepted), [accepted]) == "wrong_reference"
    assert bad(coop, 3, Accept(pay.block, ok.block, 10), [pay.block, ok.block]) == "not_payee"
    assert bad(coop, 2, Accept(pay.block, ok.block, 11), [pay.block, ok.block]) == "unbalanced"
    assert bad(coop, 2, Accept(pay.block, None, 10), [pay.block]) == "unapproved_spend"
    assert coop.raw(2, Accept(pay.block, ok.block, 10), [pay.block, ok.block]).ok
    assert bad(coop, 2, Accept(pay.block, ok.block, 20), [pay.block, ok.block]) == (
        "already_accepted"
    )
    assert bad(coop, 0, Disapprove(pay.block, accepted), [pay.block, accepted]) == (
        "already_approved"
    )
    pay2 = coop.raw(1, Issue(d, a, 10, 30, ""))
    assert bad(coop, 0, Disapprove(pay2.block, pay.block), [pay2.block, pay.block]) == (
        "bad_evidence"  # the same chain: no double spend
    )
    assert bad(coop, 3, Disapprove(pay2.block, pay.block), [pay2.block, pay.block]) == (
        "not_sovereign"
    )
    assert bad(coop, 3, Repay(pay.block, a, 1, 0), [pay.block]) == "wrong_reference"
    assert bad(coop, 1, CreditOffer(b, 5, 10)) == "self_payment"
    assert bad(coop, 1, CreditOffer(c, 5, 4)) == "over_credit_limit"
    assert bad(coop, 2, CreditAccept(pay.block, 100, 10), [pay.block]) == "wrong_reference"
    # two own pointers (the blocklace would refuse this block; the fold refuses it too)
    chain = coop.ledger.latest(b)
    assert chain is not None
    assert bad(coop, 1, Mint(1, 1), [give.block, chain, pay.block]) == "bad_chain"
    home = coop.raw(1, Issue(a, a, 5, 25, ""))  # coins going home: their sovereign takes them
    assert home.ok
    assert bad(coop, 0, Approve(home.block), [home.block]) == "approval_not_needed"
    coop.conserved()


def test_malformed_records_fail_decoding() -> None:
    good = encode(Mint(5, 5))
    assert decode(good) == Mint(5, 5)
    assert good.endswith(b"\x05\x05")
    with pytest.raises(RemoteProtocolError) as err:
        decode(good[:-2] + b"\x00\x05")  # amount 0
    assert err.value.reason == "bad_payload"
    with pytest.raises(RemoteProtocolError):
        Redeem(bytes(32), 1, 0, (bytes(32),), 0)  # prefs include the redeemed currency
    with pytest.raises(RemoteProtocolError):
        Issue(bytes(31), bytes(32), 1, 0, "")
    with pytest.raises(RemoteProtocolError):
        Issue(bytes(32), bytes(32), 10**15 + 1, 0, "")


def _fork(coop: Coop, i: int, payloads: Sequence[CoinRecord]) -> list[Outcome]:
    """Member ``i`` signs several blocks on the same parent (a fork)."""
    latest = coop.ledger.latest(coop.m(i))
    parent = () if latest is None else (latest,)
    return [coop.feed(Block.create(coop.ids[i], LACE, p, parent)) for p in payloads]


def test_double_spend_by_a_forked_payer_is_approved_once() -> None:
    coop = Coop()
    a, b, c, d = (coop.m(i) for i in range(4))
    coop.do(0, coop.wallet(0).mint(100))
    coop.do(0, coop.wallet(0).pay(b, 100))
    coop.duties(1)
    one, two = _fork(coop, 1, [Issue(c, a, 100, 0, "to c"), Issue(d, a, 100, 0, "to d")])
    assert one.ok and two.ok  # each is balanced on its own branch
    assert coop.ledger.equivocators() == {b}
    assert coop.ledger.conflicting(one.block, two.block)
    coop.conserved()
    assert coop.ledger.balance(b, a) == -100  # until the sovereign rules
    duties = coop.wallet(0).duties(0)
    assert [d.purpose for d in duties] == ["approve", "disapprove"]
    coop.duties(0)
    # A raw second approval is refused as a double spend
    assert coop.raw(0, Approve(two.block), [two.block]).reason == "already_disapproved"
    coop.settle()
    assert coop.ledger.status(one.block) == "accepted"
    assert coop.ledger.status(two.block) == "void"
    assert coop.ledger.balance(c, a) == 100 and coop.ledger.balance(d, a) == 0
    assert coop.ledger.balance(b, a) == 0
    coop.conserved()


def test_approving_the_second_branch_is_refused_as_double_spend() -> None:
    coop = Coop()
    a, b, c, d = (coop.m(i) for i in range(4))
    coop.do(0, coop.wallet(0).mint(10))
    coop.do(0, coop.wallet(0).pay(b, 10))
    coop.duties(1)
    one, two = _fork(coop, 1, [Issue(c, a, 10, 0, ""), Issue(d, a, 10, 0, "")])
    assert coop.raw(0, Approve(one.block), [one.block]).ok
    assert coop.raw(0, Approve(two.block), [two.block]).reason == "double_spend"
    bogus = coop.raw(3, Disapprove(one.block, two.block), [one.block, two.block])
    assert bogus.reason == "not_sovereign"


def test_blocklace_reports_the_fork_and_the_ledger_records_it() -> None:
    coop = Coop()
    a, b, c = coop.m(0), coop.m(1), coop.m(2)
    lace = Blocklace(MemoryStore())
    coop.do(0, coop.wallet(0).mint(10))
    first = coop.blocks[-1]
    one = Block.create(coop.ids[0], LACE, Issue(b, a, 5, 5, ""), (first.id,))
    two = Block.create(coop.ids[0], LACE, Issue(c, a, 5, 5, ""), (first.id,))
    fresh = CoinLedger(LACE)
    for blk in (first, one, two):
        report = lace.add(blk)
        for bid in report.added:
            fresh.apply(lace.get(bid))
        for ev in report.equivocations:
            fresh.equivocation(ev)
    assert fresh.equivocators() == {a}
    assert set(fresh.fork_evidence(a) or ()) == {one.id, two.id}
    # own-coin double spend: an honest payee that knows of an accepted twin does not accept
    coop.feed(one)
    coop.feed(two)
    coop.duties(1)
    assert coop.ledger.status(one.id) == "accepted"
    assert coop.wallet(2).duties(0) == []


def test_redemption_is_repaid_in_preference_order_then_own_coins() -> None:
    coop = Coop()
    r, s, x, y = (coop.m(i) for i in range(4))
    for i in (1, 2, 3):
        coop.do(i, coop.wallet(i).mint(100))
    coop.do(1, coop.wallet(1).pay(r, 80))  # R holds 80 S
    coop.do(2, coop.wallet(2).pay(s, 20))  # S gets 20 X
    coop.do(3, coop.wallet(3).pay(s, 30))  # S gets 30 Y
    coop.settle()
    claim = coop.do(0, coop.wallet(0).redeem(s, 80, [x, y], deadline=100))
    assert coop.ledger.claims(now=50)[0].state == "pending"
    # S must repay X first, all 20 it holds: a Y repayment first is refused
    take = coop.raw(1, Accept(claim.block, None, 100), [claim.block])
    assert take.ok
    assert coop.ledger.claims()[0].state == "open"
    assert coop.raw(1, Repay(claim.block, y, 30, 0), [claim.block]).reason == "wrong_repay_order"
    coop.settle()
    (done,) = coop.ledger.claims(now=10**6)
    assert done.state == "repaid" and done.repaid == 80
    repays = [h for h in coop.ledger.history(s) if h.kind == "repay" and h.state != "refused"]
    assert [(h.currency, h.amount) for h in repays] == [(x, 20), (y, 30), (s, 30)]
    assert coop.ledger.balances(r) == {s: 30, x: 20, y: 30}
    assert coop.raw(1, Repay(claim.block, s, 1, 0), [claim.block]).reason == "over_repay"
    assert compute_repayments(80, [x, y], {x: 20, y: 30}, s) == [(x, 20), (y, 30), (s, 30)]
    coop.conserved()


def test_repay_refusals() -> None:
    coop = Coop()
    r, s, x = coop.m(0), coop.m(1), coop.m(2)
    coop.do(1, coop.wallet(1).mint(100))
    coop.do(1, coop.wallet(1).pay(r, 50))
    coop.settle()
    claim = coop.do(0, coop.wallet(0).redeem(s, 50, [x], deadline=5))
    assert coop.raw(1, Repay(claim.block, s, 50, 0), [claim.block]).reason == "unknown_claim"
    assert coop.raw(2, Repay(claim.block, x, 50, 0), [claim.block]).reason == "not_sovereign"
    assert coop.ledger.claims(now=6)[0].state == "defaulted"
    assert coop.ledger.claims(now=5)[0].state == "pending"
    coop.raw(1, Accept(claim.block, None, 100), [claim.block])
    assert coop.raw(1, Repay(claim.block, s, 60, 40), [claim.block]).reason == "over_repay"
    assert coop.raw(1, Repay(claim.block, s, 50, 51), [claim.block]).reason == "unbalanced"
    assert coop.ledger.claims(now=6)[0].state == "defaulted"
    coop.settle()
    assert coop.ledger.claims(now=6)[0].state == "repaid"


def test_mutual_credit_swaps_equal_amounts_within_limits() -> None:
    coop = Coop()
    a, b, c = coop.m(0), coop.m(1), coop.m(2)
    offer = coop.do(0, coop.wallet(0).credit(b, 100, limit=150))
    assert coop.wallet(1).duties(0) == []  # taking credit needs the person's consent
    assert [t.id for t in coop.wallet(1).credit_offers()] == [offer.block]
    with pytest.raises(CurrencyError) as err:
        coop.wallet(1).accept_credit(offer.block, limit=50)
    assert err.value.reason == "over_credit_limit"
    assert coop.do(1, coop.wallet(1).accept_credit(offer.block, limit=120)).ok
    coop.settle()
    assert coop.ledger.balances(a) == {b: 100}
    assert coop.ledger.balances(b) == {a: 100}
    assert coop.ledger.minted(a) == coop.ledger.minted(b) == 100
    # C pays A 60 B-coins it got from B: A would hold 160 > 150, so A's node does not take them
    coop.do(1, coop.wallet(1).mint(60))
    coop.do(1, coop.wallet(1).pay(c, 60))
    coop.settle()
    pay = coop.do(2, coop.wallet(2).pay(a, 60, currency=b))
    coop.settle()
    assert coop.ledger.status(pay.block) == "approved"
    approval = coop.ledger.approvals(pay.block)[0]
    refs = [pay.block, approval]
    assert coop.raw(0, Accept(pay.block, approval, 160), refs).reason == "over_credit_limit"
    assert coop.ledger.balance(a, b) == 100
    coop.conserved()


def test_wallet_refuses_bad_requests_with_typed_errors() -> None:
    coop = Coop()
    b = coop.m(1)
    w = coop.wallet(0)
    with pytest.raises(InsufficientFunds) as e1:
        w.pay(b, 1)
    assert e1.value.reason == "insufficient_funds"
    with pytest.raises(BadAmount):
        w.mint(0)
    with pytest.raises(BadAmount):
        w.pay(b, 10**15 + 1)
    with pytest.raises(UnknownMember):
        w.pay(bytes(32), 1)
    with pytest.raises(UnknownMember):
        w.pay(b"short", 1)
    coop.do(0, w.mint(5))
    with pytest.raises(CurrencyError) as e2:
        w.pay(coop.m(0), 1)
    assert e2.value.reason == "self_payment"
    with pytest.raises(CurrencyError) as e3:
        w.redeem(coop.m(0), 1, [], 10)
    assert e3.value.reason == "own_currency"
    with pytest.raises(CurrencyError) as e4:
        w.accept_credit(BlockId(bytes(32)), 10)
    assert e4.value.reason == "unknown_offer"
    assert isinstance(e4.value, LocalError)
    assert coop.ledger.balance(coop.m(0), coop.m(0)) == 5


def test_chained_duty_drafts_must_be_signed_in_sequence() -> None:
    coop = Coop()
    a, b = coop.m(0), coop.m(1)
    coop.do(0, coop.wallet(0).mint(10))
    coop.do(0, coop.wallet(0).pay(b, 3))
    coop.do(0, coop.wallet(0).pay(b, 4))
    drafts = coop.wallet(1).duties(0)
    assert [d.chained for d in drafts] == [False, True]
    assert [d.payload for d in drafts] == [
        Accept(drafts[0].refs[0], None, 3),
        Accept(drafts[1].refs[0], None, 7),
    ]
    with pytest.raises(LocalError):
        _ = drafts[1].pointers
    coop.duties(1)
    assert coop.ledger.balance(b, a) == 7


def _scenario() -> Coop:
    """A busy lace: payments, approvals, a fork, a redemption, a credit line."""
    coop = Coop()
    a, b, c, d = (coop.m(i) for i in range(4))
    for i in range(4):
        coop.do(i, coop.wallet(i).mint(100 + i))
    coop.do(0, coop.wallet(0).pay(b, 60))
    coop.do(2, coop.wallet(2).pay(a, 30))
    coop.settle()
    coop.do(1, coop.wallet(1).pay(d, 20, currency=a))
    _fork(coop, 1, [Issue(c, a, 40, 0, ""), Issue(d, a, 40, 0, "")])
    coop.do(3, coop.wallet(3).credit(c, 25, 50))
    coop.settle()
    offer = coop.wallet(2).credit_offers()[0]
    coop.do(2, coop.wallet(2).accept_credit(offer.id, 40))
    coop.do(3, coop.wallet(3).redeem(a, 20, [c, b], 99))
    coop.raw(2, Mint(1, 5))  # refused
    coop.settle()
    return coop


def _topological_orders(blocks: Sequence[Block], rng: random.Random) -> list[Block]:
    ids = {b.id for b in blocks}
    waiting = {b.id: {p for p in b.pointers if p in ids} for b in blocks}
    by_id = {b.id: b for b in blocks}
    done: set[BlockId] = set()
    order: list[Block] = []
    while len(order) < len(blocks):
        ready = sorted(b for b, ps in waiting.items() if b not in done and ps <= done)
        pick = rng.choice(ready)
        done.add(pick)
        order.append(by_id[pick])
    return order


def test_digest_is_equal_over_orders_that_respect_pointers() -> None:
    coop = _scenario()
    assert coop.ledger.equivocators() == {coop.m(1)}
    assert len(coop.blocks) >= 25
    coop.conserved()
    reference = coop.ledger.digest()
    rng = random.Random(7)
    for _ in range(25):
        fresh = CoinLedger(LACE)
        for block in _topological_orders(coop.blocks, rng):
            fresh.apply(block)
        assert fresh.digest() == reference
        assert fresh.snapshot() == coop.ledger.snapshot()
    other = CoinLedger(LACE)
    for block in coop.blocks[:-1]:
        other.apply(block)
    assert other.digest() != reference


def test_feeding_mistakes_are_local_errors() -> None:
    coop = Coop()
    coop.do(0, coop.wallet(0).mint(1))
    fresh = CoinLedger(LACE)
    with pytest.raises(LocalError):
        fresh.apply(Block.create(coop.ids[0], LACE, Mint(1, 2), (coop.blocks[0].id,)))
    with pytest.raises(LocalError):
        fresh.apply(Block.create(coop.ids[0], b"$/other", Mint(1, 1)))
    assert fresh.apply(coop.blocks[0]).ok
    assert fresh.apply(coop.blocks[0]).ok  # a duplicate is harmless
    assert len(fresh) == 1


def test_balances_cannot_overflow() -> None:
    coop = Coop(1)
    a = coop.m(0)
    for k in range(1, 1001):
        assert coop.raw(0, Mint(10**15, k * 10**15)).ok
    assert coop.ledger.balance(a, a) == 10**18
    assert coop.raw(0, Mint(1, 10**18)).reason == "overflow"
    with pytest.raises(BadAmount):
        coop.wallet(0).mint(1)
