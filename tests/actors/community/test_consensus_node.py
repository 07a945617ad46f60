"""Consensus in the real node: the community store, the CLI, and four node processes.

The four-process test is the issue's acceptance test: four nodes on loopback finalize the same
order; one is SIGKILLed (its whole process group) right after a burst of submissions, the other
three keep finalizing, and the restarted node catches up with nothing delivered twice or
skipped, and its own acknowledged submissions finalized.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.consensus.order_store import (
    CommunityStore,
    CommunityStoreError,
    delivered_json,
)
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli

STEP = 60.0
RESUBMITTED = re.compile(r'"resubmitted": (\d+)')
COMMUNITY = "coop"


# -- the community store (no processes) -----------------------------------------------------------


def _delivery(position: int, text: str, epoch: int = 0) -> Delivery:
    creator = MemberId(bytes([position % 7]) * 32)
    return Delivery(epoch, position, BlockId(bytes([position]) * 32), creator, ("text", text))


def test_community_store_is_a_cursor_over_replayed_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "c.order.sqlite"
    store = CommunityStore(path)
    assert store.add_pending(("text", "b")) is True
    assert store.add_pending(("text", "b")) is False  # already pending
    first = [_delivery(0, "a"), _delivery(1, "b")]
    assert store.record(first) == first
    assert store.pending_count() == 0, "a delivered submission stays pending"
    assert store.add_pending(("text", "a")) is False  # already delivered
    store.add_pending(("text", "z"))
    store.close()

    store = CommunityStore(path)  # a restart: the core replays from position 0
    replay = [*first, _delivery(2, "c")]
    assert store.record(replay) == [replay[2]]
    assert store.delivered_count() == 3
    assert store.pending() == [("text", "z")]
    rows = delivered_json(store.order())
    assert [r["tx"] for r in rows if isinstance(r, dict)] == [
        ("text", "a"),
        ("text", "b"),
        ("text", "c"),
    ]
    with pytest.raises(CommunityStoreError, match="differs"):
        store.record([_delivery(1, "not b")])
    with pytest.raises(CommunityStoreError, match="gap"):
        store.record([_delivery(5, "e")])
    assert store.record([_delivery(0, "x", epoch=1)]) == [_delivery(0, "x", epoch=1)]
    assert store.delivered_count() == 4
    store.close()


# -- CLI and processes -----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, passphrase=PASSPHRASE)


def _cli_json(*args: str) -> Any:
    result = _cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _make(tmp_path: Path, count: int, *, mdns: bool = True) -> list[LocalNode]:
    network = f"cons-{time.time_ns()}"
    out = []
    for i in range(count):
        data, identity = create_node(tmp_path / f"n{i}", network=network, mdns=mdns)
        out.append(LocalNode(f"n{i}", data, identity.member_id))
    return out


def _order(node: LocalNode) -> list[tuple[int, int, str, str]]:
    rows = node.call("community_order", {"community": COMMUNITY})
    assert isinstance(rows, list)
    return [(r["epoch"], r["position"], r["creator"], r["tx"][1]) for r in rows]


def _texts(node: LocalNode) -> list[str]:
    return [row[3] for row in _order(node)]


def _submit(node: LocalNode, text: str) -> None:
    result = node.call("community_submit", {"community": COMMUNITY, "text": text})
    assert result["queued"] is True


def _all_have(group: list[LocalNode], texts: set[str]) -> bool:
    return all(texts <= set(_texts(n)) for n in group)


def _check_order(order: list[tuple[int, int, str, str]]) -> None:
    """Positions 0..n-1 in epoch 0, each transaction once."""
    assert [(e, p) for e, p, _, _ in order] == [(0, i) for i in range(len(order))]
    texts = [t for _, _, _, t in order]
    assert len(set(texts)) == len(texts), "a transaction was delivered twice"


@pytest.mark.processes
def test_four_nodes_finalize_one_order_survive_a_kill_and_catch_up(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    made = _make(tmp_path, 4)
    for node in made:
        nodes.append(node)
        node.start()
    genesis = tmp_path / "coop.genesis"
    members = [arg for n in made for arg in ("--member", n.member.hex())]
    created = _cli_json(
        "community", "create", COMMUNITY, *members, "--timeout-ms", "500", "--out", str(genesis)
    )
    assert created["participants"] == 4 and created["quorum"] == 3
    for node in made:
        joined = _cli_json("community", "join", "--data", str(node.data.root), str(genesis))
        assert joined["lace"] == created["lace"] and joined["joined"] is True
        assert joined["participant"] is True

    # every member submits; all four deliver the same order
    for i, node in enumerate(made):
        _submit(node, f"first {i}")
    assert wait_for(lambda: _all_have(made, {f"first {i}" for i in range(4)}), STEP)
    assert wait_for(lambda: len({tuple(_order(n)) for n in made}) == 1, STEP)

    latencies = []
    for k in range(5):
        started = time.monotonic()
        _submit(made[k % 4], f"latency {k}")
        assert wait_for(lambda k=k: _all_have(made, {f"latency {k}"}), STEP, interval=0.01)
        latencies.append(time.monotonic() - started)
    print(f"submit -> delivered on all four: median {statistics.median(latencies):.3f} s")

    status = _cli_json("community", "status", "--data", str(made[0].data.root), COMMUNITY)
    assert status["delivered"] == 9 and status["pending"] == 0 and status["epoch"] == 0
    assert set(status["participants"]) == {n.member.hex() for n in made}
    cli_order = _cli_json("community", "order", "--data", str(made[0].data.root), COMMUNITY)
    assert len(cli_order) == 9
    assert all(set(row) == {"epoch", "position", "creator", "tx"} for row in cli_order)
    assert [row["tx"] for row in cli_order] == [["text", t] for t in _texts(made[0])]

    # a burst on the victim and the others, and the victim dies in the middle of the wave
    victim, survivors = made[3], made[:3]
    before = _order(victim)
    burst = [f"burst {i}" for i in range(10)]
    for i, node in enumerate(survivors):
        _submit(node, f"others {i}")
    for text in burst:
        _submit(victim, text)
    port = victim.port  # the last submission was acknowledged milliseconds ago: kill now
    victim.kill()
    assert victim.group_pids() == set()
    # What the kill left undelivered, read from the victim's own order file.
    (order_file,) = victim.data.communities.glob("*.order.sqlite")
    on_disk = CommunityStore(order_file)
    left_pending = on_disk.pending_count()
    on_disk.close()
    assert 1 <= left_pending <= len(burst), "the kill did not come mid-wave"

    # the other three (a quorum of 3 of 4) keep finalizing
    for i, node in enumerate(survivors):
        _submit(node, f"without n3 {i}")
    expected = {f"others {i}" for i in range(3)} | {f"without n3 {i}" for i in range(3)}
    assert wait_for(lambda: _all_have(survivors, expected), STEP)

    # the victim restarts (same port, as a phone keeps its address) and catches up
    restarted = time.monotonic()
    victim.start(peers=tuple(n.address for n in survivors), extra=("--listen", f"127.0.0.1:{port}"))
    assert wait_for(lambda: _all_have([victim, *survivors], expected | set(burst)), STEP)
    print(f"restart -> caught up: {time.monotonic() - restarted:.2f} s")
    assert wait_for(lambda: len({tuple(_order(n)) for n in made}) == 1, STEP)
    final = _order(victim)
    _check_order(final)
    assert final[: len(before)] == before, "the restarted node's earlier order changed"
    status = victim.call("community_status", {"community": COMMUNITY})
    assert status["pending"] == 0 and status["delivered"] == len(final)
    # It resumed the joined community from its data dir, and the kill came mid-wave: some of
    # its acknowledged submissions were not delivered yet and were resubmitted.
    # (Processes share the pipe, so a log line may follow another's text on the same line.)
    counts = [int(m.group(1)) for x in victim.lines if (m := RESUBMITTED.search(x))]
    assert counts, "the restarted node did not resume the community"
    resubmitted = counts[-1]
    print(f"resubmitted after the kill: {resubmitted}")
    # Those the restart's replay orders from blocks already on disk are no longer pending.
    assert resubmitted <= left_pending


@pytest.mark.processes
def test_community_cli_errors_are_typed(tmp_path: Path, nodes: list[LocalNode]) -> None:
    (node,) = _make(tmp_path, 1, mdns=False)
    data = str(node.data.root)
    bad = tmp_path / "bad.genesis"
    bad.write_bytes(b"\x93not a genesis")
    result = _cli("community", "join", "--data", data, str(bad))
    assert result.returncode == 2
    assert "invalid_genesis_file" in result.stderr and "bad.genesis" in result.stderr

    other = Identity.generate().member_id.hex()
    result = _cli("community", "create", "x", "--member", "zz", "--out", str(bad))
    assert result.returncode == 2 and "unknown_name" in result.stderr
    assert "neither a petname, a member id (hex) nor a fingerprint" in result.stderr
    result = _cli("community", "create", "x", "--member", other, "--member", other, "--out", "-")
    assert result.returncode == 2 and "listed twice" in result.stderr

    nodes.append(node)
    node.start()
    result = _cli("community", "submit", "--data", data, "nowhere", "hello")
    assert result.returncode == 2
    assert "peoplenet: unknown_community: " in result.stderr and "community join" in result.stderr
    assert "UnknownCommunity" not in result.stderr  # a stable reason, never a class name
    as_json = _cli("community", "submit", "--data", data, "nowhere", "hello", "--json")
    assert as_json.returncode == 2 and as_json.stdout == ""
    error = json.loads(as_json.stderr)
    assert error["reason"] == "unknown_community" and "community join" in error["error"]
    assert _cli_json("community", "list", "--data", data) == []
