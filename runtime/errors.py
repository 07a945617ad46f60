"""The runtime's error hierarchy: every error says who is at fault.

* :class:`LocalError` -- our own caller misused an API (a bug or a bad argument here).
* :class:`RemoteProtocolError` -- bytes or blocks that came from outside were malformed,
  forged or inconsistent.  The decoder and validators raise only this for bad input, never
  another exception, so a network shell can catch one type, log it, and drop the peer.
* :class:`PluginError` -- an app's code (third-party, run by the node) or the keyless worker
  process that runs it failed or broke the contract: the app's fault, not the node's.
* :class:`KeyFileError` -- a key file on disk could not be used (wrong passphrase, corruption).
* :class:`StoreError` -- the block store could not do its job (disk, schema, integrity).
* :class:`Unrecoverable` -- marks errors that restarting cannot fix (a damaged file): actor
  supervisors stop the node instead of retrying.

Every error has a stable ``reason``: short snake_case, a class attribute that subclasses
refine (an error that carries a finer stable code of its own, such as a peer's malformed
input or an app's refusal, sets it per instance).  The control socket, the command line and
its ``--json`` errors carry the reason, never a Python class name, so renaming a class breaks
no script.  docs/network.md has the table.
"""

from __future__ import annotations

import re
from typing import Final

REASON: Final = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
"""What a reason looks like: short snake_case (``unknown_community``)."""


class PeoplenetError(Exception):
    """Root of every error raised by Peoplenet code.  Never raised itself."""

    reason: str = "error"
    """Stable, snake_case: what went wrong, for scripts (see the module)."""

    def __init__(self, *args: object) -> None:
        if type(self) is PeoplenetError:
            raise TypeError("PeoplenetError is abstract; raise a subclass")
        super().__init__(*args)


def reason_of(exc: BaseException) -> str:
    """The stable reason of any exception: its own, else its class's (an app may hand over a
    code that is not snake_case), or ``internal_error`` for one of Python's (a bug: its class
    name would be no contract)."""
    if isinstance(exc, PeoplenetError):
        for reason in (getattr(exc, "reason", None), type(exc).reason):
            if isinstance(reason, str) and REASON.match(reason):
                return reason
    return "internal_error"


class LocalError(PeoplenetError):
    """Our caller did something wrong: an invalid argument or a call in the wrong state."""

    reason = "invalid_request"


class EncodeError(LocalError):
    """A value cannot be put in canonical form (unsupported type, float, oversize...)."""

    reason = "cannot_encode"


class RemoteProtocolError(PeoplenetError):
    """Input from outside (a peer, a file, a frame) is malformed, forged or inconsistent.

    ``reason`` is a short stable code usable in logs and metrics; ``detail`` is for humans.
    """

    reason = "bad_input"

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InvalidBlock(RemoteProtocolError):
    """A block is well encoded but breaks a blocklace rule (signature, chain, pointers)."""

    reason = "invalid_block"

    def __init__(self, reason: str, detail: str = "", *, block_id: bytes | None = None) -> None:
        self.block_id = block_id
        super().__init__(reason, detail)


class PluginError(PeoplenetError):
    """An app broke the contract (bad declaration, bad return value), or its code or the worker
    process running it failed: the app's fault.  The node contains it and goes on.

    The public name apps see is ``peoplenet.plugins.api.PluginError`` (this class)."""

    reason = "plugin_error"


class KeyFileError(PeoplenetError):
    """A key file cannot be used."""

    reason = "key_file_unusable"


class WrongPassphrase(KeyFileError):
    """The key file is intact, but the passphrase does not open it."""

    reason = "wrong_passphrase"


class CorruptKeyFile(KeyFileError):
    """The key file is damaged or is not a Peoplenet key file."""

    reason = "corrupt_key_file"


class StoreError(PeoplenetError):
    """The block store failed (I/O, schema mismatch, integrity check)."""

    reason = "store_failed"


class Unrecoverable(PeoplenetError):
    """Restarting cannot fix this (a damaged file): supervisors give up at once.

    A mixin for concrete errors; the actor kernel escalates a child that crashed with one
    instead of restarting it, up to the top, so the node stops with this error's message.
    """

    reason = "unrecoverable"


class DiskFull(StoreError):
    """A write failed for want of space: nothing acknowledged is lost, the node stays up.

    Raised for SQLite's ``SQLITE_FULL`` and for ``ENOSPC``/``EDQUOT``; the write that failed
    was not made (SQLite rolls the transaction back), everything stored before is intact.
    """

    reason = "disk_full"


class StoreCorrupt(StoreError, Unrecoverable):
    """A SQLite file of the node is damaged (malformed, not a database): the node must stop."""

    reason = "store_corrupt"


class DemoFailed(LocalError):
    """A demo's own check failed: a step was refused, or what it shows did not happen in time
    (a bug, or a machine too loaded for the demo's deadlines)."""

    reason = "demo_failed"


__all__ = [
    "REASON",
    "CorruptKeyFile",
    "DemoFailed",
    "DiskFull",
    "EncodeError",
    "InvalidBlock",
    "KeyFileError",
    "LocalError",
    "PeoplenetError",
    "PluginError",
    "RemoteProtocolError",
    "StoreCorrupt",
    "StoreError",
    "Unrecoverable",
    "WrongPassphrase",
    "reason_of",
]
