"""Real node processes on loopback: discovery, befriending, dissemination, crash and recovery.

Every node runs ``peoplenet node start`` in its own process group; the fixture stops them all
(SIGTERM, then SIGKILL of the group) whatever happens, and checks nothing was left behind.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.net.sockets_probe import is_loopback, listening_sockets
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from tests.cli_run import run_cli

pytestmark = pytest.mark.processes

STEP = 60.0


def _ids(value: Any, section: str) -> set[str]:
    assert isinstance(value, dict)
    entries = value[section]
    assert isinstance(entries, list)
    return {str(e["member"]) for e in entries if isinstance(e, dict)}


def _feed(node: LocalNode) -> list[str]:
    feed = node.call("feed", {"limit": 500})
    assert isinstance(feed, list)
    return [str(item["text"]) for item in feed if isinstance(item, dict)]


def _make(tmp_path: Path, names: list[str], *, mdns: bool = True) -> list[LocalNode]:
    network = f"test-{time.time_ns()}"
    out = []
    for name in names:
        data, identity = create_node(tmp_path / name, network=network, mdns=mdns)
        out.append(LocalNode(name, data, identity.member_id))
    return out


def _befriend(a: LocalNode, b: LocalNode) -> None:
    a.call("befriend", {"member": b.member.hex()})
    assert wait_for(lambda: a.member.hex() in _ids(b.call("friends"), "pending"), STEP)
    b.call("accept", {"member": a.member.hex()})
    assert wait_for(
        lambda: (
            b.member.hex() in _ids(a.call("friends"), "friends")
            and a.member.hex() in _ids(b.call("friends"), "friends")
        ),
        STEP,
    )


def test_five_nodes_discover_befriend_disseminate_and_recover_from_sigkill(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    made = _make(tmp_path, ["n0", "n1", "n2", "n3", "n4"])
    for node in made:
        nodes.append(node)
        node.start()
    # zeroconf: everyone finds everyone else on the loopback interface
    for node in made:
        others = {n.member.hex() for n in made if n is not node}

        def found(node: LocalNode = node, others: set[str] = others) -> bool:
            peers = node.call("peers")
            assert isinstance(peers, list)
            return others <= {
                str(p["member"]) for p in peers if isinstance(p, dict) and p["source"] == "mdns"
            }

        assert wait_for(found, STEP), f"{node.name} did not discover everyone"
    # a star around n0 plus n1-n2: n0 is friends with all
    hub = made[0]
    for other in made[1:]:
        _befriend(other, hub)
    _befriend(made[1], made[2])
    for node in made:
        node.call("post", {"text": f"first post by {node.name}"})
    # every friend of n0 sees n0's post; n0 sees all; n2 sees n1's (a friend), not n3's
    assert wait_for(lambda: {f"first post by {n.name}" for n in made} <= set(_feed(hub)), STEP)
    for node in made[1:]:
        assert wait_for(lambda node=node: "first post by n0" in _feed(node), STEP)
    assert wait_for(lambda: "first post by n1" in _feed(made[2]), STEP)
    assert "first post by n3" not in _feed(made[2]), "a non-followed creator's post arrived"

    # crash n3 the way a phone dies: SIGKILL to every process of the node
    victim = made[3]
    before = _feed(victim)
    victim.kill()
    assert victim.group_pids() == set()
    hub.call("post", {"text": "while n3 was down"})
    made[1].call("post", {"text": "n1 while n3 was down"})
    time.sleep(0.5)
    victim.start()
    assert wait_for(lambda: "while n3 was down" in _feed(victim), STEP)
    after = _feed(victim)
    assert set(before) <= set(after), "the restarted node lost posts"
    assert "first post by n3" in after, "the node's own post did not survive the crash"
    # n3 does not follow n1, so n1's post never reaches it
    assert "n1 while n3 was down" not in after
    status = victim.call("status")
    assert isinstance(status, dict)
    assert status["friends"] == 1


def test_only_the_peer_transport_listens_beyond_loopback(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    (node,) = _make(tmp_path, ["solo"])
    nodes.append(node)
    node.start(extra=("--listen", "0.0.0.0:0"))
    sockets = listening_sockets(node.group_pids())
    exposed = [s for s in sockets if not is_loopback(s.host)]
    tcp = {(s.proto, s.port) for s in exposed if s.proto.startswith("tcp")}
    assert tcp == {("tcp", node.port)}, f"unexpected TCP listeners: {exposed}"
    udp = {s.port for s in exposed if s.proto.startswith("udp")}
    assert udp <= {5353}, f"unexpected UDP sockets: {exposed}"  # zeroconf's mDNS listener
    # thespian (multiprocQueueBase) binds nothing at all, not even on loopback
    assert all(s.port in (node.port, 5353) for s in sockets), sockets


def test_clean_stop_leaves_no_process_and_exits_zero(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    (node,) = _make(tmp_path, ["solo"], mdns=False)
    nodes.append(node)
    node.start()
    pids = node.group_pids()
    assert len(pids) >= 4  # the foreground, thespian's admin and logger, our actors
    assert node.stop() == 0
    assert node.group_pids() == set()
    assert any("node stopped" in line for line in node.lines)


def _cli(*args: str, passphrase: str = "local test network") -> subprocess.CompletedProcess[str]:
    return run_cli(*args, passphrase=passphrase)


def test_clear_errors_for_wrong_passphrase_busy_port_and_missing_dir(tmp_path: Path) -> None:
    (node,) = _make(tmp_path, ["solo"], mdns=False)
    data = str(node.data.root)
    wrong = _cli("node", "start", "--data", data, passphrase="not it")
    assert wrong.returncode == 2
    assert "passphrase" in wrong.stderr.lower()

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("node", "start", "--data", data, "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr.lower()

    missing = _cli("status", "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "peoplenet init --data" in missing.stderr

    not_running = _cli("post", "--data", data, "hello")
    assert not_running.returncode == 2
    assert "no node is running" in not_running.stderr
