"""Sealed details: a few private bytes (an exact address, a phone number) only named members read.

A work app's transactions go through the cooperative's consensus, so every member's node stores
them; a rider's pickup point must not.  :func:`seal` encrypts ``plaintext`` for a few members
by their ids alone (public keys: it runs inside the app, which holds no key): a fresh random
key encrypts the details once (``SecretBox``), and that key is encrypted to each recipient
(``SealedBox`` to the X25519 key converted from the recipient's Ed25519 member id).  The
:class:`Sealed` record carries the recipients' ids (visible) and their boxes; anyone can store
and relay it, only a recipient's node can open it (:func:`open_sealed`, given a function that
opens a box with the member's secret key: the node's signer, never the app).

``context`` (:func:`seal_context`: the cooperative, the app and a purpose such as a job id,
each length-prefixed), the sorted recipient ids and their boxes are bound into the key the
details are encrypted under, so a record lifted into another job, app or cooperative, or
altered anywhere (a recipient stripped, added or swapped), does not open
(:class:`SealedTampered`).  ``docs/work-kit.md`` ("Sealed details")
says what this protects and what it does not.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import nacl.exceptions
import nacl.utils
from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519
from nacl.public import PublicKey, SealedBox
from nacl.secret import SecretBox

from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN
from peoplenet.runtime.wire.codec import Record, wire_type

KEY_LEN: Final = SecretBox.KEY_SIZE  # 32
BOX_LEN: Final = KEY_LEN + 32 + 16
"""A recipient's box: the ephemeral X25519 public key, the MAC, the 32-byte key (80 bytes)."""
PAD: Final = 64
"""Details are padded to a multiple of this before encryption (sizes leak in 64-byte steps)."""
LENGTH: Final = struct.Struct(">I")
MAX_PLAINTEXT: Final = 4096
MAX_RECIPIENTS: Final = 32
BODY_OVERHEAD: Final = SecretBox.NONCE_SIZE + SecretBox.MACBYTES  # 24 + 16
MIN_BODY: Final = BODY_OVERHEAD + PAD
MAX_BODY: Final = BODY_OVERHEAD + -(-(LENGTH.size + MAX_PLAINTEXT) // PAD) * PAD
MAX_COMMUNITY: Final = 64
MAX_APP: Final = 64
MAX_PURPOSE: Final = 128
PERSON: Final = b"peoplenet.sealed"
"""BLAKE2b personalisation of the details' key (16 bytes)."""


class SealedMalformed(RemoteProtocolError):
    """A :class:`Sealed` record breaks its own rules (sizes, order, counts): refused on decoding."""

    reason = "sealed_malformed"

    def __init__(self, detail: str) -> None:
        super().__init__("sealed_malformed", detail)


class SealedTampered(RemoteProtocolError):
    """A box that does not open: altered, sealed for another context, or the recipient's box
    holds no key for these details."""

    reason = "sealed_tampered"

    def __init__(self, detail: str) -> None:
        super().__init__("sealed_tampered", detail)


class NotARecipient(LocalError):
    """The details were not sealed to this member: this node cannot open them."""

    reason = "not_a_recipient"


class BadSealRequest(LocalError):
    """:func:`seal` or :func:`seal_context` was given what it cannot take (sizes, ids)."""

    reason = "bad_seal_request"


@wire_type(161)
@dataclass(frozen=True, slots=True)
class SealedKey(Record):
    """One recipient's copy of the details' key: ``box`` opens only with ``recipient``'s key."""

    recipient: bytes
    box: bytes

    def __post_init__(self) -> None:
        if len(self.recipient) != ID_LEN:
            raise SealedMalformed(f"a recipient is a {ID_LEN}-byte member id")
        if len(self.box) != BOX_LEN:
            raise SealedMalformed(f"a recipient's box is {BOX_LEN} bytes, not {len(self.box)}")


@wire_type(160)
@dataclass(frozen=True, slots=True)
class Sealed(Record):
    """Details encrypted for a few members: their keys (sorted by recipient) and the body."""

    keys: tuple[SealedKey, ...]
    body: bytes
    """Nonce, then the padded details encrypted and authenticated (``SecretBox``)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.keys) <= MAX_RECIPIENTS:
            raise SealedMalformed(f"1 to {MAX_RECIPIENTS} recipients, not {len(self.keys)}")
        ids = [k.recipient for k in self.keys]
        if any(a >= b for a, b in pairwise(ids)):
            raise SealedMalformed("recipients are distinct, in ascending order")
        size = len(self.body)
        if not MIN_BODY <= size <= MAX_BODY or (size - BODY_OVERHEAD) % PAD:
            raise SealedMalformed(
                f"a body is {MIN_BODY} to {MAX_BODY} bytes, {BODY_OVERHEAD} plus a multiple of "
                f"{PAD}; not {size}"
            )

    @property
    def recipients(self) -> tuple[bytes, ...]:
        """Who can open it (in ascending order: the order says nothing of their roles)."""
        return tuple(k.recipient for k in self.keys)

    def is_for(self, member: bytes) -> bool:
        return any(k.recipient == member for k in self.keys)


def seal_context(community: bytes, app: str, purpose: bytes) -> bytes:
    """What a sealed record is bound to: ``community ‖ app ‖ purpose``, each length-prefixed.

    ``purpose`` is the app's: e.g. ``b"pickup/" + job_id``, so the details of one job do not
    open as another's."""
    parts = (community, app.encode("utf-8"), purpose)
    if not (1 <= len(parts[0]) <= MAX_COMMUNITY and 1 <= len(parts[1]) <= MAX_APP):
        raise BadSealRequest("a seal context names a community and an app")
    if len(purpose) > MAX_PURPOSE:
        raise BadSealRequest(f"a seal purpose is at most {MAX_PURPOSE} bytes")
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def parse_context(context: bytes) -> tuple[bytes, str, bytes]:
    """``(community, app, purpose)`` of a :func:`seal_context`; :class:`BadSealRequest` if it
    is not one."""
    parts: list[bytes] = []
    rest = context if type(context) is bytes else b""
    for _ in range(3):
        if len(rest) < 2:
            raise BadSealRequest("not a seal context (see seal_context)")
        (size,) = struct.unpack_from(">H", rest)
        if len(rest) < 2 + size:
            raise BadSealRequest("not a seal context (see seal_context)")
        parts.append(rest[2 : 2 + size])
        rest = rest[2 + size :]
    if rest:
        raise BadSealRequest("bytes after the seal context")
    try:
        app = parts[1].decode("utf-8")
    except UnicodeDecodeError:
        raise BadSealRequest("a seal context's app name is text") from None
    if seal_context(parts[0], app, parts[2]) != context:
        raise BadSealRequest("not a seal context (see seal_context)")
    return parts[0], app, parts[2]


def _body_key(key: bytes, context: bytes, keys: Sequence[SealedKey]) -> bytes:
    """The details' key: the random key bound to the context, to who may read them and to
    their boxes (a recipient who opens knows the record is whole, as sealed)."""
    data = LENGTH.pack(len(context)) + context + b"".join(k.recipient + k.box for k in keys)
    return hashlib.blake2b(data, key=key, digest_size=KEY_LEN, person=PERSON).digest()


def _x25519(member: bytes) -> PublicKey:
    if type(member) is not bytes or len(member) != ID_LEN:
        raise BadSealRequest(f"a recipient is a {ID_LEN}-byte member id")
    try:
        return PublicKey(crypto_sign_ed25519_pk_to_curve25519(member))
    except nacl.exceptions.CryptoError:  # not a point of the curve, or of small order
        raise BadSealRequest(f"{member.hex()[:16]}... is not a usable member key") from None


def seal(plaintext: bytes, recipients: Sequence[bytes], context: bytes) -> Sealed:
    """``plaintext`` readable only by ``recipients`` (member ids; repeats count once), and only
    under ``context`` (:func:`seal_context`).  :class:`BadSealRequest` on what it cannot take."""
    if type(plaintext) is not bytes or len(plaintext) > MAX_PLAINTEXT:
        raise BadSealRequest(f"sealed details are at most {MAX_PLAINTEXT} bytes")
    parse_context(context)
    ids = sorted(set(recipients))
    if not 1 <= len(ids) <= MAX_RECIPIENTS:
        raise BadSealRequest(f"details are sealed to 1 to {MAX_RECIPIENTS} members")
    publics = [_x25519(m) for m in ids]
    key = nacl.utils.random(KEY_LEN)
    framed = LENGTH.pack(len(plaintext)) + plaintext
    framed += bytes(-len(framed) % PAD)
    keys = tuple(
        SealedKey(m, bytes(SealedBox(p).encrypt(key))) for m, p in zip(ids, publics, strict=True)
    )
    return Sealed(keys, bytes(SecretBox(_body_key(key, context, keys)).encrypt(framed)))


BoxOpener = Callable[[bytes], bytes | None]
"""Opens one recipient's box with the member's secret key: the 32 bytes inside, or None."""


def open_sealed(sealed: Sealed, context: bytes, me: bytes, open_box: BoxOpener) -> bytes:
    """The details, for ``me`` (whose secret key ``open_box`` holds) under ``context``.

    Raises :class:`NotARecipient` (no box for ``me``), :class:`SealedTampered` (a box or the
    body does not open: altered, or sealed under another context) or :class:`BadSealRequest`
    (``context`` is not a seal context).  Only the details come out: the key stays here.
    """
    parse_context(context)
    box = next((k.box for k in sealed.keys if k.recipient == me), None)
    if box is None:
        raise NotARecipient("these details were not sealed to this member")
    key = open_box(box)
    if key is None or len(key) != KEY_LEN:
        raise SealedTampered("this member's box does not open")
    try:
        framed = SecretBox(_body_key(key, context, sealed.keys)).decrypt(sealed.body)
    except nacl.exceptions.CryptoError:
        raise SealedTampered("the details do not open (altered, or another context)") from None
    (size,) = LENGTH.unpack_from(framed)
    end = LENGTH.size + size
    if end > len(framed) or any(framed[end:]) or len(framed) - end >= PAD:
        raise SealedTampered("the details are not padded as sealing pads them")
    return framed[LENGTH.size : end]


__all__ = [
    "BOX_LEN",
    "MAX_PLAINTEXT",
    "MAX_PURPOSE",
    "MAX_RECIPIENTS",
    "BadSealRequest",
    "BoxOpener",
    "NotARecipient",
    "Sealed",
    "SealedKey",
    "SealedMalformed",
    "SealedTampered",
    "open_sealed",
    "parse_context",
    "seal",
    "seal_context",
]
