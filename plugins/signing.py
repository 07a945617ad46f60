"""How the blocks an app publishes get signed: the signer it is given, and the checks around it.

An app never holds a key (see plugins/host.py): it publishes a draft, the host answers the
block's id at once (:func:`unsigned_id`: an id covers the unsigned block), and after the hook
returns has every draft signed in one go (:func:`sign_all`, through a :class:`BatchSigner` when
the apps run in a worker), checking that each signed block is the one asked for.  An own block
is made durable before it leaves the node (:func:`sync_wal`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from peoplenet.plugins.api import (
    ConsentRefused,
)
from peoplenet.runtime.errors import (
    EncodeError,
    InvalidBlock,
    LocalError,
)
from peoplenet.runtime.keys.identity import SIGNATURE_LEN, MemberId
from peoplenet.runtime.lace.block import MAX_BLOCK_SIZE, Block, BlockId, LaceId
from peoplenet.runtime.wire.codec import Value


class BlockSigner(Protocol):
    """The runtime's signer, restricted to app-lace blocks."""

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block: ...


@dataclass(frozen=True, slots=True)
class SignRequest:
    """A block an app published, to be signed: ``id`` is what its signed block must have."""

    lace: bytes
    payload: Value
    pointers: tuple[bytes, ...]
    """As the app gave them (the signer sorts them, as :meth:`Block.create` does)."""
    id: bytes
    unsigned: Block | None = field(default=None, compare=False)
    """The block with a blank signature (:func:`unsigned_block`): a signer's answer is
    checked against it byte for byte (:meth:`Block.signed_as`) rather than parsed."""


class BatchSigner(BlockSigner, Protocol):
    """A signer that takes every block of a hook call at once (the worker's: one request).

    ``blocks`` signs in order and stops at the first refusal: the blocks signed before it,
    and the refusal (:class:`ConsentRefused`) or None.
    """

    def blocks(
        self, requests: Sequence[SignRequest]
    ) -> tuple[list[Block], ConsentRefused | None]: ...


def unsigned_id(creator: bytes, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> bytes:
    """The id of the block :meth:`Block.create` would sign, refused as it would refuse it.

    Why: ``publish`` answers the id before the block is signed (see the module); bad drafts
    raise here what signing them would raise (:class:`LocalError`, :class:`EncodeError`).
    """
    return bytes(unsigned_block(creator, lace, payload, pointers).id)


def unsigned_block(
    creator: bytes, lace: bytes, payload: Value, pointers: tuple[bytes, ...]
) -> Block:
    """The block :meth:`Block.create` would sign, with a blank signature (refused as
    :func:`unsigned_id` says)."""
    ordered = tuple(sorted(pointers))
    if len(set(ordered)) != len(ordered):
        raise LocalError("duplicate pointers")
    try:
        ids = cast(tuple[BlockId, ...], ordered)
        probe = Block(MemberId(creator), LaceId(lace), payload, ids, bytes(SIGNATURE_LEN))
    except InvalidBlock as exc:
        raise LocalError(str(exc)) from None
    size = len(probe.to_bytes())
    if size > MAX_BLOCK_SIZE:
        raise EncodeError(f"block of {size} bytes > {MAX_BLOCK_SIZE}: no peer would take it")
    return probe


def sync_wal(db: Path) -> None:
    """Make every transaction committed to ``db`` so far survive a power cut.

    What SQLite's ``synchronous=FULL`` does at each commit, done only when it matters: the
    write-ahead log is appended in commit order, so one sync of it covers the blocks received
    before too (an own block is never on disk without its pointees).
    """
    try:
        fd = os.open(f"{db}-wal", os.O_RDONLY)
    except FileNotFoundError:  # no log (checkpointed and gone): the commits are in the file
        fd = os.open(db, os.O_RDONLY)
    try:
        full = getattr(fcntl, "F_FULLFSYNC", None)  # Apple: fsync alone stops at the drive
        if full is not None:
            fcntl.fcntl(fd, full)
        else:
            os.fsync(fd)
    finally:
        os.close(fd)


def sign_all(
    signer: BlockSigner, requests: Sequence[SignRequest]
) -> tuple[list[Block], ConsentRefused | None]:
    """Every request signed in order (one batch if ``signer`` takes batches); stops at the
    first refusal.  A signed block whose id is not the request's is the signer's fault."""
    batch = getattr(signer, "blocks", None)
    if batch is not None:
        blocks, refused = batch(requests)
    else:
        blocks, refused = [], None
        for r in requests:
            try:
                blocks.append(signer.block(r.lace, r.payload, r.pointers))
            except ConsentRefused as exc:
                refused = exc
                break
    if len(blocks) > len(requests) or (refused is None and len(blocks) != len(requests)):
        raise LocalError("the signer answered another number of blocks than asked")
    if any(bytes(b.id) != r.id or b.lace != r.lace for b, r in zip(blocks, requests, strict=False)):
        raise LocalError("the signer signed something else than asked")
    return blocks, refused
