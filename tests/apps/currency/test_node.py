"""The currency on four real nodes: enabled by vote, paid through the ``peoplenet`` commands.

Four node processes on loopback found a cooperative, enable the currency app by a vote that
also mints cooperative coins, and then use it only through the member-facing commands
(``peoplenet pay|balance|credit|redeem``): a payment in one's own coins, one that needs the
sovereign's approval while the payee's phone is dead (it accepts after it restarts, from what
it pulls), a mutual credit line, a redemption repaid in the preferred currency, a cooperative
coin payment in consensus order, and typed refusals that change nothing.  Every phone ends with
the same app state.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, wait_for
from tests.cli_run import run_cli
from tests.coop_nodes import found_coop, make_nodes, submit_ordered

STEP = 60.0
COOP = "couriers"
CHARTER = {"voting_period_ms": 3000, "admission_sureties": 2}
MINT = 100


def _cli(node: LocalNode, *args: str) -> Any:
    result = run_cli(*args, COOP, "--data", str(node.data.root), "--json", passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) == {"result", "submitted"}, shown
    return shown["result"]


def _refused(node: LocalNode, *args: str) -> str:
    result = run_cli(*args, COOP, "--data", str(node.data.root), "--json", passphrase=PASSPHRASE)
    assert result.returncode == 2, result.stdout
    return result.stderr


def _balance(node: LocalNode) -> dict[str, Any]:
    shown = node.call(
        "coop_app", {"community": COOP, "app": "currency", "command": "balance", "args": {}}
    )
    assert isinstance(shown, dict)
    result = shown["result"]
    assert isinstance(result, dict)
    return result


def _status(node: LocalNode) -> dict[str, Any]:
    status = node.call("coop_app_status", {"community": COOP, "app": "currency"})
    assert isinstance(status, dict)
    return status


def _submit(node: LocalNode, op: str, args: dict[str, Any]) -> dict[str, Any]:
    return submit_ordered(node, COOP, op, args, step=STEP)


def _found(made: list[LocalNode], identities: dict[str, Identity], workdir: Path) -> None:
    """All found the cooperative (each signature made with that member's key)."""
    found_coop(made, identities, workdir / "couriers.coop", COOP, CHARTER)


@pytest.mark.processes
def test_currency_on_four_nodes_through_the_commands(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"cur-{time.time_ns()}"
    made, identities = make_nodes(tmp_path, ("ana", "ben", "cai", "dia"), network)
    ana, ben, cai, dia = made
    hexid = {n.name: n.member.hex() for n in made}
    for node in made:
        nodes.append(node)
        node.start()
    _found(made, identities, tmp_path)

    # the app decision: enable the currency, minting 100 cooperative coins to ana
    opened = _submit(
        ben,
        "coop_propose",
        {
            "kind": "app",
            "subject": "currency",
            "settings": json.dumps({"claim_deadline_ms": 120_000}),
            "action": json.dumps({"mint": MINT, "to": hexid["ana"]}),
        },
    )
    number = opened["opened"]
    assert wait_for(
        lambda: all(
            len(n.call("coop_show", {"community": COOP})["decisions"]) >= number for n in made
        ),
        STEP,
    )
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda n: _submit(n, "coop_vote", {"decision": number, "ballot": "true"}), made
            )
        )
    assert wait_for(lambda: all(_status(n)["enabled"] for n in made), STEP)
    assert _balance(ana)["cooperative"] == MINT

    # ana pays ben 30 of her own coins: no approval, ben's phone accepts
    paid = _cli(ana, "pay", "--to", hexid["ben"], "--amount", "30", "--memo", "lunch run")
    assert paid["needs_approval"] is False and paid["minted"]
    assert wait_for(lambda: _balance(ben)["coins"] == {hexid["ana"]: 30}, STEP)

    # dia's phone dies; ben pays dia 10 of ana's coins: ana's phone approves at once, and dia's
    # accepts once it is back, from what it pulls
    dia.kill()
    paid = _cli(ben, "pay", "--to", hexid["dia"], "--amount", "10", "--currency", hexid["ana"])
    assert paid["needs_approval"] is True
    payment = paid["payment"]

    def approved() -> bool:
        history = ana.call(
            "coop_app", {"community": COOP, "app": "currency", "command": "history", "args": {}}
        )
        rows = history["result"]["coins"]
        return any(r["kind"] == "approve" for r in rows)

    assert wait_for(approved, STEP)
    assert _balance(ben)["coins"] == {hexid["ana"]: 20}  # held back while in flight
    dia.start()
    assert wait_for(lambda: _balance(dia)["coins"] == {hexid["ana"]: 10}, STEP)
    assert payment

    # typed refusals over the command line, and nothing changes (once dia's acceptance spread)
    assert wait_for(lambda: _agreed(made), STEP)
    before = _status(ben)["state_digest"]
    overspend = _refused(
        ben, "pay", "--to", hexid["cai"], "--amount", "500", "--currency", hexid["ana"]
    )
    assert "insufficient_funds" in overspend
    assert "unknown_member" in _refused(ben, "pay", "--to", "00" * 32, "--amount", "1")
    assert "bad_argument" in _refused(ben, "pay", "--to", hexid["cai"], "--amount", "-3")
    assert _status(ben)["state_digest"] == before

    # cai and dia open a mutual credit line of 50 (limit 80)
    offer = _cli(cai, "credit", "--with", hexid["dia"], "--amount", "50", "--limit", "80")["offer"]

    def offer_seen() -> bool:
        return any(
            r["block"] == offer
            for r in dia.call(
                "coop_app",
                {"community": COOP, "app": "currency", "command": "history", "args": {}},
            )["result"]["coins"]
        )

    assert wait_for(offer_seen, STEP)
    _cli(dia, "credit", "--offer", offer, "--limit", "80")
    assert wait_for(
        lambda: (
            _balance(cai)["coins"].get(hexid["dia"]) == 50
            and _balance(dia)["coins"].get(hexid["cai"]) == 50
        ),
        STEP,
    )

    # cai pays ana 15 of his coins; dia redeems her 10 ana-coins preferring cai's: ana's phone
    # repays in cai-coins
    _cli(cai, "pay", "--to", hexid["ana"], "--amount", "15")
    assert wait_for(lambda: _balance(ana)["coins"].get(hexid["cai"]) == 15, STEP)
    claim = _cli(
        dia, "redeem", "--sovereign", hexid["ana"], "--amount", "10", "--prefer", hexid["cai"]
    )
    assert claim["claim"]
    assert wait_for(
        lambda: (
            _balance(dia)["coins"] == {hexid["cai"]: 60}
            and _balance(ana)["coins"].get(hexid["cai"]) == 5
        ),
        STEP,
    )

    # the cooperative's coins move in consensus order
    moved = _cli(ana, "pay", "--to", hexid["ben"], "--amount", "40", "--currency", "community")
    assert moved["ordered"] is True
    assert wait_for(
        lambda: _balance(ben)["cooperative"] == 40 and _balance(ana)["cooperative"] == MINT - 40,
        STEP,
    )

    # every phone holds the same app state, lace block for lace block
    assert wait_for(lambda: _agreed(made), STEP)
    assert _status(cai)["state_digest"] is not None

    # ben's app worker dies: the cooperative restarts on his phone and replays into a new one
    digest = _status(ben)["state_digest"]
    (worker,) = _app_workers(ben)
    os.kill(worker, signal.SIGKILL)

    def recovered() -> bool:
        try:
            return _status(ben)["state_digest"] == digest and _app_workers(ben) - {worker} != set()
        except LocalError:  # the answer of the call that found the worker dead, or a restart
            return False

    assert wait_for(recovered, STEP)
    assert _balance(ben)["coins"] == {hexid["ana"]: 20}


def _agreed(made: list[LocalNode]) -> bool:
    """Every phone holds the same app state, lace block for lace block."""
    statuses = [_status(n) for n in made]
    return (
        len({s["state_digest"] for s in statuses}) == 1
        and len({s["lace_blocks"] for s in statuses}) == 1
    )


def _app_workers(node: LocalNode) -> set[int]:
    """The node's app worker processes (``python -m peoplenet.plugins.worker``)."""
    found = set()
    for pid in node.group_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"peoplenet.plugins.worker" in cmdline:
            found.add(pid)
    return found
