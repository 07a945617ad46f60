"""Real node processes on loopback facing a damaged store, a wedged actor and a stale lock.

A damaged file must refuse the start (naming it) or stop the running node -- never a crash
loop; ``node stop`` must end every process of the node whatever state it is in; orphans of a
dead foreground must not lock the data directory for good.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.kernel.proctree import alive
from peoplenet.runtime.local.procs import lock_holders
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node
from peoplenet.runtime.wire.codec import encode
from tests.runtime.lace.test_store_damage import damage

pytestmark = pytest.mark.processes

REFUSE_WITHIN_S = 15.0
"""A refused start must end this fast (the old crash loop ran ~30 s, then hung on)."""


def _node(tmp_path: Path, name: str = "solo") -> LocalNode:
    data, identity = create_node(tmp_path / name, network=f"t-{time.time_ns()}", mdns=False)
    return LocalNode(name, data, identity.member_id)


def _watched(tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]) -> LocalNode:
    """A node the fixtures stop and whose leftover processes they reap, whatever the test did."""
    node = _node(tmp_path)
    nodes.append(node)
    reaper.append(node.data.root)
    return node


def _cli(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI in its own session; on timeout end it and every process of its node.

    A timeout is reported as return code None.  The node's actor processes (another session,
    perhaps orphans holding the output pipes) are found by the data directory's lock.
    """
    cmd = [sys.executable, "-m", "peoplenet", *args]
    env = dict(os.environ, PEOPLENET_PASSPHRASE=PASSPHRASE)
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        data = Path(args[args.index("--data") + 1])
        for pid in lock_holders(data / "node.lock"):
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        code = None
    return subprocess.CompletedProcess(cmd, code, out, err), time.monotonic() - started  # type: ignore[arg-type]


@pytest.fixture
def reaper() -> Iterator[list[Path]]:
    """Data directories whose lock holders are SIGKILLed at the end, whatever happened."""
    roots: list[Path] = []
    yield roots
    for root in roots:
        for pid in lock_holders(root / "node.lock"):
            os.kill(pid, signal.SIGKILL)


def _store_processes(node: LocalNode) -> set[int]:
    """The node's processes that have blocks.sqlite open: the store actor."""
    return lock_holders(node.data.blocks_db) & node.group_pids()


def _assert_nothing_left(node: LocalNode) -> None:
    assert lock_holders(node.data.lock_file) == set()
    assert node.group_pids() == set()


