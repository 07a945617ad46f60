"""A full disk: the write fails at once with the file and the space left, nothing is lost.

In-process with SQLite's ``max_page_count`` (the file may not grow: ``SQLITE_FULL``, as on a
full disk); with a real node on a 2 MiB tmpfs filled up, the ``post`` command must get
``DiskFull`` at once (not a 20 s "no answer"), reads keep working, and once space is freed
the node writes again.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.runtime.cli import petnames
from peoplenet.runtime.consensus.order_store import CommunityStore
from peoplenet.runtime.errors import DiskFull
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.store import SqliteStore, is_disk_full
from peoplenet.runtime.lace.store_api import StoredBlock
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.sim.localnet import LocalNode, create_node
from peoplenet.runtime.social.evidence_store import Evidence, SqliteEvidenceStore

FAST_S = 3.0
"""A write on a full disk must be refused this fast (the old failure was a 20 s timeout)."""


def _blocks(n: int, size: int) -> list[StoredBlock]:
    me = Identity.generate()
    lace = bytes(me.member_id)
    out = []
    for seq in range(n):
        raw = os.urandom(size)
        out.append(StoredBlock(os.urandom(32), lace, bytes(me.member_id), seq, seq, raw))
    return out


def _cap(conn: object) -> None:
    """Let the SQLite file grow no more: every write that needs a page gets SQLITE_FULL."""
    import sqlite3  # noqa: PLC0415

    assert isinstance(conn, sqlite3.Connection)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")


def test_block_store_full_fails_the_batch_keeps_what_was_stored(tmp_path: Path) -> None:
    path = tmp_path / "blocks.sqlite"
    store = SqliteStore(path)
    try:
        first = _blocks(5, 200)
        store.put_many(first)
        _cap(store._conn)
        with pytest.raises(
            DiskFull, match=rf"disk full: {re.escape(str(path))} \(\d+ bytes free\)"
        ):
            store.put_many(_blocks(50, 4000))
        assert len(store) == 5  # the failed batch is not half stored
        assert [store.get_raw(b.id) for b in first] == [b.raw for b in first]
        assert store._conn is not None
        store._conn.execute("PRAGMA max_page_count=1073741823")
        store.put_many(_blocks(2, 200))  # space again: the same handle writes
        assert len(store) == 7
    finally:
        store.close()


def test_evidence_and_community_stores_say_disk_full(tmp_path: Path) -> None:
    evidence = SqliteEvidenceStore(tmp_path / "evidence.sqlite")
    try:
        _cap(evidence._db)
        member = bytes(Identity.generate().member_id)
        item = Evidence(member, member, os.urandom(20000), os.urandom(32))  # type: ignore[arg-type]
        with pytest.raises(DiskFull, match=r"disk full: .*evidence\.sqlite"):
            evidence.put(item)
    finally:
        evidence.close()
    community = CommunityStore(tmp_path / "c.order.sqlite")
    try:
        _cap(community._conn)
        with pytest.raises(DiskFull, match=r"disk full: .*c\.order\.sqlite"):
            community.add_pending({"note": "x" * 20000})
    finally:
        community.close()


def test_enospc_counts_as_disk_full() -> None:
    import errno  # noqa: PLC0415

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted (lazily, if a process still holds it) whatever happens."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        check=True,
        capture_output=True,
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the file system is full; the file (delete it to free the space)."""
    filler = folder / "filler"
    chunk = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, chunk)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0")  # the last bytes of the last page
    finally:
        os.close(fd)
    return filler


@pytest.mark.processes
def test_post_on_a_full_disk_answers_disk_full_at_once_and_reads_go_on(
    small_disk: Path, nodes: list[LocalNode]
) -> None:
    data, identity = create_node(small_disk / "n", network=f"t-{time.time_ns()}", mdns=False)
    node = LocalNode("n", data, identity.member_id)
    nodes.append(node)
    node.start()
    before = node.call("post", {"text": "stored before the disk filled"})
    filler = _fill(small_disk)
    started = time.monotonic()
    with pytest.raises(control.ControlError) as failed:
        node.call("post", {"text": "x" * 3000})
    took = time.monotonic() - started
    assert failed.value.reason == "disk_full", failed.value
    assert re.search(rf"disk full: {re.escape(str(data.blocks_db))} \(\d+ bytes free\)",
                     str(failed.value)), failed.value  # fmt: skip
    assert took < FAST_S
    feed = node.call("feed")  # reads go on, and nothing acknowledged was lost
    assert before["block"] in {item["block"] for item in feed}
    assert node.call("status")["member"] == identity.member_id.hex()
    filler.unlink()
    after = node.call("post", {"text": "space again"})
    assert after["block"] in {item["block"] for item in node.call("feed")}
    assert node.stop() == 0


def test_a_community_file_on_a_full_disk_is_disk_full_and_leaves_nothing(
    small_disk: Path,
) -> None:
    data = DataDir(small_disk / "n")
    data.root.mkdir()
    data.communities.mkdir()
    filler = _fill(small_disk)
    lace = "ab" * 32
    with pytest.raises(DiskFull, match=r"disk full: .*\.genesis \(\d+ bytes free\)"):
        data.save_genesis(lace, os.urandom(64 * 1024))
    assert list(data.communities.iterdir()) == []  # neither the file nor a temporary
    filler.unlink()
    assert data.save_genesis(lace, b"fits now")


def test_petnames_on_a_full_disk_are_disk_full_and_the_old_file_stays(small_disk: Path) -> None:
    member = bytes(Identity.generate().member_id)
    petnames.save(small_disk, {"ann": member})
    before = petnames.petnames_path(small_disk).read_bytes()
    filler = _fill(small_disk)
    many = {f"name{i}": member for i in range(2000)}
    with pytest.raises(DiskFull, match=r"disk full: .*petnames\.json \(\d+ bytes free\)"):
        petnames.save(small_disk, many)
    assert petnames.petnames_path(small_disk).read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "petnames.json"]
    filler.unlink()
    petnames.save(small_disk, many)
    assert len(petnames.load(small_disk)) == 2000
