"""The kit's one error for app code that calls it wrongly (a bug in the app, not a refusal).

Why apart from :class:`~peoplenet.actors.coop.apps.AppTxRejected`: a refusal is the fold's
verdict on a member's transaction, recorded for everyone; calling the kit with a float, a
negative window or a jury of zero is the app author's mistake, and the node counts it as the
plugin's failure, so the two must never be confused.
"""

from __future__ import annotations

from peoplenet.runtime.errors import LocalError


class KitMisuse(LocalError):
    """An app called the work kit with arguments it documents as impossible."""

    reason = "kit_misuse"


__all__ = ["KitMisuse"]
