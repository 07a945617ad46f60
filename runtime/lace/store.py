"""Block stores: :class:`MemoryStore` for the simulator, :class:`SqliteStore` for phones.

Both implement :class:`~peoplenet.runtime.lace.store_api.BlockStore` with the same observable
behaviour, so
the deterministic simulator exercises exactly the semantics a phone relies on.  The
guarantees (what "acknowledged" means, crash behaviour, what is not stored) are written up in
``docs/store.md``.

Both stores check the *shape* of every :class:`StoredBlock` before touching anything (a bad
value is our caller's bug: :class:`~peoplenet.runtime.errors.LocalError`); they do not decode
``raw`` or
check signatures -- the blocklace did that before asking for the block to be stored.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

from peoplenet.runtime.errors import DiskFull, LocalError, StoreCorrupt, StoreError
from peoplenet.runtime.lace.store_api import StoredBlock
from peoplenet.runtime.local.file_modes import touch_private

__all__ = [
    "SCHEMA_VERSION",
    "Durability",
    "MemoryStore",
    "Row",
    "SqliteStore",
    "damaged",
    "disk_full",
    "is_corruption",
    "is_disk_full",
    "open_store",
]

Durability = Literal["full", "normal"]

SCHEMA_VERSION: Final = 1
"""``PRAGMA user_version`` of the schema this code writes; anything else is refused."""

_ID_LEN: Final = 32
_MAX_LACE_LEN: Final = 64
_MAX_INT: Final = 2**63 - 1
"""SQLite integers are signed 64-bit; seq and depth must fit."""

_PAGE: Final = 1000
"""Rows fetched per query by :meth:`SqliteStore.iter_blocks`."""

_SCHEMA: Final = (
    """CREATE TABLE blocks (
        rowid   INTEGER PRIMARY KEY,
        id      BLOB NOT NULL UNIQUE,
        lace    BLOB NOT NULL,
        creator BLOB NOT NULL,
        seq     INTEGER NOT NULL,
        depth   INTEGER NOT NULL,
        raw     BLOB NOT NULL
    )""",
    "CREATE INDEX blocks_by_creator ON blocks (lace, creator, seq)",
    "CREATE INDEX blocks_by_depth ON blocks (lace, depth, id)",
)

_INSERT: Final = (
    "INSERT OR IGNORE INTO blocks (id, lace, creator, seq, depth, raw) VALUES (?, ?, ?, ?, ?, ?)"
)


_SET_ASIDE_TABLE: Final = """CREATE TABLE IF NOT EXISTS set_aside (
        rowid  INTEGER PRIMARY KEY,
        id     BLOB NOT NULL,
        raw    BLOB NOT NULL,
        reason TEXT NOT NULL,
        at     REAL NOT NULL
    )"""
"""Rows found damaged on load, kept as evidence (see :meth:`SqliteStore.set_aside`)."""
_SET_ASIDE_COPY: Final = (
    "INSERT INTO set_aside (id, raw, reason, at) SELECT id, raw, ?, ? FROM blocks WHERE id = ?"
)

_CORRUPTION_CODES: Final = frozenset({11, 26})
"""SQLITE_CORRUPT and SQLITE_NOTADB (primary codes; extended codes add bits above 0xff)."""

BLOCKS_REMEDY: Final = "its blocks are then fetched again from friends"


def is_corruption(exc: BaseException) -> bool:
    """True if SQLite reports the file itself damaged: no retry or restart can help."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _CORRUPTION_CODES


