"""The pure, deterministic fold of one coin lace (Grassroots Flash, no consensus).

Over 700 lines because :class:`CoinLedger` is one fold: every record kind's rule reads and
updates the same chain states, transfer statuses and work indexes.

Theory of operation
-------------------
Every block's outcome (valid, or refused with a stable reason) is a function of its causal
past only: its creator's chain state at its parent (see :mod:`peoplenet.apps.currency.state`)
and the outcomes of the blocks it points to.  Nothing a node learns later, nor the order in
which it learns it, changes an outcome; so every node that folds the same blocks (pointees first, in
any order) reaches the same outcomes and the same :meth:`CoinLedger.digest`.

Double spends: the sovereign of a currency approves a payer's transfers only along one path
of the payer's chain (each approval must be comparable -- ancestor or descendant -- with the
deepest one it approved before), so of two transfers on two branches of a fork at most one is
ever approved, and an honest payee accepts only approved transfers.

Global accounting (what :meth:`balance` reports) counts each transfer once by its status:
in flight (payer debited), accepted (payee credited), or void (disapproved and never
accepted: nothing moved).  So for every currency, always and on every node::

    sum of balances + in flight == minted

even when forked members accept or spend twice on two branches.  A non-equivocator's balance
equals its chain state and is never negative; an equivocator's may be (its debt on record).

Work indexes: a member's duties (:class:`~peoplenet.apps.currency.wallet.Wallet`) must not scan
every transfer ever made, so the fold keeps, per member, the transfers still waiting for it:
those of its coins it has neither approved nor disapproved
(:meth:`CoinLedger.awaiting_judgement`), and those to it it has not accepted
(:meth:`CoinLedger.unaccepted`).  An entry leaves when a valid block of that member settles it.
For a member that has not forked, every valid block of its is on the chain to its latest block,
so the indexes equal what its chain state says; for a forked one they are a superset of any one
branch's (the wallet scans instead).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from peoplenet.apps.currency.records import (
    COIN_RECORDS,
    KIND,
    MAX_BALANCE,
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
from peoplenet.apps.currency.state import ChainState, compute_repayments
from peoplenet.plugins.api import Block, BlockId, Equivocation, LocalError, MemberId, Value, encode

_DIGEST_PERSON: Final = b"peoplenet.coin1"

ISSUED: Final = "issued"
APPROVED: Final = "approved"
ACCEPTED: Final = "accepted"
VOID: Final = "void"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the fold made of one block: ``reason`` is ``None`` if valid, else why refused."""

    block: BlockId
    kind: str
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Transfer:
    """Coins leaving ``payer`` for ``payee`` (an issue, redemption, repayment or credit leg)."""

    id: BlockId
    kind: str
    """``issue``, ``redeem``, ``repay``, ``credit_offer`` or ``credit`` (the accepting leg)."""
    payer: MemberId
    payee: MemberId
    currency: MemberId
    amount: int
    claim: BlockId | None = None
    """For a repayment: the claim (Redeem block) it repays."""

    @property
    def needs_approval(self) -> bool:
        """Only transfers of a third party's coins: the sovereign neither pays nor is paid."""
        return self.currency not in (self.payer, self.payee)


@dataclass(frozen=True, slots=True)
class Claim:
    """A redemption claim and how far it has been repaid."""

    id: BlockId
    claimer: MemberId
    sovereign: MemberId
    amount: int
    prefs: tuple[bytes, ...]
    deadline: int
    repaid: int
    state: str
    """``pending`` (not yet taken), ``open``, ``repaid``, ``defaulted`` (past the deadline
    and not fully repaid) or ``void`` (disapproved as a double spend)."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a member's history."""

    block: BlockId
    kind: str
    """The block's kind (``issue``, ``accept``...) or ``incoming`` for a transfer to the member."""
    counterparty: MemberId | None
    currency: MemberId | None
    amount: int
    state: str
    """``issued``/``approved``/``accepted``/``void`` for transfers, a claim state for
    redemptions, ``done`` for other valid blocks, ``refused`` for refused ones."""
    reason: str | None = None


@dataclass(slots=True)
class _Node:
    creator: MemberId
    parent: BlockId | None
    seq: int
    payload: CoinRecord | None
    pointers: frozenset[BlockId]
    reason: str | None


