"""Names in app command arguments: ``pay --to ana``, ``credit --offer 3f2a9c01``.

The command line resolves them to full ids before the node sees them (runtime/cli/resolve.py),
so an app gets a 64-hex id and the person gets the same naming rules and errors as everywhere
else.  Which arguments are names is declared here, by argument name, for the bundled apps'
commands; any other argument goes through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from peoplenet.runtime.cli.resolve import Namer, resolve_ids

MEMBER_ARGS: Final = frozenset({"to", "with", "sovereign", "member"})
"""Arguments that name one member."""
MEMBER_LIST_ARGS: Final = frozenset({"prefer"})
"""Arguments that name several members (comma-separated)."""
KEYWORDS: Final[Mapping[str, frozenset[str]]] = {"currency": frozenset({"", "mine", "community"})}
"""Arguments that name a member unless they are one of these words."""
OFFER_ARGS: Final = frozenset({"offer"})
"""Arguments that name a credit offer made to me (a block id, or a unique prefix)."""

History = Callable[[], Any]


def resolve_app_args(given: dict[str, Any], namer: Namer, history: History) -> dict[str, Any]:
    """``given`` with every name replaced by the full hex id it resolves to.

    ``history`` returns the currency's ``history`` answer (asked only for an offer prefix).
    """
    out = dict(given)
    for key, value in given.items():
        if not isinstance(value, str):
            continue
        if key in MEMBER_ARGS or (key in KEYWORDS and value.strip() not in KEYWORDS[key]):
            out[key] = namer.member_hex(value)
        elif key in MEMBER_LIST_ARGS:
            listed = json.loads(value) if value.startswith("[") else value.split(",")
            parts = [str(p).strip() for p in listed if str(p).strip()]
            out[key] = ",".join(namer.member_hex(p) for p in parts)
        elif key in OFFER_ARGS and value.strip():
            out[key] = _offer(value, history)
    return out


def _offer(text: str, history: History) -> str:
    if len(text.strip()) == 64:
        return resolve_ids(text, (), "credit offer")
    answer = history()
    rows = answer.get("coins", []) if isinstance(answer, dict) else []
    offers = [
        r["block"]
        for r in rows
        if isinstance(r, dict) and r.get("kind") == "incoming" and isinstance(r.get("block"), str)
    ]
    return resolve_ids(text, offers, "credit offer")
