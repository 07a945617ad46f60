"""Escrow: a job's money held while the work is done, then released, refunded or split.

A work app's fold keeps one :class:`EscrowBook`.  When a job is agreed the customer's money
moves to the app's escrow account (:meth:`EscrowBook.hold`); when the job ends it leaves that
account in one of four ways, once: to the worker less the cooperative's commission
(:meth:`~EscrowBook.release`), back to the customer (:meth:`~EscrowBook.refund`, with an
optional fee to the worker), shared as a jury ruled (:meth:`~EscrowBook.split`).  A job paid in
cash (:meth:`~EscrowBook.cash`) moves nothing here: the fare is recorded as paid in cash and
the commission becomes the worker's debt to the cooperative, settled later by a move to the
treasury (:meth:`~EscrowBook.settle_debt`).

A *shared* job pays several payees who are not all known when the money is held (a delivery's
store and its couriers): :meth:`~EscrowBook.hold_open` holds it with no payee, and
:meth:`~EscrowBook.settle` pays it out in one all-or-nothing step (payees, the commission, the
rest back to the payer).  Its cash twin :meth:`~EscrowBook.cash_shared` records who collected
the cash and each party's part; the cooperative's part becomes the collector's debt.

Money moves through the :class:`~peoplenet.actors.work.funds.Funds` the fold is handed, in the
same ordered transaction; the book records a step only after its moves were taken, so a
refused move leaves the book unchanged.  Per currency, always:
``paid_in == paid_out + commission + refunds + held``; and for cash:
``cash_commission == debts outstanding + debts settled``.

Pure and deterministic: community time comes in the context, integers only, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final, Protocol

from peoplenet.actors.coop.apps import AppTxRejected
from peoplenet.actors.work.funds import COMMUNITY_COINS, NO_FUNDS_PROVIDER, Funds, Move
from peoplenet.actors.work.pricing import parse_rate, round_half_up
from peoplenet.runtime.wire.codec import Value

ACCOUNT_LEN: Final = 32
MAX_AMOUNT: Final = 10**15
"""The largest amount one job holds (cents): the currency's own bound."""
MAX_JOB_ID: Final = 64
ESCROW_DOMAIN: Final = b"peoplenet/escrow-account/v1\0"
TREASURY_DOMAIN: Final = b"peoplenet/treasury-account/v1\0"

HELD: Final = "held"
RELEASED: Final = "released"
REFUNDED: Final = "refunded"
SPLIT: Final = "split"
CASH: Final = "cash"
SETTLED: Final = "settled"
"""A shared job paid out by :meth:`EscrowBook.settle`."""
MAX_PAYEES: Final = 64
"""The most payees one shared job pays (a bound on the book's state, not a business rule)."""

Payouts = tuple[tuple[bytes, int], ...]
"""``((payee, cents), ...)``, sorted by payee: who a shared job paid (or the cash was for)."""


def _account(domain: bytes, *parts: bytes) -> bytes:
    data = bytearray(domain)
    for part in parts:
        data += len(part).to_bytes(2, "big") + part
    return hashlib.blake2b(bytes(data), digest_size=ACCOUNT_LEN).digest()


def escrow_account(community: bytes, app: str) -> bytes:
    """The account an app's held money sits in: BLAKE2b-256 of the escrow domain, then the
    community id and the app's name, each preceded by its length (2 bytes, big-endian).

    A hash, so no one holds a key for it and it never equals a member's id in practice; only
    the app it is named after may move money out of it (the platform checks)."""
    return _account(ESCROW_DOMAIN, community, app.encode())


def treasury_account(community: bytes) -> bytes:
    """The cooperative's treasury, where commissions go: BLAKE2b-256 of the treasury domain,
    then the community id preceded by its length.  Nothing moves out of it through an app."""
    return _account(TREASURY_DOMAIN, community)


class FoldView(Protocol):
    """What the book reads of the fold's context (``peoplenet.plugins.api.FoldContext``)."""

    @property
    def community(self) -> bytes: ...

    @property
    def now_ms(self) -> int: ...


