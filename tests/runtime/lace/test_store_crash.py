"""SIGKILL a real process while it writes to a SqliteStore, then check what survived.

The child (this same file, run as a script) writes deterministic batches and prints
``ACK k`` after each ``put_many`` returns.  The parent kills it with SIGKILL, reopens the
file, and checks the store's promise: acknowledged batches are all there byte for byte, every
row is a whole, signed block, every batch is all-or-nothing, and the file passes quick_check.

Two ways of killing, so both interesting moments are covered:

* *timed*: kill right after reading the k-th ACK, while the child is already inside the next
  (often large) ``put_many`` -- real timing, as in the field;
* *pinned*: a temporary trigger in the child pauses SQLite in the middle of a batch, with a
  tiny page cache so that the half-written transaction has already spilled into the WAL file;
  the parent kills it there, so a torn transaction on disk is guaranteed, not hoped for.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.store import Durability, SqliteStore
from peoplenet.runtime.lace.store_api import StoredBlock

pytestmark = pytest.mark.processes

LACE = b"crash-test"
SIZES = (1, 2, 9, 64, 250, 500)
ROUNDS = 6


def batch_sizes(round_no: int, n_batches: int) -> list[int]:
    rng = random.Random(round_no)
    return [rng.choice(SIZES) for _ in range(n_batches)]


def round_batches(round_no: int, n_batches: int) -> list[list[StoredBlock]]:
    """The batches the child writes in one round; parent and child compute the same ones."""
    seed = hashlib.blake2b(b"crash round %d" % round_no, digest_size=32).digest()
    who = Identity.from_seed(seed)
    batches: list[list[StoredBlock]] = []
    prev: tuple[bytes, ...] = ()
    seq = 0
    for k, size in enumerate(batch_sizes(round_no, n_batches)):
        batch = []
        for i in range(size):
            b = Block.create(who, LACE, {"round": round_no, "batch": k, "i": i}, prev)
            batch.append(StoredBlock(b.id, b.lace, b.creator, seq, seq, b.to_bytes()))
            prev = (b.id,)
            seq += 1
        batches.append(batch)
    return batches


# -- the child ---------------------------------------------------------------------------------


def _child(path: str, round_no: int, durability: Durability, n_batches: int, pin: int) -> None:
    """Write every batch, acknowledging each; then wait to be killed.

    With ``pin >= 0``, pause (forever) inside batch ``pin`` just before its last row.
    """
    batches = round_batches(round_no, n_batches)
    store = SqliteStore(path, durability=durability)
    if pin >= 0:
        conn = store._conn
        assert conn is not None
        conn.execute("PRAGMA cache_size=8")  # pages: forces the open transaction into the WAL

        def pause() -> None:
            print("PAUSED", flush=True)
            sys.stdin.read()  # never returns: the parent kills us here

        conn.create_function("pause_here", 0, pause)
        conn.execute(
            "CREATE TEMP TRIGGER pin AFTER INSERT ON main.blocks"
            f" WHEN NEW.id = X'{batches[pin][-2].id.hex()}' BEGIN SELECT pause_here(); END"
        )
    for k, batch in enumerate(batches):
        print(f"BEGIN {k}", flush=True)
        store.put_many(batch)
        print(f"ACK {k}", flush=True)
    print("DONE", flush=True)
    sys.stdin.read()


# -- the parent --------------------------------------------------------------------------------


@dataclass
class Round:
    no: int
    batches: list[list[StoredBlock]]
    acked: int
    """Batches 0..acked-1 were acknowledged before the kill."""


def _uncommitted_wal_frames(wal: Path) -> int:
    """Frames of the current WAL generation written after its last commit frame."""
    if not wal.exists() or wal.stat().st_size < 32:
        return 0
    data = wal.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    frame = 24 + page_size
    after_commit = 0
    for off in range(32, len(data) - frame + 1, frame):
        if data[off + 8 : off + 16] != salts:
            break  # a frame left over from an earlier generation
        commit_size = struct.unpack(">I", data[off + 4 : off + 8])[0]
        after_commit = 0 if commit_size else after_commit + 1
    return after_commit


def _read_line(out: IO[str], err_file: Path) -> str:
    line = out.readline()
    if not line:
        raise AssertionError(f"child exited early; stderr:\n{err_file.read_text()}")
    return line.strip()


def _run_and_kill(
    path: Path, r: int, durability: Durability, n_batches: int, pin: int, kill_at: str, err: Path
) -> tuple[int, list[list[StoredBlock]], list[str]]:
    """Run the child and SIGKILL it as soon as it prints ``kill_at``.

    Returns how many batches it acknowledged, the batches it was writing (computed here
    while the child works), and whatever it printed that we had not read when it died.
    """
    args = [str(path), str(r), durability, str(n_batches), str(pin)]
    with err.open("w") as err_out:
        proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err_out,
            text=True,
        )
    assert proc.stdout is not None
    acked = 0
    try:
        batches = round_batches(r, n_batches)
        while (line := _read_line(proc.stdout, err)) != kill_at:
            if line.startswith("ACK "):
                assert line == f"ACK {acked}"
                acked += 1
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        tail = proc.stdout.read().splitlines()  # the child is dead: this reaches EOF
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        if proc.stdin is not None:
            proc.stdin.close()
    return acked, batches, tail


def _check_store(path: Path, rounds: list[Round]) -> None:
    """Everything the store promises after a crash, over every round so far."""
    with SqliteStore(path) as store:
        assert store.quick_check()
        rows = list(store.iter_blocks())
    current = rounds[-1].no
    for row in rows:  # (b) every row is a whole block, with the facts it was indexed by
        block = Block.from_bytes(row.raw)
        assert block.id == row.id
        assert (block.lace, block.creator) == (row.lace, row.creator)
        payload = block.payload
        assert isinstance(payload, dict)
        if payload["round"] == current:  # earlier rounds' rows are compared byte for byte below
            assert block.signature_ok()
    present = {row.id: row.raw for row in rows}
    expected_order: list[bytes] = []
    for rnd in rounds:
        kept = [all(b.id in present for b in batch) for batch in rnd.batches]
        for batch, whole in zip(rnd.batches, kept, strict=True):
            # (c) all-or-nothing, and (a) byte-identical when there
            assert whole or not any(b.id in present for b in batch)
            if whole:
                assert all(present[b.id] == b.raw for b in batch)
                expected_order += [b.id for b in batch]
        # (a) every acknowledged batch survived; batches are written in order, so the kept
        # ones form a prefix
        n_kept = sum(kept)
        assert n_kept >= rnd.acked
        assert kept == [True] * n_kept + [False] * (len(kept) - n_kept)
    assert [row.id for row in rows] == expected_order  # nothing else, and in storage order


@pytest.mark.timeout(120)
def test_sigkill_loses_nothing_acknowledged_and_tears_no_batch(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    rng = random.Random(20240601)
    rounds: list[Round] = []
    report = []
    for r in range(ROUNDS):
        durability: Durability = "full" if r % 2 == 0 else "normal"
        pinned = r % 3 == 2
        n_batches = rng.randint(4, 8)
        sizes = batch_sizes(r, n_batches)
        # The victim batch: a big one if there is one, so the kill lands inside put_many.
        big = [k for k in range(1, n_batches) if sizes[k] >= 64] or list(range(1, n_batches))
        victim = rng.choice(big)
        acked, batches, tail = _run_and_kill(
            path,
            r,
            durability,
            n_batches,
            victim if pinned else -1,
            "PAUSED" if pinned else f"BEGIN {victim}",
            tmp_path / f"child{r}.err",
        )
        torn = _uncommitted_wal_frames(path.with_name("node.db-wal"))
        rounds.append(Round(r, batches, acked))
        assert acked == victim
        if pinned:
            assert torn > 0, "the paused transaction should have spilled into the WAL"
        _check_store(path, rounds)
        with SqliteStore(path) as store:
            victim_kept = batches[victim][0].id in store
        if pinned:
            assert not victim_kept
        report.append(
            f"round {r}: {durability:6} {'pinned' if pinned else 'timed':6} acked={acked}"
            f" victim_size={sizes[victim]} victim_kept={victim_kept}"
            f" unread={len(tail)} uncommitted_wal_frames={torn}"
        )
    print("\n".join(report))


if __name__ == "__main__":
    _p, _r, _d, _n, _pin = sys.argv[1:]
    assert _d in ("full", "normal")
    _child(_p, int(_r), "full" if _d == "full" else "normal", int(_n), int(_pin))
