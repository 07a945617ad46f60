"""A node whose consensus actor is busy for a moment while peers' blocks keep coming goes on
answering commands and catches up.

Before, the supervisor (which relays every message between its children) and the busy actor
filled each other's bounded mailbox and waited on each other, the root then waited on the
supervisor, and every command to the node answered "the node is restarting" for minutes
(runtime/kernel/mailboxes.py).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.local.procs import lock_holders
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli

STEP = 60.0
COMMUNITY = "busy"
BUSY_S = 4.0
"""How long the consensus actor is held (SIGSTOP): a slow app call on a loaded phone."""
TRAFFIC = 30
"""Submissions the other three make meanwhile: their blocks reach the busy actor."""
ANSWER_WITHIN_S = 10.0


def _cli_json(*args: str) -> Any:
    result = run_cli(*args, "--json", passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _texts(node: LocalNode) -> set[str]:
    rows = node.call("community_order", {"community": COMMUNITY})
    return {str(r["tx"][1]) for r in rows}


def _submit(node: LocalNode, text: str) -> None:
    assert node.call("community_submit", {"community": COMMUNITY, "text": text})["queued"]


@pytest.mark.processes
def test_a_busy_consensus_actor_under_peers_traffic_does_not_wedge_its_node(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"busy-{time.time_ns()}"
    made = []
    for i in range(4):
        data, identity = create_node(tmp_path / f"n{i}", network=network)
        made.append(LocalNode(f"n{i}", data, identity.member_id))
    for node in made:
        nodes.append(node)
        node.start()
    genesis = tmp_path / "busy.genesis"
    members = [arg for n in made for arg in ("--member", n.member.hex())]
    _cli_json(
        "community", "create", COMMUNITY, *members, "--timeout-ms", "500", "--out", str(genesis)
    )
    for node in made:
        _cli_json("community", "join", "--data", str(node.data.root), str(genesis))
    for i, node in enumerate(made):
        _submit(node, f"first {i}")
    first = {f"first {i}" for i in range(4)}
    assert wait_for(lambda: all(first <= _texts(n) for n in made), STEP)

    victim, others = made[3], made[:3]
    (order_file,) = victim.data.communities.glob("*.order.sqlite")
    (consensus,) = lock_holders(order_file) & victim.group_pids()
    os.kill(consensus, signal.SIGSTOP)
    try:
        traffic = {f"busy {k}" for k in range(TRAFFIC)}
        for k, text in enumerate(sorted(traffic)):
            _submit(others[k % 3], text)
        # a quorum of three goes on without the victim: its blocks flow to the victim's node
        assert wait_for(lambda: all(traffic <= _texts(n) for n in others), STEP)
        time.sleep(max(0.0, BUSY_S))
    finally:
        os.kill(consensus, signal.SIGCONT)

    started = time.monotonic()
    assert victim.call("status") is not None  # the supervisor and the root answer again
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert wait_for(lambda: traffic | first <= _texts(victim), STEP), "the victim never caught up"
    _submit(victim, "after")
    assert wait_for(lambda: all("after" in _texts(n) for n in made), STEP)
