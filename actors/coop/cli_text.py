"""The ``coop`` commands' answers as a member reads them (pure: JSON-ready data in, text out).

Decisions say what is proposed (the options, the proposals tabled, the candidate being
admitted or removed), the member's own ballot and the deadline in local time; fractions read
as decimals and members through :func:`~peoplenet.runtime.cli.format.describe_member`.  ``--json``
output never comes through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from peoplenet.actors.governance.kinds import YES_NO_KINDS
from peoplenet.runtime.cli.exit import reason_text
from peoplenet.runtime.cli.format import (
    amount_text,
    decimal_text,
    describe_member,
    fields,
    local_time,
    point_text,
    when_text,
)


def decision_title(d: Mapping[str, Any]) -> str:
    """``#3 rate "commission"``, ``#1 admit k3tq-... (3f2a91c0)``, ``#4 enable app currency``."""
    kind, subject = str(d.get("kind")), str(d.get("subject") or "")
    change = d.get("change") if isinstance(d.get("change"), dict) else {}
    assert isinstance(change, dict)
    candidate = d.get("candidate") or change.get("member")
    if kind in ("admission", "removal"):
        verb = "admit" if kind == "admission" else "remove"
        what = f"{verb} {describe_member(str(candidate))}" if candidate else kind
    elif kind == "app":
        verb = "enable" if change.get("enabled", True) else "disable"
        what = f"{verb} app {subject}"
    elif kind == "amendment":
        what = "amend the charter"
    else:
        what = f'{kind} "{subject}"'
    return f"#{d.get('number')} {what}"


def options_text(d: Mapping[str, Any]) -> str:
    """What a ballot may be in this decision, in words."""
    kind = str(d.get("kind"))
    o = d.get("options") if isinstance(d.get("options"), dict) else {}
    assert isinstance(o, dict)
    if kind in YES_NO_KINDS:
        return "vote true (yes) or false (no)"
    if kind == "rate" and {"lo", "hi", "step"} <= set(o):
        lo, hi, step = (decimal_text(o[k]) for k in ("lo", "hi", "step"))
        return f"a number from {lo} to {hi} in steps of {step}"
    if kind == "budget":
        return f"whole amounts for {_names(o.get('items'))} adding up to {o.get('total')}"
    if kind == "ranking":
        return f"an order of {_names(o.get('items'))}"
    if kind == "board":
        return f"{o.get('k')} of {_names(o.get('candidates'))}"
    if kind == "officer":
        return f"one of {_names(o.get('candidates'))}"
    if kind == "bylaws":
        return f"the clauses to keep, among {_names(o.get('clauses'))}"
    return point_text(o) if o else ""


def _names(value: object) -> str:
    if isinstance(value, list | tuple) and value:
        return ", ".join(str(v) for v in value)
    return "(none)"


def decision_lines(
    d: Mapping[str, Any], now_ms: int, zone: tzinfo | None = None, *, coop: str = ""
) -> list[str]:
    """One decision: a title line, then indented details."""
    head = f"{coop} " if coop else ""
    lines = [f"{head}{decision_title(d)}"]
    pad = "    "
    change = d.get("change") if isinstance(d.get("change"), dict) else None
    if d.get("kind") == "app" and change and change.get("settings"):
        lines.append(f"{pad}settings: {point_text(change.get('settings'))}")
    if d.get("kind") == "amendment" and change:
        consensus = change.get("consensus")
        if isinstance(consensus, dict):
            threshold = f"{consensus.get('threshold_num')}/{consensus.get('threshold_den')}"
            lines.append(
                f"{pad}consensus: threshold {decimal_text(threshold)}, "
                f"timeout {consensus.get('timeout_ms')} ms"
            )
        if change.get("charter"):
            lines.append(f"{pad}a new charter (see --json for its text)")
    if d.get("status") == "open":
        deadline = d.get("deadline")
        if d.get("anchored") is False:
            # The voting period starts once enough members' clocks were heard after the
            # opening (their nodes speak at once): until then there is no deadline yet.
            lines.append(f"{pad}open; its voting period starts once most members' nodes answer")
        else:
            closes = when_text(deadline, now_ms, zone) if isinstance(deadline, int) else "?"
            lines.append(f"{pad}open, closes {closes}")
        if "options" in d:
            lines.append(f"{pad}ballot: {options_text(d)}")
        if d.get("status_quo") is not None:
            lines.append(f"{pad}now: {point_text(d.get('status_quo'))}")
        tabled = d.get("tabled")
        if isinstance(tabled, list) and tabled:
            lines.append(f"{pad}proposals: " + "; ".join(point_text(p) for p in tabled))
        elif d.get("kind") not in YES_NO_KINDS:
            lines.append(f"{pad}proposals: {d.get('proposals', 0)}")
        lines.append(f"{pad}ballots: {d.get('ballots', 0)} of {d.get('eligible', '?')} members")
        if d.get("voted"):
            lines.append(f"{pad}your ballot: {point_text(d.get('my_ballot'))}")
        elif d.get("eligible_me"):
            lines.append(f"{pad}you have not voted")
        return lines
    verdict = "adopted" if d.get("adopted") else "status quo kept"
    lines.append(f"{pad}closed: {verdict}: {point_text(d.get('outcome'))}")
    lines.append(
        f"{pad}support {decimal_text(d.get('support'))}, score {decimal_text(d.get('score'))}"
    )
    if d.get("note"):
        lines.append(f"{pad}note: {str(d.get('note')).replace('_', ' ')}")
    if d.get("voted"):
        lines.append(f"{pad}your ballot: {point_text(d.get('my_ballot'))}")
    return lines