_FULL_CODE: Final = 13
"""SQLITE_FULL: a write found no space (the disk, or the file's ``max_page_count``)."""
_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """True if a write failed for want of space (SQLite's ``SQLITE_FULL``, or ENOSPC/EDQUOT)."""
    if isinstance(exc, OSError):
        return exc.errno in _FULL_ERRNOS
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _FULL_CODE


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes free on the file system holding ``path`` (None if it cannot be asked)."""
    folder = Path(path)
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full(path: str | os.PathLike[str], cause: object) -> DiskFull:
    """The error for a write that found no space: names the file and the space left."""
    free = free_bytes(path)
    room = "free space unknown" if free is None else f"{free} bytes free"
    return DiskFull(
        f"disk full: {path} ({room}); the write was not made and nothing stored before is "
        f"lost: free some space, then try again ({cause})"
    )


def damaged(
    path: str | os.PathLike[str], cause: object, refill: str = BLOCKS_REMEDY
) -> StoreCorrupt:
    """The error for a damaged file: names it and says what to do (``refill``: what is lost)."""
    code = getattr(cause, "sqlite_errorcode", 0)
    state = "is not a SQLite database" if code & 0xFF == 26 else "is damaged"
    return StoreCorrupt(
        f"{path} {state} ({cause}); the node will not run on it: restore the file from a "
        f"backup, or move it aside (mv {path} {path}.damaged) and start the node again "
        f"({refill})"
    )


def _check(blocks: Sequence[StoredBlock]) -> None:
    """Refuse a batch containing anything malformed, before any of it is stored.

    Why here and not in SQLite: SQLite would happily store a ``str`` id as TEXT (and then
    never find it by its bytes), and ``INSERT OR IGNORE`` silently skips rows that break
    ``NOT NULL``; checking up front also makes the two stores fail identically.
    """
    for b in blocks:
        if type(b) is not StoredBlock:
            raise LocalError(f"put_many takes StoredBlock values, not {type(b).__name__}")
        if (
            type(b.id) is not bytes
            or len(b.id) != _ID_LEN
            or type(b.lace) is not bytes
            or not 1 <= len(b.lace) <= _MAX_LACE_LEN
            or type(b.creator) is not bytes
            or len(b.creator) != _ID_LEN
            or type(b.seq) is not int
            or not 0 <= b.seq <= _MAX_INT
            or type(b.depth) is not int
            or not 0 <= b.depth <= _MAX_INT
            or type(b.raw) is not bytes
        ):
            raise LocalError(f"malformed StoredBlock: {b!r:.200}")


Row = tuple[bytes, bytes, bytes, int, int, bytes]
"""A block as :meth:`MemoryStore.put_rows` and :meth:`SqliteStore.put_rows` take it:
``(id, lace, creator, seq, depth, raw)``, a :class:`StoredBlock`'s fields in order."""


def _check_rows(rows: Sequence[Row]) -> None:
    """:func:`_check` for rows: the same refusals, with the same error type."""
    for r in rows:
        if type(r) is not tuple or len(r) != 6:
            raise LocalError(f"put_rows takes 6-tuples, not {r!r:.200}")
        bid, lace, creator, seq, depth, raw = r
        if (
            type(bid) is not bytes
            or len(bid) != _ID_LEN
            or type(lace) is not bytes
            or not 1 <= len(lace) <= _MAX_LACE_LEN
            or type(creator) is not bytes
            or len(creator) != _ID_LEN
            or type(seq) is not int
            or not 0 <= seq <= _MAX_INT
            or type(depth) is not int
            or not 0 <= depth <= _MAX_INT
            or type(raw) is not bytes
        ):
            raise LocalError(f"malformed block row: {r!r:.200}")


def _rows(blocks: Sequence[StoredBlock]) -> list[Row]:
    return [(b.id, b.lace, b.creator, b.seq, b.depth, b.raw) for b in blocks]


