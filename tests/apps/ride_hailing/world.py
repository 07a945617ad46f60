"""A ride book with a clock and members, for the trip and matching tests (no host)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from fractions import Fraction

from peoplenet.apps.ride_hailing.fare import FARE_PARAMS, FareRules, quote
from peoplenet.apps.ride_hailing.policy import POLICY_PARAMS, Env, Policy
from peoplenet.apps.ride_hailing.records import Cell, RequestRide, RideTx
from peoplenet.apps.ride_hailing.trips import RideBook, code_hash
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Move, RulesBook, geo

START_MS = 1_700_000_000_000
CODE = "CODE123456"
HOME: Cell = (4546, 919)
AWAY: Cell = (4547, 922)


def member(i: int) -> bytes:
    return bytes([i + 1]) * 32


MEMBERS = frozenset(member(i) for i in range(8))


def ride_id(i: int) -> bytes:
    return bytes([i + 1]) * 16


COMMUNITY = b"f/ride-world"


class Ledger:
    """The cooperative's coins for the tests: a :class:`Funds` over a plain dict (the real
    one is the currency app's; ``test_escrow`` runs the app beside it)."""

    def __init__(self, balances: Mapping[bytes, int]) -> None:
        self.accounts = dict(balances)

    def balance(self, account: bytes, currency: str) -> int:
        return self.accounts.get(account, 0)

    def can_move(self, frm: bytes, to: bytes, currency: str, amount: int) -> str:
        if amount <= 0 or frm == to:
            return "bad_amount"
        return "" if self.accounts.get(frm, 0) >= amount else "insufficient_funds"

    def move(self, frm: bytes, to: bytes, currency: str, amount: int, memo: str = "") -> None:
        self.move_all([Move(frm, to, currency, amount, memo)])

    def move_all(self, moves: Sequence[Move]) -> None:
        after = dict(self.accounts)
        for m in moves:
            if after.get(m.frm, 0) < m.amount or m.amount <= 0:
                raise AppTxRejected("insufficient_funds", m.memo)
            after[m.frm] -= m.amount
            after[m.to] = after.get(m.to, 0) + m.amount
        self.accounts = after

    def total(self) -> int:
        return sum(self.accounts.values())


class World:
    """One cooperative's ride book, fed transactions in order, a second apart by default."""

    def __init__(
        self,
        settings: Mapping[str, Value] | None = None,
        commission: str = "1/10",
        coins: Mapping[bytes, int] | None = None,
    ):
        defaults = {p.name: p.default for p in (*FARE_PARAMS, *POLICY_PARAMS)}
        self.settings = {**defaults, **(settings or {})}
        self.rules = RulesBook(p.name for p in FARE_PARAMS)
        self.rules.adopt(self.settings, START_MS)
        self.book = RideBook()
        self.book.configure(Policy.from_settings(self.settings))
        self.now = START_MS
        self.commission = Fraction(commission)
        self.ledger = None if coins is None else Ledger(coins)

    def env(self, *, dry: bool = False) -> Env:
        """The transaction's view; ``dry``: for a check, whose moves are dropped (the host
        gives a check a journal it throws away), so the coins are a copy."""
        beacon = hashlib.blake2b(self.now.to_bytes(8, "big"), digest_size=32).digest()
        policy = Policy.from_settings(self.settings)
        ledger = copy.deepcopy(self.ledger) if dry else self.ledger
        return Env(
            self.now, policy, self.rules, self.commission, MEMBERS, beacon, COMMUNITY, ledger
        )

    def tick(self, ms: int = 1000) -> None:
        self.now += ms

    def apply(self, tx: RideTx, sender: bytes) -> Value:
        """Check then apply, as the host does; raises :class:`AppTxRejected` unchanged."""
        self.tick()
        self.book.check(tx, sender, self.env(dry=True))
        return self.book.apply(tx, sender, self.env())

    def refused(self, tx: RideTx, sender: bytes) -> str:
        """The reason ``tx`` is refused; the book must be unchanged by the attempt."""
        before = self.book.to_value()
        self.tick()
        try:
            self.book.check(tx, sender, self.env(dry=True))
        except AppTxRejected as exc:
            assert self.book.to_value() == before
            return exc.reason
        raise AssertionError(f"{tx} was not refused")

    def request(
        self, ride: bytes, rider: bytes, pickup: Cell = HOME, dropoff: Cell = AWAY
    ) -> RequestRide:
        low, high = cell_bounds = geo.cell_distance_bounds(geo.Grid(*pickup), geo.Grid(*dropoff))
        estimate = (cell_bounds[0] + cell_bounds[1]) // 2
        assert low <= estimate <= high
        q = quote(FareRules.from_settings(self.rules.get(self.rules.current)), estimate)
        return RequestRide(
            ride,
            pickup,
            dropoff,
            None,
            estimate,
            q[0],
            q[1],
            self.rules.current,
            code_hash(ride, CODE),
        )
