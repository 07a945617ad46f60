"""Every process of one node, found by the lock it holds; ending them all; stale locks.

Why the lock: the foreground takes ``node.lock`` (flock) before it starts the actor system,
and every actor process is forked from it afterwards, so each holds the lock's open file --
whatever session thespian moved it to, even after the foreground died.  The processes that
hold ``DATA/node.lock`` open are exactly that node's processes: ``node stop`` ends them by PID
when the control socket does not, and ``node start`` ends the orphans of a dead foreground
(their lock would otherwise refuse every start).  The runner also records its PID and the
actors' process group in ``DATA/node.pids`` (a group is only signalled while one of its
members still holds the lock, so a reused PID is never hit).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from peoplenet.runtime.kernel.proctree import alive
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir, DataDirError

STOP_GRACE_S: Final = 10.0
"""How long ``node stop`` lets the node end itself after the control socket's ``stop``."""
TERM_GRACE_S: Final = 3.0
"""After that, how long the foreground gets after SIGTERM before everything is SIGKILLed."""
CONTROL_STOP_TIMEOUT_S: Final = 3.0
KILL_WAIT_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class StopResult:
    """What ``node stop`` had to do."""

    asked: bool
    """The node took the ``stop`` request on its control socket."""
    terminated: bool
    """The foreground was sent SIGTERM (it had not ended within the grace period)."""
    killed: tuple[int, ...]
    """PIDs that had to be SIGKILLed (none after a clean stop)."""


def lock_holders(lock: Path) -> set[int]:
    """Live processes with ``lock`` open (from /proc/PID/fd; our own user's processes)."""
    target = os.fspath(lock.resolve()) if lock.exists() else os.fspath(lock)
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    found.add(int(entry))
                    break
            except OSError:
                continue
    return {pid for pid in found if alive(pid)}


def _group_members(groups: set[int]) -> set[int]:
    out: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            out.add(int(entry))
    return out


def write_pids(data: DataDir, foreground: int, actors_group: int) -> None:
    """Record the node's foreground PID and its actors' process group (for ``node stop``)."""
    tmp = data.pids_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"foreground": foreground, "actors_group": actors_group}) + "\n")
    tmp.replace(data.pids_file)


def _recorded_groups(data: DataDir) -> set[int]:
    try:
        record = json.loads(data.pids_file.read_text())
        groups = {int(record["actors_group"])}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {g for g in groups if g > 1}


def node_processes(data: DataDir) -> set[int]:
    """Every live process of the node running from ``data`` (empty: none is running)."""
    holders = lock_holders(data.lock_file)
    if not holders:
        return set()
    groups = {g for g in _recorded_groups(data) if _group_members({g}) & holders}
    return holders | _group_members(groups)


def _owner(data: DataDir) -> int | None:
    """The foreground PID written in the lock file (None if unreadable)."""
    try:
        text = data.lock_file.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _wait_gone(data: DataDir, seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := node_processes(data)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_all(data: DataDir) -> set[int]:
    """SIGKILL every process of the node until none is left (bounded); returns the PIDs hit."""
    killed: set[int] = set()
    deadline = time.monotonic() + KILL_WAIT_S
    while (left := node_processes(data)) and time.monotonic() < deadline:
        for pid in left - {os.getpid()}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.05)
    return killed


def clear_stale(data: DataDir) -> None:
    """With no process left: remove the lock, the control socket and the PID record."""
    if lock_holders(data.lock_file):
        return
    lock = data.lock()
    try:
        lock.acquire()
    except (OSError, DataDirError):
        return  # a node started meanwhile: its files are not stale
    try:
        for path in (data.control_socket, data.pids_file, data.lock_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        lock.release()


def stop_node(
    data: DataDir, grace_s: float = STOP_GRACE_S, term_s: float = TERM_GRACE_S
) -> StopResult:
    """End every process of the node: ``stop`` on the control socket, then by PID.

    Returns only when no process of the node is left.  Raises
    :class:`~peoplenet.runtime.local.control.NodeNotRunning` when there was none to begin with.
    """
    if not node_processes(data):
        clear_stale(data)
        raise control.NodeNotRunning(f"no node is running from {data.root}")
    asked = False
    with contextlib.suppress(control.NodeNotRunning, control.ControlError, OSError):
        control.call(data.control_socket, "stop", timeout=CONTROL_STOP_TIMEOUT_S)
        asked = True
    left = _wait_gone(data, grace_s if asked else 0.0)
    terminated = False
    owner = _owner(data)
    if left and owner is not None and owner in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(owner, signal.SIGTERM)
            terminated = True
        left = _wait_gone(data, term_s)
    killed = kill_all(data) if left else set()
    clear_stale(data)
    return StopResult(asked, terminated, tuple(sorted(killed)))


def end_orphans(data: DataDir) -> set[int]:
    """Before a start: SIGKILL processes left holding the lock by a foreground that is gone.

    Returns the PIDs killed (none if no process holds the lock, or its foreground lives).
    """
    holders = lock_holders(data.lock_file)
    if not holders:
        return set()
    owner = _owner(data)
    if owner is None or owner in holders:
        return set()  # a running (or just starting) node: the lock refuses the start
    return kill_all(data)


__all__ = [
    "StopResult",
    "clear_stale",
    "end_orphans",
    "kill_all",
    "lock_holders",
    "node_processes",
    "stop_node",
    "write_pids",
]