class MemoryStore:
    """A dict-backed store: the simulated node's "disk".

    It outlives the node that writes to it: a simulated crash throws the node away and
    builds a new one over the same store, which is what a phone does with its SQLite file.
    After :meth:`close`, :meth:`reopen` gives a fresh handle on the same data.
    """

    __slots__ = ("_by_creator", "_by_depth", "_by_id", "_closed", "_indexed", "_order")

    def __init__(self) -> None:
        # Rows as plain tuples (id, lace, creator, seq, depth, raw): the garbage collector
        # stops scanning a tuple of bytes and ints, and a store holds one per block for good.
        self._by_id: dict[bytes, Row] = {}
        self._order: list[Row] = []
        self._by_creator: dict[tuple[bytes, bytes], list[tuple[int, bytes]]] = {}
        self._by_depth: dict[bytes, list[tuple[int, bytes]]] = {}
        self._indexed = [0]
        """How many rows of ``_order`` the two indexes hold (a list: shared by reopened handles)."""
        self._closed = False

    def reopen(self) -> MemoryStore:
        """A new open handle sharing this store's data (like opening the file again)."""
        other = MemoryStore()
        other._by_id = self._by_id
        other._order = self._order
        other._by_creator = self._by_creator
        other._by_depth = self._by_depth
        other._indexed = self._indexed
        return other

    def _live(self) -> None:
        if self._closed:
            raise StoreError("memory store is closed")

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        self._live()
        _check(blocks)  # after this nothing can fail, so the batch is all-or-nothing
        self._put(_rows(blocks))

    def put_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`put_many` for blocks as plain rows (no :class:`StoredBlock` to build)."""
        self._live()
        _check_rows(rows)  # after this nothing can fail, so the batch is all-or-nothing
        self._put(rows)

    def put_vouched_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`put_rows` for rows whose every field the caller vouches for.

        Why: the blocklace builds its rows from parsed blocks whose creator and lace were
        checked when their first block was stored, and computes seq and depth itself;
        checking each field again is a good part of storing a block.  Anything it cannot
        vouch for goes through :meth:`put_rows`.
        """
        self._live()
        self._put(rows)

    def _put(self, rows: Sequence[Row]) -> None:
        # Only the rows and their order here: the write path, taken for every block, stays
        # short.  The indexes catch up when they are read (:meth:`_index`).
        by_id, order = self._by_id, self._order
        for row in rows:
            bid = row[0]
            if bid not in by_id:
                by_id[bid] = row
                order.append(row)

    def _index(self) -> None:
        """Bring the creator and depth indexes up to date with the rows.

        Their lists are appended to here and sorted when read (nearly sorted already, so
        that is a linear pass).
        """
        order, done = self._order, self._indexed[0]
        if done == len(order):
            return
        by_creator, by_depth = self._by_creator, self._by_depth
        for i in range(done, len(order)):
            bid, lace, creator, seq, depth, _raw = order[i]
            key = (lace, creator)
            entries = by_creator.get(key)
            if entries is None:
                by_creator[key] = [(seq, bid)]
            else:
                entries.append((seq, bid))
            lace_entries = by_depth.get(lace)
            if lace_entries is None:
                by_depth[lace] = [(depth, bid)]
            else:
                lace_entries.append((depth, bid))
        self._indexed[0] = len(order)

    def set_aside(self, rows: Sequence[tuple[bytes, str]]) -> None:
        """Remove damaged rows (see :meth:`SqliteStore.set_aside`; here only tests damage)."""
        self._live()
        gone = {bid for bid, _ in rows if bid in self._by_id}
        if not gone:
            return
        for bid in gone:
            del self._by_id[bid]
        self._order[:] = [r for r in self._order if r[0] not in gone]
        for entries in self._by_creator.values():
            entries[:] = [e for e in entries if e[1] not in gone]
        for lace_entries in self._by_depth.values():
            lace_entries[:] = [e for e in lace_entries if e[1] not in gone]
        self._indexed[0] = len(self._order)

    def get_raw(self, block_id: bytes) -> bytes | None:
        self._live()
        found = self._by_id.get(block_id)
        return None if found is None else found[5]

    def __contains__(self, block_id: object) -> bool:
        self._live()
        return type(block_id) is bytes and block_id in self._by_id

    def __len__(self) -> int:
        self._live()
        return len(self._order)

    def iter_blocks(self) -> Iterator[StoredBlock]:
        self._live()  # fail now, not at the first next()
        return self._walk()

    def _walk(self) -> Iterator[StoredBlock]:
        i = 0
        while True:  # by index, so a put during iteration cannot break the loop
            self._live()
            if i >= len(self._order):
                return
            yield StoredBlock(*self._order[i])
            i += 1

    def ids_by_creator(self, lace: bytes, creator: bytes) -> list[bytes]:
        self._live()
        self._index()
        entries = self._by_creator.get((lace, creator), [])
        entries.sort()
        return [bid for _, bid in entries]

    def ids_by_depth(self, lace: bytes, lo: int, hi: int) -> list[bytes]:
        self._live()
        self._index()
        entries = self._by_depth.get(lace, [])
        entries.sort()
        start = bisect_left(entries, (lo,))
        stop = bisect_left(entries, (hi + 1,))
        return [bid for _, bid in entries[start:stop]]

    def laces(self) -> list[bytes]:
        self._live()
        self._index()
        return sorted(self._by_depth)

    def quick_check(self) -> bool:
        """Whether the indexes agree with the blocks (the analogue of SQLite's check)."""
        self._live()
        self._index()
        if len(self._by_id) != len(self._order):
            return False
        creators = sum(len(v) for v in self._by_creator.values())
        depths = sum(len(v) for v in self._by_depth.values())
        return creators == depths == len(self._order)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SqliteStore:
    """One SQLite file per node, in WAL mode; each :meth:`put_many` is one transaction.

    ``durability="full"`` syncs the WAL on every commit, so an acknowledged batch survives a
    power cut; ``"normal"`` syncs only at checkpoints, so it survives a process crash but the
    last few batches may be lost (never half of one) if the phone loses power.
    """

    __slots__ = ("_conn", "durability", "path")

    def __init__(self, path: str | os.PathLike[str], *, durability: Durability = "full") -> None:
        if durability not in ("full", "normal"):
            raise LocalError(f"durability must be 'full' or 'normal', not {durability!r}")
        self.path = Path(path)
        self.durability: Durability = durability
        if self.path.is_dir():
            raise StoreError(f"block store {self.path} is a directory, not a file")
        try:
            touch_private(self.path)  # 0600 whatever the umask (SQLite's -wal/-shm copy it)
            self._conn: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(self.path, exc) from exc
            raise StoreError(f"cannot open block store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open block store {self.path}: {exc}") from exc
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _setup(self) -> None:
        """Check the file is ours (or empty) before changing anything in it, then configure."""
        conn = self._db()
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise damaged(self.path, exc) from exc
            raise StoreError(f"cannot use block store {self.path}: {exc}") from exc
        if version == 0 and tables:
            raise StoreError(f"{self.path} is a SQLite database but not a Peoplenet block store")
        if version not in (0, SCHEMA_VERSION):
            raise StoreError(
                f"block store {self.path} has schema version {version}; "
                f"this code only knows version {SCHEMA_VERSION}"
            )
        sync = "FULL" if self.durability == "full" else "NORMAL"
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"block store {self.path}: WAL mode unavailable (got {mode!r})")
            conn.execute(f"PRAGMA synchronous={sync}")
            # Without fullfsync, Apple platforms' fsync does not reach the platter/flash.
            conn.execute(f"PRAGMA fullfsync={int(self.durability == 'full')}")
            # BEGIN IMMEDIATE takes the write lock: it fails now, with a clear message, on a
            # read-only file or directory rather than on the first put_many.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute("SELECT id, lace, creator, seq, depth, raw FROM blocks LIMIT 0")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise damaged(self.path, exc) from exc
            if is_disk_full(exc):
                raise disk_full(self.path, exc) from exc
            raise StoreError(f"cannot use block store {self.path}: {exc}") from exc

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            raise StoreError(f"block store {self.path} is closed")
        return conn

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read, turning any SQLite failure into :class:`StoreError`."""
        conn = self._db()
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise damaged(self.path, exc) from exc
            raise StoreError(f"block store {self.path}: {exc}") from exc

    def put_many(self, blocks: Sequence[StoredBlock]) -> None:
        conn = self._db()
        _check(blocks)
        self._put(conn, _rows(blocks))

    def put_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`put_many` for blocks as plain rows (no :class:`StoredBlock` to build)."""
        conn = self._db()
        _check_rows(rows)
        self._put(conn, rows)

    def put_vouched_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`put_rows` without checking the rows (see :meth:`MemoryStore.put_vouched_rows`)."""
        self._put(self._db(), rows)

    @contextlib.contextmanager
    def _writing(self, conn: sqlite3.Connection, failure: str) -> Iterator[None]:
        """One write transaction: committed whole or rolled back, its SQLite errors typed
        (damaged file, full disk, anything else as ``failure``)."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise damaged(self.path, exc) from exc
            if is_disk_full(exc):
                raise disk_full(self.path, exc) from exc
            raise StoreError(f"block store {self.path}: {failure}: {exc}") from exc

    def _put(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
        if not rows:
            return
        with self._writing(conn, "batch not stored"):
            conn.executemany(_INSERT, rows)

    def set_aside(self, rows: Sequence[tuple[bytes, str]]) -> None:
        """Move damaged rows to the ``set_aside`` table (one transaction), with the reason.

        Why keep them: the bytes are evidence of what went wrong; the blocks themselves are
        fetched again from peers (the ``blocks`` table no longer has them).  The table is
        created on first use, so an undamaged file keeps exactly its original schema.
        """
        if not rows:
            return
        conn = self._db()
        now = time.time()
        with self._writing(conn, "cannot set damaged rows aside"):
            conn.execute(_SET_ASIDE_TABLE)
            for bid, reason in rows:
                conn.execute(_SET_ASIDE_COPY, (reason, now, bid))
                conn.execute("DELETE FROM blocks WHERE id = ?", (bid,))

    def set_aside_rows(self) -> list[tuple[bytes, str]]:
        """Rows set aside so far: (id, reason), oldest first."""
        if not self._query("SELECT 1 FROM sqlite_master WHERE name = 'set_aside'"):
            return []
        rows = self._query("SELECT id, reason FROM set_aside ORDER BY rowid")
        return [(bytes(r[0]), str(r[1])) for r in rows]

    def get_raw(self, block_id: bytes) -> bytes | None:
        rows = self._query("SELECT raw FROM blocks WHERE id = ?", (block_id,))
        return bytes(rows[0][0]) if rows else None

    def __contains__(self, block_id: object) -> bool:
        if type(block_id) is not bytes:
            self._db()
            return False
        return bool(self._query("SELECT 1 FROM blocks WHERE id = ?", (block_id,)))

    def __len__(self) -> int:
        return int(self._query("SELECT count(*) FROM blocks")[0][0])

    def iter_blocks(self) -> Iterator[StoredBlock]:
        self._db()  # fail now, not at the first next()
        return self._pages()

    def _pages(self) -> Iterator[StoredBlock]:
        """Page through by rowid, so no read transaction stays open between pages.

        A long-lived reader would stop WAL checkpoints and let the WAL file grow.
        """
        last = 0
        while True:
            rows = self._query(
                "SELECT rowid, id, lace, creator, seq, depth, raw FROM blocks"
                " WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (last, _PAGE),
            )
            for row in rows:
                yield StoredBlock(*row[1:])
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def ids_by_creator(self, lace: bytes, creator: bytes) -> list[bytes]:
        rows = self._query(
            "SELECT id FROM blocks WHERE lace = ? AND creator = ? ORDER BY seq, id",
            (lace, creator),
        )
        return [bytes(r[0]) for r in rows]

    def ids_by_depth(self, lace: bytes, lo: int, hi: int) -> list[bytes]:
        rows = self._query(
            "SELECT id FROM blocks WHERE lace = ? AND depth BETWEEN ? AND ? ORDER BY depth, id",
            (lace, lo, hi),
        )
        return [bytes(r[0]) for r in rows]

    def laces(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._query("SELECT DISTINCT lace FROM blocks ORDER BY lace")]

    def quick_check(self) -> bool:
        """SQLite's ``PRAGMA quick_check``: ``False`` if the file is damaged."""
        conn = self._db()
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                return False  # damage bad enough that the check itself cannot finish
            raise StoreError(f"block store {self.path}: quick_check failed: {exc}") from exc
        return rows == [("ok",)]

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot close block store {self.path}: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else self.durability
        return f"SqliteStore({str(self.path)!r}, {state})"


def open_store(
    path: str | os.PathLike[str] | None, *, durability: Durability = "full"
) -> MemoryStore | SqliteStore:
    """A :class:`MemoryStore` for ``None`` (simulation, tests), else a :class:`SqliteStore`."""
    if path is None:
        return MemoryStore()
    return SqliteStore(path, durability=durability)
