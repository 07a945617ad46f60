"""``peoplenet inbox``: what waits for the member, gathered on the node in one control query.

Friend requests and introductions come from the social core; from every cooperative joined,
the open decisions the member has not voted in and what its apps wait for (a credit offer
only the person's consent takes, for example).  The node answers ``inbox`` by asking its own
parts (the same control operations the other commands use) and merging the answers, so the
command line makes one call and gets one consistent-enough snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from peoplenet.runtime.errors import PeoplenetError
from peoplenet.runtime.wire.codec import Value

Ask = Callable[[str, dict[str, Value]], Value]


def gather(ask: Ask) -> dict[str, Value]:
    """The inbox, from ``ask(op, args)`` (the node's control dispatch)."""
    friends = ask("friends", {})
    social: dict[str, Any] = friends if isinstance(friends, dict) else {}
    decisions: list[Value] = []
    apps: list[Value] = []
    communities = ask("community_list", {})
    for entry in communities if isinstance(communities, list | tuple) else ():
        if not isinstance(entry, dict):
            continue
        name = entry.get("community")
        try:
            waiting = ask("coop_inbox", {"community": name})
        except PeoplenetError:
            continue  # a plain community (no governance), or one restarting
        if not isinstance(waiting, dict):
            continue
        for d in _items(waiting.get("decisions")):
            if isinstance(d, dict):
                decisions.append({"coop": name, **d})
        for a in _items(waiting.get("apps")):
            if isinstance(a, dict):
                apps.append({"coop": name, **a})
    return {
        "now": int(time.time() * 1000),
        "friend_requests": tuple(_items(social.get("pending"))),
        "introductions": tuple(_items(social.get("introductions"))),
        "decisions": tuple(decisions),
        "app_requests": tuple(apps),
    }


def _items(value: object) -> list[Value]:
    return list(value) if isinstance(value, list | tuple) else []


__all__ = ["gather"]
