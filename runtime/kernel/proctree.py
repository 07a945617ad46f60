"""Process-tree helpers from /proc: find an admin's descendants and make sure they end.

Why: thespian double-forks its admin (its parent is PID 1), and a shutdown that fails leaves
the admin, logger and actors running with our stdout/stderr; the handle kills them by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def why_not_running(pid: int | None) -> str | None:
    """Why process ``pid`` cannot answer messages now (None: it can, or it is unknown).

    Stopped (SIGSTOP, a debugger) or ended but not yet noticed by its parent: a message sent
    to it waits for nothing.  Unreadable /proc (another OS) says nothing.
    """
    if pid is None:
        return None
    fields = _stat(pid)
    if fields is None:
        return f"has ended (process {pid})" if os.path.isdir("/proc/self") else None
    if fields[0] in ("T", "t"):
        return f"is stopped (process {pid} got SIGSTOP or is being traced)"
    if fields[0] in ("Z", "X"):
        return f"has ended (process {pid})"
    return None


def tree(root: int) -> set[int]:
    """``root`` and every live descendant of it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    out = {root} if root in parents else set()
    frontier = set(out)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - out
        out |= frontier
    return out


def reap(pids: set[int], grace_s: float) -> set[int]:
    """Wait up to ``grace_s`` for ``pids`` to end, then SIGKILL the rest; returns those killed."""
    deadline = time.monotonic() + grace_s
    while (left := {p for p in pids if alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left
