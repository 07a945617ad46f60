"""How the command line shows things to a person: pure functions, no node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from peoplenet.actors.coop.cli_text import (
    decision_lines,
    decisions_text,
    founding_text,
    show_text,
    submission_text,
)
from peoplenet.actors.member import inbox
from peoplenet.runtime.cli.exit import ActionRefused, refusal, rejection
from peoplenet.runtime.cli.format import (
    amount_text,
    decimal_text,
    describe_member,
    local_time,
    point_text,
    relative_time,
    table,
    tree_text,
    use_petnames,
)
from peoplenet.runtime.keys.identity import fingerprint
from peoplenet.runtime.local.control import ControlError

ANA = bytes(range(32))
BEN = bytes(range(1, 33))
PLUS_2 = timezone(timedelta(hours=2), "PLUS2")


def test_describe_member_puts_the_petname_first() -> None:
    use_petnames({"ana": ANA})
    try:
        assert describe_member(ANA) == f"ana {fingerprint(ANA)} ({ANA.hex()[:8]})"
        other = bytes([7]) * 32
        assert describe_member(other) == f"{fingerprint(other)} ({other.hex()[:8]})"
    finally:
        use_petnames({})
    assert describe_member(ANA) == f"{fingerprint(ANA)} ({ANA.hex()[:8]})"


def test_describe_member_is_fingerprint_and_short_id_and_marks_you() -> None:
    assert describe_member(ANA) == f"{fingerprint(ANA)} ({ANA.hex()[:8]})"
    assert describe_member(ANA.hex()) == describe_member(ANA)
    assert describe_member(ANA, me=ANA.hex()).endswith("[you]")
    assert "[you]" not in describe_member(ANA, me=BEN)
    assert describe_member("not-an-id") == "not-an-id"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("15/2", "7.5"),
        (Fraction(1, 3), "0.3333…"),
        ("2/3", "0.6667…"),
        ("-1/8", "-0.125"),
        (5, "5"),
        ("10", "10"),
        (Decimal("0.50"), "0.5"),
        ("1/0", "1/0"),
        ("riders", "riders"),
    ],
)
def test_fractions_read_as_decimals(value: object, text: str) -> None:
    assert decimal_text(value) == text


def test_amounts_times_and_points() -> None:
    assert amount_text(1250, "coins") == "1,250 coins"
    assert amount_text(1, "hours") == "1 hour"
    at = int(datetime(2026, 12, 7, 15, 30, tzinfo=UTC).timestamp() * 1000)
    assert local_time(at, PLUS_2) == "2026-12-07 17:30:00 PLUS2"
    assert relative_time(at + 300_000, at) == "in 5 min"
    assert relative_time(at - 7_200_000, at) == "2 h ago"
    assert relative_time(at, at) == "now"
    assert point_text(["a", "b"]) == "[a, b]"
    assert point_text(True) == "yes" and point_text("9/2") == "4.5"


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    text = table(("name", "hours"), [("ana", 5), ("benedict", 1250), ("cai", None)])
    assert text.splitlines() == [
        "name      hours",
        "ana           5",
        "benedict   1250",
        "cai           -",
    ]


def test_tree_text_describes_people_and_fractions() -> None:
    text = tree_text({"to": BEN.hex(), "rate": "3/2", "rows": [{"ok": True}], "none": {}})
    assert f"to: {describe_member(BEN)}" in text
    assert "rate: 1.5" in text and "- ok: yes" in text and "none: (none)" in text
    coins = tree_text({"coins": {ANA.hex(): 30}}, me=ANA)
    assert coins.splitlines()[1] == f"  {describe_member(ANA)} [you]: 30"


def _decision(**more: Any) -> dict[str, Any]:
    base = {
        "number": 3,
        "kind": "rate",
        "subject": "commission",
        "status": "open",
        "deadline": int(datetime(2026, 12, 7, 16, 0, tzinfo=UTC).timestamp() * 1000),
        "eligible": 4,
        "ballots": 1,
        "proposals": 2,
        "change": None,
        "options": {"lo": "0", "hi": "30", "step": "1/2"},
        "tabled": ["15/2", "12"],
        "status_quo": "10",
        "voted": True,
        "my_ballot": "9/2",
        "eligible_me": True,
    }
    return {**base, **more}


def test_an_open_decision_shows_deadline_proposals_and_my_ballot() -> None:
    d = _decision()
    now = d["deadline"] - 600_000
    text = "\n".join(decision_lines(d, now, PLUS_2))
    assert '#3 rate "commission"' in text
    assert "closes 2026-12-07 18:00:00 PLUS2 (in 10 min)" in text
    assert "a number from 0 to 30 in steps of 0.5" in text
    assert "proposals: 7.5; 12" in text
    assert "your ballot: 4.5" in text and "None" not in text


def test_a_decision_whose_period_has_not_started_shows_no_deadline() -> None:
    d = _decision(anchored=False)
    text = "\n".join(decision_lines(d, d["deadline"] + 600_000, PLUS_2))
    assert "voting period starts once most members' nodes answer" in text
    assert "closes" not in text


def test_an_admission_shows_the_candidate_and_a_closed_decision_its_outcome() -> None:
    change = {"type": "Admit", "member": BEN.hex()}
    d = _decision(kind="admission", subject="", change=change, options={}, tabled=[],
                  status_quo=None, voted=False)  # fmt: skip
    assert decision_lines(d, 0)[0] == f"#3 admit {describe_member(BEN)}"
    assert "you have not voted" in "\n".join(decision_lines(d, 0))
    old = {k: v for k, v in d.items() if k not in ("candidate", "options", "tabled")}
    assert describe_member(BEN) in decision_lines(old, 0)[0]  # an older node's summary
    closed = _decision(status="closed", outcome="9/2", adopted=True, support="3/4", score="1")
    text = decisions_text([closed], 0)
    assert "adopted: 4.5" in text and "support 0.75" in text
    assert decisions_text([], 0) == "no decisions yet"


def test_submissions_and_foundings_in_words() -> None:
    rejected = {"status": "rejected", "reason": "invalid_ballot", "detail": "off_step", "epoch": 0,
                "position": 7}  # fmt: skip
    assert "the ballot is not valid" in submission_text(rejected)
    assert "opened decision #2" in submission_text({"status": "applied", "opened": 2})
    assert "--wait" in submission_text({"submitted": True, "key": "ab"})
    summary = {"coop": "riders", "file": "r.coop", "founders": [ANA.hex(), BEN.hex()],
               "unsigned": [BEN.hex()], "complete": False}  # fmt: skip
    text = founding_text(summary)
    assert "1 of 2 founders signed" in text and "--sign r.coop" in text


def test_refusals_exit_with_reasons_in_words() -> None:
    refused = rejection({"status": "rejected", "reason": "too_early", "detail": "closes at 9"})
    assert isinstance(refused, ActionRefused)
    assert "voting period has not ended" in str(refused) and "closes at 9" in str(refused)
    assert rejection({"status": "applied"}) is None
    at = 1_796_658_190_505
    early = rejection({"status": "rejected", "reason": "too_early", "detail": f"closes at {at}"})
    assert early is not None and f"closes at {local_time(at)}" in str(early)
    checked = refusal(ControlError("invalid_ballot: ballot: 40 is outside", "would_be_rejected"))
    assert checked is not None and "not submitted" in str(checked) and "40" in str(checked)
    assert checked.reason == "would_be_rejected"
    assert refusal(ControlError("no node", "no_answer")) is None


def test_inbox_gathers_friend_requests_and_each_cooperatives_waiting_items() -> None:
    def ask(op: str, args: dict[str, Any]) -> Any:
        if op == "friends":
            return {"pending": [{"member": BEN.hex()}], "introductions": [], "friends": []}
        if op == "community_list":
            return [{"community": "riders"}, {"community": "plain"}]
        if args["community"] == "plain":
            raise ControlError("not a cooperative", "command_refused")
        return {"decisions": [{"number": 1}], "apps": [{"app": "currency", "waiting": [1]}]}

    got = inbox.gather(ask)
    assert got["friend_requests"] == ({"member": BEN.hex()},)
    assert got["decisions"] == ({"coop": "riders", "number": 1},)
    assert got["app_requests"] == ({"coop": "riders", "app": "currency", "waiting": [1]},)


def test_show_text_reads_members_rates_and_periods() -> None:
    snapshot = {
        "community": "riders",
        "epoch": 0,
        "community_time": 0,
        "members": [ANA.hex(), BEN.hex()],
        "params": {"commission": "9/2"},
        "contributions": {"2026-12": {ANA.hex(): 5, BEN.hex(): 7}},
        "distributions": {"2026-12": {ANA.hex(): 40, BEN.hex(): 60}},
        "decisions": [{"status": "open"}],
        "consensus": {"threshold": "2/3", "timeout_ms": 500},
        "digest": "ab",
    }
    text = show_text(snapshot, ANA, PLUS_2)
    assert f"{describe_member(ANA)} [you]" in text and "commission  4.5" in text
    assert "2026-12: 12 hours from 2 member(s), surplus shared: 100" in text
    assert "decisions: 1 (1 open)" in text and "threshold 0.6667…" in text


def test_the_inbox_reads_section_by_section() -> None:
    from io import StringIO  # noqa: PLC0415

    from peoplenet.actors.member.cli import print_inbox  # noqa: PLC0415

    out = StringIO()
    print_inbox({"now": 0, "friend_requests": [], "decisions": [], "app_requests": []}, out)
    assert out.getvalue() == "nothing waits for you\n"
    offer = {"kind": "credit_offer", "offer": "ab" * 32, "from": BEN.hex(), "amount": 1500}
    waiting = {
        "now": 0,
        "friend_requests": [{"member": ANA.hex(), "fingerprint": fingerprint(ANA)}],
        "introductions": [],
        "decisions": [{"coop": "riders", **_decision(voted=False, my_ballot=None)}],
        "app_requests": [{"coop": "riders", "app": "currency", "waiting": [offer]}],
    }
    out = StringIO()
    print_inbox(waiting, out, decision_lines=decision_lines)
    text = out.getvalue()
    assert "friend requests (1)" in text and describe_member(ANA) in text
    assert 'riders #3 rate "commission"' in text and "you have not voted" in text
    assert f"from {describe_member(BEN)}" in text and "amount 1,500" in text


def test_the_inbox_without_the_cooperatives_text_shows_a_decision_as_json() -> None:
    """The member's command line alone (no cooperative layer given) still lists decisions."""
    from io import StringIO  # noqa: PLC0415

    from peoplenet.actors.member.cli import print_inbox  # noqa: PLC0415

    out = StringIO()
    print_inbox({"now": 0, "decisions": [{"coop": "riders", "number": 3}]}, out)
    assert out.getvalue().splitlines()[1] == '  riders {"coop": "riders", "number": 3}'