def decisions_text(decisions: Sequence[Any], now_ms: int, zone: tzinfo | None = None) -> str:
    """``coop decisions``: open ones first (most urgent first), then closed, newest first."""
    rows = [d for d in decisions if isinstance(d, dict)]
    if not rows:
        return "no decisions yet"
    opened = sorted((d for d in rows if d.get("status") == "open"), key=_deadline)
    closed = sorted(
        (d for d in rows if d.get("status") != "open"),
        key=lambda d: -int(d.get("number") or 0),
    )
    return "\n".join(line for d in (*opened, *closed) for line in decision_lines(d, now_ms, zone))


def _deadline(d: Mapping[str, Any]) -> int:
    value = d.get("deadline")
    return value if isinstance(value, int) else 0


def submission_text(result: Any) -> str:
    """What became of a submitted transaction (``--wait``), or that it was submitted."""
    if not isinstance(result, dict):
        return str(result)
    status = result.get("status")
    if status is None and result.get("submitted"):
        return (
            "submitted: the cooperative orders it shortly "
            "(add --wait SECONDS to see what becomes of it)"
        )
    if status == "pending":
        return "submitted, not ordered yet: still pending"
    where = f"epoch {result.get('epoch')}, position {result.get('position')}"
    if status == "rejected":
        reason = str(result.get("reason") or "rejected")
        return f"rejected ({where}): {reason_text(reason, str(result.get('detail') or ''))}"
    parts = [f"applied ({where})"]
    if result.get("opened") is not None:
        parts.append(f"opened decision #{result.get('opened')}")
    closed = result.get("closed")
    if isinstance(closed, list) and closed:
        parts.append("closed decision(s) " + ", ".join(f"#{n}" for n in closed))
    if result.get("app") is not None:
        parts.append(f"app: {point_text(result.get('app'))}")
    return "; ".join(parts)


def founding_text(summary: Mapping[str, Any]) -> str:
    """``coop found``: who has signed the founding file and what comes next."""
    founders = [str(m) for m in summary.get("founders") or []]
    unsigned = {str(m) for m in summary.get("unsigned") or []}
    lines = [
        f"founding of {summary.get('coop')} in {summary.get('file')}: "
        f"{len(founders) - len(unsigned)} of {len(founders)} founders signed"
    ]
    for m in founders:
        mark = "to sign" if m in unsigned else "signed "
        lines.append(f"  {mark}  {describe_member(m)}")
    if summary.get("complete"):
        lines.append(f"complete: every founder runs `peoplenet coop join {summary.get('file')}`")
    else:
        lines.append(
            f"next: each founder left runs `peoplenet coop found --sign {summary.get('file')}`"
        )
    return "\n".join(lines)


def vouch_text(result: Mapping[str, Any]) -> str:
    """``coop vouch --with``: the half to hand over (``--countersign`` answers a submission)."""
    if "half" not in result:
        return submission_text(result)
    return "\n".join(
        [
            f"your half of a surety with {describe_member(str(result.get('with')))}:",
            f"  {result.get('half')}",
            f"next: {result.get('next')}",
        ]
    )


