"""A node against the other users of its machine: the passphrase and the data directory.

The passphrase given in $PEOPLENET_PASSPHRASE must be in no process of a running node
(``/proc/PID/environ`` is readable by every process of the same user, and forked actors copy
it); every file and directory of a data directory must be the member's alone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.keys.secret_env import take_env_secret
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.local.file_modes import NotPrivate, make_private, open_to_others
from peoplenet.runtime.local.procs import node_processes
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node
from peoplenet.runtime.wire.codec import encode
from tests.cli_run import run_cli

pytestmark = pytest.mark.processes

SECRET = "correct horse battery staple 4711"


def _environ(pid: int) -> bytes:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        return handle.read()


def test_the_passphrase_is_in_no_process_of_a_running_node(
    lone_node: Callable[..., LocalNode],
) -> None:
    node = lone_node()
    data = node.data
    pids = node_processes(data) | node.group_pids()
    assert node.pid in pids and len(pids) >= 5  # the foreground and the actor processes
    for pid in sorted(pids):
        environ = _environ(pid)
        assert b"PEOPLENET_PASSPHRASE" not in environ, f"pid {pid} holds the variable"
        assert PASSPHRASE.encode() not in environ, f"pid {pid} holds the passphrase"
    assert node.stop() == 0


def test_a_taken_secret_leaves_the_environment_block_and_forked_children() -> None:
    """The variable set at exec (in /proc/PID/environ), taken, is gone there and in a fork."""
    probe = (
        "import os, sys\n"
        "from peoplenet.runtime.keys.secret_env import take_env_secret\n"
        "value = take_env_secret('PEOPLENET_PASSPHRASE')\n"
        "mine = open('/proc/self/environ', 'rb').read()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    child = open('/proc/self/environ', 'rb').read()\n"
        "    os._exit(3 if b'battery' in child else 0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(value, b'battery' in mine, 'PEOPLENET_PASSPHRASE' in os.environ,"
        " os.waitstatus_to_exitcode(status))\n"
    )
    project = str(Path(__file__).resolve().parents[3])
    env = {"PEOPLENET_PASSPHRASE": SECRET, "PATH": "/usr/bin:/bin", "PYTHONPATH": project}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [*SECRET.split(), "False", "False", "0"]


def test_take_env_secret_of_an_unset_variable_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PEOPLENET_TEST_UNSET", raising=False)
    assert take_env_secret("PEOPLENET_TEST_UNSET") is None
    monkeypatch.setenv("PEOPLENET_TEST_SET", "x")
    assert take_env_secret("PEOPLENET_TEST_SET") == "x"
    assert "PEOPLENET_TEST_SET" not in os.environ


def _modes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*")}


def test_every_file_of_a_used_data_directory_is_private(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    root = tmp_path / "node"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)  # made beforehand, readable by everyone
    init = run_cli(
        "init", "--data", str(root), "--listen", "127.0.0.1:0", "--no-mdns",
        "--network", f"t-{time.time_ns()}", passphrase=PASSPHRASE,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert f"made private: {root}: mode 0755 -> 0700" in init.stdout
    data = DataDir(root)
    identity_line = next(line for line in init.stdout.splitlines() if line.startswith("member"))
    node = LocalNode("n", data, bytes.fromhex(identity_line.split()[-1]))  # type: ignore[arg-type]
    nodes.append(node)
    node.start()
    node.call("post", {"text": "only for my friends"})
    genesis = Genesis.first(b"garden", Constitution.of([bytes(node.member)], timeout_ms=500))
    node.call("community_join", {"genesis": encode(genesis)})
    named = run_cli("friends", "name", node.member.hex(), "myself", "--data", str(root),
                    passphrase=PASSPHRASE)  # fmt: skip
    assert named.returncode == 0, named.stderr
    # while running: the SQLite -wal and -shm files, the socket, the lock, the logs
    running = open_to_others(root)
    assert running == [], _modes(root)
    assert any(p.name.endswith("-wal") for p in root.rglob("*"))
    assert (root / "petnames.json").exists()
    assert list((root / "communities").glob("*.sqlite"))
    assert node.stop() == 0
    assert open_to_others(root) == [], _modes(root)


def test_start_fixes_a_data_directory_others_can_read(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    data, identity = create_node(tmp_path / "n", network=f"t-{time.time_ns()}", mdns=False)
    os.chmod(data.root, 0o755)
    os.chmod(data.config_file, 0o644)
    node = LocalNode("n", data, identity.member_id)
    nodes.append(node)
    node.start()
    said = "\n".join(node.lines)
    assert f"made private: {data.root}: mode 0755 -> 0700" in said
    assert f"made private: {data.config_file}: mode 0644 -> 0600" in said
    assert open_to_others(data.root) == []
    assert node.stop() == 0


def test_a_data_directory_owned_by_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "theirs"
    root.mkdir(mode=0o700)
    owner = root.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # we are someone else now
    with pytest.raises(NotPrivate, match=f"owned by uid {owner}, not by you"):
        make_private(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700  # nothing was changed
