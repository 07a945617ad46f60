"""The shared kit of work apps, public to app authors (with :mod:`peoplenet.plugins.api`).

Customers who sign their own requests, sealed details, escrow, double-blind ratings, disputes
decided by a jury drawn by lot, and prices as voted rules: the pieces every work app (rides,
deliveries, sales, a third party's) composes rather than reinvents.  They are implemented in
:mod:`peoplenet.actors.work`; this module re-exports them so the layers below can move without
breaking an app.  ``docs/work-kit.md`` documents each piece.
"""

from __future__ import annotations

from peoplenet.actors.work import geo
from peoplenet.actors.work.customers import (
    CUSTOMER_COMMAND,
    CustomerBook,
    CustomerRequest,
    InvalidCustomerRequest,
    check_carried,
    request_digest,
    request_from_bytes,
    sign_request,
    verify_request,
)
from peoplenet.actors.work.customers import (
    MAX_BODY as MAX_CUSTOMER_BODY,
)
from peoplenet.actors.work.disputes import DisputeBook, JuryDraw, Ruling, ruling_share
from peoplenet.actors.work.escrow import (
    CASH,
    HELD,
    MAX_PAYEES,
    REFUNDED,
    RELEASED,
    SETTLED,
    SPLIT,
    EscrowBook,
    EscrowJob,
    EscrowTotals,
    Payouts,
    escrow_account,
    treasury_account,
)
from peoplenet.actors.work.funds import COMMUNITY_COINS, NO_FUNDS_PROVIDER, Funds, Move
from peoplenet.actors.work.geo import (
    CELL_UD,
    BadPoint,
    Grid,
    Point,
    cell_distance_bounds,
    cell_of,
    chebyshev,
    distance_m,
    parse_point,
    ring,
    rings,
    valid_cell,
)
from peoplenet.actors.work.jury import draw
from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.actors.work.pricing import (
    Breakdown,
    RulesBook,
    apply_rate,
    parse_rate,
    prorate,
    rate_text,
    round_half_up,
)
from peoplenet.actors.work.ratings import Rating, RatingBook
from peoplenet.actors.work.receipts import (
    CUSTOMER_EVENTS,
    ConflictingReceipts,
    CustomerReceipt,
    InvalidReceipt,
    Tally,
    customer_event,
    tally,
)
from peoplenet.actors.work.receipts import (
    THRESHOLD as RECEIPT_THRESHOLD,
)
from peoplenet.actors.work.sealed import (
    BadSealRequest,
    NotARecipient,
    Sealed,
    SealedKey,
    SealedMalformed,
    SealedTampered,
    seal,
    seal_context,
)
from peoplenet.plugins.app_args import (
    amount_arg,
    by_prefix,
    member_arg,
    point_arg,
    text_arg,
)
from peoplenet.plugins.unsealing import UnsealRefused

__all__: list[str] = ["KitMisuse"]
"""One block per piece of the kit below, each sorted (the imports above are sorted as one)."""

# places: integer points, coarse cells and their rings, distances (the same on every phone)
__all__ += [
    "CELL_UD",
    "BadPoint",
    "Grid",
    "Point",
    "cell_distance_bounds",
    "cell_of",
    "chebyshev",
    "distance_m",
    "geo",
    "parse_point",
    "ring",
    "rings",
    "valid_cell",
]

# commands: reading the arguments every work app's commands take
__all__ += ["amount_arg", "by_prefix", "member_arg", "point_arg", "text_arg"]

# pricing: prices as voted rules, exact money arithmetic
__all__ += [
    "Breakdown",
    "RulesBook",
    "apply_rate",
    "parse_rate",
    "prorate",
    "rate_text",
    "round_half_up",
]

# ratings, disputes and juries: double-blind ratings, juries drawn by lot from a beacon
__all__ += [
    "DisputeBook",
    "JuryDraw",
    "Rating",
    "RatingBook",
    "Ruling",
    "draw",
    "ruling_share",
]

# sealed details (docs/work-kit.md, "Sealed details")
__all__ += [
    "BadSealRequest",
    "NotARecipient",
    "Sealed",
    "SealedKey",
    "SealedMalformed",
    "SealedTampered",
    "UnsealRefused",
    "seal",
    "seal_context",
]

# customers: requests non-members sign, and the receipts that tell them the outcome
__all__ += [
    "CUSTOMER_COMMAND",
    "CUSTOMER_EVENTS",
    "MAX_CUSTOMER_BODY",
    "RECEIPT_THRESHOLD",
    "ConflictingReceipts",
    "CustomerBook",
    "CustomerReceipt",
    "CustomerRequest",
    "InvalidCustomerRequest",
    "InvalidReceipt",
    "Tally",
    "check_carried",
    "customer_event",
    "request_digest",
    "request_from_bytes",
    "sign_request",
    "tally",
    "verify_request",
]

# escrow and funds: a job's money held, released less the commission, refunded or split, or
# shared among several payees; cash and the debts it leaves (docs/work-kit.md, "Escrow and
# the Funds interface")
__all__ += [
    "CASH",
    "COMMUNITY_COINS",
    "HELD",
    "MAX_PAYEES",
    "NO_FUNDS_PROVIDER",
    "REFUNDED",
    "RELEASED",
    "SETTLED",
    "SPLIT",
    "EscrowBook",
    "EscrowJob",
    "EscrowTotals",
    "Funds",
    "Move",
    "Payouts",
    "escrow_account",
    "treasury_account",
]
