"""Riders who are not members: their signed requests in the fold, and what they are told.

A customer (docs/work-kit.md, "Customers") signs each of their own steps of a ride -- the
request (:class:`~.records.AskRide`), cancel, agree to a fare, rate, dispute, the places
resealed to the driver -- as a ``CustomerRequest`` that a member's node carries in a
:class:`~.records.CustomerRide`.  The fold checks the customer's signature and sequence number
(the kit's ``CustomerBook``: never the carrier's, who is only ``ctx.sender``) and then judges
the step exactly as a member rider's, from the customer's id.

A customer holds no voted rules, so the fold quotes their request from the rules in force when
it is ordered, and says so in a receipted event (``quoted``).  A customer holds no cooperative
coins either: their rides are paid in cash, whatever the vote (escrow holds members' coins).  Every
change of a customer's ride is declared as a numbered event (``step_1``, ``step_2``...) whose
detail says the new state, so the customer's client follows the ride with receipts, one query
per step, within the per-customer quota.
"""

from __future__ import annotations

from typing import Final

from peoplenet.apps.ride_hailing.fare import FareRules, quote
from peoplenet.apps.ride_hailing.policy import Env
from peoplenet.apps.ride_hailing.records import (
    AgreeFare,
    AskRide,
    Cancel,
    CustomerRide,
    Details,
    Dispute,
    Rate,
    RequestRide,
    RideTx,
)
from peoplenet.plugins.api import AppTxRejected, RemoteProtocolError
from peoplenet.plugins.kit import CustomerBook

APP: Final = "ride_hailing"
RIDER_STEPS: Final = (AskRide, Cancel, AgreeFare, Rate, Dispute, Details)
"""What a customer may sign: the rider's own steps (never a driver's, a juror's or a Hold)."""
QUOTED: Final = "quoted"
"""The event telling a customer the quote: ``LOW HIGH RULES_VERSION CURRENCY``."""
STEP: Final = "step_"
"""Events ``step_1``, ``step_2``...: ``STATE [DETAILS]``, one per change of the ride."""


def rider_step(tx: CustomerRide, customers: CustomerBook, env: Env) -> RideTx:
    """The rider's step a customer signed, as the fold judges it (changes nothing).

    Raises :class:`AppTxRejected`: the kit's ``wrong_community``, ``wrong_app``,
    ``bad_customer_signature``, ``bad_request_body``, ``replayed``; ``not_a_rider_step`` for
    a body that is not one of :data:`RIDER_STEPS`; for a request, what :func:`as_request` does.
    """
    body = customers.admit(tx.request, env, APP)
    if not isinstance(body, RIDER_STEPS):
        raise AppTxRejected("not_a_rider_step", f"a customer cannot sign {type(body).__name__}")
    if isinstance(body, AskRide):
        return as_request(body, env)
    return body


def as_request(ask: AskRide, env: Env) -> RequestRide:
    """A customer's request quoted under the rules in force now (``env.rules.current``), in
    the voted ``currency``: a customer holds no cooperative coins, so their rides are paid in
    cash even where the members voted escrow (a ``Hold`` is no rider step of theirs)."""
    version = env.rules.current
    low, high = quote(FareRules.from_settings(env.rules.get(version)), ask.estimate_m)
    try:
        return RequestRide(
            ask.ride, ask.pickup, ask.dropoff, ask.sealed, ask.estimate_m, low, high, version,
            ask.code_hash,
        )  # fmt: skip
    except RemoteProtocolError as exc:
        raise AppTxRejected("bad_quote", exc.detail) from None


def quoted_detail(req: RequestRide, currency: str) -> str:
    return f"{req.quote_low} {req.quote_high} {req.rules_version} {currency}"[:256]


def read_quoted(detail: str) -> tuple[int, int, int, str]:
    """``(low, high, rules version, currency)`` of a ``quoted`` event's detail."""
    low, high, version, currency = detail.split(" ", 3)
    return int(low), int(high), int(version), currency


__all__ = [
    "QUOTED",
    "RIDER_STEPS",
    "STEP",
    "as_request",
    "quoted_detail",
    "read_quoted",
    "rider_step",
]
