"""The voted parameters of matching and trips, and what a transaction is judged against.

:class:`Policy` is the settings in force (the fare's own parameters are in :mod:`.fare`);
:class:`Env` adds what the cooperative gives the transaction: community time, the rules
versions, the commission rate, the members, the beacon and the cooperative's coins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from peoplenet.apps.ride_hailing.payment import METHODS
from peoplenet.plugins.api import AppTxRejected, ParamSpec, Value
from peoplenet.plugins.kit import Funds, RulesBook

DAY_MS: Final = 86_400_000

POLICY_PARAMS: Final = (
    ParamSpec(
        "offer_timeout_ms",
        "int",
        20_000,
        "how long a driver has to take an offer (community time)",
        minimum=1000,
        maximum=600_000,
    ),
    ParamSpec(
        "max_rings", "int", 3, "rings of cells searched around the pickup", minimum=0, maximum=30
    ),
    ParamSpec(
        "max_candidates", "int", 10, "drivers a request is offered to", minimum=1, maximum=100
    ),
    ParamSpec("max_reoffers", "int", 2, "re-offers after drivers cancel", minimum=0, maximum=10),
    ParamSpec(
        "cancel_fee_cents", "int", 300, "a rider's late cancellation", minimum=0, maximum=10**6
    ),
    ParamSpec(
        "cancel_free_ms",
        "int",
        120_000,
        "free cancellation after assignment",
        minimum=0,
        maximum=DAY_MS,
    ),
    ParamSpec(
        "rating_window_ms",
        "int",
        7 * DAY_MS,
        "time to rate a ride",
        minimum=60_000,
        maximum=90 * DAY_MS,
    ),
    ParamSpec(
        "dispute_window_ms",
        "int",
        7 * DAY_MS,
        "time to dispute",
        minimum=60_000,
        maximum=90 * DAY_MS,
    ),
    ParamSpec(
        "rating_min_count", "int", 3, "ratings before an average is shown", minimum=1, maximum=100
    ),
    ParamSpec("jury_size", "int", 3, "jurors drawn for a dispute", minimum=1, maximum=15),
    ParamSpec(
        "jury_answer_ms",
        "int",
        2 * DAY_MS,
        "a juror's time to rule before the next draw replaces them",
        minimum=60_000,
        maximum=30 * DAY_MS,
    ),
    ParamSpec(
        "payment",
        "choice",
        "cash",
        "escrow: held from the rider's cooperative coins; cash: paid outside, recorded",
        choices=METHODS,
    ),
    ParamSpec("currency", "text", "EUR", "what cash fares are counted in (cents)"),
)
"""The matching and trip parameters (the fare's are in :mod:`.fare`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The voted matching and trip parameters in force."""

    offer_timeout_ms: int
    max_rings: int
    max_candidates: int
    max_reoffers: int
    cancel_fee_cents: int
    cancel_free_ms: int
    rating_window_ms: int
    dispute_window_ms: int
    rating_min_count: int
    jury_size: int
    jury_answer_ms: int
    payment: str
    currency: str

    @classmethod
    def from_settings(cls, settings: Mapping[str, Value]) -> Policy:
        values = {p.name: settings.get(p.name, p.default) for p in POLICY_PARAMS}
        for name, value in values.items():
            if name not in ("currency", "payment") and type(value) is not int:
                raise AppTxRejected("bad_rules", f"{name} is {value!r}, not an integer")
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Env:
    """What a transaction is judged against besides the book: time, settings, rates."""

    now_ms: int
    policy: Policy
    rules: RulesBook
    commission: Fraction
    members: frozenset[bytes] = frozenset()
    beacon: bytes = b""
    """The transaction's beacon (``FoldContext.beacon``): it seeds a dispute's jury draw."""
    community: bytes = b""
    funds: Funds | None = None
    """The cooperative's coins for this transaction (``FoldContext.funds``; None: no
    provider, or outside a transaction)."""


__all__ = ["DAY_MS", "POLICY_PARAMS", "Env", "Policy"]
