"""A second implementation of docs/wire-format.md, from the document alone.

Why: the wire format is a spec only if someone can follow it without the code.  This module
uses nothing of Peoplenet -- only msgpack's packer, hashlib and nacl -- and builds encodings,
ids and lace ids the way docs/wire-format.md says to; tests/test_wire_format.py compares its
results with the production code's on generated inputs.  Records are :class:`Rec` values (a
tag and the fields in their documented order), not the production classes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import msgpack
from nacl.signing import SigningKey

RECORD_EXT: Final = 0x50
MAX_DEPTH: Final = 32


@dataclass(frozen=True)
class Rec:
    """A record: its tag and its fields, in the order the tag table lists them."""

    tag: int
    fields: tuple[Spec, ...]


Spec: TypeAlias = bool | int | str | bytes | tuple["Spec", ...] | dict[str, "Spec"] | Rec | None


def _normal(value: Spec, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise ValueError("nesting deeper than 32")
    if isinstance(value, tuple):
        return [_normal(v, depth + 1) for v in value]
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-8"))
        return {k: _normal(value[k], depth + 1) for k in keys}
    if isinstance(value, Rec):
        body = [value.tag, *(_normal(v, depth + 1) for v in value.fields)]
        return msgpack.ExtType(RECORD_EXT, msgpack.packb(body, use_bin_type=True))
    if isinstance(value, float):
        raise ValueError("floats have no canonical encoding")
    return value


def canonical(value: Spec) -> bytes:
    """The canonical encoding: smallest formats, sorted keys, records as ext 0x50."""
    out: bytes = msgpack.packb(_normal(value, 0), use_bin_type=True)
    return out


def blake2b(data: bytes, size: int, person: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=size, person=person).digest()


# -- identities --------------------------------------------------------------------------------


def member_id(seed: bytes) -> bytes:
    return bytes(SigningKey(seed).verify_key)


def sign(seed: bytes, message: bytes) -> bytes:
    return bytes(SigningKey(seed).sign(message).signature)


def fingerprint(mid: bytes) -> str:
    text = base64.b32encode(blake2b(mid, 16, b"peoplenet.fpr")).decode().lower()[:16]
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


# -- blocks ------------------------------------------------------------------------------------


def unsigned_block(creator: bytes, lace: bytes, payload: Spec, pointers: Sequence[bytes]) -> bytes:
    return canonical((creator, lace, payload, tuple(sorted(pointers))))


def block_id(creator: bytes, lace: bytes, payload: Spec, pointers: Sequence[bytes]) -> bytes:
    return blake2b(unsigned_block(creator, lace, payload, pointers), 32, b"peoplenet.blk.v1")


def signed_block(seed: bytes, lace: bytes, payload: Spec, pointers: Sequence[bytes]) -> bytes:
    """A whole block: record 1 of creator, lace, payload, pointers and the id's signature."""
    creator = member_id(seed)
    signature = sign(seed, block_id(creator, lace, payload, pointers))
    return canonical(Rec(1, (creator, lace, payload, tuple(sorted(pointers)), signature)))


def personal_lace(member: bytes) -> bytes:
    return b"p/" + member


# -- communities -------------------------------------------------------------------------------


def constitution(
    participants: Sequence[bytes], num: int = 2, den: int = 3, timeout_ms: int = 1000
) -> Rec:
    return Rec(60, (tuple(sorted(participants)), num, den, timeout_ms))


def genesis(
    community: bytes,
    epoch: int,
    constitution_: Rec,
    previous_lace: bytes = b"",
    ended_by: bytes = b"",
    ended_at: int = 0,
) -> Rec:
    return Rec(61, (community, epoch, constitution_, previous_lace, ended_by, ended_at))


def epoch_lace(genesis_: Rec) -> bytes:
    return b"c/" + blake2b(canonical(genesis_), 32, b"peoplenet.epoch1")


def default_charter() -> Rec:
    """The charter whose every field has its default value."""
    return Rec(100, ("1/2", "2/3", "0", 86_400_000, 2, {}, (), (), (), (), (), ()))


def founding_digest(name: str, charter: Rec, founders: Sequence[bytes], at: int) -> bytes:
    data = canonical((name, charter, tuple(sorted(founders)), at))
    return blake2b(data, 32, b"peoplenet.found1")


def coop_community(name: str, charter: Rec, founders: Sequence[bytes], at: int) -> bytes:
    return b"f/" + founding_digest(name, charter, founders, at)


def app_lace(community: bytes, app: str) -> bytes:
    return b"a/" + blake2b(community + b"\x00" + app.encode("ascii"), 32, b"peoplenet.app")


def amendment_digest(lace: bytes, constitution_: Rec) -> bytes:
    return blake2b(canonical((lace, constitution_)), 32, b"peoplenet.amend1")


def surety_digest(community: bytes, a: bytes, b: bytes) -> bytes:
    lo, hi = sorted((a, b))
    data = len(community).to_bytes(2, "big") + community + lo + hi
    return blake2b(data, 32, b"peoplenet.sure1")


def key_update_digest(community: bytes, old: bytes, new: bytes) -> bytes:
    data = len(community).to_bytes(2, "big") + community + old + new
    return blake2b(data, 32, b"peoplenet.rekey1")


def domain_message(domain: bytes, digest: bytes) -> bytes:
    return domain + b"\x00" + digest


def tx_key(tx: Spec) -> bytes:
    return blake2b(canonical(tx), 16)


def preamble(network_id: bytes) -> bytes:
    return b"PNET" + bytes([1]) + blake2b(network_id, 8)


def _bin(data: bytes) -> bytes:
    out: bytes = msgpack.packb(data, use_bin_type=True)
    return out


def _ext_header(size: int) -> bytes:
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(size)
    if fixed is not None:
        return bytes((fixed, RECORD_EXT))
    if size < 0x100:
        return bytes((0xC7, size, RECORD_EXT))
    if size < 0x10000:
        return b"\xc8" + size.to_bytes(2, "big") + bytes((RECORD_EXT,))
    return b"\xc9" + size.to_bytes(4, "big") + bytes((RECORD_EXT,))


def spliced_block(
    seed: bytes, lace: bytes, payload_raw: bytes, pointers: Sequence[bytes] = ()
) -> bytes:
    """A signed block around payload bytes given as they are (canonical or not).

    The layout of docs/wire-format.md: the unsigned encoding is ``0x94``, then creator, lace,
    payload and pointers; the signed one is ext 0x50 of ``0x96 0x01``, the same four elements,
    and the signature.  Pointers are kept in the order given (so unsorted ones can be built).
    """
    creator = member_id(seed)
    ptrs: bytes = msgpack.packb(list(pointers), use_bin_type=True)
    elements = _bin(creator) + _bin(lace) + payload_raw + ptrs
    bid = blake2b(b"\x94" + elements, 32, b"peoplenet.blk.v1")
    body = b"\x96\x01" + elements + _bin(sign(seed, bid))
    return _ext_header(len(body)) + body
