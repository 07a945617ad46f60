"""A second implementation of docs/wire-format.md, from the document alone.

Why: the wire format is a spec only if someone can follow it without the code.  This module
uses nothing of Peoplenet -- only msgpack's packer, hashlib and nacl -- and builds encodings,
ids and lace ids the way docs/wire-format.md says to; tests/runtime/wire/test_wire_format.py
compares its
results with the production code's on generated inputs.  Records are :class:`Rec` values (a
tag and the fields in their documented order), not the production classes.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import msgpack
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

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


# -- verdicts ----------------------------------------------------------------------------------

MAX_BLOCK_SIZE: Final = 256 * 1024
MAX_CONTAINER_LEN: Final = 65_536
OPAQUE_FROM: Final = 200

Check: TypeAlias = Callable[[object], bool]


class Refused(Exception):
    """The verdict on some input: refused, with the documented reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where no bracket is open."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "[{":
            depth += 1
        elif text[i] in "]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def type_check(notation: str, records: dict[str, int]) -> Check:
    """A predicate for one field type written in the tag table's notation."""
    alts = _split_top(notation, "|")
    if len(alts) > 1:
        checks = [type_check(a, records) for a in alts]
        return lambda v: any(c(v) for c in checks)
    t = alts[0]
    simple: dict[str, Check] = {
        "bin": lambda v: type(v) is bytes,
        "int": lambda v: type(v) is int,
        "str": lambda v: type(v) is str,
        "bool": lambda v: type(v) is bool,
        "nil": lambda v: v is None,
        "any": lambda v: True,
    }
    if t in simple:
        return simple[t]
    if t.startswith("[") and t.endswith("…]"):
        item = type_check(t[1:-2], records)
        return lambda v: type(v) is tuple and all(item(x) for x in v)
    if t.startswith("["):
        items = [type_check(p, records) for p in _split_top(t[1:-1], ",")]
        return lambda v: (
            type(v) is tuple
            and len(v) == len(items)
            and all(c(x) for c, x in zip(items, v, strict=True))
        )
    if t.startswith("{str: "):
        value = type_check(t[len("{str: ") : -1], records)
        return lambda v: type(v) is dict and all(value(x) for x in v.values())
    tag = records[t]
    return lambda v: isinstance(v, Rec) and v.tag == tag


def _block_rules(fields: tuple[Spec, ...]) -> None:
    """Record 1's own rules, in their documented order."""
    creator, lace, _payload, pointers, signature = fields
    assert isinstance(creator, bytes) and isinstance(lace, bytes)
    assert isinstance(pointers, tuple) and isinstance(signature, bytes)
    if len(creator) != 32:
        raise Refused("bad_creator")
    if not 1 <= len(lace) <= 64:
        raise Refused("bad_lace")
    if len(signature) != 64:
        raise Refused("bad_signature")
    if len(pointers) > 1024:
        raise Refused("too_many_pointers")
    if any(len(p) != 32 for p in pointers if isinstance(p, bytes)):
        raise Refused("bad_pointer")
    if any(not a < b for a, b in itertools.pairwise(pointers)):  # type: ignore[operator]
        raise Refused("unsorted_pointers")


class Decoder:
    """Decoding as docs/wire-format.md §1-§2 describes it, given the tag table's types."""

    def __init__(self, table: dict[int, list[str]], names: dict[str, int]) -> None:
        self.fields = {tag: [type_check(t, names) for t in types] for tag, types in table.items()}

    def decode(self, data: bytes, limit: int) -> Spec:
        if len(data) > limit:
            raise Refused("oversize")
        value = self._parse(data, 0)
        self._walk(value, 0)
        if canonical_unchecked(value) != data:
            raise Refused("not_canonical")
        return value

    def _parse(self, data: bytes, depth: int) -> Spec:
        if not data:
            raise Refused("truncated")
        if depth > MAX_DEPTH:
            raise Refused("too_deep")
        cap = min(len(data), MAX_CONTAINER_LEN)
        try:
            value: Spec = msgpack.unpackb(
                data,
                raw=False,
                use_list=False,
                strict_map_key=True,
                ext_hook=lambda code, body: self._record(code, body, depth + 1),
                max_str_len=len(data),
                max_bin_len=len(data),
                max_ext_len=len(data),
                max_array_len=cap,
                max_map_len=cap,
            )
        except Refused:
            raise
        except msgpack.ExtraData:
            raise Refused("trailing_bytes") from None
        except msgpack.StackError:
            raise Refused("too_deep") from None
        except (ValueError, msgpack.OutOfData) as exc:
            text = str(exc)
            if isinstance(exc, msgpack.OutOfData) or "incomplete" in text:
                raise Refused("truncated") from None
            if "exceeds max_array_len" in text or "exceeds max_map_len" in text:
                # a count beyond what the input holds: it ended early
                raise Refused("truncated" if cap == len(data) else "malformed") from None
            raise Refused("malformed") from None
        return value

    def _record(self, code: int, body: bytes, depth: int) -> Rec:
        if code != RECORD_EXT:
            raise Refused("unknown_ext")
        items = self._parse(body, depth)
        if type(items) is not tuple or not items or type(items[0]) is not int:
            raise Refused("bad_record")
        tag, fields = items[0], items[1:]
        checks = self.fields.get(tag)
        if checks is None:
            if tag >= OPAQUE_FROM:
                return Rec(tag, fields)
            raise Refused("unknown_tag")
        if len(fields) != len(checks):
            raise Refused("bad_record")
        for check, item in zip(checks, fields, strict=True):
            if not check(item):
                raise Refused("bad_field")
        if tag == 1:
            _block_rules(fields)
        return Rec(tag, fields)

    def _walk(self, value: Spec, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise Refused("too_deep")
        if isinstance(value, msgpack.Timestamp):  # msgpack reads ext -1 as a timestamp itself
            raise Refused("unknown_ext")
        if isinstance(value, float):
            raise Refused("not_canonical")
        children: Sequence[Spec] = ()
        if isinstance(value, tuple):
            children = value
        elif isinstance(value, Rec):
            children = value.fields
        elif isinstance(value, dict):
            keys = list(value)
            if any(type(k) is not str for k in keys):
                raise Refused("not_canonical")
            if any(not a.encode() < b.encode() for a, b in itertools.pairwise(keys)):
                raise Refused("not_canonical")
            children = list(value.values())
        for child in children:
            self._walk(child, depth + 1)


def canonical_unchecked(value: Spec) -> bytes:
    """The canonical encoding, without the depth limit (the decoder has checked it)."""

    def normal(v: Spec) -> object:
        if isinstance(v, tuple):
            return [normal(x) for x in v]
        if isinstance(v, dict):
            return {k: normal(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-8"))}
        if isinstance(v, Rec):
            body = [v.tag, *(normal(x) for x in v.fields)]
            return msgpack.ExtType(RECORD_EXT, msgpack.packb(body, use_bin_type=True))
        return v

    out: bytes = msgpack.packb(normal(value), use_bin_type=True)
    return out


def block_verdict(decoder: Decoder, raw: bytes) -> str:
    """§3: decode as record 1, then check the signature of the id."""
    try:
        block = decoder.decode(raw, MAX_BLOCK_SIZE)
        if not isinstance(block, Rec) or block.tag != 1:
            raise Refused("wrong_type")
        creator, lace, payload, pointers, signature = block.fields
        assert isinstance(creator, bytes) and isinstance(signature, bytes)
        assert isinstance(lace, bytes) and isinstance(pointers, tuple)
        unsigned = canonical_unchecked((creator, lace, payload, pointers))
        try:
            VerifyKey(creator).verify(blake2b(unsigned, 32, b"peoplenet.blk.v1"), signature)
        except (BadSignatureError, ValueError):
            raise Refused("forged_signature") from None
    except Refused as exc:
        return f"refuse {exc.reason}"
    return "accept"