class CoinLedger:
    """The fold of one coin lace.  Feed blocks with pointees first (blocklace order)."""

    def __init__(self, lace: bytes) -> None:
        self.lace = bytes(lace)
        self._nodes: dict[BlockId, _Node] = {}
        self._children: dict[tuple[MemberId, BlockId | None], list[BlockId]] = {}
        self._tip_state: dict[BlockId, ChainState] = {}
        self._tips: dict[MemberId, set[BlockId]] = defaultdict(set)
        self._forks: dict[MemberId, tuple[BlockId, BlockId]] = {}
        self._transfers: dict[BlockId, Transfer] = {}
        self._approvals: dict[BlockId, list[BlockId]] = defaultdict(list)
        self._accepts: dict[BlockId, list[BlockId]] = defaultdict(list)
        self._disapprovals: dict[BlockId, list[BlockId]] = defaultdict(list)
        self._repays: dict[BlockId, list[BlockId]] = defaultdict(list)
        self._bal: dict[tuple[MemberId, MemberId], int] = defaultdict(int)
        self._flight: dict[MemberId, int] = defaultdict(int)
        self._minted: dict[MemberId, int] = defaultdict(int)
        self._involved: dict[MemberId, list[BlockId]] = defaultdict(list)
        self._to_judge: dict[MemberId, dict[BlockId, None]] = defaultdict(dict)
        """sovereign -> transfers needing its approval it has not judged (fold order)."""
        self._unaccepted: dict[MemberId, dict[BlockId, None]] = defaultdict(dict)
        """payee -> transfers (credit offers too) it has not accepted (fold order)."""
        self._spent: dict[tuple[MemberId, MemberId], list[BlockId]] = defaultdict(list)
        """(payer, currency) -> its transfers of those coins (double-spend lookups)."""
        self._redeems: list[BlockId] = []

    # -- folding -----------------------------------------------------------------------------

    def apply(self, block: Block) -> Outcome:
        """Fold one block.  A rule-breaking block is refused (recorded, no balance changes).

        Raises :class:`LocalError` only for the caller's mistakes: a block of another lace, or
        one whose pointees were not applied first.
        """
        bid = block.id
        known = self._nodes.get(bid)
        if known is not None:
            return Outcome(bid, _kind(known.payload), known.reason)
        if block.lace != self.lace:
            raise LocalError("block of another lace fed to the coin ledger")
        pointers = frozenset(block.pointers)
        if not pointers <= self._nodes.keys():
            raise LocalError("feed blocks with their pointees first")
        creator = block.creator
        own = [p for p in block.pointers if self._nodes[p].creator == creator]
        parent = own[0] if len(own) == 1 else None
        seq = self._nodes[parent].seq + 1 if parent is not None else 0
        siblings = self._children.setdefault((creator, parent), [])
        if siblings and creator not in self._forks:
            self._forks[creator] = (siblings[0], bid)
        siblings.append(bid)
        state = self._state_for(creator, parent, len(siblings) == 1)
        payload = block.payload if isinstance(block.payload, COIN_RECORDS) else None
        if len(own) > 1:
            reason: str | None = "bad_chain"
        elif payload is None:
            reason = "bad_payload"
        else:
            reason = self._evaluate(creator, payload, pointers, state)
        node = _Node(creator, parent, seq, payload, pointers, reason)
        self._nodes[bid] = node
        self._tip_state[bid] = state
        tips = self._tips[creator]
        if parent is not None:
            tips.discard(parent)
        tips.add(bid)
        self._involved[creator].append(bid)
        if reason is None and payload is not None:
            self._register(bid, creator, payload)
        return Outcome(bid, _kind(payload), reason)

    def equivocation(self, ev: Equivocation) -> None:
        """The blocklace's report: ``ev.creator`` forked (the fold also notices it itself)."""
        if ev.lace == self.lace and ev.creator not in self._forks:
            self._forks[ev.creator] = (ev.first, ev.second)

    def _state_for(self, creator: MemberId, parent: BlockId | None, first: bool) -> ChainState:
        if parent is None:
            return ChainState()
        if first and parent in self._tip_state:
            return self._tip_state.pop(parent)  # the usual case: the chain grows by one
        return self._replay(parent)

    def _replay(self, upto: BlockId) -> ChainState:
        """The state after ``upto``, rebuilt along its branch (only after a fork)."""
        path: list[BlockId] = []
        at: BlockId | None = upto
        while at is not None:
            path.append(at)
            at = self._nodes[at].parent
        state = ChainState()
        for bid in reversed(path):
            node = self._nodes[bid]
            if node.reason is None and node.payload is not None:
                again = self._evaluate(node.creator, node.payload, node.pointers, state)
                assert again is None, "the fold is deterministic"
        return state

    # -- the rules ---------------------------------------------------------------------------

    def check(
        self,
        creator: MemberId,
        payload: CoinRecord,
        pointers: Iterable[BlockId],
        state: ChainState,
    ) -> str | None:
        """Dry run: why a block would be refused, or ``None`` (and ``state`` is advanced).

        Used by the wallet to build only valid blocks; ``state`` is changed only on success.
        """
        return self._evaluate(creator, payload, frozenset(pointers), state)

    def _evaluate(
        self,
        creator: MemberId,
        p: CoinRecord,
        pointers: frozenset[BlockId],
        state: ChainState,
    ) -> str | None:
        if isinstance(p, Issue):
            return self._issue(creator, p, state)
        if isinstance(p, Approve):
            return self._approve(creator, p, pointers, state)
        if isinstance(p, Accept):
            return self._accept(creator, p, pointers, state)
        if isinstance(p, Mint):
            return self._mint(creator, p, state)
        if isinstance(p, Disapprove):
            return self._disapprove(creator, p, pointers, state)
        if isinstance(p, Redeem):
            return self._redeem(creator, p, state)
        if isinstance(p, Repay):
            return self._repay(creator, p, pointers, state)
        if isinstance(p, CreditOffer):
            return self._credit_offer(creator, p, state)
        return self._credit_accept(creator, p, pointers, state)

    @staticmethod
    def _debit(state: ChainState, currency: bytes, amount: int, newbal: int) -> str | None:
        have = state.balance(currency)
        if amount > have:
            return "overspend"
        if newbal != have - amount:
            return "unbalanced"
        state.balances[currency] = newbal
        return None

    def _issue(self, creator: MemberId, p: Issue, state: ChainState) -> str | None:
        if p.to == creator:
            return "self_payment"
        return self._debit(state, p.currency, p.amount, p.newbal)

    def _mint(self, creator: MemberId, p: Mint, state: ChainState) -> str | None:
        new = state.balance(creator) + p.amount
        if new > MAX_BALANCE:
            return "overflow"
        if p.newbal != new:
            return "unbalanced"
        state.balances[creator] = new
        return None

    def _redeem(self, creator: MemberId, p: Redeem, state: ChainState) -> str | None:
        if p.currency == creator:
            return "own_currency"
        return self._debit(state, p.currency, p.amount, p.newbal)

    def _ref(self, ref: bytes, pointers: frozenset[BlockId]) -> _Node | str:
        node = self._nodes.get(BlockId(ref))
        if node is None or ref not in pointers:
            return "unknown_reference"
        if node.reason is not None:
            return "refused_reference"
        return node

    def _ref_transfer(self, ref: bytes, pointers: frozenset[BlockId]) -> Transfer | str:
        node = self._ref(ref, pointers)
        if isinstance(node, str):
            return node
        found = self._transfers.get(BlockId(ref))
        return "wrong_reference" if found is None else found

    def _off_path(self, t: Transfer, state: ChainState) -> bool:
        """Whether approving ``t`` would approve two branches of its payer's chain."""
        tip = state.approved_tip.get(t.payer)
        return tip is not None and not self._comparable(BlockId(tip), t.id)

    def _mark_approved(self, t: Transfer, state: ChainState) -> None:
        state.approved.add(t.id)
        tip = state.approved_tip.get(t.payer)
        if tip is None or self._nodes[t.id].seq > self._nodes[BlockId(tip)].seq:
            state.approved_tip[t.payer] = t.id

    def _approve(
        self, creator: MemberId, p: Approve, pointers: frozenset[BlockId], state: ChainState
    ) -> str | None:
        t = self._ref_transfer(p.transfer, pointers)
        if isinstance(t, str):
            return t
        if t.currency != creator:
            return "not_sovereign"
        if not t.needs_approval:
            return "approval_not_needed"
        if t.id in state.approved:
            return "already_approved"
        if t.id in state.disapproved:
            return "already_disapproved"
        if self._off_path(t, state):
            return "double_spend"
        self._mark_approved(t, state)
        return None

    def _is_approval_of(
        self, approval: bytes | None, t: Transfer, ptrs: frozenset[BlockId]
    ) -> bool:
        if approval is None:
            return False
        node = self._ref(approval, ptrs)
        return (
            not isinstance(node, str)
            and isinstance(node.payload, Approve)
            and node.payload.transfer == t.id
            and node.creator == t.currency
        )

    def _credit(self, state: ChainState, currency: bytes, newbal: int) -> str | None:
        """Check taking coins in: ``newbal`` is checked by the caller; limits and overflow here."""
        if newbal > MAX_BALANCE:
            return "overflow"
        limit = state.limits.get(currency)
        if limit is not None and newbal > limit:
            return "over_credit_limit"
        return None

    def _accept(
        self, creator: MemberId, p: Accept, pointers: frozenset[BlockId], state: ChainState
    ) -> str | None:
        t = self._ref_transfer(p.transfer, pointers)
        if isinstance(t, str):
            return t
        if t.kind == "credit_offer":
            return "wrong_reference"  # a credit offer is taken with CreditAccept
        if t.payee != creator:
            return "not_payee"
        if t.id in state.consumed:
            return "already_accepted"
        if t.needs_approval:
            if not self._is_approval_of(p.approval, t, pointers):
                return "unapproved_spend"
        elif p.approval is not None:
            return "approval_not_needed"
        as_sovereign = t.currency == creator
        if as_sovereign:
            if t.id in state.disapproved:
                return "already_disapproved"
            if self._off_path(t, state):
                return "double_spend"
        new = state.balance(t.currency) + t.amount
        if p.newbal != new:
            return "unbalanced"
        refused = self._credit(state, t.currency, new)
        if refused is not None:
            return refused
        state.consumed.add(t.id)
        state.balances[t.currency] = new
        if as_sovereign:
            self._mark_approved(t, state)
            if t.kind == "redeem":
                state.claims[t.id] = t.amount
        return None

    def _disapprove(
        self, creator: MemberId, p: Disapprove, pointers: frozenset[BlockId], state: ChainState
    ) -> str | None:
        t = self._ref_transfer(p.transfer, pointers)
        if isinstance(t, str):
            return t
        if t.currency != creator:
            return "not_sovereign"
        if t.payer == creator:
            return "approval_not_needed"
        if t.id in state.approved:
            return "already_approved"
        if t.id in state.disapproved:
            return "already_disapproved"
        e = self._ref_transfer(p.evidence, pointers)
        if e == "unknown_reference":
            return e
        if not self.conflicting_transfers(t, e):
            return "bad_evidence"
        state.disapproved.add(t.id)
        return None

    def _repay(
        self, creator: MemberId, p: Repay, pointers: frozenset[BlockId], state: ChainState
    ) -> str | None:
        node = self._ref(p.claim, pointers)
        if isinstance(node, str):
            return node
        claim = node.payload
        if not isinstance(claim, Redeem):
            return "wrong_reference"
        if claim.currency != creator:
            return "not_sovereign"
        remaining = state.claims.get(p.claim)
        if remaining is None:
            return "over_repay" if p.claim in state.consumed else "unknown_claim"
        if p.amount > remaining:
            return "over_repay"
        plan = compute_repayments(remaining, claim.prefs, state.balances, creator)
        if plan[0] != (p.currency, p.amount):
            return "wrong_repay_order"
        refused = self._debit(state, p.currency, p.amount, p.newbal)
        if refused is not None:
            return refused
        if remaining == p.amount:
            del state.claims[p.claim]
        else:
            state.claims[p.claim] = remaining - p.amount
        return None

    def _credit_offer(self, creator: MemberId, p: CreditOffer, state: ChainState) -> str | None:
        if p.peer == creator:
            return "self_payment"
        if state.balance(p.peer) + p.amount > p.limit:
            return "over_credit_limit"
        state.limits[p.peer] = p.limit
        return None

    def _credit_accept(
        self, creator: MemberId, p: CreditAccept, pointers: frozenset[BlockId], state: ChainState
    ) -> str | None:
        t = self._ref_transfer(p.offer, pointers)
        if isinstance(t, str):
            return t
        if t.kind != "credit_offer":
            return "wrong_reference"
        if t.payee != creator:
            return "not_payee"
        if t.id in state.consumed:
            return "already_accepted"
        new = state.balance(t.currency) + t.amount
        if p.newbal != new:
            return "unbalanced"
        if new > p.limit:
            return "over_credit_limit"
        if new > MAX_BALANCE:
            return "overflow"
        state.consumed.add(t.id)
        state.balances[t.currency] = new
        state.limits[t.currency] = p.limit
        return None

    # -- global accounting ---------------------------------------------------------------------

    def _register(self, bid: BlockId, creator: MemberId, p: CoinRecord) -> None:
        if isinstance(p, Issue):
            self._add_transfer(Transfer(bid, "issue", creator, _m(p.to), _m(p.currency), p.amount))
        elif isinstance(p, Redeem):
            cur = _m(p.currency)
            self._add_transfer(Transfer(bid, "redeem", creator, cur, cur, p.amount))
        elif isinstance(p, Repay):
            claimer = self._nodes[BlockId(p.claim)].creator
            t = Transfer(bid, "repay", creator, claimer, _m(p.currency), p.amount, BlockId(p.claim))
            self._repays[t.claim].append(bid)  # type: ignore[index]
            self._add_transfer(t)
        elif isinstance(p, Mint):
            self._minted[creator] += p.amount
            self._bal[(creator, creator)] += p.amount
        elif isinstance(p, CreditOffer):
            self._minted[creator] += p.amount
            self._bal[(creator, creator)] += p.amount
            self._add_transfer(
                Transfer(bid, "credit_offer", creator, _m(p.peer), creator, p.amount)
            )
        elif isinstance(p, CreditAccept):
            offer = self._transfers[BlockId(p.offer)]
            self._unaccepted[creator].pop(offer.id, None)
            self._change(offer, self._accepts, bid)
            self._minted[creator] += offer.amount
            self._bal[(creator, creator)] += offer.amount
            self._add_transfer(Transfer(bid, "credit", creator, offer.payer, creator, offer.amount))
        elif isinstance(p, Approve):
            self._to_judge[creator].pop(BlockId(p.transfer), None)
            self._approvals[BlockId(p.transfer)].append(bid)
        elif isinstance(p, Accept):
            self._unaccepted[creator].pop(BlockId(p.transfer), None)
            self._change(self._transfers[BlockId(p.transfer)], self._accepts, bid)
        else:
            self._to_judge[creator].pop(BlockId(p.transfer), None)
            self._change(self._transfers[BlockId(p.transfer)], self._disapprovals, bid)

    def _add_transfer(self, t: Transfer) -> None:
        self._transfers[t.id] = t
        self._count(t, self._bucket(t.id), 1)
        if t.payee != t.payer:
            self._involved[t.payee].append(t.id)
        if t.needs_approval:
            self._to_judge[t.currency][t.id] = None
        self._unaccepted[t.payee][t.id] = None
        self._spent[(t.payer, t.currency)].append(t.id)
        if t.kind == "redeem":
            self._redeems.append(t.id)

    def _change(self, t: Transfer, marks: dict[BlockId, list[BlockId]], bid: BlockId) -> None:
        before = self._bucket(t.id)
        marks[t.id].append(bid)
        after = self._bucket(t.id)
        if after != before:
            self._count(t, before, -1)
            self._count(t, after, 1)

    def _bucket(self, tid: BlockId) -> str:
        if self._accepts.get(tid):
            return ACCEPTED
        if self._disapprovals.get(tid):
            return VOID
        return ISSUED

    def _count(self, t: Transfer, bucket: str, sign: int) -> None:
        if bucket == VOID:
            return
        self._bal[(t.payer, t.currency)] -= sign * t.amount
        if bucket == ACCEPTED:
            self._bal[(t.payee, t.currency)] += sign * t.amount
        else:
            self._flight[t.currency] += sign * t.amount

    # -- structure -------------------------------------------------------------------------------

    def _comparable(self, a: BlockId, b: BlockId) -> bool:
        """Whether one of two blocks of one creator is a chain ancestor of the other."""
        na, nb = self._nodes[a], self._nodes[b]
        if na.creator != nb.creator:
            return False
        if na.creator not in self._forks:
            return True  # one chain among the blocks held, and both ancestries are held
        if na.seq > nb.seq:
            a, b, na, nb = b, a, nb, na
        at: BlockId | None = b
        while at is not None and self._nodes[at].seq > na.seq:
            at = self._nodes[at].parent
        return at == a

    def conflicting_transfers(self, t: Transfer | str, e: Transfer | str) -> bool:
        """Two transfers of one payer's coins of one currency on two branches: a double spend."""
        return (
            not isinstance(t, str)
            and not isinstance(e, str)
            and t.id != e.id
            and t.payer == e.payer
            and t.currency == e.currency
            and not self._comparable(t.id, e.id)
        )

    def conflicting(self, a: BlockId, b: BlockId) -> bool:
        """Whether transfers ``a`` and ``b`` are a double spend."""
        ta, tb = self._transfers.get(a), self._transfers.get(b)
        return ta is not None and tb is not None and self.conflicting_transfers(ta, tb)

    # -- queries ---------------------------------------------------------------------------------

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def outcome(self, block_id: BlockId) -> Outcome | None:
        node = self._nodes.get(block_id)
        return None if node is None else Outcome(block_id, _kind(node.payload), node.reason)

    def payload(self, block_id: BlockId) -> CoinRecord | None:
        """The currency record of a folded block (``None`` if unknown or not one)."""
        node = self._nodes.get(block_id)
        return None if node is None else node.payload

    def creator(self, block_id: BlockId) -> MemberId:
        return self._nodes[block_id].creator

    def members(self) -> list[MemberId]:
        """Everyone who created a block or was paid, sorted."""
        return sorted({m for m, c in self._bal} | set(self._involved))

    def balance(self, member: bytes, currency: bytes) -> int:
        return self._bal.get((MemberId(member), MemberId(currency)), 0)

    def balances(self, member: bytes) -> dict[MemberId, int]:
        """Non-zero holdings of ``member``: currency -> amount."""
        return {c: v for (m, c), v in sorted(self._bal.items()) if m == member and v}

    def in_flight(self, currency: bytes) -> int:
        """Coins of ``currency`` issued and neither accepted nor void."""
        return self._flight.get(MemberId(currency), 0)

    def minted(self, currency: bytes) -> int:
        """Coins of ``currency`` ever created (mints and mutual-credit legs)."""
        return self._minted.get(MemberId(currency), 0)

    def currencies(self) -> list[MemberId]:
        return sorted(set(self._minted) | {c for _, c in self._bal} | set(self._flight))

    def transfer(self, block_id: BlockId) -> Transfer | None:
        return self._transfers.get(block_id)

    def transfers(self) -> list[Transfer]:
        """Every valid transfer, in the order folded."""
        return list(self._transfers.values())

    def awaiting_judgement(self, sovereign: bytes) -> list[Transfer]:
        """Transfers of ``sovereign``'s coins needing its approval that no valid block of it
        approved or disapproved, in the order folded (see the module's *work indexes*)."""
        pending = self._to_judge.get(MemberId(sovereign), {})
        return [self._transfers[t] for t in pending]

    def unaccepted(self, payee: bytes) -> list[Transfer]:
        """Transfers to ``payee`` (credit offers included) that no valid block of it accepted,
        in the order folded; void ones included (a forked sovereign may still approve them)."""
        pending = self._unaccepted.get(MemberId(payee), {})
        return [self._transfers[t] for t in pending]

    def spent(self, payer: bytes, currency: bytes) -> list[Transfer]:
        """``payer``'s valid transfers of ``currency`` coins, in the order folded."""
        return [
            self._transfers[t] for t in self._spent.get((MemberId(payer), MemberId(currency)), ())
        ]

    def status(self, transfer_id: BlockId) -> str:
        """``issued``, ``approved``, ``accepted`` or ``void``."""
        bucket = self._bucket(transfer_id)
        if bucket == ISSUED and self._approvals.get(transfer_id):
            return APPROVED
        return bucket

    def approvals(self, transfer_id: BlockId) -> list[BlockId]:
        """Valid approvals of a transfer (one, unless its sovereign forked), sorted."""
        return sorted(self._approvals.get(transfer_id, ()))

    def accepts(self, transfer_id: BlockId) -> list[BlockId]:
        return sorted(self._accepts.get(transfer_id, ()))

    def equivocators(self) -> frozenset[MemberId]:
        return frozenset(self._forks)

    def fork_evidence(self, member: bytes) -> tuple[BlockId, BlockId] | None:
        """Two blocks proving ``member`` forked, if it did."""
        return self._forks.get(MemberId(member))

    def latest(self, member: bytes) -> BlockId | None:
        """The member's latest block (after a fork: the deepest tip, then the smallest id)."""
        tips = self._tips.get(MemberId(member))
        if not tips:
            return None
        return min(tips, key=lambda b: (-self._nodes[b].seq, b))

    def chain_state(self, member: bytes) -> ChainState:
        """A copy of the member's chain state after :meth:`latest` (empty if none)."""
        return self.chain_state_view(member).copy()

    def chain_state_view(self, member: bytes) -> ChainState:
        """The member's chain state after :meth:`latest` itself: **read only**, and only until
        the next :meth:`apply` (which advances it in place).

        Why: copying it costs O(the member's whole history); readers that only look (and dry
        runs until their first draft) use this instead of :meth:`chain_state`.
        """
        tip = self.latest(member)
        return ChainState() if tip is None else self._tip_state[tip]

    def claims(self, now: int | None = None) -> list[Claim]:
        """Every redemption claim, by id; past ``now`` an unpaid claim is ``defaulted``."""
        out: list[Claim] = []
        for tid in sorted(self._redeems):
            out.append(self._claim(tid, now))
        return out

    def claim(self, claim_id: BlockId, now: int | None = None) -> Claim | None:
        t = self._transfers.get(claim_id)
        return None if t is None or t.kind != "redeem" else self._claim(claim_id, now)

    def _claim(self, tid: BlockId, now: int | None) -> Claim:
        t = self._transfers[tid]
        redeem = self._nodes[tid].payload
        assert isinstance(redeem, Redeem)
        repaid = sum(
            self._transfers[r].amount for r in self._repays.get(tid, ()) if self._bucket(r) != VOID
        )
        bucket = self._bucket(tid)
        if bucket == VOID:
            state = "void"
        elif repaid >= t.amount:
            state = "repaid"
        elif now is not None and now > redeem.deadline:
            state = "defaulted"
        elif bucket == ACCEPTED:
            state = "open"
        else:
            state = "pending"
        return Claim(
            tid, t.payer, t.currency, t.amount, redeem.prefs, redeem.deadline, repaid, state
        )

    def history(self, member: bytes, now: int | None = None) -> list[HistoryEntry]:
        """The member's blocks and the transfers to it, in the order this node folded them."""
        who = MemberId(member)
        return [self._entry(who, bid, now) for bid in self._involved.get(who, ())]

    def _entry(self, member: MemberId, bid: BlockId, now: int | None) -> HistoryEntry:
        node = self._nodes[bid]
        t = self._transfers.get(bid)
        if node.creator != member:
            assert t is not None
            return HistoryEntry(bid, "incoming", t.payer, t.currency, t.amount, self.status(bid))
        p = node.payload
        kind = _kind(p)
        if node.reason is not None:
            return HistoryEntry(bid, kind, None, None, 0, "refused", node.reason)
        if isinstance(p, Redeem):
            assert t is not None
            state = self._claim(bid, now).state
            return HistoryEntry(bid, kind, t.payee, t.currency, t.amount, state)
        if t is not None:
            return HistoryEntry(bid, kind, t.payee, t.currency, t.amount, self.status(bid))
        if isinstance(p, Mint):
            return HistoryEntry(bid, kind, None, member, p.amount, "done")
        assert isinstance(p, Approve | Accept | Disapprove)
        target = self._transfers[BlockId(p.transfer)]
        return HistoryEntry(bid, kind, target.payer, target.currency, target.amount, "done")

    # -- agreement -------------------------------------------------------------------------------

    def snapshot(self) -> Value:
        """Everything the fold decided, canonically ordered: equal on nodes with equal blocks."""
        return {
            "balances": tuple((m, c, v) for (m, c), v in sorted(self._bal.items()) if v),
            "in_flight": tuple((c, v) for c, v in sorted(self._flight.items()) if v),
            "minted": tuple(sorted(self._minted.items())),
            "outcomes": tuple((b, n.reason or "") for b, n in sorted(self._nodes.items())),
            "transfers": tuple((b, self.status(b)) for b in sorted(self._transfers)),
            "equivocators": tuple(sorted(self._forks)),
        }

    def digest(self) -> bytes:
        """A 32-byte hash of :meth:`snapshot`."""
        data = encode(self.snapshot())
        return hashlib.blake2b(data, digest_size=32, person=_DIGEST_PERSON).digest()


def _kind(payload: CoinRecord | None) -> str:
    return "unknown" if payload is None else KIND[type(payload)]


def _m(raw: bytes) -> MemberId:
    return MemberId(raw)
