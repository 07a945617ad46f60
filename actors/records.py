"""Every record type the governance, cooperative and work-kit layers put on the wire (100-199).

Importing this module registers them with the codec.  A process that checks blocks must know
the whole tag table: one that never imported these refuses (``unknown_tag``) a block that a
process that did import them accepts, so two honest nodes would disagree on a verdict.  The
composer (``peoplenet/main.py``) imports it before any command runs (every actor process of a
node is forked from there), and the wire-format page lists exactly this table.
"""

from __future__ import annotations

from peoplenet.actors.coop import coop_file, halves
from peoplenet.actors.governance import charter, records, state
from peoplenet.actors.work import disputes, pricing, ratings, sealed

MODULES = (charter, records, state, halves, coop_file, sealed, pricing, ratings, disputes)
"""The modules whose import registers the layer's record types."""

__all__ = ["MODULES"]
