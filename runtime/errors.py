"""The runtime's error hierarchy: every error says who is at fault.

* :class:`LocalError` -- our own caller misused an API (a bug or a bad argument here).
* :class:`RemoteProtocolError` -- bytes or blocks that came from outside were malformed,
  forged or inconsistent.  The decoder and validators raise only this for bad input, never
  another exception, so a network shell can catch one type, log it, and drop the peer.
* :class:`KeyFileError` -- a key file on disk could not be used (wrong passphrase, corruption).
* :class:`StoreError` -- the block store could not do its job (disk, schema, integrity).
* :class:`Unrecoverable` -- marks errors that restarting cannot fix (a damaged file): actor
  supervisors stop the node instead of retrying.
"""

from __future__ import annotations


class PeoplenetError(Exception):
    """Root of every error raised by Peoplenet code.  Never raised itself."""

    def __init__(self, *args: object) -> None:
        if type(self) is PeoplenetError:
            raise TypeError("PeoplenetError is abstract; raise a subclass")
        super().__init__(*args)


class LocalError(PeoplenetError):
    """Our caller did something wrong: an invalid argument or a call in the wrong state."""


class EncodeError(LocalError):
    """A value cannot be put in canonical form (unsupported type, float, oversize...)."""


class RemoteProtocolError(PeoplenetError):
    """Input from outside (a peer, a file, a frame) is malformed, forged or inconsistent.

    ``reason`` is a short stable code usable in logs and metrics; ``detail`` is for humans.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InvalidBlock(RemoteProtocolError):
    """A block is well encoded but breaks a blocklace rule (signature, chain, pointers)."""

    def __init__(self, reason: str, detail: str = "", *, block_id: bytes | None = None) -> None:
        self.block_id = block_id
        super().__init__(reason, detail)


class KeyFileError(PeoplenetError):
    """A key file cannot be used."""


class WrongPassphrase(KeyFileError):
    """The key file is intact, but the passphrase does not open it."""


class CorruptKeyFile(KeyFileError):
    """The key file is damaged or is not a Peoplenet key file."""


class StoreError(PeoplenetError):
    """The block store failed (I/O, schema mismatch, integrity check)."""


class Unrecoverable(PeoplenetError):
    """Restarting cannot fix this (a damaged file): supervisors give up at once.

    A mixin for concrete errors; the actor kernel escalates a child that crashed with one
    instead of restarting it, up to the top, so the node stops with this error's message.
    """


class DiskFull(StoreError):
    """A write failed for want of space: nothing acknowledged is lost, the node stays up.

    Raised for SQLite's ``SQLITE_FULL`` and for ``ENOSPC``/``EDQUOT``; the write that failed
    was not made (SQLite rolls the transaction back), everything stored before is intact.
    """


class StoreCorrupt(StoreError, Unrecoverable):
    """A SQLite file of the node is damaged (malformed, not a database): the node must stop."""