def test_start_on_a_damaged_store_refuses_at_once_naming_the_file(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    for i in range(5):
        node.call("post", {"text": f"post {i}"})
    assert node.stop() == 0
    damage(node.data.blocks_db)
    result, took = _cli("node", "start", "--data", str(node.data.root), timeout=40)
    assert result.returncode not in (0, None), result
    assert took < REFUSE_WITHIN_S
    assert str(node.data.blocks_db) in result.stderr and "is damaged" in result.stderr
    assert "backup" in result.stderr and "move it aside" in result.stderr
    assert "listening" not in result.stdout
    assert lock_holders(node.data.lock_file) == set()
    status, took = _cli("status", "--data", str(node.data.root), timeout=20)
    assert status.returncode == 2 and "no node is running" in status.stderr
    assert took < 5.0


def test_start_with_a_damaged_genesis_names_the_file(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _node(tmp_path)
    reaper.append(node.data.root)
    genesis = Genesis.first(b"garden", Constitution.of([bytes(node.member)], timeout_ms=500))
    lace = genesis.lace().hex()
    node.data.save_genesis(lace, encode(genesis))
    path = node.data.communities / f"{lace}.genesis"
    path.write_bytes(path.read_bytes()[:-7])
    result, took = _cli("node", "start", "--data", str(node.data.root), timeout=60)
    assert result.returncode not in (0, None), result
    assert took < REFUSE_WITHIN_S
    assert str(path) in result.stderr and "not a community genesis" in result.stderr
    assert lock_holders(node.data.lock_file) == set()


def test_store_damaged_while_running_stops_the_node_with_the_file_named(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    for i in range(5):
        node.call("post", {"text": f"post {i}"})
    assert node.stop() == 0  # checkpointed: the blocks are in the main file
    node.start()
    store = _store_processes(node)
    assert store
    for pid in store:
        os.kill(pid, signal.SIGSTOP)
    damage(node.data.blocks_db)
    for suffix in ("-wal", "-shm"):  # pages written since the start: lost with the disk
        Path(f"{node.data.blocks_db}{suffix}").unlink(missing_ok=True)
    for pid in store:
        os.kill(pid, signal.SIGKILL)  # the restarted store reads the damaged pages
    assert node.proc is not None
    try:
        code = node.proc.wait(REFUSE_WITHIN_S)
    except subprocess.TimeoutExpired:
        code = None
    assert code not in (0, None), "the node went on running on a damaged store"
    output = "\n".join(node.lines)
    assert "node_failed" in output and str(node.data.blocks_db) in output
    # restarted once after the SIGKILL above; never again after it found the damage
    assert output.count('"child_restarted"') == 1, "a damaged store was restarted"
    deadline = time.monotonic() + 10
    while node.group_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    _assert_nothing_left(node)


def test_node_stop_ends_a_wedged_node_completely(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    actors = node.group_pids() - {node.pid}
    assert actors
    for pid in actors:  # every actor process hangs (admin, logger, supervisor, children)
        os.kill(pid, signal.SIGSTOP)
    result, took = _cli("node", "stop", "--data", str(node.data.root), timeout=60)
    assert result.returncode == 0, result
    assert "node stopped" in result.stdout
    _assert_nothing_left(node)  # at once: when `node stop` returns, nothing is left
    assert not node.data.lock_file.exists() and not node.data.control_socket.exists()
    assert took < 30.0


def _orphan(node: LocalNode) -> set[int]:
    """Kill the node's foreground only, with its actors hung: they keep the lock."""
    actors = node.group_pids() - {node.pid}
    for pid in actors:
        os.kill(pid, signal.SIGSTOP)
    os.kill(node.pid, signal.SIGKILL)
    assert node.proc is not None
    node.proc.wait(10)
    orphans = lock_holders(node.data.lock_file)
    assert orphans and node.pid not in orphans
    return orphans


def test_node_start_recovers_a_lock_held_by_orphans_of_a_dead_node(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    orphans = _orphan(node)
    again = LocalNode(node.name, node.data, node.member)
    nodes.append(again)
    again.start()  # raises if the start is refused
    assert any("processes left by a node that died" in line for line in again.lines)
    assert not orphans & lock_holders(node.data.lock_file)
    assert again.call("status")["member"] == node.member.hex()
    assert again.stop() == 0
    _assert_nothing_left(again)
    _assert_nothing_left(node)


def test_node_stop_ends_orphans_of_a_dead_node(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    orphans = _orphan(node)
    result, _ = _cli("node", "stop", "--data", str(node.data.root), timeout=60)
    assert result.returncode == 0, result
    assert lock_holders(node.data.lock_file) == set()
    assert not any(alive(pid) for pid in orphans)  # (zombies wait for init to reap them)
    again, _ = _cli("node", "stop", "--data", str(node.data.root), timeout=20)
    assert again.returncode == 2 and "no node is running" in again.stderr


@pytest.mark.slow
def test_a_child_that_keeps_failing_ends_the_node_at_the_restart_bound(
    tmp_path: Path, nodes: list[LocalNode], reaper: list[Path]
) -> None:
    node = _watched(tmp_path, nodes, reaper)
    node.start()
    store = _store_processes(node)
    assert store
    for pid in store:
        os.kill(pid, signal.SIGSTOP)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{node.data.blocks_db}{suffix}").unlink(missing_ok=True)
    node.data.blocks_db.mkdir()  # not damage: an ordinary StoreError, restarted each time
    for pid in store:
        os.kill(pid, signal.SIGKILL)
    assert node.proc is not None
    try:
        code = node.proc.wait(90)  # children: 5 restarts, supervisor: 3 restarts (~30 s)
    except subprocess.TimeoutExpired:
        code = None
    assert code not in (0, None), "the node ran on without its store"
    output = "\n".join(node.lines)
    assert "node_failed" in output and "is a directory" in output
    deadline = time.monotonic() + 10
    while node.group_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    _assert_nothing_left(node)
