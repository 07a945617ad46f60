"""Friend-request evidence kept outside the blocklace.

Why outside: a cold-called ``Befriend`` block arrives alone, and its pointee (the requester's
previous block) is in a lace we do not replicate yet, so the blocklace would buffer it forever.
We keep the signed block here, one per ``(creator, target)``, until the creator's lace (which
we replicate once we are friends) makes it redundant, or until it is evicted: anyone can make
throwaway keys, so the social core caps how many are kept (oldest first) and for how long
(``received``, wall-clock seconds).  Lookups by creator and the oldest row are indexed, never a
scan of every row.  The SQLite variant lets pending requests survive restarts.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from peoplenet.runtime.errors import StoreError
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.lace.store import damaged, disk_full, is_corruption, is_disk_full
from peoplenet.runtime.local.file_modes import touch_private

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
    received: float = 0.0
    """When it arrived (wall-clock seconds): the oldest is evicted first, and it expires."""


class EvidenceStore(Protocol):
    def put(self, evidence: Evidence) -> None:
        """Keep ``evidence``, replacing any earlier one for the same (creator, target)."""
        ...

    def remove(self, creator: MemberId, target: MemberId) -> None: ...

    def get(self, creator: MemberId, target: MemberId) -> Evidence | None:
        """The evidence kept for (creator, target), found by index."""
        ...

    def count(self) -> int: ...

    def oldest(self) -> Evidence | None:
        """The evidence received first (by index), if any."""
        ...

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

    def get(self, creator: MemberId, target: MemberId) -> Evidence | None:
        return self._rows.get((creator, target))

    def count(self) -> int:
        return len(self._rows)

    def oldest(self) -> Evidence | None:
        return min(self._rows.values(), key=lambda e: e.received, default=None)

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
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evidence_received (
    creator BLOB NOT NULL,
    target BLOB NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (creator, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS evidence_received_at ON evidence_received (received);
"""
"""``evidence`` is the original table, unchanged; ``evidence_received`` was added beside it
(rows kept before it existed are given time 0 on opening, so they are the first evicted)."""


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
            self._db.executescript(_SCHEMA)
            self._db.execute(  # rows kept before times were recorded: the first evicted
                "INSERT OR IGNORE INTO evidence_received SELECT creator, target, 0.0 FROM evidence"
            )
            (count,) = self._db.execute("SELECT count(*) FROM evidence").fetchone()
            self._count = int(count)
            """Rows kept, counted once on opening (SQLite counts by reading every row)."""
        except sqlite3.Error as exc:
            raise _failure(self.path, f"cannot open evidence store {self.path}", exc) from exc

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("evidence store is closed")
        return self._db

    def put(self, evidence: Evidence) -> None:
        try:
            db = self._conn()
            db.execute("BEGIN")
            known = db.execute(
                "SELECT 1 FROM evidence WHERE creator = ? AND target = ?",
                (evidence.creator, evidence.target),
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO evidence VALUES (?, ?, ?, ?)",
                (evidence.creator, evidence.target, evidence.raw, evidence.block_id),
            )
            db.execute(
                "INSERT OR REPLACE INTO evidence_received VALUES (?, ?, ?)",
                (evidence.creator, evidence.target, evidence.received),
            )
            db.execute("COMMIT")
            self._count += known is None
        except sqlite3.Error as exc:
            self._rollback()
            raise _failure(self.path, "evidence put failed", exc) from exc

    def _rollback(self) -> None:
        if self._db is not None and self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def remove(self, creator: MemberId, target: MemberId) -> None:
        try:
            db = self._conn()
            db.execute("BEGIN")
            gone = db.execute(
                "DELETE FROM evidence WHERE creator = ? AND target = ?", (creator, target)
            ).rowcount
            db.execute(
                "DELETE FROM evidence_received WHERE creator = ? AND target = ?", (creator, target)
            )
            db.execute("COMMIT")
            self._count -= gone > 0
        except sqlite3.Error as exc:
            self._rollback()
            raise _failure(self.path, "evidence remove failed", exc) from exc

    _SELECT = (
        "SELECT e.creator, e.target, e.raw, e.block_id, coalesce(r.received, 0.0)"
        " FROM evidence e LEFT JOIN evidence_received r"
        " ON r.creator = e.creator AND r.target = e.target"
    )

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[Evidence]:
        try:
            rows = self._conn().execute(self._SELECT + sql, args).fetchall()
        except sqlite3.Error as exc:
            raise _failure(self.path, "evidence read failed", exc) from exc
        return [
            Evidence(MemberId(bytes(c)), MemberId(bytes(t)), bytes(r), BlockId(bytes(b)), at)
            for c, t, r, b, at in rows
        ]

    def get(self, creator: MemberId, target: MemberId) -> Evidence | None:
        found = self._rows(" WHERE e.creator = ? AND e.target = ?", (creator, target))
        return found[0] if found else None

    def count(self) -> int:
        return self._count

    def oldest(self) -> Evidence | None:
        try:
            row = (
                self._conn()
                .execute("SELECT creator, target FROM evidence_received ORDER BY received LIMIT 1")
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"evidence read failed: {exc}") from exc
        return None if row is None else self.get(MemberId(bytes(row[0])), MemberId(bytes(row[1])))

    def items(self) -> list[Evidence]:
        return self._rows(" ORDER BY e.creator, e.target")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> SqliteEvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
