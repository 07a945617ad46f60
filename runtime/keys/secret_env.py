"""Take a secret out of the environment: read it once, unset it, overwrite its bytes.

Why more than ``os.environ.pop``: on Linux a process's ``/proc/PID/environ`` shows the
environment block the kernel placed on its stack at ``exec``, not the C library's current
list; unsetting a variable only drops the pointer to it.  Every process forked afterwards
(thespian's actor processes are forked) copies that block, so the passphrase would stay
readable in all of them -- by any process of the same user, and in core dumps.  Overwriting
the bytes in place removes it from this process and from everything it forks later; unsetting
it (``os.environ.pop`` calls ``unsetenv``) keeps it from every child started with ``exec``.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

_LIBC_ENVIRON: Final = "environ"


def take_env_secret(name: str) -> str | None:
    """The variable's value (None if unset), gone from this process's environment for good.

    Call it before any other process is started: a child forked or spawned earlier keeps
    its own copy.
    """
    value = os.environ.get(name)
    if value is None:
        return None
    # Find the bytes first: unsetenv drops the pointer to them (it does not free them).
    encoded = os.fsencode(name)
    try:
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, _LIBC_ENVIRON)
    except (OSError, ValueError, AttributeError):
        environ = None
    addresses: list[tuple[int, int]] = []
    if environ is not None:
        prefix = encoded + b"="
        i = 0
        while address := environ[i]:
            entry = ctypes.string_at(address)
            if entry.startswith(prefix):
                addresses.append((address, len(entry)))
            i += 1
    os.environ.pop(name, None)  # unsetenv: exec'd children no longer inherit it
    for address, size in addresses:
        ctypes.memset(address, 0, size)
    return value


__all__ = ["take_env_secret"]
