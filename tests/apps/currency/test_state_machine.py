"""Flash invariants under an adversarial network and a member that forks to double spend.

Each member is a node with its own identity, blocklace and ledger; every block is broadcast
to every other node and delivered in an order the test chooses.  Member 3 is Byzantine: it
forks its chain to pay the same coins twice and does its duties only when it likes.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from peoplenet.apps.currency.errors import CurrencyError
from peoplenet.apps.currency.ledger import CoinLedger, Transfer
from peoplenet.apps.currency.records import CoinRecord, Issue
from peoplenet.apps.currency.wallet import Draft, Wallet
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore

LACE = b"$/" + bytes(range(100, 132))
N = 4
BYZANTINE = 3
HONEST = range(BYZANTINE)
members = st.integers(0, N - 1)
amounts = st.integers(1, 120)


class Node:
    def __init__(self, i: int) -> None:
        self.identity = Identity.from_seed(bytes([0x40 + i]) * 32)
        self.me = self.identity.member_id
        self.lace = Blocklace(MemoryStore())
        self.ledger = CoinLedger(LACE)

    def wallet(self) -> Wallet:
        return Wallet(self.me, self.ledger)

    def receive(self, block: Block) -> None:
        report = self.lace.add_many([block])
        assert not report.rejected
        for bid in report.added:
            self.ledger.apply(self.lace.get(bid))
        for ev in report.equivocations:
            self.ledger.equivocation(ev)


class FlashMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.nodes = [Node(i) for i in range(N)]
        self.ids = [n.me for n in self.nodes]
        self.inbox: list[tuple[int, Block]] = []
        self.now = 0
        self.honest_accepts: dict[bytes, set[bytes]] = defaultdict(set)

    # -- plumbing --------------------------------------------------------------------------------

    def publish(self, i: int, payload: CoinRecord, pointers: tuple[bytes, ...]) -> Block:
        block = Block.create(self.nodes[i].identity, LACE, payload, pointers)
        self.nodes[i].receive(block)
        self.inbox.extend((j, block) for j in range(N) if j != i)
        return block

    def sign(self, i: int, draft: Draft) -> None:
        """Sign a wallet draft: the wallet only drafts blocks every node will accept."""
        node = self.nodes[i]
        block = self.publish(i, draft.payload, draft.pointers_after(node.ledger.latest(node.me)))
        outcome = node.ledger.outcome(block.id)
        assert outcome is not None and outcome.ok, outcome

    def try_sign(self, i: int, make: object) -> None:
        try:
            draft = make()  # type: ignore[operator]
        except CurrencyError as err:
            reason = err.reason
        else:
            self.sign(i, draft)
            return
        assert reason in {
            "insufficient_funds",
            "self_payment",
            "own_currency",
            "over_credit_limit",
            "bad_prefs",
            "bad_amount",
        }, reason

    def run_duties(self, i: int) -> int:
        drafts = self.nodes[i].wallet().duties(self.now)
        for d in drafts:
            self.sign(i, d)
        return len(drafts)

    # -- rules -----------------------------------------------------------------------------------

    @initialize(seed=st.integers(1, 200))
    def endow(self, seed: int) -> None:
        """Everyone mints and pays some own coins to everyone else (delivered later)."""
        for i in range(N):
            self.sign(i, self.nodes[i].wallet().mint(4 * seed))
            for j in range(N):
                if j != i:
                    self.sign(i, self.nodes[i].wallet().pay(self.ids[j], seed))

    @rule(i=members, amount=amounts)
    def mint(self, i: int, amount: int) -> None:
        self.try_sign(i, lambda: self.nodes[i].wallet().mint(amount))

    @rule(i=members, to=members, amount=amounts, pick=st.integers(0, N - 1))
    def pay(self, i: int, to: int, amount: int, pick: int) -> None:
        if to == i:
            to = (i + 1) % N
        held = sorted(self.nodes[i].ledger.chain_state(self.ids[i]).balances.items())
        held = [(c, v) for c, v in held if v > 0]
        if not held:
            return
        cur, have = held[pick % len(held)]
        amount = min(amount, have)
        self.try_sign(i, lambda: self.nodes[i].wallet().pay(self.ids[to], amount, cur))

    @rule(i=members, s=members, amount=amounts, prefs=st.lists(members, max_size=3, unique=True))
    def redeem(self, i: int, s: int, amount: int, prefs: list[int]) -> None:
        sov = self.ids[s]
        have = self.nodes[i].ledger.chain_state(self.ids[i]).balance(sov)
        if have == 0:
            return
        wanted = [self.ids[p] for p in prefs if p != s]
        self.try_sign(
            i,
            lambda: self.nodes[i].wallet().redeem(sov, min(amount, have), wanted, self.now + 10),
        )

    @rule(i=members, peer=members, amount=amounts, limit=st.integers(0, 300))
    def credit(self, i: int, peer: int, amount: int, limit: int) -> None:
        self.try_sign(i, lambda: self.nodes[i].wallet().credit(self.ids[peer], amount, limit))

    @rule(i=members, limit=st.integers(0, 300))
    def accept_credit(self, i: int, limit: int) -> None:
        offers = self.nodes[i].wallet().credit_offers()
        if offers:
            offer = offers[0].id
            self.try_sign(i, lambda: self.nodes[i].wallet().accept_credit(offer, limit))

    @rule(i=st.sampled_from(list(HONEST)))
    def duties(self, i: int) -> None:
        self.run_duties(i)

    @rule()
    def byzantine_duties(self) -> None:
        self.run_duties(BYZANTINE)

    @rule(p1=st.sampled_from(list(HONEST)), p2=st.sampled_from(list(HONEST)), own=st.booleans())
    def double_spend(self, p1: int, p2: int, own: bool) -> None:
        """The Byzantine member pays the same coins to two payees on two branches."""
        node = self.nodes[BYZANTINE]
        state = node.ledger.chain_state(node.me)
        held = sorted(c for c, v in state.balances.items() if v > 0 and (c == node.me) == own)
        if not held or p1 == p2:
            return
        cur = held[0]
        have = state.balance(cur)
        latest = node.ledger.latest(node.me)
        parent = () if latest is None else (latest,)
        for payee in (p1, p2):
            self.publish(BYZANTINE, Issue(self.ids[payee], cur, have, 0, ""), parent)

    @rule(k=st.integers(0, 10_000), count=st.integers(1, 6))
    def deliver(self, k: int, count: int) -> None:
        """Deliver some pending blocks, picked anywhere in the queue (any order)."""
        for _ in range(count):
            if not self.inbox:
                return
            j, block = self.inbox.pop(k % len(self.inbox))
            self.nodes[j].receive(block)

    @rule(dt=st.integers(1, 8))
    def tick(self, dt: int) -> None:
        self.now += dt

    @rule()
    def settle(self) -> None:
        """Deliver everything and let honest nodes do their duties until quiet."""
        while True:
            while self.inbox:
                j, block = self.inbox.pop(0)
                self.nodes[j].receive(block)
            if not sum(self.run_duties(i) for i in HONEST) and not self.inbox:
                break
        digests = {n.ledger.digest() for n in self.nodes}
        assert len(digests) == 1, "nodes holding the same blocks disagree"
        led = self.nodes[0].ledger
        honest = {self.ids[i] for i in HONEST}
        for claim in led.claims(self.now):
            if claim.sovereign in honest and claim.claimer not in led.equivocators():
                assert claim.state in {"repaid", "void"}, claim
            elif self.now > claim.deadline:
                assert claim.state in {"repaid", "void", "defaulted"}, claim

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def no_coin_from_nothing(self) -> None:
        for node in self.nodes:
            led = node.ledger
            for c in led.currencies():
                total = sum(led.balance(m, c) for m in led.members())
                assert total + led.in_flight(c) == led.minted(c)
                assert led.in_flight(c) >= 0

    @invariant()
    def honest_balances_never_negative(self) -> None:
        for node in self.nodes:
            led = node.ledger
            forked = led.equivocators()
            assert forked <= {self.ids[BYZANTINE]}
            for m in led.members():
                if m not in forked:
                    assert all(v >= 0 for v in led.balances(m).values())
                    state = led.chain_state(m)
                    assert all(v >= 0 for v in state.balances.values())

    @invariant()
    def double_spend_never_accepted_twice(self) -> None:
        """Of two transfers of the same coins on two branches, honest payees accept one at most.

        Excluded: a forked sovereign paying its *own* coins twice needs no approval, so no one
        can stop it without consensus; that is the same as minting (its balance goes negative).
        """
        byz = self.ids[BYZANTINE]
        for node in self.nodes:
            led = node.ledger
            mine = [t for t in led.transfers() if t.payer == byz and t.currency != byz]
            taken = [t for t in mine if self._accepted_by_honest(node, t)]
            for a in taken:
                for b in taken:
                    assert a.id == b.id or not led.conflicting(a.id, b.id), "double spend"

    def _accepted_by_honest(self, node: Node, t: Transfer) -> bool:
        honest = {self.ids[i] for i in HONEST}
        return any(node.ledger.creator(acc) in honest for acc in node.ledger.accepts(t.id))

    @invariant()
    def overdue_claims_are_reported(self) -> None:
        for node in self.nodes:
            for claim in node.ledger.claims(self.now):
                assert claim.repaid <= claim.amount
                if self.now > claim.deadline:
                    assert claim.state in {"repaid", "defaulted", "void"}
                else:
                    assert claim.state != "defaulted"


FlashMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_flash_invariants = FlashMachine.TestCase


class SlowFlashMachine(FlashMachine):
    pass


SlowFlashMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_flash_invariants_many = pytest.mark.slow(SlowFlashMachine.TestCase)
