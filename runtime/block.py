"""Signed blocks: the only thing that ever leaves a phone.

A block is ``(creator, lace, payload, pointers, signature)``.  Its id is BLAKE2b-256 (with a
Peoplenet personalisation) of the canonical encoding of ``(creator, lace, payload, pointers)``,
and the signature is the creator's Ed25519 signature of that id.  Pointers are block ids of
the same lace, sorted and distinct, so the encoding -- and therefore the id -- is canonical.

Rules that need other blocks (the chain pointer, pointer targets) live in
:mod:`runtime.blocklace`; this module checks what a block says about itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, NewType

from runtime.codec import Record, Value, decode_as, encode, wire_type
from runtime.errors import EncodeError, InvalidBlock, LocalError
from runtime.identity import ID_LEN, SIGNATURE_LEN, Identity, MemberId, verify

BlockId = NewType("BlockId", bytes)
"""BLAKE2b-256 of a block's unsigned canonical encoding."""

LaceId = NewType("LaceId", bytes)
"""A lace (namespace) id: 1 to 64 opaque bytes."""

BLOCK_ID_LEN: Final = 32
MAX_LACE_LEN: Final = 64
MAX_POINTERS: Final = 1024
MAX_BLOCK_SIZE: Final = 256 * 1024
"""A block larger than this is refused: big content travels by hash, not inline."""

_PERSON: Final = b"peoplenet.blk.v1"


def block_id_of(
    creator: bytes, lace: bytes, payload: Value, pointers: tuple[bytes, ...]
) -> BlockId:
    """The id a block with these contents has (whoever signs it)."""
    unsigned = encode((creator, lace, payload, pointers))
    return BlockId(hashlib.blake2b(unsigned, digest_size=BLOCK_ID_LEN, person=_PERSON).digest())


@wire_type(1)
@dataclass(frozen=True, slots=True)
class Block(Record):
    """A signed block.  Build one with :meth:`create`; parse one with :meth:`from_bytes`."""

    creator: MemberId
    """Public key of the member who signed it."""
    lace: LaceId
    """Which lace (personal, community epoch...) it belongs to."""
    payload: Value
    """What it says: a transaction, a follow, a post... interpreted by upper layers."""
    pointers: tuple[BlockId, ...]
    """Ids of blocks it observes directly, sorted ascending, distinct."""
    signature: bytes
    """The creator's Ed25519 signature of the id."""
    _id: BlockId | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.creator) != ID_LEN:
            raise InvalidBlock("bad_creator", "creator must be a 32-byte key")
        if not 1 <= len(self.lace) <= MAX_LACE_LEN:
            raise InvalidBlock("bad_lace", f"lace id must be 1..{MAX_LACE_LEN} bytes")
        if len(self.signature) != SIGNATURE_LEN:
            raise InvalidBlock("bad_signature", "signature must be 64 bytes")
        ptrs = self.pointers
        if len(ptrs) > MAX_POINTERS:
            raise InvalidBlock("too_many_pointers", f"{len(ptrs)} > {MAX_POINTERS}")
        for i, p in enumerate(ptrs):
            if len(p) != BLOCK_ID_LEN:
                raise InvalidBlock("bad_pointer", "pointers are 32-byte block ids")
            if i and ptrs[i - 1] >= p:
                raise InvalidBlock("unsorted_pointers", "pointers must be sorted and distinct")

    @property
    def id(self) -> BlockId:
        cached = self._id
        if cached is None:
            cached = block_id_of(self.creator, self.lace, self.payload, self.pointers)
            object.__setattr__(self, "_id", cached)
        return cached

    @property
    def is_initial(self) -> bool:
        """Initial blocks point nowhere (depth 0)."""
        return not self.pointers

    @classmethod
    def create(
        cls, identity: Identity, lace: bytes, payload: Value, pointers: tuple[bytes, ...] = ()
    ) -> Block:
        """Sign a new block.  ``pointers`` may be in any order; duplicates are refused.

        Bad arguments raise :class:`LocalError` (not :class:`InvalidBlock`: the fault is ours,
        not a peer's), and so does a block too large for :meth:`from_bytes` to accept.
        """
        ordered = tuple(sorted(pointers))
        if len(set(ordered)) != len(ordered):
            raise LocalError("duplicate pointers")
        bid = block_id_of(identity.member_id, lace, payload, ordered)
        try:
            block = cls(
                MemberId(identity.member_id),
                LaceId(bytes(lace)),
                payload,
                tuple(BlockId(p) for p in ordered),
                identity.sign(bid),
            )
        except InvalidBlock as exc:
            raise LocalError(str(exc)) from None
        size = len(encode(block))
        if size > MAX_BLOCK_SIZE:
            raise EncodeError(f"block of {size} bytes > {MAX_BLOCK_SIZE}: no peer would take it")
        object.__setattr__(block, "_id", bid)
        return block

    def signature_ok(self) -> bool:
        """Whether the signature is the creator's signature of the id."""
        return verify(self.creator, self.id, self.signature)

    def to_bytes(self) -> bytes:
        return encode(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Block:
        """Decode and check the canonical form (not the signature: see :func:`verify_block`)."""
        block = decode_as(cls, data, max_size=MAX_BLOCK_SIZE)
        object.__setattr__(block, "_id", _id_from_canonical(data))
        return block


def _id_from_canonical(data: bytes) -> BlockId:
    """The id of a block from its canonical bytes, without re-encoding.

    The record body is ``[1, creator, lace, payload, pointers, signature]`` (fixarray 6, then
    the tag) and ends with the signature as ``bin8`` of 64 bytes; the unsigned encoding is
    ``[creator, lace, payload, pointers]`` (fixarray 4) -- the same element bytes.  Only valid
    for bytes that :func:`decode_as` has already accepted as canonical.
    """
    head = _EXT_HEADER[data[0]]
    assert data[head : head + 2] == b"\x96\x01"
    assert data[-66:-64] == b"\xc4\x40"
    unsigned = b"\x94" + data[head + 2 : -66]
    return BlockId(hashlib.blake2b(unsigned, digest_size=BLOCK_ID_LEN, person=_PERSON).digest())


_EXT_HEADER: Final = {0xC7: 3, 0xC8: 4, 0xC9: 6}
"""Header length of msgpack ext8/ext16/ext32 (a block body is never a fixext size)."""


def verify_block(block: Block) -> None:
    """Raise :class:`InvalidBlock` unless the creator signed this block."""
    if not block.signature_ok():
        raise InvalidBlock("forged_signature", "signature does not verify", block_id=block.id)