def show_text(snapshot: Mapping[str, Any], me: bytes | None, zone: tzinfo | None = None) -> str:
    """``coop show``: members, subject values, apps, decisions and consensus in short."""
    s = snapshot
    at = s.get("community_time")
    lines = [
        f"cooperative {s.get('community')}  (epoch {s.get('epoch')}, "
        f"community time {local_time(at, zone) if isinstance(at, int) else '?'})"
    ]
    members = [str(m) for m in s.get("members") or []]
    lines.append(f"members ({len(members)}):")
    lines += [f"  {describe_member(m, me=me)}" for m in members]
    for key, title in (
        ("params", "rates"),
        ("budgets", "budgets"),
        ("rankings", "rankings"),
        ("boards", "boards"),
        ("officers", "officers"),
        ("bylaws", "bylaws"),
    ):
        values = s.get(key)
        if isinstance(values, dict) and values:
            lines.append(f"{title}:")
            width = max(len(str(n)) for n in values)
            lines += [f"  {n.ljust(width)}  {point_text(v)}" for n, v in values.items()]
    apps = s.get("apps")
    if isinstance(apps, dict) and apps:
        lines.append("apps:")
        for name, app in apps.items():
            state = "enabled" if app.get("enabled") else "disabled"
            settings = app.get("settings")
            more = f", settings {point_text(settings)}" if settings else ""
            lines.append(f"  {name}: {state}{more}")
    lines += _periods(s.get("contributions"), s.get("distributions"))
    decisions = [d for d in s.get("decisions") or [] if isinstance(d, dict)]
    still = sum(1 for d in decisions if d.get("status") == "open")
    listing = f"peoplenet coop decisions {s.get('community')}"
    lines.append(f"decisions: {len(decisions)} ({still} open): `{listing}`")
    consensus = s.get("consensus")
    if isinstance(consensus, dict):
        lines.append(
            f"consensus: threshold {decimal_text(consensus.get('threshold'))}, "
            f"timeout {consensus.get('timeout_ms')} ms"
        )
    rejections = s.get("rejections")
    if isinstance(rejections, dict) and rejections.get("count"):
        lines.append(f"rejected transactions: {rejections.get('count')}, the last:")
        for r in (rejections.get("last") or [])[-5:]:
            if isinstance(r, dict):
                who = describe_member(str(r.get("creator")), me=me)
                lines.append(
                    f"  {who}: {reason_text(str(r.get('reason')), str(r.get('detail') or ''))}"
                )
    lines.append(fields([("digest", s.get("digest"))]))
    return "\n".join(lines)


def _periods(contributions: object, distributions: object) -> list[str]:
    """Per period: hours contributed by how many members, and the surplus shared if it was."""
    books = contributions if isinstance(contributions, dict) else {}
    shared = distributions if isinstance(distributions, dict) else {}
    if not books:
        return []
    lines = ["contributions:"]
    for period in sorted(books):
        book = books[period] if isinstance(books[period], dict) else {}
        hours = sum(v for v in book.values() if isinstance(v, int))
        line = f"  {period}: {amount_text(hours, 'hours')} from {len(book)} member(s)"
        paid = shared.get(period)
        if isinstance(paid, dict):
            total = sum(v for v in paid.values() if isinstance(v, int))
            line += f", surplus shared: {amount_text(total)}"
        lines.append(line)
    return lines


def joined_text(result: Mapping[str, Any]) -> str:
    """``coop join``: the cooperative now runs on this node."""
    role = "a participant in consensus" if result.get("participant") else "an observer"
    fresh = "joined" if result.get("joined", True) else "already joined"
    return (
        f"{fresh} {result.get('community')} (lace {str(result.get('lace'))[:16]}): "
        f"this node is {role}; {result.get('participants')} participants, "
        f"quorum {result.get('quorum')}"
    )


def profile_text(result: Mapping[str, Any]) -> str:
    """``coop profile`` and ``customer import``: the profile, as a customer will rely on it."""
    members = result.get("members") or []
    reachable = sum(1 for m in members if m.get("host") and m.get("port"))
    apps = ", ".join(result.get("apps") or []) or "none"
    where = f"wrote {result['file']}: " if result.get("file") else ""
    return (
        f"{where}{result.get('coop')} (community {str(result.get('community'))[:20]}): "
        f"{len(members)} members ({reachable} with an address), apps: {apps}; "
        f"profile fingerprint {result.get('fingerprint')} (compare it aloud with a member)"
    )


__all__ = [
    "decision_lines",
    "decision_title",
    "decisions_text",
    "founding_text",
    "joined_text",
    "options_text",
    "profile_text",
    "show_text",
    "submission_text",
    "vouch_text",
]
