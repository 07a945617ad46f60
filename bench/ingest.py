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
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from runtime.block import Block, BlockId
from runtime.blocklace import Blocklace
from runtime.codec import Value
from runtime.errors import InvalidBlock
from runtime.identity import Identity
from runtime.store import SqliteStore

LACE = b"bench"
BATCH = 512


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


def _verify_all(blocks: Sequence[Block]) -> list[bool]:
    out = []
    for b in blocks:
        try:
            crypto_sign_open(b.signature + b.id, b.creator)
        except BadSignatureError:
            out.append(False)
        else:
            out.append(True)
    return out


def ingest(raws: Sequence[bytes], lace: Blocklace, *, threads: int = 2) -> int:
    """Push ``raws`` through the full pipeline; returns how many blocks were added.

    Batches overlap: while the pool verifies batch k, the main thread decodes batch k+1 and
    then stores batch k.
    """
    added = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        in_flight: tuple[list[Block], list[bytes], list[Future[list[bool]]]] | None = None
        for start in range(0, len(raws), BATCH):
            chunk = list(raws[start : start + BATCH])
            decoded = [Block.from_bytes(r) for r in chunk]
            step = max(1, len(decoded) // threads + 1)
            futures = [
                pool.submit(_verify_all, decoded[i : i + step])
                for i in range(0, len(decoded), step)
            ]
            if in_flight is not None:
                added += _store(lace, *in_flight)
            in_flight = (decoded, chunk, futures)
        if in_flight is not None:
            added += _store(lace, *in_flight)
    return added


def _store(
    lace: Blocklace, blocks: list[Block], raws: list[bytes], futures: list[Future[list[bool]]]
) -> int:
    verdicts = [ok for f in futures for ok in f.result()]
    good = [i for i, ok in enumerate(verdicts) if ok]
    if len(good) != len(blocks):
        raise InvalidBlock("forged_signature", f"{len(blocks) - len(good)} bad signatures")
    report = lace.add_many(blocks, raws=raws, verified=True)
    if report.rejected:
        raise report.rejected[0][1]
    return len(report.added)


def run(count: int, *, threads: int = 2, workdir: Path | None = None) -> IngestResult:
    """Generate ``count`` blocks, then time raw verification and the full pipeline."""
    raws = make_blocks(count)
    reference = [Block.from_bytes(r) for r in raws]
    raw_rate = raw_verify_rate(reference)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        store = SqliteStore(os.path.join(tmp, "bench.sqlite3"))
        try:
            lace = Blocklace(store)
            start = time.perf_counter()
            added = ingest(raws, lace, threads=threads)
            elapsed = time.perf_counter() - start
        finally:
            store.close()
    if added != count:
        raise RuntimeError(f"pipeline added {added} of {count} blocks")
    return IngestResult(count, count / elapsed, raw_rate)
