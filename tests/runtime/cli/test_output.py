"""What ``peoplenet`` prints and how it exits, through real child processes.

Founding refuses to overwrite a founding file; ``--charter`` takes JSON text or a path.  On
two real nodes (one a single-founder cooperative): decisions show the deadline in local time
and the proposals; a ballot out of range is refused before it is submitted; a ballot the
order rejects exits 1 with the reason; the inbox lists an unvoted decision and a friend
request; the ``--json`` outputs keep their keys.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from peoplenet.runtime.cli.format import describe_member
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli

ZONE = "Asia/Kolkata"  # +05:30, no daylight saving: a local time no test machine has
CHARTER = {
    "voting_period_ms": 900_000,
    "rates": [{"name": "commission", "lo": 0, "hi": 30, "step": 0.5, "initial": 10}],
}
OLD_DECISION_KEYS = {
    "number", "kind", "subject", "status", "opened_at", "deadline", "eligible", "ballots",
    "proposals", "change", "outcome", "adopted", "applied", "note", "support", "score",
}  # fmt: skip


def _run(*args: str) -> Any:
    return run_cli(*args, passphrase=PASSPHRASE, env={"TZ": ZONE})


def _json(*args: str) -> Any:
    done = _run(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_found_refuses_to_overwrite_and_reads_inline_charter_json(tmp_path: Path) -> None:
    data, _ = create_node(tmp_path / "ana", network="found-test", mdns=False)
    out = tmp_path / "riders.coop"
    d = str(data.root)
    made = _run("coop", "found", "riders", "--charter", json.dumps(CHARTER), "--out", str(out),
                "--data", d)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "1 of 1 founders signed" in made.stdout
    before = out.read_bytes()
    again = _run("coop", "found", "riders", "--out", str(out), "--data", d)
    assert again.returncode == 2
    assert "founding_file_exists" in again.stderr and "--force" in again.stderr
    assert out.read_bytes() == before  # the signatures collected so far are kept
    forced = _run("coop", "found", "riders", "--out", str(out), "--data", d, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["complete"] is True
    bad = _run("coop", "found", "x", "--charter", '{"voting_period_ms": ', "--out",
               str(tmp_path / "x.coop"), "--data", d)  # fmt: skip
    assert bad.returncode == 2 and "not valid JSON text" in bad.stderr
    missing = _run("coop", "found", "x", "--charter", str(tmp_path / "no.json"), "--out",
                   str(tmp_path / "x.coop"), "--data", d)  # fmt: skip
    assert missing.returncode == 2 and "not a readable file" in missing.stderr
    assert not (tmp_path / "x.coop").exists()


@pytest.mark.processes
def test_decisions_refusals_and_inbox_on_real_nodes(tmp_path: Path, nodes: list[LocalNode]) -> None:
    network = f"cli-out-{time.time_ns()}"
    ana_data, ana_id = create_node(tmp_path / "ana", network=network, mdns=False)
    ana = LocalNode("ana", ana_data, ana_id.member_id)
    nodes.append(ana)
    ana.start()
    ben_data, ben_id = create_node(tmp_path / "ben", network=network, mdns=False,
                                   peers=(ana.address,))  # fmt: skip
    ben = LocalNode("ben", ben_data, ben_id.member_id)
    nodes.append(ben)
    ben.start()
    a, b = str(ana_data.root), str(ben_data.root)

    # ben asks ana to be friends (the friend request ana's inbox shows)
    asked = _run("friends", "--data", b, "add", ana.member.hex())
    assert asked.returncode == 0, asked.stderr

    # a one-founder cooperative with a rate decision and two proposals
    founding = tmp_path / "riders.coop"
    _json("coop", "found", "riders", "--charter", json.dumps(CHARTER), "--out", str(founding),
          "--data", a)  # fmt: skip
    assert _json("coop", "join", "--data", a, str(founding))["community"] == "riders"
    opened = _json("coop", "propose", "--data", a, "riders", "rate", "commission",
                   "--proposal", "7.5", "--wait", "60")  # fmt: skip
    assert opened["status"] == "applied" and {"key", "epoch", "position"} <= set(opened)
    number = opened["opened"]
    tabled = _json("coop", "table", "--data", a, "riders", str(number), "12", "--wait", "60")
    assert tabled["status"] == "applied"

    # decisions: the deadline in local time, the proposals, no ballot yet
    (listed,) = _json("coop", "decisions", "--data", a, "riders")
    assert set(listed) >= OLD_DECISION_KEYS and listed["proposals"] == 2
    shown = _run("coop", "decisions", "--data", a, "riders")
    assert shown.returncode == 0, shown.stderr
    local = datetime.fromtimestamp(listed["deadline"] / 1000, ZoneInfo(ZONE))
    assert f"closes {local:%Y-%m-%d %H:%M:%S} IST" in shown.stdout, shown.stdout
    assert "None" not in shown.stdout
    assert "proposals: 7.5; 12" in shown.stdout and "you have not voted" in shown.stdout

    # out of range without --wait: refused before submitting, exit 1, the reason in words
    far = _run("coop", "vote", "--data", a, "riders", str(number), "40")
    assert far.returncode == 1, far.stderr
    assert "not submitted" in far.stderr and "invalid_ballot" in far.stderr
    assert "40 is outside" in far.stderr
    # off the step with --wait: submitted, rejected by the order, exit 1 with the reason
    off = _run("coop", "vote", "--data", a, "riders", str(number), "4.3", "--wait", "60",
               "--json")  # fmt: skip
    assert off.returncode == 1, off.stderr
    verdict = json.loads(off.stdout)
    assert verdict["status"] == "rejected" and verdict["reason"] == "invalid_ballot"
    assert "rejected by the cooperative" in off.stderr and "Rejection(" not in off.stderr
    # only the --wait ballot reached the order: the refused one was never submitted
    rejections = ana.call("coop_show", {"community": "riders"})["rejections"]
    assert rejections["count"] == 1

    # the inbox: ben's friend request and the decision ana has not voted in
    assert wait_for(lambda: ana.call("friends")["pending"], 60)
    waiting = _json("inbox", "--data", a)
    assert [r["member"] for r in waiting["friend_requests"]] == [ben.member.hex()]
    (decision,) = waiting["decisions"]
    assert decision["coop"] == "riders" and decision["number"] == number
    assert decision["tabled"] == ["15/2", "12"] and decision["deadline"] == listed["deadline"]
    human = _run("inbox", "--data", a)
    assert human.returncode == 0, human.stderr
    assert describe_member(ben.member) in human.stdout
    assert "riders #1" in human.stdout and "proposals: 7.5; 12" in human.stdout

    # a good ballot: the decision leaves the inbox and shows my ballot
    cast = _json("coop", "vote", "--data", a, "riders", str(number), "7.5", "--wait", "60")
    assert cast["status"] == "applied"
    assert _json("inbox", "--data", a)["decisions"] == []
    assert "your ballot: 7.5" in _run("coop", "decisions", "--data", a, "riders").stdout
    status = _json("status", "--data", a)
    assert {"member", "fingerprint", "friends", "pending"} <= set(status)
    friends = _json("friends", "--data", a)
    assert {"friends", "pending", "outgoing", "follows", "introductions"} <= set(friends)
