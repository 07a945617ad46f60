"""A member's side of the coin lace: the next blocks to sign, built only if the ledger accepts them.

Pure: it reads the :class:`CoinLedger` and returns :class:`Draft` s; the node signs, stores,
broadcasts and feeds the signed blocks back to the ledger.  Every draft is dry-run through
:meth:`CoinLedger.check` against the member's chain state, so an honest node never signs a
block its peers would refuse.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from peoplenet.apps.currency.errors import (
    BadAmount,
    CurrencyError,
    InsufficientFunds,
    UnknownMember,
)
from peoplenet.apps.currency.ledger import VOID, CoinLedger, Transfer
from peoplenet.apps.currency.records import (
    MAX_AMOUNT,
    MAX_BALANCE,
    MAX_DEADLINE,
    MAX_MEMO,
    MAX_PREFS,
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
from peoplenet.plugins.api import ID_LEN, BlockId, LocalError, MemberId

CONSENT_PURPOSES: Final = frozenset({"pay", "mint", "credit", "redeem"})
"""Drafts the person must approve before they are signed."""

DUTY_PURPOSES: Final = frozenset({"approve", "accept", "repay", "disapprove"})
"""Drafts the member's node signs on its own (see :meth:`Wallet.duties`)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An unsigned block: sign ``payload`` with :attr:`pointers` in the coin lace."""

    payload: CoinRecord
    refs: tuple[BlockId, ...]
    """The blocks it refers to (the transfer it accepts, the claim it repays...)."""
    purpose: str
    parent: BlockId | None
    """The member's latest block when the draft was built (its chain pointer)."""
    chained: bool = False
    """True for the second and later drafts of :meth:`Wallet.duties`: each must point to the
    block signed from the draft before it, which did not exist when it was built."""

    @property
    def pointers(self) -> tuple[BlockId, ...]:
        """Sorted pointers: the refs and the member's latest block."""
        if self.chained:
            raise LocalError("a chained draft points to the previous one: use pointers_after")
        return self.pointers_after(self.parent)

    def pointers_after(self, latest: BlockId | None) -> tuple[BlockId, ...]:
        """The pointers for signing right after the member's block ``latest``."""
        ids = set(self.refs)
        if latest is not None:
            ids.add(latest)
        return tuple(sorted(ids))


