"""How a ride is paid: held in escrow from the rider's cooperative coins, or recorded in cash.

The cooperative votes ``payment``:

* ``escrow``: once a driver is assigned, the rider's phone holds the top of the quote from the
  rider's cooperative coins in the app's escrow (a :class:`~.records.Hold`, the rider's own
  transaction: the request was the consent); a trip starts only once it is held.  The fare
  stays held after the trip (pending for the driver) until the voted dispute window closes:
  then the escrow pays the driver the fare less the cooperative's commission (to the
  treasury) and gives the rider the rest back; a dispute keeps it held until the jury's
  ruling splits it.  A fare above the hold (a detour the rider agreed to) takes the whole
  hold and the excess is recorded as paid in cash.  A cancellation refunds the hold, less the
  fee, which goes to the driver.  A customer (not a member) holds no coins: their rides are
  paid in cash whatever the vote.
* ``cash`` (the default: it works in a cooperative without the currency app): the rider pays
  the driver outside the app; the commission becomes the driver's debt to the cooperative,
  in cooperative coins (one a cent), which the driver settles with a ``SettleDebt``.

Every ride settles once (its escrow job is the ride's id and round).  The money is the work
kit's :class:`EscrowBook` (``docs/work-kit.md``); this module only says which of its
operations a ride's step is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Final, Protocol

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import (
    COMMUNITY_COINS,
    EscrowBook,
    EscrowJob,
    Funds,
    escrow_account,
    treasury_account,
)

ESCROW: Final = "escrow"
CASH: Final = "cash"
METHODS: Final = (CASH, ESCROW)
EXTRA: Final = b"+"
"""Suffix of the job recording, in cash, a consented fare above the hold."""


class Step(Protocol):
    """What a payment needs of the transaction: the fold's view and its funds."""

    @property
    def community(self) -> bytes: ...

    @property
    def now_ms(self) -> int: ...

    @property
    def funds(self) -> Funds | None: ...


@lru_cache(maxsize=64)
def commission_rate(text: str) -> Fraction:
    """The cooperative's ``commission`` rate as a share: a charter that counts it in percent
    (above 1: ``"10"`` is 10 %) is divided by 100; a share (``"1/10"``) is taken as it is.

    Every check, apply and clock of the fold asks for it, and the rate changes only by vote:
    each text is parsed once (a :class:`Fraction` is immutable)."""
    rate = Fraction(text)
    return rate / 100 if rate > 1 else rate


@dataclass(frozen=True, slots=True)
class Paid:
    """What a settlement recorded: the commission taken, the rider's money back."""

    commission: int
    refunded: int = 0