def _rate(rate: Fraction | str, name: str = "rate") -> Fraction:
    """A rate between 0 and 1 inclusive (a share of the amount), from ``"n/d"`` text or a
    Fraction (the kit's :func:`~peoplenet.actors.work.pricing.parse_rate`); ``bad_<name>``."""
    try:
        value = parse_rate(rate)
    except AppTxRejected as exc:
        raise AppTxRejected(f"bad_{name}", exc.detail) from None
    if not 0 <= value <= 1:
        raise AppTxRejected(f"bad_{name}", f"{name} {value} is outside 0..1")
    return value


def _part(amount: int, rate: Fraction) -> int:
    """``amount * rate`` rounded half up to the cent, the kit's one rounding rule
    (:func:`~peoplenet.actors.work.pricing.round_half_up`): the half cent goes to the party
    the rate names (the cooperative for a commission); the other side gets the rest, so no
    cent is ever made or lost by rounding."""
    return round_half_up(amount * rate)


@dataclass(slots=True)
class EscrowJob:
    """One job's money, and how it ended."""

    payer: bytes
    payee: bytes
    currency: str
    amount: int
    held_ms: int
    state: str = HELD
    settled_ms: int = -1
    to_payee: int = 0
    """Paid to the payee; for a shared job, the sum of its payouts."""
    commission: int = 0
    refunded: int = 0
    shared: bool = False
    """Held by :meth:`EscrowBook.hold_open` or recorded by :meth:`EscrowBook.cash_shared`:
    paid to its ``payouts``, not to ``payee`` (empty while held; the collector of the cash)."""
    payouts: Payouts = ()

    def to_value(self) -> Value:
        """Ten fields for a one-payee job (its form since the kit began); a shared job's has an
        eleventh, its payouts (``()`` while held)."""
        value: tuple[Value, ...] = (
            self.payer,
            self.payee,
            self.currency,
            self.amount,
            self.held_ms,
            self.state,
            self.settled_ms,
            self.to_payee,
            self.commission,
            self.refunded,
        )
        return (*value, self.payouts) if self.shared else value


@dataclass(slots=True)
class EscrowTotals:
    """Every cent of one currency through the escrow: ``paid_in`` == the other four."""

    paid_in: int = 0
    paid_out: int = 0
    commission: int = 0
    refunds: int = 0
    held: int = 0
    cash_fares: int = 0
    cash_commission: int = 0
    debts_settled: int = 0

    def conserved(self) -> bool:
        return self.paid_in == self.paid_out + self.commission + self.refunds + self.held

    def to_value(self) -> Value:
        return _numbers(self)


