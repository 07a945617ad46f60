"""The peer transport's wire protocol without I/O: preamble, Noise XX, Hello, frames, chunks.

Why sans-IO: the asyncio shell (:mod:`peoplenet.runtime.net.transport`) and the tests' hostile raw
clients
drive the same pieces, so an attack test speaks exactly the protocol the node speaks, and every
refusal rule lives here where it can be tested byte by byte.  The protocol is described in
``docs/transport.md``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, Final

from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519
from noise.connection import Keypair, NoiseConnection

from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, Identity, MemberId, verify
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import Record, Value, wire_type

MAGIC: Final = b"PNET"
VERSION: Final = 1
PREAMBLE_LEN: Final = 13
"""``MAGIC`` + version byte + 8-byte BLAKE2b digest of the network id."""

NOISE_PROTOCOL: Final = b"Noise_XX_25519_ChaChaPoly_BLAKE2b"
PROLOGUE_PREFIX: Final = b"peoplenet.transport.v1"
HELLO_CONTEXT: Final = b"peoplenet.hello.v1"

HANDSHAKE_HEADER: Final = struct.Struct(">H")
FRAME_HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 65_535
"""Largest Noise ciphertext in one transport frame (the Noise message limit)."""
TAG_LEN: Final = 16
MAX_CHUNK: Final = MAX_FRAME - TAG_LEN - 1
"""Application bytes per frame: the ciphertext limit less the AEAD tag and the kind byte."""

KIND_CHUNK: Final = 0x00
KIND_FINAL: Final = 0x01
KIND_PING: Final = 0x02
KIND_PONG: Final = 0x03

DEFAULT_MAX_MESSAGE: Final = 1024 * 1024 + 64 * 1024


# -- errors ----------------------------------------------------------------------------------


class TransportError(RemoteProtocolError):
    """A peer broke the transport protocol; the connection is closed.

    ``member`` is the id the peer claimed, when it got that far (for the log line).
    """

    reason = "transport_error"

    member: bytes | None = None


class HandshakeError(TransportError):
    """The preamble or the Noise handshake failed (``bad_preamble``, ``timeout``...)."""

    reason = "handshake_failed"


class WrongNetwork(HandshakeError):
    """The peer speaks our protocol for another network id."""

    reason = "wrong_network"

    def __init__(self, reason: str = "wrong_network", detail: str = "") -> None:
        super().__init__(reason, detail)


class IdentityMismatch(TransportError):
    """The Hello did not bind the connection to an acceptable member."""

    reason = "identity_mismatch"


class FrameTooLarge(TransportError):
    """A frame or a reassembled message exceeds its limit."""

    reason = "frame_too_large"


class DecryptError(TransportError):
    """A frame failed authentication: garbage, replayed, reordered or dropped frames."""

    reason = "decrypt_failed"

    def __init__(self, reason: str = "decrypt_failed", detail: str = "") -> None:
        super().__init__(reason, detail)


class ProtocolViolation(TransportError):
    """A well-encrypted frame that the protocol does not allow here."""

    reason = "protocol_violation"


class PeerTimeout(TransportError):
    """The peer went silent (``idle``)."""

    reason = "peer_timeout"


class ConnectionClosed(LocalError):
    """The caller used a connection that is already closed."""

    reason = "connection_closed"


# -- preamble --------------------------------------------------------------------------------


def check_network_id(network_id: bytes) -> None:
    if type(network_id) is not bytes or not 1 <= len(network_id) <= 64:
        raise LocalError("a network id is 1..64 bytes")


def preamble(network_id: bytes) -> bytes:
    """The cleartext bytes each side sends first."""
    check_network_id(network_id)
    digest = hashlib.blake2b(network_id, digest_size=8).digest()
    return MAGIC + bytes([VERSION]) + digest


def check_preamble(expected: bytes, received: bytes) -> None:
    """Refuse a peer whose preamble is not ours: garbage, or another network."""
    if received == expected:
        return
    if received[:5] == expected[:5] and len(received) == PREAMBLE_LEN:
        raise WrongNetwork("wrong_network", "the peer belongs to another network")
    raise HandshakeError("bad_preamble", "not a Peoplenet transport preamble")


# -- Noise handshake -------------------------------------------------------------------------


def static_private_key(identity: Identity) -> bytes:
    """The X25519 private key derived from the identity's Ed25519 key.

    Reads ``Identity._key`` (a nacl ``SigningKey``) directly: identity.py deliberately has no
    accessor for key material, and this derivation is the transport's business alone.
    """
    signing_key: Any = identity._key  # private on purpose: no accessor exposes key material
    return bytes(crypto_sign_ed25519_sk_to_curve25519(signing_key._signing_key))


class NoiseHandshake:
    """One side of ``Noise_XX_25519_ChaChaPoly_BLAKE2b`` with the network-bound prologue.

    Call :meth:`write` when :attr:`my_turn`, else :meth:`read`, until :attr:`finished`; then
    :meth:`channel` gives the transport cipher.  Handshake messages are framed by the caller
    with :data:`HANDSHAKE_HEADER`.
    """

    def __init__(self, key: Identity | bytes, network_id: bytes, *, initiator: bool) -> None:
        """``key``: the identity, or its X25519 private key from :func:`static_private_key`."""
        check_network_id(network_id)
        static = key if isinstance(key, bytes) else static_private_key(key)
        self.initiator = initiator
        self._noise: Any = NoiseConnection.from_name(NOISE_PROTOCOL)
        if initiator:
            self._noise.set_as_initiator()
        else:
            self._noise.set_as_responder()
        self._noise.set_keypair_from_private_bytes(Keypair.STATIC, static)
        self._noise.set_prologue(PROLOGUE_PREFIX + network_id)
        self._noise.start_handshake()
        self._writes = 0
        self._reads = 0

    @property
    def finished(self) -> bool:
        return bool(self._noise.handshake_finished)

    @property
    def my_turn(self) -> bool:
        """Whether the next handshake step is ours to write (XX: I writes 1 and 3)."""
        step = self._writes + self._reads
        return (step % 2 == 0) == self.initiator

    def write(self) -> bytes:
        """The next handshake message (empty payload), framed with its 2-byte length."""
        self._writes += 1
        body = bytes(self._noise.write_message(b""))
        return HANDSHAKE_HEADER.pack(len(body)) + body

    def read(self, body: bytes) -> None:
        """Consume one handshake message body; any fault is :class:`HandshakeError`."""
        self._reads += 1
        try:
            payload = self._noise.read_message(body)
        except Exception as exc:  # the library raises many types for bad input
            raise HandshakeError("handshake_failed", f"{type(exc).__name__}: {exc}") from None
        if payload:
            raise HandshakeError("handshake_failed", "unexpected handshake payload")

    def channel(self) -> SecureChannel:
        if not self.finished:
            raise LocalError("the handshake has not finished")
        return SecureChannel(self._noise)


# -- Hello: binding the session to a member ------------------------------------------------


@wire_type(20)
@dataclass(frozen=True, slots=True)
class Hello(Record):
    """The first transport message each way: "I am ``member`` and I took part in this session"."""

    member: bytes
    signature: bytes


def hello_message(handshake_hash: bytes, *, initiator: bool) -> bytes:
    """What a Hello signs: context, the sender's role, and the Noise handshake hash."""
    return HELLO_CONTEXT + (b"I" if initiator else b"R") + handshake_hash


