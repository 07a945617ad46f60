"""How ``peoplenet`` ends: exit 1 when the cooperative refused the action, 2 when the
command could not be carried out as typed.

* 0: done (or, for a query, answered);
* 1: refused by the cooperative's rules -- the node checked the transaction against the
  cooperative's current state and did not submit it (the order would have rejected it), or
  the order rejected it (``--wait`` reports that); the reason is printed in words;
* 2: the command could not be carried out as typed: a bad argument, a refused app command,
  no node running, a file problem.

Either way the error goes to stderr with its stable reason (never a class name):
``peoplenet: REASON: message``, or with ``--json`` one JSON object ``{"error": message,
"reason": REASON}`` (docs/network.md lists the reasons).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, TextIO

from peoplenet.runtime.cli.format import local_time
from peoplenet.runtime.errors import KeyFileError, LocalError, PeoplenetError, reason_of
from peoplenet.runtime.local.control import ControlError

REFUSED: Final = 1
UNUSABLE: Final = 2

REFUSAL_REASONS: Final = frozenset({"would_be_rejected"})
"""Reasons the node gives when the cooperative's rules refuse an action."""
REJECTED: Final = "rejected"
"""The reason of a ``--wait`` whose transaction the cooperative's order rejected."""

REASONS: Final[dict[str, str]] = {
    "invalid_ballot": "the ballot is not valid for this decision",
    "invalid_proposal": "the proposal is not valid for this decision",
    "closed": "it is closed",
    "too_early": "the decision's voting period has not ended yet",
    "not_member": "you are not a member of the cooperative",
    "not_eligible": "you were not a member when the decision opened",
    "unknown_decision": "there is no such decision",
    "unknown_subject": "the charter declares no such subject",
    "duplicate": "this was already done",
    "too_many_proposals": "the decision has as many proposals as it can take",
    "already_member": "the candidate is already a member",
    "not_a_member": "that person is not a member",
    "too_few_sureties": "the candidate has too few sureties from members",
    "nothing_to_distribute": "nobody contributed to that period",
    "app_disabled": "the app is not enabled in this cooperative",
    "bad_tx": "the transaction is malformed",
    "bad_signature": "a signature does not verify",
}


_MS: Final = re.compile(r"\b\d{12,14}\b")


class ActionRefused(LocalError):
    """The cooperative's rules refused the action; the message says why, in words.

    ``reason``: the node's (``would_be_rejected``: not submitted) or ``rejected`` (the order
    rejected it)."""

    reason = "action_refused"

    def __init__(self, message: str, reason: str = "action_refused") -> None:
        super().__init__(message)
        self.reason = reason


def reason_text(reason: str, detail: str = "") -> str:
    """``invalid_ballot`` + detail as a sentence: ``the ballot is not valid ... (detail)``."""
    words = REASONS.get(reason, reason.replace("_", " "))
    if reason == "too_early":  # "closes at MS, community time MS": moments, in local time
        detail = _MS.sub(lambda m: local_time(int(m.group())), detail)
    return f"{words} ({reason}: {detail})" if detail else f"{words} ({reason})"


def refusal(exc: ControlError) -> ActionRefused | None:
    """The refusal a node's error stands for, or None if it is not one."""
    if exc.reason not in REFUSAL_REASONS:
        return None
    text = str(exc)
    rule, sep, detail = text.partition(": ")  # the rule the order would have applied
    if sep and rule.isidentifier():
        return ActionRefused(f"not submitted: {reason_text(rule, detail)}", exc.reason)
    return ActionRefused(text, exc.reason)


def rejection(result: Any) -> ActionRefused | None:
    """The refusal a ``--wait`` result reports (``status: "rejected"``), or None."""
    if not isinstance(result, dict) or result.get("status") != "rejected":
        return None
    reason = str(result.get("reason") or "rejected")
    return ActionRefused(
        f"rejected by the cooperative: {reason_text(reason, str(result.get('detail') or ''))}",
        REJECTED,
    )


def report(exc: PeoplenetError, as_json: bool, err: TextIO) -> None:
    """Say on ``err`` why the command failed, by its stable reason (see the module)."""
    reason, message = reason_of(exc), str(exc)
    if as_json:
        print(json.dumps({"error": message, "reason": reason}), file=err)
    elif isinstance(exc, ActionRefused | KeyFileError) or message.partition(":")[0] == reason:
        print(f"peoplenet: {message}", file=err)  # already in words, or led by its reason
    else:
        print(f"peoplenet: {reason}: {message}", file=err)


__all__ = [
    "REFUSED",
    "UNUSABLE",
    "ActionRefused",
    "reason_text",
    "refusal",
    "rejection",
    "report",
]
