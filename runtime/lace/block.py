"""Signed blocks: the only thing that ever leaves a phone.

A block is ``(creator, lace, payload, pointers, signature)``.  Its id is BLAKE2b-256 (with a
Peoplenet personalisation) of the canonical encoding of ``(creator, lace, payload, pointers)``,
and the signature is the creator's Ed25519 signature of that id.  Pointers are block ids of
the same lace, sorted and distinct, so the encoding -- and therefore the id -- is canonical.

Rules that need other blocks (the chain pointer, pointer targets) live in
:mod:`peoplenet.runtime.lace.blocklace`; this module checks what a block says about itself.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from dataclasses import dataclass, field
from itertools import islice
from operator import lt
from typing import Final, NewType, cast

from peoplenet.runtime.errors import EncodeError, InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN, Identity, MemberId, verify
from peoplenet.runtime.wire.codec import (
    RECORD_EXT,
    Record,
    Value,
    decode_as,
    encode,
    encode_nested,
    wire_type,
)
from peoplenet.runtime.wire.fast_parsers import (
    array_header,
    decode_prefix,
    read_array_header,
    record_prefix_at,
)

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
_ID_LEN_ONLY: Final = frozenset({BLOCK_ID_LEN})


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
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)
    """The canonical encoding, once known (built or parsed): encoding is not free."""

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
        if not ptrs:
            return
        if not _ID_LEN_ONLY.issuperset(map(len, ptrs)):
            raise InvalidBlock("bad_pointer", "pointers are 32-byte block ids")
        if not all(map(lt, ptrs, islice(ptrs, 1, None))):
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
        # The payload sits one level inside the block: its nesting limit counts from there.
        return cls.create_encoded(identity, lace, payload, encode_nested(payload, 1), pointers)

    @classmethod
    def create_encoded(
        cls,
        identity: Identity,
        lace: bytes,
        payload: Value,
        payload_raw: bytes,
        pointers: tuple[bytes, ...] = (),
    ) -> Block:
        """:meth:`create` for a payload whose canonical encoding the caller already holds.

        Why: a consensus member builds its payload from transactions it encoded when they
        were submitted; encoding them again is a good part of making a block.
        ``payload_raw`` must be ``encode(payload)``: the id and signature cover those bytes.
        """
        ordered = tuple(sorted(pointers))
        if len(set(ordered)) != len(ordered):
            raise LocalError("duplicate pointers")
        creator = identity.member_id
        tail = _unsigned_tail(creator, lace, payload_raw, ordered)
        if tail is not None:
            # The usual arguments, which _unsigned_tail checked as __post_init__ would
            # (sizes, count; sorted and distinct just above): no need to check them again.
            digest = _UNSIGNED_HEAD.copy()  # the id, as in _id_from_canonical
            digest.update(tail)
            bid = digest.digest()
            signature = identity.sign(bid)
            block = object.__new__(cls)
            setattr_ = object.__setattr__
            setattr_(block, "creator", creator)
            setattr_(block, "lace", lace)
            setattr_(block, "payload", payload)
            setattr_(block, "pointers", ordered)
            setattr_(block, "signature", signature)
        else:  # odd arguments: the generic encoder and the checks decide
            unsigned = encode((creator, lace, payload, ordered))
            bid = hashlib.blake2b(unsigned, digest_size=BLOCK_ID_LEN, person=_PERSON).digest()
            try:
                block = cls(
                    MemberId(creator),
                    LaceId(bytes(lace)),
                    payload,
                    cast(tuple[BlockId, ...], ordered),
                    identity.sign(bid),
                )
            except InvalidBlock as exc:
                raise LocalError(str(exc)) from None
            tail = unsigned[1:]
            signature = block.signature
        # The signed encoding is the unsigned one as a 6-array with the tag in front and the
        # signature (bin8 of 64) behind: the mirror image of _id_from_canonical.
        size = len(tail) + 4 + len(signature)  # body: 96 01, the elements, c4 40, signature
        head = bytes((0xC7, size, RECORD_EXT)) if size < 0x100 else _ext_header(size)
        raw = b"".join((head, b"\x96\x01", tail, b"\xc4\x40", signature))
        size = len(raw)
        if size > MAX_BLOCK_SIZE:
            raise EncodeError(f"block of {size} bytes > {MAX_BLOCK_SIZE}: no peer would take it")
        setattr_ = object.__setattr__
        setattr_(block, "_id", bid)
        setattr_(block, "_raw", raw)
        return block

    def signed_as(self, raw: bytes) -> Block | None:
        """This block with the signature ``raw`` carries, if ``raw`` is this block signed (the
        same bytes but the signature's), else None.

        Why: whoever asked a signer for a block already holds everything in it but the
        signature; checking the answer byte for byte costs less than parsing it.
        """
        mine = self.to_bytes()
        cut = len(mine) - SIGNATURE_LEN
        if type(raw) is not bytes or len(raw) != len(mine) or raw[:cut] != mine[:cut]:
            return None
        block = Block(self.creator, self.lace, self.payload, self.pointers, raw[cut:])
        object.__setattr__(block, "_id", self.id)
        object.__setattr__(block, "_raw", raw)
        return block

    def signature_ok(self) -> bool:
        """Whether the signature is the creator's signature of the id."""
        return verify(self.creator, self.id, self.signature)

    def to_bytes(self) -> bytes:
        cached = self._raw
        if cached is None:
            cached = encode(self)
            object.__setattr__(self, "_raw", cached)
        return cached

    @classmethod
    def from_bytes(cls, data: bytes) -> Block:
        """Decode and check the canonical form (not the signature: see :func:`verify_block`).

        Bytes laid out exactly as :meth:`to_bytes` lays them out take a fast path (only the
        payload goes through the generic decoder); anything else -- including every
        malformed or non-canonical input -- goes through :func:`decode_as`, which refuses it
        with its usual reason.
        """
        if type(data) is bytes:
            block = _parse_canonical(cls, data)
            if block is not None:
                return block
        block = decode_as(cls, data, max_size=MAX_BLOCK_SIZE)
        data = bytes(data)
        object.__setattr__(block, "_id", _id_from_canonical(data))
        object.__setattr__(block, "_raw", data)
        return block


def _parse_canonical(cls: type[Block], data: bytes) -> Block | None:
    """``data`` as a block if it is laid out as the canonical encoding of one, else ``None``.

    The layout: ext ``0x50`` with the smallest header for its length, then the body
    ``[1, creator, lace, payload, pointers, signature]`` -- fixarray 6, fixint 1, each ``bin``
    with the smallest header (a lace is at most 64 bytes: ``bin8``), the payload as a
    canonical value (:func:`decode_prefix` re-encodes it to check), pointers as an array with
    the smallest header of ``bin8`` 32-byte ids.  Every byte is accounted for, so a block
    accepted here is exactly what :func:`decode_as` would accept; ``None`` sends the input
    there, to be accepted or refused with its usual reason.  The block comes back with its
    id and encoding set.
    """
    size = len(data)
    if size > MAX_BLOCK_SIZE or size < 3 + _MIN_BODY:
        return None
    # A block body is longer than any fixext: ext8 (the usual), ext16 or ext32.
    head = 3 if data[0] == 0xC7 and data[1] + 3 == size else _wide_head(data, size)
    if (
        head is None
        or data[head - 1] != RECORD_EXT
        or not data.startswith(b"\x96\x01\xc4\x20", head)
    ):
        return None
    at = head + 36
    sig_at = size - 66
    if data[at] != 0xC4 or not data.startswith(b"\xc4\x40", sig_at):
        return None
    lace_end = at + 2 + data[at + 1]
    if lace_end >= sig_at or not 1 <= lace_end - at - 2 <= MAX_LACE_LEN:
        return None
    found = record_prefix_at(data, lace_end, sig_at, 1) or _payload_at(data, lace_end, sig_at)
    if found is None:
        return None
    payload, at = found
    count = data[at] - 0x90
    if 0 <= count <= 15:  # the usual pointers header, a fixarray
        at += 1
    else:
        array = read_array_header(data, at)
        if array is None or array[0] > MAX_POINTERS:
            return None
        count, at = array
    if at + 34 * count != sig_at:
        return None
    if count:
        layout, c4s, twenties = _pointers_layout(count)
        if data[at:sig_at:34] != c4s or data[at + 1 : sig_at : 34] != twenties:
            return None
        pointers = layout.unpack_from(data, at)
        if not all(map(lt, pointers, islice(pointers, 1, None))):
            return None  # decode_as refuses it with the reason Block.__post_init__ gives
    else:
        pointers = ()
    # Every other check of __post_init__ holds by the layout (32-byte creator, 64-byte
    # signature, bin8-32 pointers, count <= MAX_POINTERS): build the block without them.
    digest = _UNSIGNED_HEAD.copy()  # the id: see _id_from_canonical
    digest.update(data[head + 2 : sig_at])  # a copy costs less than a memoryview here
    block = object.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(block, "creator", data[head + 4 : head + 36])
    setattr_(block, "lace", data[head + 38 : lace_end])
    setattr_(block, "payload", payload)
    setattr_(block, "pointers", pointers)
    setattr_(block, "signature", data[sig_at + 2 :])
    setattr_(block, "_id", digest.digest())
    setattr_(block, "_raw", data)
    return block


def _wide_head(data: bytes, size: int) -> int | None:
    """The length of a canonical ext16 or ext32 header of the whole of ``data``, else None."""
    kind = data[0]
    if kind == 0xC8:
        body = int.from_bytes(data[1:3], "big")
        return 4 if body >= 0x100 and body + 4 == size else None
    if kind == 0xC9:
        body = int.from_bytes(data[1:5], "big")
        return 6 if body >= 0x10000 and body + 6 == size else None
    return None


def _payload_at(data: bytes, at: int, stop: int) -> tuple[Value, int] | None:
    """``decode_prefix(data[at:stop], depth=1)`` and the offset after the value, or ``None`` if
    it refuses (for payloads :func:`record_prefix_at` leaves to the general path)."""
    try:
        payload, used = decode_prefix(data[at:stop], depth=1)
    except RemoteProtocolError:
        return None
    return payload, at + used


_MIN_BODY: Final = 4 + ID_LEN + 3 + 1 + 1 + 2 + SIGNATURE_LEN
"""The shortest block body: 96 01 c4 20, creator, a 1-byte lace, a 1-byte payload, no
pointers (one byte), c4 40 and the signature."""


@functools.lru_cache(maxsize=MAX_POINTERS + 1)
def _pointers_layout(count: int) -> tuple[struct.Struct, bytes, bytes]:
    """Reads ``count`` pointers (``bin8`` headers skipped) in one C call, not one per pointer;
    with the bytes their headers must show (every 34th byte from the first, and the second)."""
    return struct.Struct("2x32s" * count), b"\xc4" * count, b"\x20" * count


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
    digest = _UNSIGNED_HEAD.copy()  # hashing b"\x94" + the elements, without copying them
    with memoryview(data) as view:
        digest.update(view[head + 2 : -66])
    return BlockId(digest.digest())


_UNSIGNED_HEAD: Final = hashlib.blake2b(b"\x94", digest_size=BLOCK_ID_LEN, person=_PERSON)
"""The id hash after the unsigned encoding's first byte (fixarray 4), to copy and go on."""


def _unsigned_tail(
    creator: bytes, lace: bytes, payload_raw: bytes, pointers: tuple[bytes, ...]
) -> bytes | None:
    """``encode((creator, lace, payload, pointers))`` without its first byte (fixarray 4),
    assembled from its parts in one join, for the usual arguments (bytes of valid sizes);
    ``None`` for anything else."""
    count = len(pointers)
    if (
        type(creator) is not bytes
        or len(creator) != ID_LEN
        or type(lace) is not bytes
        or not 1 <= len(lace) <= MAX_LACE_LEN
        or count > MAX_POINTERS
        or not _BYTES_ONLY.issuperset(map(type, pointers))
        or not _ID_LEN_ONLY.issuperset(map(len, pointers))
    ):
        return None
    return b"".join(
        (
            b"\xc4\x20",
            creator,
            bytes((0xC4, len(lace))),  # a lace is at most 64 bytes: bin8
            lace,
            payload_raw,
            bytes((0x90 | count,)) if count < 16 else array_header(count),
            b"\xc4\x20" if count else b"",
            b"\xc4\x20".join(pointers),
        )
    )


_BYTES_ONLY: Final = frozenset({bytes})


def _ext_header(size: int) -> bytes:
    """The canonical header of a record body of ``size`` bytes (never a fixext size here)."""
    if size < 0x100:
        return b"\xc7" + bytes([size, RECORD_EXT])
    if size < 0x10000:
        return b"\xc8" + size.to_bytes(2, "big") + bytes([RECORD_EXT])
    return b"\xc9" + size.to_bytes(4, "big") + bytes([RECORD_EXT])


_EXT_HEADER: Final = {0xC7: 3, 0xC8: 4, 0xC9: 6}
"""Header length of msgpack ext8/ext16/ext32 (a block body is never a fixext size)."""


def verify_block(block: Block) -> None:
    """Raise :class:`InvalidBlock` unless the creator signed this block."""
    if not block.signature_ok():
        raise InvalidBlock("forged_signature", "signature does not verify", block_id=block.id)
