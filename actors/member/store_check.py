"""The node's files, checked before it starts: a damaged one refuses the start and is named.

Why before the actors: an actor that crashes on a damaged file is restarted, crashes again,
and the member sees a loop of log lines.  Checked here, in the foreground process before any
actor process exists, the start fails once, with the file and the way out (restore it, or move
it aside so the node fetches the data again), and leaves nothing running.

SQLite files get ``PRAGMA quick_check`` (the b-tree structure of every page, without the
slower index-vs-table cross check of ``integrity_check``); its cost is measured in
docs/store.md.  Community files (genesis, founding) are decoded.  Files that do not exist yet
are fine: the node creates them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.order_store import ORDER_REFILL
from peoplenet.runtime.errors import PeoplenetError, StoreCorrupt, StoreError
from peoplenet.runtime.lace.store import BLOCKS_REMEDY, damaged, is_corruption
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.social.evidence_store import EVIDENCE_REFILL
from peoplenet.runtime.wire.codec import decode, decode_as

EPOCH_REFILL: Final = "the community's blocks are then fetched again from its other participants"


class DamagedCommunityFile(StoreCorrupt):
    """A joined community's genesis or founding file cannot be decoded or does not fit."""

    reason = "damaged_community_file"


@dataclass(frozen=True, slots=True)
class Checked:
    """One file that passed, and how long its check took."""

    path: Path
    seconds: float


def check_sqlite(path: Path, refill: str) -> Checked | None:
    """``PRAGMA quick_check`` on ``path`` (None if it does not exist yet).

    Raises :class:`~peoplenet.runtime.errors.StoreCorrupt` naming the file if it is damaged.
    """
    if not path.exists():
        return None
    started = time.perf_counter()
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        if is_corruption(exc):
            raise damaged(path, exc, refill) from exc
        raise StoreError(f"cannot check {path}: {exc}") from exc
    finally:
        conn.close()
    if rows != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in rows[:3])
        raise damaged(path, f"quick_check: {problems}", refill)
    return Checked(path, time.perf_counter() - started)


def check_genesis(path: Path) -> None:
    """A joined community's ``<lace>.genesis``: an epoch-0 genesis whose lace is its name."""
    rejoin = (
        f"move it aside (mv {path} {path}.damaged) and join the community again with "
        "`peoplenet community join FILE` (the genesis file it was joined from)"
    )
    try:
        genesis = decode_as(Genesis, path.read_bytes())
    except OSError as exc:
        raise DamagedCommunityFile(f"cannot read {path}: {exc.strerror or exc}") from exc
    except PeoplenetError as exc:
        raise DamagedCommunityFile(
            f"{path} is damaged: it is not a community genesis ({exc}); {rejoin}"
        ) from exc
    if genesis.epoch != 0:
        raise DamagedCommunityFile(f"{path} is damaged: not a first (epoch 0) genesis; {rejoin}")
    if genesis.lace().hex() != path.stem:
        raise DamagedCommunityFile(
            f"{path} is damaged: it holds the genesis of another community "
            f"({genesis.lace().hex()[:16]}...); {rejoin}"
        )


def check_founding(path: Path) -> None:
    """A cooperative's ``<lace>.founding``: canonical bytes (the consumer checks the rest)."""
    try:
        decode(path.read_bytes())
    except OSError as exc:
        raise DamagedCommunityFile(f"cannot read {path}: {exc.strerror or exc}") from exc
    except PeoplenetError as exc:
        raise DamagedCommunityFile(
            f"{path} is damaged ({exc}); move it aside (mv {path} {path}.damaged) and join "
            "the cooperative again with `peoplenet coop join FILE` (its founding file)"
        ) from exc


def check_node_files(data: DataDir) -> list[Checked]:
    """Every file the node will open; raises on the first damaged one, naming it."""
    checked = [
        check_sqlite(data.blocks_db, BLOCKS_REMEDY),
        check_sqlite(data.evidence_db, EVIDENCE_REFILL),
    ]
    folder = data.communities
    if folder.is_dir():
        for genesis in sorted(folder.glob("*.genesis")):
            check_genesis(genesis)
            founding = genesis.with_suffix(".founding")
            if founding.exists():
                check_founding(founding)
            checked.append(check_sqlite(genesis.with_suffix(".sqlite"), EPOCH_REFILL))
            checked.append(check_sqlite(folder / f"{genesis.stem}.order.sqlite", ORDER_REFILL))
    return [c for c in checked if c is not None]


__all__ = [
    "Checked",
    "DamagedCommunityFile",
    "check_founding",
    "check_genesis",
    "check_node_files",
    "check_sqlite",
]