def make_hello(identity: Identity, handshake_hash: bytes, *, initiator: bool) -> Hello:
    message = hello_message(handshake_hash, initiator=initiator)
    return Hello(identity.member_id, identity.sign(message))


def check_hello(
    hello: Hello,
    handshake_hash: bytes,
    *,
    sender_is_initiator: bool,
    own: MemberId,
    expect: MemberId | None = None,
) -> MemberId:
    """The member a peer's Hello binds the connection to, or :class:`IdentityMismatch`."""
    message = hello_message(handshake_hash, initiator=sender_is_initiator)
    if len(hello.member) != ID_LEN or not verify(hello.member, message, hello.signature):
        raise IdentityMismatch("bad_hello_signature", "the Hello does not sign this session")
    if hello.member == own:
        raise IdentityMismatch("self_connection", "the peer has our own member id")
    if expect is not None and hello.member != expect:
        raise IdentityMismatch("unexpected_peer", "another member answered")
    return MemberId(hello.member)


def hello_frame(channel: SecureChannel, identity: Identity, *, initiator: bool) -> bytes:
    """The framed Hello this side sends first after the handshake."""
    hello = make_hello(identity, channel.handshake_hash, initiator=initiator)
    return channel.seal(KIND_FINAL, codec.encode(hello))


