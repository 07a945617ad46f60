"""Friend-request evidence kept outside the blocklace.

Why outside: a cold-called ``Befriend`` block arrives alone, and its pointee (the requester's
previous block) is in a lace we do not replicate yet, so the blocklace would buffer it forever.
We keep the signed block here, one per ``(creator, target)``, until the creator's lace (which
we replicate once we are friends) makes it redundant.  The SQLite variant lets pending
requests survive restarts.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runtime.block import BlockId
from runtime.errors import StoreError
from runtime.file_modes import touch_private
from runtime.identity import MemberId
from runtime.store import damaged, disk_full, is_corruption, is_disk_full

EVIDENCE_REFILL = "friend requests not yet accepted are lost; their senders can ask again"


def _failure(path: str, what: str, exc: sqlite3.Error) -> StoreError:
    """A damaged file is fatal for the node (see :func:`damaged`); anything else is not."""
    if is_disk_full(exc):
        return disk_full(path, exc)
    if is_corruption(exc):
        return damaged(path, exc, EVIDENCE_REFILL)
    return StoreError(f"{what}: {exc}")


@dataclass(frozen=True, slots=True)
class Evidence:
    creator: MemberId
    target: MemberId
    raw: bytes
    """The signed block's canonical bytes."""
    block_id: BlockId


class EvidenceStore(Protocol):
    def put(self, evidence: Evidence) -> None:
        """Keep ``evidence``, replacing any earlier one for the same (creator, target)."""
        ...

    def remove(self, creator: MemberId, target: MemberId) -> None: ...

    def items(self) -> list[Evidence]:
        """Everything kept, sorted by (creator, target)."""
        ...

    def close(self) -> None: ...


class MemoryEvidenceStore:
    """A dict: durable across simulated crashes when the node's factory closes over it."""

    def __init__(self) -> None:
        self._rows: dict[tuple[MemberId, MemberId], Evidence] = {}

    def put(self, evidence: Evidence) -> None:
        self._rows[(evidence.creator, evidence.target)] = evidence

    def remove(self, creator: MemberId, target: MemberId) -> None:
        self._rows.pop((creator, target), None)

    def items(self) -> list[Evidence]:
        return [self._rows[k] for k in sorted(self._rows)]

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    creator BLOB NOT NULL,
    target BLOB NOT NULL,
    raw BLOB NOT NULL,
    block_id BLOB NOT NULL,
    PRIMARY KEY (creator, target)
) WITHOUT ROWID
"""


class SqliteEvidenceStore:
    """One small SQLite file (WAL, synchronous=FULL), one table."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            touch_private(Path(self.path))  # 0600 whatever the umask
        except OSError as exc:
            raise StoreError(f"cannot open evidence store {self.path}: {exc}") from exc
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise _failure(self.path, f"cannot open evidence store {self.path}", exc) from exc

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("evidence store is closed")
        return self._db

    def put(self, evidence: Evidence) -> None:
        try:
            self._conn().execute(
                "INSERT OR REPLACE INTO evidence VALUES (?, ?, ?, ?)",
                (evidence.creator, evidence.target, evidence.raw, evidence.block_id),
            )
        except sqlite3.Error as exc:
            raise _failure(self.path, "evidence put failed", exc) from exc

    def remove(self, creator: MemberId, target: MemberId) -> None:
        try:
            self._conn().execute(
                "DELETE FROM evidence WHERE creator = ? AND target = ?", (creator, target)
            )
        except sqlite3.Error as exc:
            raise _failure(self.path, "evidence remove failed", exc) from exc

    def items(self) -> list[Evidence]:
        try:
            rows = self._conn().execute(
                "SELECT creator, target, raw, block_id FROM evidence ORDER BY creator, target"
            )
            return [
                Evidence(MemberId(bytes(c)), MemberId(bytes(t)), bytes(r), BlockId(bytes(b)))
                for c, t, r, b in rows
            ]
        except sqlite3.Error as exc:
            raise _failure(self.path, "evidence read failed", exc) from exc

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> SqliteEvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