class Wallet:
    """What member ``me`` can do in the coin lace, given the ledger this node folds."""

    def __init__(
        self, me: bytes, ledger: CoinLedger, members: Collection[bytes] | None = None
    ) -> None:
        self.me = _member(me, "me")
        self.ledger = ledger
        self._members = None if members is None else frozenset(members)

    # -- reading ---------------------------------------------------------------------------------

    def balance(self, currency: bytes | None = None) -> int:
        """What my own chain says I hold of ``currency`` (default: my own coins)."""
        state = self.ledger.chain_state_view(self.me)
        return state.balance(self.me if currency is None else currency)

    def credit_offers(self) -> list[Transfer]:
        """Credit offers made to me that I have not taken (they need my consent)."""
        taken = self.ledger.chain_state_view(self.me).consumed
        return [t for t in self.incoming() if t.kind == "credit_offer" and t.id not in taken]

    def to_judge(self) -> list[Transfer]:
        """Transfers of my coins that need my approval and that I may not have judged yet.

        From the ledger's index (O(pending)), unless I forked: then the index mixes my
        branches, so every transfer is scanned (callers filter by my latest chain state).
        """
        if self.me in self.ledger.equivocators():
            return [
                t for t in self.ledger.transfers() if t.currency == self.me and t.needs_approval
            ]
        return self.ledger.awaiting_judgement(self.me)

    def incoming(self) -> list[Transfer]:
        """Transfers to me (credit offers too) that I may not have accepted yet (as above)."""
        if self.me in self.ledger.equivocators():
            return [t for t in self.ledger.transfers() if t.payee == self.me]
        return self.ledger.unaccepted(self.me)

    # -- what the person asks for ----------------------------------------------------------------

    def pay(self, to: bytes, amount: int, currency: bytes | None = None, memo: str = "") -> Draft:
        """Pay ``amount`` of ``currency`` (default: my own coins) to ``to``."""
        to = self._payee(to)
        cur = self._known(self.me if currency is None else currency, "currency")
        _amount(amount)
        _memo(memo)
        have = self.balance(cur)
        if amount > have:
            raise InsufficientFunds(f"paying {amount}, holding {have}")
        return self._build(Issue(to, cur, amount, have - amount, memo), (), "pay")

    def pay_own(self, to: bytes, amount: int, memo: str = "") -> list[Draft]:
        """Pay ``amount`` of my own coins to ``to``, minting first what I do not hold.

        Paying in one's own coins is issuing them: when I hold fewer than ``amount``, the
        drafts are a mint of the difference and then the payment of all of it (chained: sign
        them in order, each after the one before).  Both are dry-run against my chain before
        either is returned, so nothing is minted for a payment the ledger would refuse.
        """
        to = self._payee(to)
        _amount(amount)
        _memo(memo)
        have = self.balance()
        if amount <= have:
            return [self.pay(to, amount, None, memo)]
        if amount > MAX_BALANCE:
            raise BadAmount(f"a balance above {MAX_BALANCE}")
        run = _DryRun(self.ledger, self.me)
        for payload, purpose in (
            (Mint(amount - have, amount), "mint"),
            (Issue(to, self.me, amount, 0, memo), "pay"),
        ):
            if not run.attempt(payload, (), purpose):
                raise CurrencyError(run.refusal or "refused", f"{purpose} would be refused")
        return run.drafts

    def mint(self, amount: int) -> Draft:
        """Create ``amount`` of my own coins."""
        _amount(amount)
        new = self.balance() + amount
        if new > MAX_BALANCE:
            raise BadAmount(f"a balance above {MAX_BALANCE}")
        return self._build(Mint(amount, new), (), "mint")

    def redeem(self, sovereign: bytes, amount: int, prefs: Sequence[bytes], deadline: int) -> Draft:
        """Return ``amount`` of ``sovereign``'s coins to it, to be repaid in ``prefs`` order."""
        cur = self._known(sovereign, "sovereign")
        if cur == self.me:
            raise CurrencyError("own_currency", "you redeem other members' coins, not your own")
        _amount(amount)
        wanted = tuple(self._known(p, "preferred currency") for p in prefs)
        if len(wanted) > MAX_PREFS or len(set(wanted)) != len(wanted) or cur in wanted:
            raise CurrencyError("bad_prefs", "distinct, at most 16, not the redeemed currency")
        if not 0 <= deadline <= MAX_DEADLINE:
            raise CurrencyError("bad_deadline", "deadline out of range")
        have = self.balance(cur)
        if amount > have:
            raise InsufficientFunds(f"redeeming {amount}, holding {have}")
        return self._build(Redeem(cur, amount, have - amount, wanted, deadline), (), "redeem")

    def credit(self, peer: bytes, amount: int, limit: int) -> Draft:
        """Offer ``peer`` a credit swap of ``amount``; hold at most ``limit`` of its coins."""
        peer = self._known(peer, "peer")
        if peer == self.me:
            raise CurrencyError("self_payment", "a credit line is with another member")
        _amount(amount)
        _limit(limit)
        return self._build(CreditOffer(peer, amount, limit), (), "credit")

    def accept_credit(self, offer: BlockId, limit: int) -> Draft:
        """Take a credit offer made to me (and give as many of my coins back)."""
        _limit(limit)
        t = self.ledger.transfer(offer)
        if t is None or t.kind != "credit_offer" or t.payee != self.me:
            raise CurrencyError("unknown_offer", "no credit offer to me with that id")
        new = self.balance(t.currency) + t.amount
        if new > MAX_BALANCE:
            raise BadAmount(f"a balance above {MAX_BALANCE}")
        return self._build(CreditAccept(offer, limit, new), (offer,), "credit")

    # -- what the node does on its own -----------------------------------------------------------

    def duties(self, now: int) -> list[Draft]:
        """Blocks the member's node should sign now, in order (each after the previous one).

        As sovereign: approve transfers of my coins that are no double spend, disapprove
        those that are (with the approved conflicting transfer as evidence).  As payee: accept
        approved transfers to me (and those needing no approval) within my credit limits,
        except a forked payer's conflicting own-coin payments.  As issuer: repay the claims
        I took, earliest deadline first (``now`` orders nothing else today: claims are repaid
        as soon as they are taken; one I cannot repay stays open and defaults past ``now``).
        """
        run = _DryRun(self.ledger, self.me)
        for t in self.to_judge():
            self._judge(t, run)
        for t in self.incoming():
            if t.kind != "credit_offer" and t.id not in run.state.consumed:
                self._take(t, run)
        overdue = sorted(run.state.claims, key=lambda c: (self._deadline(c), c))
        for claim in overdue:
            self._repay(BlockId(claim), run)
        del now  # see the docstring
        return run.drafts

    def _judge(self, t: Transfer, run: _DryRun) -> None:
        state = run.state
        if t.id in state.approved or t.id in state.disapproved:
            return
        tip = state.approved_tip.get(t.payer)
        if tip is not None and self.ledger.conflicting(BlockId(tip), t.id):
            run.attempt(Disapprove(t.id, tip), (t.id, BlockId(tip)), "disapprove")
        else:
            run.attempt(Approve(t.id), (t.id,), "approve")

    def _take(self, t: Transfer, run: _DryRun) -> None:
        if self.ledger.status(t.id) == VOID:
            return
        state = run.state
        new = state.balance(t.currency) + t.amount
        if new > MAX_BALANCE:
            return
        if t.needs_approval:
            approvals = self.ledger.approvals(t.id)
            if approvals:
                run.attempt(Accept(t.id, approvals[0], new), (t.id, approvals[0]), "accept")
            return
        if t.currency == self.me:  # my coins coming home: I judge the double spend myself
            tip = state.approved_tip.get(t.payer)
            if tip is not None and self.ledger.conflicting(BlockId(tip), t.id):
                if t.id not in state.disapproved:
                    run.attempt(Disapprove(t.id, tip), (t.id, BlockId(tip)), "disapprove")
                return
        elif t.payer in self.ledger.equivocators() and self._double_spent(t):
            return
        run.attempt(Accept(t.id, None, new), (t.id,), "accept")

    def _double_spent(self, t: Transfer) -> bool:
        """Whether a forked sovereign paid the same coins of its own twice (one is accepted)."""
        return any(
            self.ledger.conflicting(o.id, t.id) and self.ledger.accepts(o.id)
            for o in self.ledger.spent(t.payer, t.currency)
        )

    def _repay(self, claim: BlockId, run: _DryRun) -> None:
        redeem = self.ledger.payload(claim)
        assert isinstance(redeem, Redeem)
        while claim in run.state.claims:
            state = run.state
            remaining = state.claims[claim]
            cur, amount = compute_repayments(remaining, redeem.prefs, state.balances, self.me)[0]
            have = state.balance(cur)
            if amount > have:
                return  # not enough of my own coins left: the person must mint
            if not run.attempt(Repay(claim, cur, amount, have - amount), (claim,), "repay"):
                return

    def _deadline(self, claim: bytes) -> int:
        redeem = self.ledger.payload(BlockId(claim))
        return redeem.deadline if isinstance(redeem, Redeem) else MAX_DEADLINE

    # -- helpers ---------------------------------------------------------------------------------

    def _build(self, payload: CoinRecord, refs: tuple[BlockId, ...], purpose: str) -> Draft:
        state = self.ledger.chain_state_view(self.me).draft()
        reason = self.ledger.check(self.me, payload, refs, state)
        if reason == "overspend":
            raise InsufficientFunds()
        if reason is not None:
            raise CurrencyError(reason)
        return Draft(payload, refs, purpose, self.ledger.latest(self.me))

    def _payee(self, to: bytes) -> MemberId:
        payee = self._known(to, "payee")
        if payee == self.me:
            raise CurrencyError("self_payment", "you cannot pay yourself: pay another member")
        return payee

    def _known(self, member: bytes, what: str) -> MemberId:
        mid = _member(member, what)
        if self._members is not None and mid not in self._members:
            raise UnknownMember(f"{what} is not a member of the cooperative")
        return mid