@dataclass(slots=True)
class EscrowBook:
    """The jobs of one app and the money each holds (one per app state, in its fold)."""

    app: str
    """The app's name: its escrow account is :func:`escrow_account` (community, app)."""
    jobs: dict[bytes, EscrowJob] = field(default_factory=dict)
    totals: dict[str, EscrowTotals] = field(default_factory=dict)
    debt: dict[tuple[bytes, str], int] = field(default_factory=dict)
    """(member, currency) -> commission owed for jobs paid in cash, not yet settled."""

    # -- queries ------------------------------------------------------------------------------

    def job(self, job: bytes) -> EscrowJob | None:
        return self.jobs.get(job)

    def held(self, currency: str = COMMUNITY_COINS) -> int:
        return self.total(currency).held

    def total(self, currency: str) -> EscrowTotals:
        """The totals of ``currency`` (zeros when it never passed here)."""
        return self.totals.get(currency) or EscrowTotals()

    def debts(self, member: bytes, currency: str = COMMUNITY_COINS) -> int:
        """What ``member`` owes the cooperative in commission on jobs paid in cash."""
        return self.debt.get((member, currency), 0)

    def conserved(self) -> bool:
        """The book's invariants hold for every currency (tests assert it after every step)."""
        owed: dict[str, int] = {}
        for (_, currency), n in self.debt.items():
            owed[currency] = owed.get(currency, 0) + n
        return all(
            t.conserved()
            and t.cash_commission == owed.get(c, 0) + t.debts_settled
            and all(n >= 0 for n in _numbers(t))
            for c, t in self.totals.items()
        )

    # -- the money ------------------------------------------------------------------------------

    def hold(
        self,
        job: bytes,
        payer: bytes,
        payee: bytes,
        currency: str,
        amount: int,
        *,
        funds: Funds | None,
        ctx: FoldView,
    ) -> EscrowJob:
        """Move ``amount`` from ``payer`` to the app's escrow for ``job`` (payee: the worker).

        Refusals: ``bad_job``, ``already_held``, ``already_settled``, ``bad_account``,
        ``self_payment``, ``bad_amount``, ``no_funds_provider``, and the funds' own
        (``insufficient_funds``, ``unknown_currency``, ``not_your_funds``...)."""
        self._new_job(job, payer, payee, amount)
        escrow = escrow_account(ctx.community, self.app)
        _funds(funds).move(payer, escrow, currency, amount, _memo(job, "held"))
        record = self.jobs[job] = EscrowJob(payer, payee, currency, amount, ctx.now_ms)
        totals = self._totals(currency)
        totals.paid_in += amount
        totals.held += amount
        return record

    def hold_open(
        self,
        job: bytes,
        payer: bytes,
        currency: str,
        amount: int,
        *,
        funds: Funds | None,
        ctx: FoldView,
    ) -> EscrowJob:
        """Move ``amount`` from ``payer`` to the app's escrow for a *shared* job: its payees
        are decided when it is paid out (:meth:`settle`), or it is refunded (:meth:`refund`,
        without a fee: there is no payee to take it).

        Refusals: as :meth:`hold` (``bad_account`` for the payer only)."""
        self._new_job(job, payer, None, amount)
        escrow = escrow_account(ctx.community, self.app)
        _funds(funds).move(payer, escrow, currency, amount, _memo(job, "held"))
        record = self.jobs[job] = EscrowJob(payer, b"", currency, amount, ctx.now_ms, shared=True)
        totals = self._totals(currency)
        totals.paid_in += amount
        totals.held += amount
        return record

    def settle(
        self,
        job: bytes,
        payouts: Sequence[tuple[bytes, int]],
        commission: int,
        *,
        funds: Funds | None,
        ctx: FoldView,
    ) -> EscrowJob:
        """Pay a shared job out in one step, all or nothing: each ``(payee, cents)`` of
        ``payouts``, ``commission`` cents to the treasury, the rest back to the payer.

        The app computes the parts (its own rules: rates, shares); the book checks they fit.
        A payee with 0 cents is left out of the record.  Refusals: ``no_such_job``,
        ``already_settled``, ``not_shared`` (a one-payee job: :meth:`release`),
        ``bad_payouts`` (not pairs, a payee not a 32-byte id, cents not an integer or
        negative, a payee twice, the payer or the treasury among them, more than
        ``MAX_PAYEES``, payouts and commission above the amount), ``bad_commission``, and the
        funds' own (``unknown_account`` for a payee who is not a member)."""
        record = self._open_job(job)
        if not record.shared:
            raise AppTxRejected("not_shared", f"job {job.hex()[:16]} has one payee: release it")
        treasury = treasury_account(ctx.community)
        paid = _payouts(payouts, record.payer, (treasury,))
        if type(commission) is not int or commission < 0:
            raise AppTxRejected("bad_commission", f"commission is cents >= 0, not {commission!r}")
        out = sum(n for _, n in paid)
        if out + commission > record.amount:
            raise AppTxRejected(
                "bad_payouts",
                f"payouts {out} and commission {commission} exceed the {record.amount} held",
            )
        back = record.amount - out - commission
        escrow = escrow_account(ctx.community, self.app)
        legs = [Move(escrow, p, record.currency, n, _memo(job, SETTLED)) for p, n in paid]
        legs += [
            Move(escrow, treasury, record.currency, commission, _memo(job, "commission")),
            Move(escrow, record.payer, record.currency, back, _memo(job, "refund")),
        ]
        _funds(funds).move_all([m for m in legs if m.amount])
        record.state, record.settled_ms = SETTLED, ctx.now_ms
        record.payouts, record.to_payee = paid, out
        record.commission, record.refunded = commission, back
        totals = self._totals(record.currency)
        totals.held -= record.amount
        totals.paid_out += out
        totals.commission += commission
        totals.refunds += back
        return record

    def release(
        self, job: bytes, commission_rate: Fraction | str, *, funds: Funds | None, ctx: FoldView
    ) -> EscrowJob:
        """The job is done: the payee gets the amount less the commission, which goes to the
        treasury (rounded half up, as the kit's ``apply_rate``)."""
        return self._pay_out(job, Fraction(0), commission_rate, RELEASED, funds=funds, ctx=ctx)

    def split(
        self,
        job: bytes,
        customer_share: Fraction | str,
        commission_rate: Fraction | str,
        *,
        funds: Funds | None,
        ctx: FoldView,
    ) -> EscrowJob:
        """A ruling shares the job: the payer gets ``customer_share`` of the amount back
        (rounded half up), the payee the rest less the commission on that rest."""
        share = _rate(customer_share, "share")
        return self._pay_out(job, share, commission_rate, SPLIT, funds=funds, ctx=ctx)

    def refund(self, job: bytes, *, funds: Funds | None, ctx: FoldView, fee: int = 0) -> EscrowJob:
        """The job is off: the payer gets the amount back less ``fee``, which goes to the
        payee (a cancellation fee; no commission is taken on it)."""
        record = self._open_job(job)
        if type(fee) is not int or not 0 <= fee <= record.amount:
            raise AppTxRejected("bad_fee", f"the fee is 0..{record.amount}, not {fee!r}")
        if fee and record.shared:
            raise AppTxRejected("shared_job", "a shared job has no payee to take a fee: settle it")
        escrow = escrow_account(ctx.community, self.app)
        back = record.amount - fee
        legs = [
            Move(escrow, record.payer, record.currency, back, _memo(job, "refund")),
            Move(escrow, record.payee, record.currency, fee, _memo(job, "fee")),
        ]
        _funds(funds).move_all([m for m in legs if m.amount])
        record.state, record.settled_ms = REFUNDED, ctx.now_ms
        record.refunded, record.to_payee = back, fee
        totals = self._totals(record.currency)
        totals.held -= record.amount
        totals.refunds += back
        totals.paid_out += fee
        return record

    def cash(
        self,
        job: bytes,
        payer: bytes,
        payee: bytes,
        fare: int,
        commission_rate: Fraction | str,
        *,
        ctx: FoldView,
        currency: str = COMMUNITY_COINS,
    ) -> EscrowJob:
        """The payer paid ``fare`` to the payee in cash, outside: nothing moves here; the
        commission on it becomes the payee's debt to the cooperative, counted in ``currency``
        (what :meth:`settle_debt` will pay it in)."""
        self._new_job(job, payer, payee, fare)
        rate = _rate(commission_rate)
        commission = _part(fare, rate)
        record = self.jobs[job] = EscrowJob(
            payer,
            payee,
            currency,
            fare,
            ctx.now_ms,
            state=CASH,
            settled_ms=ctx.now_ms,
            to_payee=fare - commission,
            commission=commission,
        )
        totals = self._totals(currency)
        totals.cash_fares += fare
        totals.cash_commission += commission
        if commission:
            key = (payee, currency)
            self.debt[key] = self.debt.get(key, 0) + commission
        return record

    def cash_shared(
        self,
        job: bytes,
        payer: bytes,
        collector: bytes,
        payouts: Sequence[tuple[bytes, int]],
        commission: int,
        *,
        ctx: FoldView,
        currency: str = COMMUNITY_COINS,
    ) -> EscrowJob:
        """The payer paid a shared job in cash to ``collector``, outside: nothing moves here.
        The fare is the payouts plus ``commission``; the record keeps each party's part (what
        the collector owes it, handed over outside), and ``commission`` becomes the
        collector's debt to the cooperative (:meth:`settle_debt`), counted in ``currency``.

        Refusals: ``bad_job``, ``already_held``, ``already_settled``, ``bad_account`` (the
        payer or the collector), ``self_payment`` (the payer collected), ``bad_payouts``,
        ``bad_commission``, ``bad_amount`` (a fare of 0 or above ``MAX_AMOUNT``)."""
        paid = _payouts(payouts, payer, (treasury_account(ctx.community),))
        if type(commission) is not int or commission < 0:
            raise AppTxRejected("bad_commission", f"commission is cents >= 0, not {commission!r}")
        out = sum(n for _, n in paid)
        fare = out + commission
        self._new_job(job, payer, collector, fare)
        record = self.jobs[job] = EscrowJob(
            payer,
            collector,
            currency,
            fare,
            ctx.now_ms,
            state=CASH,
            settled_ms=ctx.now_ms,
            to_payee=out,
            commission=commission,
            shared=True,
            payouts=paid,
        )
        totals = self._totals(currency)
        totals.cash_fares += fare
        totals.cash_commission += commission
        if commission:
            key = (collector, currency)
            self.debt[key] = self.debt.get(key, 0) + commission
        return record

    def settle_debt(
        self,
        member: bytes,
        amount: int,
        *,
        funds: Funds | None,
        ctx: FoldView,
        currency: str = COMMUNITY_COINS,
    ) -> int:
        """``member`` pays ``amount`` of its cash-commission debt to the treasury; what it
        still owes.  Refusals: ``bad_amount``, ``no_debt``, ``over_settle`` and the funds'."""
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
            raise AppTxRejected("bad_amount", f"amount is 1..{MAX_AMOUNT}, not {amount!r}")
        key = (member, currency)
        owed = self.debt.get(key, 0)
        if owed == 0:
            raise AppTxRejected("no_debt", f"owes nothing in {currency}")
        if amount > owed:
            raise AppTxRejected("over_settle", f"owes {owed}, pays {amount}")
        treasury = treasury_account(ctx.community)
        _funds(funds).move(member, treasury, currency, amount, "cash commission")
        left = owed - amount
        if left:
            self.debt[key] = left
        else:
            del self.debt[key]
        self._totals(currency).debts_settled += amount
        return left

    # -- snapshot -------------------------------------------------------------------------------

    def to_value(self) -> Value:
        """The book in codec form, sorted: equal on two nodes iff the books are."""
        return {
            "app": self.app,
            "jobs": tuple((j, r.to_value()) for j, r in sorted(self.jobs.items())),
            "totals": tuple((c, t.to_value()) for c, t in sorted(self.totals.items())),
            "debts": tuple((m, c, n) for (m, c), n in sorted(self.debt.items())),
        }

    # -- inside ---------------------------------------------------------------------------------

    def _pay_out(
        self,
        job: bytes,
        share: Fraction,
        commission_rate: Fraction | str,
        state: str,
        *,
        funds: Funds | None,
        ctx: FoldView,
    ) -> EscrowJob:
        record = self._open_job(job)
        if record.shared:
            raise AppTxRejected("shared_job", f"job {job.hex()[:16]} has several payees: settle it")
        rate = _rate(commission_rate)
        back = _part(record.amount, share)
        worker = record.amount - back
        commission = _part(worker, rate)
        to_payee = worker - commission
        escrow = escrow_account(ctx.community, self.app)
        treasury = treasury_account(ctx.community)
        legs = [
            Move(escrow, record.payer, record.currency, back, _memo(job, "customer share")),
            Move(escrow, record.payee, record.currency, to_payee, _memo(job, state)),
            Move(escrow, treasury, record.currency, commission, _memo(job, "commission")),
        ]
        _funds(funds).move_all([m for m in legs if m.amount])
        record.state, record.settled_ms = state, ctx.now_ms
        record.refunded, record.to_payee, record.commission = back, to_payee, commission
        totals = self._totals(record.currency)
        totals.held -= record.amount
        totals.refunds += back
        totals.paid_out += to_payee
        totals.commission += commission
        return record

    def _new_job(self, job: bytes, payer: bytes, payee: bytes | None, amount: int) -> None:
        """Refuse a new job (``payee`` None: a shared job, payees decided later)."""
        if type(job) is not bytes or not 0 < len(job) <= MAX_JOB_ID:
            raise AppTxRejected("bad_job", f"a job id is 1..{MAX_JOB_ID} bytes")
        known = self.jobs.get(job)
        if known is not None:
            if known.state == HELD:
                raise AppTxRejected("already_held", f"job {job.hex()[:16]} is held already")
            raise AppTxRejected("already_settled", f"job {job.hex()[:16]} was {known.state}")
        for who, account in (("payer", payer), ("payee", payee)):
            if account is None:
                continue
            if type(account) is not bytes or len(account) != ACCOUNT_LEN:
                raise AppTxRejected("bad_account", f"the {who} is a {ACCOUNT_LEN}-byte id")
        if payer == payee:
            raise AppTxRejected("self_payment", "the payer is the payee")
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
            raise AppTxRejected("bad_amount", f"amount is 1..{MAX_AMOUNT}, not {amount!r}")

    def _open_job(self, job: bytes) -> EscrowJob:
        record = self.jobs.get(job)
        if record is None:
            raise AppTxRejected("no_such_job", f"no job {job.hex()[:16]} in escrow")
        if record.state != HELD:
            raise AppTxRejected("already_settled", f"job {job.hex()[:16]} was {record.state}")
        return record

    def _totals(self, currency: str) -> EscrowTotals:
        totals = self.totals.get(currency)
        if totals is None:
            totals = self.totals[currency] = EscrowTotals()
        return totals