@dataclass(slots=True)
class Payments:
    """The rides' money: the kit's escrow book, used as the voted method says."""

    app: str
    book: EscrowBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = EscrowBook(self.app)

    def held(self, job: bytes) -> EscrowJob | None:
        """The escrow of ``job`` while it holds money (``None``: nothing held)."""
        record = self.book.job(job)
        return record if record is not None and record.state == "held" else None

    def check_hold(self, job: bytes, rider: bytes, amount: int, step: Step) -> None:
        """Refuse (changing nothing) a hold the escrow would refuse now."""
        if self.book.job(job) is not None:
            raise AppTxRejected("already_held", "this ride's fare is held already")
        if step.funds is None:
            raise AppTxRejected("no_funds_provider", "no app provides the cooperative's coins")
        escrow = escrow_account(step.community, self.app)
        why = step.funds.can_move(rider, escrow, COMMUNITY_COINS, amount)
        if why:
            raise AppTxRejected(why, f"holding {amount} of the rider's coins")

    def hold(self, job: bytes, rider: bytes, driver: bytes, amount: int, step: Step) -> None:
        self.book.hold(job, rider, driver, COMMUNITY_COINS, amount, funds=step.funds, ctx=step)

    def settle_fare(  # noqa: PLR0917 - the ride's parties and its money
        self,
        job: bytes,
        rider: bytes,
        driver: bytes,
        fare: int,
        rate: Fraction,
        currency: str,
        step: Step,
    ) -> Paid | None:
        """The trip is done: in cash (recorded now), or ``None``: the fare stays held in
        escrow (pending for the driver) until :meth:`release` or :meth:`rule`.  A fare above
        the hold (a detour the rider agreed to) records the excess as paid in cash now."""
        record = self.held(job)
        if record is None:
            return self._cash(job, rider, driver, fare, rate, currency, step)
        if fare > record.amount:
            self._cash(job + EXTRA, rider, driver, fare - record.amount, rate, currency, step)
        return None

    def release(self, job: bytes, fare: int, refund: int, rate: Fraction, step: Step) -> Paid:
        """Pay a held fare out: the driver ``fare`` (of the hold) less ``refund`` and the
        commission, the rider the rest of the hold and ``refund`` back (a jury's ruling; 0
        when the dispute window closed without one).  Refusals change nothing."""
        record = self.held(job)
        if record is None:
            raise AppTxRejected("not_held", "nothing of this ride is held")
        from_hold = min(fare, record.amount)
        back = record.amount - from_hold + min(refund, from_hold)
        done = self.book.split(job, Fraction(back, record.amount), rate, funds=step.funds, ctx=step)
        extra = self.book.job(job + EXTRA)
        return Paid(done.commission + (extra.commission if extra else 0), done.refunded)

    def refund_all(self, job: bytes, step: Step) -> Paid:
        """The whole hold back to the rider (a release the funds refused: the driver left)."""
        done = self.book.refund(job, funds=step.funds, ctx=step)
        return Paid(0, done.refunded)

    def check_settle(self, member: bytes, amount: int, step: Step) -> None:
        """Refuse (changing nothing) a debt payment the book or the coins would refuse."""
        owed = self.debt(member)
        if owed == 0:
            raise AppTxRejected("no_debt", "you owe no commission on cash fares")
        if amount > owed:
            raise AppTxRejected("over_settle", f"you owe {owed}, not {amount}")
        if step.funds is None:
            raise AppTxRejected("no_funds_provider", "no app provides the cooperative's coins")
        treasury = treasury_account(step.community)
        why = step.funds.can_move(member, treasury, COMMUNITY_COINS, amount)
        if why:
            raise AppTxRejected(why, f"paying {amount} of your coins to the treasury")

    def settle_debt(self, member: bytes, amount: int, step: Step) -> int:
        """``member`` pays ``amount`` of its cash-commission debt; what it still owes."""
        return self.book.settle_debt(
            member, amount, funds=step.funds, ctx=step, currency=COMMUNITY_COINS
        )

    def settle_cancel(  # noqa: PLR0917 - the ride's parties and its money
        self,
        job: bytes,
        rider: bytes,
        driver: bytes,
        fee: int,
        rate: Fraction,
        currency: str,
        step: Step,
    ) -> Paid | None:
        """The ride is off: the hold back less ``fee`` (to the driver), or the fee in cash."""
        record = self.held(job)
        if record is not None:
            done = self.book.refund(job, funds=step.funds, ctx=step, fee=min(fee, record.amount))
            return Paid(0, done.refunded)
        if fee and driver:
            return self._cash(job, rider, driver, fee, rate, currency, step)
        return None

    def _cash(  # noqa: PLR0917
        self,
        job: bytes,
        rider: bytes,
        driver: bytes,
        amount: int,
        rate: Fraction,
        currency: str,
        step: Step,
    ) -> Paid:
        if amount == 0:
            return Paid(0)
        # counted in cooperative coins, one a cent: what settle_debt pays the debt in
        done = self.book.cash(job, rider, driver, amount, rate, ctx=step)
        return Paid(done.commission)

    def debt(self, member: bytes) -> int:
        """The commission ``member`` owes on cash fares, in cooperative coins (one a cent)."""
        return self.book.debts(member, COMMUNITY_COINS)

    def to_value(self) -> Value:
        return self.book.to_value()


__all__ = ["CASH", "ESCROW", "METHODS", "Paid", "Payments", "commission_rate"]
