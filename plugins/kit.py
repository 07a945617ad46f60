"""The shared kit of work apps, public to app authors (with :mod:`peoplenet.plugins.api`).

Customers who sign their own requests, sealed details, escrow, double-blind ratings, disputes
decided by a jury drawn by lot, and prices as voted rules: the pieces every work app (rides,
deliveries, sales, a third party's) composes rather than reinvents.  They are implemented in
:mod:`peoplenet.actors.work`; this module re-exports them so the layers below can move without
breaking an app.  ``docs/work-kit.md`` documents each piece.
"""

from __future__ import annotations

# pricing: prices as voted rules, exact money arithmetic
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

__all__: list[str] = [
    # pricing
    "Breakdown",
    "KitMisuse",
    "RulesBook",
    "apply_rate",
    "parse_rate",
    "prorate",
    "rate_text",
    "round_half_up",
]
