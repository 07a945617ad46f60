"""The delivery app's voted parameters, and what a transaction is judged against.

:class:`Policy` is the settings in force; the price rules are not settings but rule sets the
cooperative adopts by decision (:mod:`.pricing`, versioned by the app).  :class:`Env` adds what
the cooperative gives the transaction: community time, the rule set in force and its version,
the commission rate, the members, the dispatchers and the cooperative's coins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from peoplenet.plugins.api import AppTxRejected, ParamSpec, Value
from peoplenet.plugins.kit import Funds

MINUTE_MS: Final = 60_000
DAY_MS: Final = 86_400_000
ESCROW: Final = "escrow"
CASH: Final = "cash"
METHODS: Final = (ESCROW, CASH)
FROM_ASSIGNMENT: Final = "assignment"
FROM_PICKUP: Final = "pickup"

POLICY_PARAMS: Final = (
    ParamSpec(
        "payment",
        "choice",
        CASH,
        "escrow: a member customer's coins are held at checkout; cash: paid at the door",
        choices=METHODS,
    ),
    ParamSpec("currency", "text", "EUR", "what prices and cash are counted in (cents)"),
    ParamSpec(
        "courier_share",
        "rate",
        "4/5",
        "the couriers' part of the delivery price, split over the tasks they did",
        minimum="0",
        maximum="1",
    ),
    ParamSpec(
        "pay_rule",
        "text",
        "equal",
        'how the couriers\' part is split over tasks: "equal", or "P:D" (a pickup\'s weight, a'
        " dropoff's)",
    ),
    ParamSpec(
        "cancel_fee_cents",
        "int",
        0,
        "what the store keeps when an order it started preparing is cancelled",
        minimum=0,
        maximum=10**6,
    ),
    ParamSpec("auto_assign", "bool", False, "give a ready delivery to the nearest courier"),
    ParamSpec(
        "auto_rings", "int", 3, "rings of cells searched for a courier", minimum=0, maximum=30
    ),
    ParamSpec(
        "store_sees_courier",
        "choice",
        FROM_PICKUP,
        "when a store starts seeing the courier's position: from the pickup or the assignment",
        choices=(FROM_PICKUP, FROM_ASSIGNMENT),
    ),
    ParamSpec(
        "done_tolerance_ms",
        "int",
        30 * MINUTE_MS,
        "how late after a stop's window a completion signed on the phone is still taken",
        minimum=0,
        maximum=DAY_MS,
    ),
    ParamSpec(
        "track_every_ms",
        "int",
        30_000,
        "the shortest time between two sealed positions of one task",
        minimum=1000,
        maximum=3_600_000,
    ),
    ParamSpec(
        "rating_window_ms",
        "int",
        7 * DAY_MS,
        "time to rate an order",
        minimum=60_000,
        maximum=90 * DAY_MS,
    ),
    ParamSpec(
        "rating_min_count", "int", 3, "ratings before an average is shown", minimum=1, maximum=100
    ),
)
"""Every parameter members set by an ``app`` decision."""

_TEXT: Final = frozenset({"payment", "currency", "courier_share", "pay_rule", "store_sees_courier"})


@dataclass(frozen=True, slots=True)
class Policy:
    """The voted parameters in force."""

    payment: str
    currency: str
    courier_share: str
    pay_rule: str
    cancel_fee_cents: int
    auto_assign: bool
    auto_rings: int
    store_sees_courier: str
    done_tolerance_ms: int
    track_every_ms: int
    rating_window_ms: int
    rating_min_count: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Value]) -> Policy:
        values = {p.name: settings.get(p.name, p.default) for p in POLICY_PARAMS}
        for name, value in values.items():
            wanted: type = str if name in _TEXT else bool if name == "auto_assign" else int
            if type(value) is not wanted:
                raise AppTxRejected("bad_setting", f"{name} is {value!r}")
        return cls(**values)  # type: ignore[arg-type]

    @property
    def share(self) -> Fraction:
        return Fraction(self.courier_share)


@dataclass(frozen=True, slots=True)
class Env:
    """What a transaction is judged against besides the book."""

    now_ms: int
    policy: Policy
    commission: Fraction
    members: frozenset[bytes] = frozenset()
    dispatchers: frozenset[bytes] = frozenset()
    """Who may dispatch: the member holding the cooperative's ``dispatcher`` office."""
    community: bytes = b""
    funds: Funds | None = None
    """The cooperative's coins for this transaction (``FoldContext.funds``)."""


__all__ = [
    "CASH",
    "DAY_MS",
    "ESCROW",
    "FROM_ASSIGNMENT",
    "FROM_PICKUP",
    "METHODS",
    "POLICY_PARAMS",
    "Env",
    "Policy",
]