def parse_hello(kind: int, data: bytes) -> Hello:
    """The peer's first transport message, which must be a whole Hello."""
    if kind != KIND_FINAL:
        raise ProtocolViolation("expected_hello", f"first frame has kind {kind}")
    return codec.decode_as(Hello, data, max_size=1024)


# -- transport frames ------------------------------------------------------------------------


def frame_length(header: bytes) -> int:
    """The ciphertext length in a 4-byte frame header; refuses oversize before any body."""
    (size,) = FRAME_HEADER.unpack(header)
    if size > MAX_FRAME:
        raise FrameTooLarge("frame_too_large", f"frame of {size} bytes > {MAX_FRAME}")
    return int(size)


class SecureChannel:
    """The post-handshake cipher pair.  Nonces are implicit, so frames must arrive in order."""

    def __init__(self, noise: Any) -> None:
        self._noise = noise
        self.handshake_hash: bytes = bytes(noise.get_handshake_hash())

    def seal(self, kind: int, data: bytes = b"") -> bytes:
        """One framed transport message: 4-byte length + ciphertext of ``kind`` + ``data``."""
        if len(data) > MAX_CHUNK:
            raise LocalError(f"chunk of {len(data)} bytes > {MAX_CHUNK}")
        body = self._noise.encrypt(bytes([kind]) + data)
        return FRAME_HEADER.pack(len(body)) + bytes(body)

    def seal_message(self, encoded: bytes) -> list[bytes]:
        """Frames carrying one encoded application message: chunks, then a final chunk."""
        last = max(0, (len(encoded) - 1) // MAX_CHUNK)
        frames = []
        for i in range(last + 1):
            kind = KIND_FINAL if i == last else KIND_CHUNK
            frames.append(self.seal(kind, encoded[i * MAX_CHUNK : (i + 1) * MAX_CHUNK]))
        return frames

    def open(self, body: bytes) -> tuple[int, bytes]:
        """Decrypt one frame body into (kind, data); every failure is :class:`DecryptError`."""
        try:
            plain = bytes(self._noise.decrypt(body))
        except Exception as exc:  # InvalidTag, NoiseInvalidMessage, bad lengths
            raise DecryptError("decrypt_failed", type(exc).__name__) from None
        if not plain:
            raise ProtocolViolation("empty_frame", "a frame without a kind byte")
        return plain[0], plain[1:]


class MessageAssembler:
    """Reassembles chunked application messages, refusing any above ``max_message`` bytes."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, kind: int, data: bytes) -> bytes | None:
        """Add a chunk (``KIND_CHUNK`` / ``KIND_FINAL``); a whole message when one completes."""
        if kind not in (KIND_CHUNK, KIND_FINAL):
            raise ProtocolViolation("unknown_kind", f"kind byte {kind}")
        self._size += len(data)
        if self._size > self.max_message:
            raise FrameTooLarge("message_too_large", f"message over {self.max_message} bytes")
        self._parts.append(data)
        if kind == KIND_CHUNK:
            return None
        whole = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return whole


def decode_message(encoded: bytes, max_message: int = DEFAULT_MAX_MESSAGE) -> Value:
    """An application message; codec faults pass through as :class:`RemoteProtocolError`."""
    return codec.decode(encoded, max_size=max_message)