class _DryRun:
    """:meth:`Wallet.duties`' drafts so far and the chain state they leave.

    Reads the ledger's own state until the first draft is tried, and drafts on it then
    (:meth:`ChainState.draft`: its growing sets are read through, never copied), so no duty
    costs the length of the member's history.
    """

    def __init__(self, ledger: CoinLedger, me: MemberId) -> None:
        self.ledger, self.me = ledger, me
        self.state: ChainState = ledger.chain_state_view(me)
        self.copied = False
        self.parent = ledger.latest(me)
        self.drafts: list[Draft] = []
        self.refusal: str | None = None
        """Why the last refused attempt was refused."""

    def attempt(self, payload: CoinRecord, refs: Iterable[BlockId], purpose: str) -> bool:
        """Dry-run ``payload``; keep it as the next draft if the ledger would take it."""
        if not self.copied:
            self.state, self.copied = self.state.draft(), True
        refs = tuple(refs)
        self.refusal = self.ledger.check(self.me, payload, refs, self.state)
        if self.refusal is not None:
            return False
        chained = bool(self.drafts)
        self.drafts.append(Draft(payload, refs, purpose, self.parent, chained=chained))
        return True


def _member(raw: bytes, what: str) -> MemberId:
    if type(raw) is not bytes or len(raw) != ID_LEN:
        raise UnknownMember(f"{what} must be a 32-byte member id")
    return MemberId(raw)


def _amount(amount: int) -> None:
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise BadAmount(f"amount must be an int in 1..{MAX_AMOUNT}")


def _memo(memo: str) -> None:
    if type(memo) is not str or len(memo) > MAX_MEMO:
        raise CurrencyError("bad_memo", f"a memo is text of at most {MAX_MEMO} characters")


def _limit(limit: int) -> None:
    if type(limit) is not int or not 0 <= limit <= MAX_BALANCE:
        raise BadAmount(f"limit must be an int in 0..{MAX_BALANCE}")
