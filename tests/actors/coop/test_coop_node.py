"""A cooperative on four real nodes: founding, sureties, admission by vote, a rate, audit.

Three founders sign one founding file on their own nodes; a fourth person joins as an
observer, gets mutual sureties from two founders, is admitted by vote -- which moves consensus
to a new epoch with them as a participant -- and then votes on the commission rate with the
others.  Every node ends with the same state digest, and ``peoplenet audit`` recomputes it
from the signed blocks.  A malformed ballot is recorded as rejected, not counted, and the
vote command exits 1.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli

STEP = 90.0
COOP = "riders"
CHARTER = {
    "voting_period_ms": 12000,
    "admission_sureties": 2,
    "rates": [{"name": "commission", "lo": 0, "hi": 30, "step": 0.5, "initial": 10}],
}


def _cli(*args: str) -> Any:
    result = run_cli(*args, "--json", passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _show(node: LocalNode) -> dict[str, Any]:
    shown = node.call("coop_show", {"community": COOP})
    assert isinstance(shown, dict)
    return shown


def _decision(node: LocalNode, number: int) -> dict[str, Any] | None:
    decisions = _show(node)["decisions"]
    return decisions[number - 1] if len(decisions) >= number else None


def _closed(group: list[LocalNode], number: int) -> bool:
    return all((_decision(n, number) or {}).get("status") == "closed" for n in group)


def _vote(node: LocalNode, number: int, ballot: str) -> dict[str, Any]:
    data = str(node.data.root)
    return _cli("coop", "vote", "--data", data, COOP, str(number), ballot, "--wait", "60")  # type: ignore[no-any-return]


def _vote_together(number: int, ballots: list[tuple[LocalNode, str]]) -> list[dict[str, Any]]:
    """Every member votes from their own phone at once, as they would -- not one after another.

    Sequential CLI runs on a loaded two-core CI machine once took longer than the voting period.
    """
    with ThreadPoolExecutor(max_workers=len(ballots)) as pool:
        return list(pool.map(lambda nb: _vote(nb[0], number, nb[1]), ballots))


@pytest.mark.processes
def test_cooperative_admits_by_sureties_and_vote_then_sets_a_rate(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"coop-{time.time_ns()}"
    made: list[LocalNode] = []
    for name in ("ana", "ben", "cai", "dia"):
        data, identity = create_node(tmp_path / name, network=network)
        made.append(LocalNode(name, data, identity.member_id))
    ana, ben, cai, dia = made
    for node in made:
        nodes.append(node)
        node.start()

    # founding: ana writes and signs, ben and cai add their signatures
    charter = tmp_path / "charter.json"
    charter.write_text(json.dumps(CHARTER))
    founding = tmp_path / "riders.coop"
    d = {n.name: str(n.data.root) for n in made}
    founders = [a for n in (ben, cai) for a in ("--founder", n.member.hex())]
    draft = _cli(
        "coop", "found", COOP, *founders, "--charter", str(charter), "--timeout-ms", "500",
        "--out", str(founding), "--data", d["ana"],
    )  # fmt: skip
    assert draft["complete"] is False and len(draft["unsigned"]) == 2
    refused = run_cli("coop", "join", "--data", d["ana"], str(founding), passphrase=PASSPHRASE)
    assert refused.returncode == 2 and "still to sign" in refused.stderr
    _cli("coop", "found", "--sign", str(founding), "--data", d["ben"])
    signed = _cli("coop", "found", "--sign", str(founding), "--data", d["cai"])
    assert signed["complete"] is True
    for node in made:
        joined = _cli("coop", "join", "--data", d[node.name], str(founding))
        assert joined["community"] == COOP
        assert joined["participant"] is (node is not dia)

    # dia gets mutual sureties from ana and ben (each half signed on its own node)
    for voucher in (ana, ben):
        half = _cli("coop", "vouch", "--data", d["dia"], COOP, "--with", voucher.member.hex())
        done = _cli("coop", "vouch", "--data", d[voucher.name], COOP, "--countersign", half["half"])
        assert done["submitted"] is True
    assert wait_for(lambda: len(_show(ana)["sureties"]) == 2, STEP)

    # the admission decision: the three founders vote yes
    opened = _cli(
        "coop", "propose", "--data", d["ana"], COOP, "admission", dia.member.hex(), "--wait", "60"
    )
    assert opened["status"] == "applied", opened
    number = opened["opened"]
    for cast in _vote_together(number, [(ana, "true"), (ben, "true"), (cai, "true")]):
        assert cast["status"] == "applied", cast
    assert wait_for(lambda: _closed([ana, ben, cai], number), STEP)
    admitted = _decision(ana, number)
    assert admitted is not None and admitted["adopted"] is True
    assert dia.member.hex() in _show(ana)["members"]

    # consensus moves to epoch 1 with dia as a participant; dia's node catches up to it
    assert wait_for(lambda: all(_show(n)["epoch"] == 1 for n in made), STEP)
    status = dia.call("community_status", {"community": COOP})
    assert status["participant"] is True and status["epoch"] == 1

    # the commission rate: four ballots; a malformed one is recorded as rejected
    rate = _cli("coop", "propose", "--data", d["ben"], COOP, "rate", "commission", "--wait", "60")[
        "opened"
    ]
    rejected = run_cli(
        "coop", "vote", "--data", d["dia"], COOP, str(rate), "4.3", "--wait", "60", "--json",
        passphrase=PASSPHRASE,
    )  # fmt: skip
    assert rejected.returncode == 1, rejected.stderr  # refused: exit 1, the reason in words
    bad = json.loads(rejected.stdout)
    assert bad["status"] == "rejected" and bad["reason"] == "invalid_ballot"
    assert "rejected by the cooperative" in rejected.stderr
    for cast in _vote_together(rate, [(ana, "3"), (ben, "4"), (cai, "4.5"), (dia, "6")]):
        assert cast["status"] == "applied", cast
    assert wait_for(lambda: _closed(made, rate), STEP)
    outcome = _decision(cai, rate)
    assert outcome is not None and outcome["adopted"] is True
    assert all(_show(n)["params"]["commission"] == "9/2" for n in made)

    # every node folds to the same state; the audit recomputes it from the blocks
    assert wait_for(lambda: len({_show(n)["digest"] for n in made}) == 1, STEP)
    for node in (ana, dia):
        report = _cli("audit", "--data", d[node.name], COOP)
        assert report["ok"] is True, report
        assert report["epochs"] == 2 and report["decisions"] == 2
        assert report["live_digest"] == report["state_digest"]
