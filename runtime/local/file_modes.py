"""Private files: the data directory is the member's alone (0700 directories, 0600 files).

Why: the data directory holds the member's posts, friends and communities in plain SQLite;
other local users must not read them.  Three layers: the CLI and the node set umask 0o077
before creating anything (SQLite's -wal and -shm files, logs, sockets follow it); files the
node creates itself get an explicit mode as well; and before a node starts, the directory
tree is checked: group/other bits are removed (and said), and a directory or file owned by
another user is refused -- whoever owns it could read or replace the member's data.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from peoplenet.runtime.errors import LocalError

PRIVATE_UMASK: Final = 0o077
"""No group or other bits on anything created."""
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_OPEN_TO_OTHERS: Final = 0o077


class NotPrivate(LocalError):
    """The data directory (or something in it) belongs to another user: refused."""

    reason = "not_private"


def private_umask() -> int:
    """Set umask 0o077 for this process (and every process it starts); the old one."""
    return os.umask(PRIVATE_UMASK)


def touch_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (before SQLite opens it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except IsADirectoryError:
        return  # the opener reports it with its own message
    os.close(fd)


def make_private(root: Path) -> list[str]:
    """Remove group/other bits under ``root`` (itself included); one line per fix made.

    Raises :class:`NotPrivate` if ``root`` or anything in it is owned by another user.
    Symbolic links are neither followed nor changed.
    """
    me = os.geteuid()
    fixes: list[str] = []
    for path in [root, *_walk(root)]:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue  # removed meanwhile (a temporary file)
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_uid != me:
            raise NotPrivate(
                f"{path} is owned by uid {info.st_uid}, not by you (uid {me}): a data directory "
                "must be yours alone; copy it to a directory of your own"
            )
        mode = stat.S_IMODE(info.st_mode)
        if mode & _OPEN_TO_OTHERS:
            wanted = mode & ~_OPEN_TO_OTHERS
            os.chmod(path, wanted)
            fixes.append(f"{path}: mode {mode:04o} -> {wanted:04o} (others could read it)")
    return fixes


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        out.extend(Path(top, name) for name in dirs)
        out.extend(Path(top, name) for name in files)
    return out


def open_to_others(root: Path) -> list[Path]:
    """Everything under ``root`` (itself included) with a group or other permission bit."""
    return [
        p
        for p in [root, *_walk(root)]
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & _OPEN_TO_OTHERS
    ]


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "PRIVATE_UMASK",
    "NotPrivate",
    "make_private",
    "open_to_others",
    "private_umask",
    "touch_private",
]