def _funds(funds: Funds | None) -> Funds:
    if funds is None:
        raise AppTxRejected(NO_FUNDS_PROVIDER, "no money can move in this call")
    return funds


def _payouts(payouts: object, payer: bytes, barred: tuple[bytes, ...]) -> Payouts:
    """``payouts`` checked (``bad_payouts``) and sorted by payee, zeros left out; the sum is
    checked by the caller against what it has."""
    if not isinstance(payouts, (list, tuple)):
        raise AppTxRejected("bad_payouts", "payouts are a sequence of (payee, cents)")
    if len(payouts) > MAX_PAYEES:
        raise AppTxRejected("bad_payouts", f"at most {MAX_PAYEES} payees, not {len(payouts)}")
    seen: dict[bytes, int] = {}
    for pair in payouts:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise AppTxRejected("bad_payouts", f"{pair!r} is not a (payee, cents) pair")
        payee, cents = pair
        if type(payee) is not bytes or len(payee) != ACCOUNT_LEN:
            raise AppTxRejected("bad_payouts", f"a payee is a {ACCOUNT_LEN}-byte id")
        if type(cents) is not int or not 0 <= cents <= MAX_AMOUNT:
            raise AppTxRejected("bad_payouts", f"a payout is 0..{MAX_AMOUNT} cents, not {cents!r}")
        if payee in seen:
            raise AppTxRejected("bad_payouts", f"payee {payee.hex()[:16]} is named twice")
        if payee == payer:
            raise AppTxRejected("bad_payouts", "the payer is among the payees: refund it instead")
        if payee in barred:
            raise AppTxRejected("bad_payouts", "the treasury is paid as the commission")
        seen[payee] = cents
    return tuple((p, n) for p, n in sorted(seen.items()) if n)


def _numbers(totals: EscrowTotals) -> tuple[int, ...]:
    return (
        totals.paid_in,
        totals.paid_out,
        totals.commission,
        totals.refunds,
        totals.held,
        totals.cash_fares,
        totals.cash_commission,
        totals.debts_settled,
    )


def _memo(job: bytes, what: str) -> str:
    return f"escrow {job.hex()[:16]}: {what}"


__all__ = [
    "CASH",
    "HELD",
    "MAX_AMOUNT",
    "MAX_PAYEES",
    "REFUNDED",
    "RELEASED",
    "SETTLED",
    "SPLIT",
    "EscrowBook",
    "EscrowJob",
    "EscrowTotals",
    "FoldView",
    "Payouts",
    "escrow_account",
    "treasury_account",
]
