"""The shared kit of work apps, public to app authors (with :mod:`peoplenet.plugins.api`).

Customers who sign their own requests, sealed details, escrow, double-blind ratings, disputes
decided by a jury drawn by lot, and prices as voted rules: the pieces every work app (rides,
deliveries, sales, a third party's) composes rather than reinvents.  They are implemented in
:mod:`peoplenet.actors.work`; this module re-exports them so the layers below can move without
breaking an app.  ``docs/work-kit.md`` documents each piece.
"""

from __future__ import annotations

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
from peoplenet.plugins.unsealing import UnsealRefused

__all__: list[str] = []

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
