"""Real node processes on loopback: what the demo, the multi-process tests and benches drive.

Each node runs ``python -m peoplenet node start`` in its own session (process
group), so a
crash can be simulated the way a phone dies -- every process of the node at once, with SIGKILL
-- and a clean stop can be checked to leave no process behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.keys.keyfile import FAST_TEST_PARAMS, save_identity
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir, NodeSettings
from peoplenet.runtime.wire.codec import Value

PASSPHRASE = "local test network"  # noqa: S105 - a throwaway key for loopback test nodes
_LISTEN_RE = re.compile(r"listening on (\S+):(\d+),.* actors in session (\d+)")


def create_node(
    root: Path,
    *,
    network: str,
    identity: Identity | None = None,
    mdns: bool = True,
    peers: tuple[str, ...] = (),
    auto_accept: bool = False,
) -> tuple[DataDir, Identity]:
    """A data directory with a fresh (or given) identity; cheap KDF: test keys protect nothing."""
    identity = identity or Identity.generate()
    data = DataDir(root)
    data.create(
        NodeSettings(
            network=network,
            listen_host="127.0.0.1",
            listen_port=0,
            advertise_host="127.0.0.1",
            mdns=mdns,
            mdns_interfaces=("127.0.0.1",),
            peers=peers,
            auto_accept=auto_accept,
        )
    )
    save_identity(
        data.key_file,
        identity,
        PASSPHRASE,
        opslimit=FAST_TEST_PARAMS.opslimit,
        memlimit=FAST_TEST_PARAMS.memlimit,
    )
    return data, identity


@dataclass
class LocalNode:
    """One node process and its data directory."""

    name: str
    data: DataDir
    member: MemberId
    proc: subprocess.Popen[str] | None = None
    host: str = ""
    port: int = 0
    lines: list[str] = field(default_factory=list)
    session: int = 0
    """Process group of the actor processes (thespian's admin starts its own session)."""

    def start(
        self,
        *,
        peers: tuple[str, ...] = (),
        timeout: float = 60.0,
        extra: tuple[str, ...] = (),
        passphrase: str = PASSPHRASE,
    ) -> None:
        """Start the node and wait for its "listening on" line (RuntimeError if it never comes)."""
        cmd = [
            sys.executable,
            "-m",
            "peoplenet",
            "node",
            "start",
            "--data",
            str(self.data.root),
        ]
        for peer in peers:
            cmd += ["--peer", peer]
        cmd += list(extra)
        env = dict(os.environ, PEOPLENET_PASSPHRASE=passphrase, PYTHONUNBUFFERED="1")
        self.lines = []
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        ready = threading.Event()
        self._pump_thread = threading.Thread(
            target=self._pump, args=(self.proc, ready), daemon=True
        )
        self._pump_thread.start()
        if not ready.wait(timeout) or not self.port:
            tail = "\n".join(self.lines[-20:])
            self.kill()
            raise RuntimeError(f"node {self.name} did not start:\n{tail}")

    def _close_pipe(self) -> None:
        """After the node's processes are gone: finish reading its output and close the pipe."""
        if self.proc is None or self.proc.stdout is None:
            return
        thread = getattr(self, "_pump_thread", None)
        if thread is not None:
            thread.join(5.0)
        with contextlib.suppress(OSError):
            self.proc.stdout.close()

    def _pump(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))
            match = _LISTEN_RE.search(line)
            if match and not ready.is_set():
                self.host, self.port = match.group(1), int(match.group(2))
                self.session = int(match.group(3))
                ready.set()
        ready.set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def call(self, op: str, args: dict[str, Value] | None = None) -> Any:
        return control.call(self.data.control_socket, op, args)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def group_pids(self) -> set[int]:
        """Every live process of this node: the foreground's group and the actors' group."""
        if self.proc is None:
            return set()
        groups = {self.proc.pid, self.session} - {0}
        found: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) in groups:
                found.add(int(entry.name))
        return found

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (a clean stop); SIGKILL the group if it does not finish."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        deadline = time.monotonic() + 10.0
        while self.group_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._close_pipe()
        return code

    def kill(self) -> None:
        """Crash the whole node at once (SIGKILL to its process group), as a dying phone would."""
        if self.proc is None:
            return
        for group in {self.proc.pid, self.session} - {0}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10.0)
        deadline = time.monotonic() + 10.0
        while self.group_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._close_pipe()


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` passes; errors count as false."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except (control.NodeNotRunning, control.ControlError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
