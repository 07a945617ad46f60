"""The shared kit of work apps, public to app authors (with :mod:`peoplenet.plugins.api`).

Customers who sign their own requests, sealed details, escrow, double-blind ratings, disputes
decided by a jury drawn by lot, and prices as voted rules: the pieces every work app (rides,
deliveries, sales, a third party's) composes rather than reinvents.  They are implemented in
:mod:`peoplenet.actors.work`; this module re-exports them so the layers below can move without
breaking an app.  ``docs/work-kit.md`` documents each piece.
"""

from __future__ import annotations

# -- escrow and funds (actors/work/escrow.py, actors/work/funds.py) ------------------------------
from peoplenet.actors.work.escrow import (
    CASH,
    HELD,
    REFUNDED,
    RELEASED,
    SPLIT,
    EscrowBook,
    EscrowJob,
    EscrowTotals,
    escrow_account,
    parse_rate,
    part_of,
    treasury_account,
)
from peoplenet.actors.work.funds import COMMUNITY_COINS, NO_FUNDS_PROVIDER, Funds, Move

__all__: list[str] = [
    # escrow and funds
    "CASH",
    "COMMUNITY_COINS",
    "HELD",
    "NO_FUNDS_PROVIDER",
    "REFUNDED",
    "RELEASED",
    "SPLIT",
    "EscrowBook",
    "EscrowJob",
    "EscrowTotals",
    "Funds",
    "Move",
    "escrow_account",
    "parse_rate",
    "part_of",
    "treasury_account",
]
