"""Ingest benchmark: blocks received as bytes -> decoded, verified, stored, indexed.

The ceiling is raw PyNaCl verification of the very same signatures, single-threaded, measured
in the same run: ``ratio = blocks_per_s / raw_verify_per_s``.  A ratio of 1.0 would mean the
whole pipeline costs no more than checking signatures on one core.  Verification runs on a
thread pool (libsodium releases the GIL) while the main thread decodes and stores, so on two
cores the pipeline can beat the one-core ceiling.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from nacl.bindings import crypto_sign_open

from peoplenet.runtime.errors import InvalidBlock
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.lace.verify_pool import VerifyPool, verify_signed
from peoplenet.runtime.wire.codec import Value

LACE = b"bench"
BATCH = 1024


@dataclass(frozen=True, slots=True)
class IngestResult:
    blocks: int
    blocks_per_s: float
    raw_verify_per_s: float

    @property
    def ratio(self) -> float:
        return self.blocks_per_s / self.raw_verify_per_s

    def as_json(self) -> dict[str, float | int]:
        return {
            "blocks": self.blocks,
            "blocks_per_s": round(self.blocks_per_s, 1),
            "raw_verify_per_s": round(self.raw_verify_per_s, 1),
            "ratio": round(self.ratio, 3),
        }


def make_blocks(count: int, *, creators: int = 16, seed: int = 1) -> list[bytes]:
    """A realistic lace: chains of ``creators`` members, each block citing a few others' tips."""
    rng = random.Random(seed)
    ids = [Identity.from_seed(rng.randbytes(32)) for _ in range(creators)]
    tips: list[BlockId | None] = [None] * creators
    raws: list[bytes] = []
    for n in range(count):
        who = n % creators
        others = {t for t in rng.sample(tips, k=min(3, creators)) if t is not None}
        own = tips[who]
        pointers = tuple(others | ({own} if own is not None else set()))
        payload: dict[str, Value] = {"t": "post", "n": n, "text": "x" * rng.randrange(20, 120)}
        block = Block.create(ids[who], LACE, payload, pointers)
        tips[who] = block.id
        raws.append(block.to_bytes())
    return raws


def raw_verify_rate(blocks: Sequence[Block]) -> float:
    """Single-threaded PyNaCl verification of the blocks' signatures (the ceiling)."""
    signed = [(b.signature + b.id, b.creator) for b in blocks]
    start = time.perf_counter()
    for message, key in signed:
        crypto_sign_open(message, key)
    return len(signed) / (time.perf_counter() - start)


_Batch = tuple[list[Block], list[bytes], list[Future[list[bool]]]]


def ingest(raws: Sequence[bytes], lace: Blocklace, pool: VerifyPool | None) -> int:
    """Push ``raws`` through the full pipeline; returns how many blocks were added.

    With a pool, two batches are in flight: while workers verify them, the main process
    decodes the next batch and stores the oldest verified one.  Without a pool, everything
    runs in this thread.
    """
    added = 0
    in_flight: deque[_Batch] = deque()
    for start in range(0, len(raws), BATCH):
        chunk = list(raws[start : start + BATCH])
        decoded = [Block.from_bytes(r) for r in chunk]
        if pool is None:
            items = [(b.signature + b.id, bytes(b.creator)) for b in decoded]
            added += _store(lace, decoded, chunk, verify_signed(items))
            continue
        in_flight.append((decoded, chunk, pool.submit(decoded)))
        if len(in_flight) > 2:
            added += _store_batch(lace, in_flight.popleft())
    while in_flight:
        added += _store_batch(lace, in_flight.popleft())
    return added


def _store_batch(lace: Blocklace, batch: _Batch) -> int:
    blocks, raws, futures = batch
    return _store(lace, blocks, raws, [ok for f in futures for ok in f.result()])


def _store(lace: Blocklace, blocks: list[Block], raws: list[bytes], verdicts: list[bool]) -> int:
    if not all(verdicts):
        raise InvalidBlock("forged_signature", f"{verdicts.count(False)} bad signatures")
    report = lace.add_many(blocks, raws=raws, verified=True)
    if report.rejected:
        raise report.rejected[0][1]
    return len(report.added)


def run(count: int, *, workers: int = 2, workdir: Path | None = None) -> IngestResult:
    """Generate ``count`` blocks, then time raw verification and the full pipeline.

    ``workers`` verification processes (0: verify in the main thread).  The pool is started
    before the clock starts, as a node starts it once at boot.
    """
    raws = make_blocks(count)
    raw_rate = raw_verify_rate([Block.from_bytes(r) for r in raws])
    pool = VerifyPool(workers) if workers > 0 else None
    try:
        if pool is not None:
            pool.warm_up()
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            store = SqliteStore(os.path.join(tmp, "bench.sqlite3"))
            try:
                lace = Blocklace(store)
                start = time.perf_counter()
                added = ingest(raws, lace, pool)
                elapsed = time.perf_counter() - start
            finally:
                store.close()
    finally:
        if pool is not None:
            pool.close()
    if added != count:
        raise RuntimeError(f"pipeline added {added} of {count} blocks")
    return IngestResult(count, count / elapsed, raw_rate)
