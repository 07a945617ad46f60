"""The bundled apps through the real ``peoplenet`` command against a real node.

One node process on loopback founds a one-member cooperative and enables, by vote, the
currency and the example noticeboard (installed the way a user would, as in
``test_plugin_example``).  Every step then runs ``python -m peoplenet`` in a child
process:
arguments typed on the command line arrive at the app as the kinds its commands declare,
and every refusal exits non-zero with words that say what and why.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli
from tests.plugins.test_example_app import installed  # noqa: F401 - the session fixture

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]
COOP = "solo"
STEP = 60.0


class Solo:
    """The node, its data directory and the member's id."""

    def __init__(self, node: LocalNode) -> None:
        self.node = node
        self.data = str(node.data.root)
        self.me = node.member.hex()

    def run(self, *args: str) -> Any:
        """``peoplenet ARGS --json`` that must succeed: its JSON output."""
        done = run_cli(*args, "--json", passphrase=PASSPHRASE)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def refused(self, *args: str) -> str:
        """``peoplenet ARGS`` that must be refused: its message (a clear one, exit 2)."""
        done = run_cli(*args, passphrase=PASSPHRASE)
        assert done.returncode == 2, done.stdout
        assert "Traceback" not in done.stderr and "raised" not in done.stderr, done.stderr
        return done.stderr

    def app(self, name: str, command: str, *args: str) -> Any:
        return self.run("app", "--data", self.data, COOP, name, command, *args)["result"]

    def decide(self, app: str, settings: dict[str, Any]) -> None:
        """Propose the app with ``settings``, vote yes, and wait until it runs with them."""
        opened = self.run(
            "coop", "propose", "--data", self.data, COOP, "app", app,
            "--settings", json.dumps(settings), "--wait", "60",
        )  # fmt: skip
        assert opened["status"] == "applied", opened
        number = str(opened["opened"])
        voted = self.run("coop", "vote", "--data", self.data, COOP, number, "true", "--wait", "60")
        assert voted["status"] == "applied", voted

        def running() -> bool:
            status = self.node.call("coop_app_status", {"community": COOP, "app": app})
            return bool(status["enabled"])

        assert wait_for(running, STEP), f"{app} was never enabled"


@pytest.fixture(scope="module")
def solo(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Solo]:  # noqa: F811
    work = tmp_path_factory.mktemp("appcli")
    data, identity = create_node(work / "ana", network=f"appcli-{time.time_ns()}", mdns=False)
    node = LocalNode("ana", data, identity.member_id)
    with pytest.MonkeyPatch.context() as patch:  # the node (and its app worker) see the app
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(installed)]))
        node.start()
    try:
        solo = Solo(node)
        charter = work / "charter.json"
        charter.write_text(json.dumps({"voting_period_ms": 5000}))  # a vote is a new process
        founding = str(work / "solo.coop")
        solo.run(
            "coop", "found", COOP, "--charter", str(charter), "--timeout-ms", "200",
            "--out", founding, "--data", solo.data,
        )  # fmt: skip
        solo.run("coop", "join", "--data", solo.data, founding)
        solo.decide("currency", {"claim_deadline_ms": 120_000})
        solo.decide("noticeboard", {"max_notices": 10})
        yield solo
    finally:
        node.stop()
        node.kill()
        assert node.group_pids() == set(), "the node left processes behind"


def test_currency_commands_take_typed_arguments(solo: Solo) -> None:
    d = solo.data
    # paying yourself is refused before anything is minted or signed
    refused = solo.refused("pay", COOP, "--to", solo.me, "--amount", "5", "--data", d)
    assert "self_payment: you cannot pay yourself" in refused
    assert solo.app("currency", "history")["coins"] == []
    # a value not of its kind names the argument and the kind
    refused = solo.refused("pay", COOP, "--to", solo.me, "--amount", "five", "--data", d)
    assert "bad_argument: amount is a whole number, 0 or more, not 'five'" in refused
    refused = solo.refused("app", "--data", d, COOP, "currency", "credit", "--arg", "offer=zz")
    assert "'zz' is not a credit offer id" in refused  # named on the command line
    # unknown names are refused, listing the known ones
    refused = solo.refused(
        "app", "--data", d, COOP, "currency", "mint", "--arg", "amount=5", "--arg", "amout=5"
    )
    assert "unknown_argument: mint takes amount; not amout" in refused
    # typed text arrives as a number: the minted coins are counted
    minted = solo.app("currency", "mint", "--arg", "amount=5")
    assert len(minted["block"]) == 64

    def holds_five() -> bool:
        return bool(solo.app("currency", "balance")["coins"] == {solo.me: 5})

    assert wait_for(holds_five, STEP)
    # settings the app does not declare are refused when proposed, before any submission
    refused = solo.refused(
        "coop", "propose", "--data", d, COOP, "app", "currency", "--settings", '{"ubi": 5}'
    )
    assert "unknown_setting: currency: ubi (known: ubi_per_period" in refused
    refused = solo.refused("coop", "propose", "--data", d, COOP, "app", "nosuch")
    assert "app_not_installed" in refused


def test_noticeboard_pin_takes_a_number_from_the_command_line(solo: Solo) -> None:
    d = solo.data
    posted = solo.app("noticeboard", "post", "--arg", "text=Bread on Friday")
    assert posted == {"submitted": "post"}

    def board() -> list[dict[str, Any]]:
        return list(solo.app("noticeboard", "list")["notices"])

    assert wait_for(lambda: [n["number"] for n in board()] == [1], STEP)
    pinned = solo.app("noticeboard", "pin", "--arg", "number=1")
    assert pinned == {"submitted": "pin", "number": 1}  # a number, not "1"
    assert wait_for(lambda: board()[0]["pinned"] is True, STEP)
    solo.app("noticeboard", "pin", "--arg", "number=1", "--arg", "pinned=false")
    assert wait_for(lambda: board()[0]["pinned"] is False, STEP)
    refused = solo.refused("app", "--data", d, COOP, "noticeboard", "pin", "--arg", "number=one")
    assert "bad_argument: number is a whole number, not 'one'" in refused
    refused = solo.refused("app", "--data", d, COOP, "noticeboard", "pin", "--arg", "numbr=1")
    assert "unknown_argument: pin takes number, pinned; not numbr" in refused
    refused = solo.refused("app", "--data", d, COOP, "noticeboard", "pin", "--arg", "number=7")
    assert "unknown_notice: no notice 7 on the board" in refused
