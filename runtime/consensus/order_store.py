"""A community's durable side on one node: the delivered order and my pending submissions.

Why a table of its own next to the blocklace: the consensus core replays *every* delivery
from epoch 0 position 0 after a restart (it keeps no cursor).  This store is the cursor.
:meth:`CommunityStore.record` appends deliveries it has not seen -- by ``(epoch, position)``
-- and checks that replayed ones equal what it stored, so a restart never hands a
transaction on twice, never skips one, and notices if the order ever changed.

Pending submissions are written here before the node acknowledges them, and resubmitted
after a restart (the core deduplicates by encoding); they leave when they are delivered.
SQLite in WAL with ``synchronous=FULL``: an acknowledged write survives a power cut.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from peoplenet.runtime.consensus.core import Delivery, key_of_encoding, tx_key
from peoplenet.runtime.errors import StoreError
from peoplenet.runtime.lace.store import damaged, disk_full, is_corruption, is_disk_full
from peoplenet.runtime.local.file_modes import touch_private
from peoplenet.runtime.wire.codec import Value, decode, encode

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = (
    """CREATE TABLE delivered (
        epoch    INTEGER NOT NULL,
        position INTEGER NOT NULL,
        block    BLOB NOT NULL,
        creator  BLOB NOT NULL,
        tx       BLOB NOT NULL,
        key      BLOB NOT NULL,
        PRIMARY KEY (epoch, position)
    )""",
    "CREATE INDEX delivered_by_key ON delivered (key)",
    """CREATE TABLE pending (
        seq  INTEGER PRIMARY KEY AUTOINCREMENT,
        key  BLOB NOT NULL UNIQUE,
        tx   BLOB NOT NULL
    )""",
)


class CommunityStoreError(StoreError):
    """The community file is unusable, or a replayed delivery contradicts the stored order."""

    reason = "community_store_failed"


ORDER_REFILL: Final = (
    "the order is then rebuilt from the community's blocks; pending submissions are lost"
)


def _failure(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """A damaged file is fatal for the node (see :func:`damaged`); anything else is not."""
    if is_disk_full(exc):
        return disk_full(path, exc)
    if is_corruption(exc):
        return damaged(path, exc, ORDER_REFILL)
    return CommunityStoreError(f"{what} {path}: {exc}")


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """One row of the delivered order (the transaction still encoded)."""

    epoch: int
    position: int
    block: bytes
    creator: bytes
    tx: bytes

    @property
    def value(self) -> Value:
        return decode(self.tx)


class CommunityStore:
    """The ``delivered`` and ``pending`` tables of one community (one SQLite file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            touch_private(self.path)  # 0600 whatever the umask
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        except OSError as exc:
            raise CommunityStoreError(f"cannot open {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise CommunityStoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            self._setup()
            query = "SELECT epoch, count(*) FROM delivered GROUP BY epoch"
            self._next: dict[int, int] = dict(self._read(query))
        except BaseException:
            self._conn.close()
            raise
        """Per epoch: the position the next new delivery must have."""

    def _setup(self) -> None:
        conn = self._conn
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise CommunityStoreError(f"{self.path}: unknown schema version {version}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            if version == 0:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _failure(self.path, "cannot use", exc) from exc

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read; a damaged file raises :class:`~peoplenet.runtime.errors.StoreCorrupt`."""
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise _failure(self.path, "cannot read", exc) from exc

    def close(self) -> None:
        self._conn.close()

    # -- the delivered order -----------------------------------------------------------------

    def record(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Store the deliveries not stored yet (in one transaction); return those, in order.

        A delivery already stored must equal the stored row (else :class:`CommunityStoreError`:
        the order changed under us); one beyond the next free position is a gap (also refused).
        """
        new: list[Delivery] = []
        rows: list[tuple[int, int, bytes, bytes, bytes, bytes]] = []
        expect = dict(self._next)
        for d in deliveries:
            nxt = expect.get(d.epoch, 0)
            raw = encode(d.tx)
            if d.position < nxt:
                self._check_replay(d, raw)
                continue
            if d.position > nxt:
                raise CommunityStoreError(
                    f"delivery gap in epoch {d.epoch}: got position {d.position}, expected {nxt}"
                )
            expect[d.epoch] = nxt + 1
            key = key_of_encoding(raw)  # the encoding is at hand: no second one for the key
            rows.append((d.epoch, d.position, bytes(d.block), bytes(d.creator), raw, key))
            new.append(d)
        if rows:
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    self._conn.executemany(
                        "INSERT INTO delivered (epoch, position, block, creator, tx, key)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    self._conn.executemany(
                        "DELETE FROM pending WHERE key = ?", [(row[5],) for row in rows]
                    )
            except sqlite3.Error as exc:
                raise _failure(self.path, "cannot record deliveries in", exc) from exc
            self._next = expect
        return new

    def _check_replay(self, d: Delivery, raw: bytes) -> None:
        rows = self._read(
            "SELECT block, creator, tx FROM delivered WHERE epoch = ? AND position = ?",
            (d.epoch, d.position),
        )
        row = rows[0] if rows else None
        if row is None or (row[0], row[1], row[2]) != (bytes(d.block), bytes(d.creator), raw):
            raise CommunityStoreError(
                f"replayed delivery ({d.epoch}, {d.position}) differs from the stored one"
            )

    def delivered_count(self) -> int:
        return sum(self._next.values())

    def order(self, offset: int = 0, limit: int = 100_000) -> list[StoredDelivery]:
        """The delivered order, oldest first."""
        rows = self._read(
            "SELECT epoch, position, block, creator, tx FROM delivered"
            " ORDER BY epoch, position LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [StoredDelivery(*row) for row in rows]

    def is_delivered(self, tx: Value) -> bool:
        found = self._read("SELECT 1 FROM delivered WHERE key = ? LIMIT 1", (tx_key(tx),))
        return bool(found)

    # -- my pending submissions --------------------------------------------------------------

    def add_pending(self, tx: Value) -> bool:
        """Store ``tx`` durably as submitted; False if it is already pending or delivered."""
        if self.is_delivered(tx):
            return False
        raw = encode(tx)
        try:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                cursor = self._conn.execute(
                    "INSERT OR IGNORE INTO pending (key, tx) VALUES (?, ?)",
                    (key_of_encoding(raw), raw),
                )
        except sqlite3.Error as exc:
            raise _failure(self.path, "cannot store a submission in", exc) from exc
        return cursor.rowcount == 1

    def pending(self) -> list[Value]:
        """My submissions not delivered yet, in submission order."""
        rows = self._read("SELECT tx FROM pending ORDER BY seq")
        return [decode(row[0]) for row in rows]

    def pending_count(self) -> int:
        count: int = self._read("SELECT count(*) FROM pending")[0][0]
        return count


def tx_json(tx: Value) -> Value:
    """A transaction as JSON-like data for the control API (bytes as hex, records as text)."""
    if isinstance(tx, bytes):
        return tx.hex()
    if isinstance(tx, tuple):
        return tuple(tx_json(v) for v in tx)
    if isinstance(tx, dict):
        return {k: tx_json(v) for k, v in tx.items()}
    if isinstance(tx, bool | int | str) or tx is None:
        return tx
    return repr(tx)


def delivered_json(rows: Iterable[StoredDelivery]) -> tuple[Value, ...]:
    """The stable ``community order`` entries: epoch, position, creator (hex), tx."""
    return tuple(
        {
            "epoch": row.epoch,
            "position": row.position,
            "creator": row.creator.hex(),
            "tx": tx_json(row.value),
        }
        for row in rows
    )


__all__ = [
    "CommunityStore",
    "CommunityStoreError",
    "StoredDelivery",
    "delivered_json",
    "tx_json",
]
