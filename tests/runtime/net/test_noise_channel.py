"""The transport's sans-IO protocol: preamble, Noise XX, Hello binding, frames and chunks."""

from __future__ import annotations

import struct

import pytest
from nacl.bindings import crypto_scalarmult_base, crypto_sign_ed25519_pk_to_curve25519

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.net.noise_channel import (
    KIND_CHUNK,
    KIND_FINAL,
    KIND_PING,
    MAX_CHUNK,
    MAX_FRAME,
    PREAMBLE_LEN,
    DecryptError,
    FrameTooLarge,
    HandshakeError,
    Hello,
    IdentityMismatch,
    MessageAssembler,
    NoiseHandshake,
    ProtocolViolation,
    SecureChannel,
    WrongNetwork,
    check_hello,
    check_preamble,
    frame_length,
    make_hello,
    parse_hello,
    preamble,
    static_private_key,
)
from peoplenet.runtime.wire import codec

NET = b"test-net"
ALICE = Identity.from_seed(bytes([1]) * 32)
BOB = Identity.from_seed(bytes([2]) * 32)
MALLORY = Identity.from_seed(bytes([3]) * 32)


def handshake(
    a: Identity = ALICE, b: Identity = BOB, net_a: bytes = NET, net_b: bytes = NET
) -> tuple[SecureChannel, SecureChannel]:
    """Run XX in memory; returns (initiator channel, responder channel)."""
    ini = NoiseHandshake(a, net_a, initiator=True)
    res = NoiseHandshake(b, net_b, initiator=False)
    while not (ini.finished and res.finished):
        src, dst = (ini, res) if ini.my_turn else (res, ini)
        dst.read(src.write()[2:])
    return ini.channel(), res.channel()


def body(frame: bytes) -> bytes:
    assert frame_length(frame[:4]) == len(frame) - 4
    return frame[4:]


def test_preamble_is_magic_version_and_network_digest() -> None:
    p = preamble(NET)
    assert len(p) == PREAMBLE_LEN and p[:5] == b"PNET\x01"
    assert preamble(b"other")[:5] == p[:5] and preamble(b"other") != p
    check_preamble(p, p)
    with pytest.raises(WrongNetwork) as wrong:
        check_preamble(p, preamble(b"other"))
    assert wrong.value.reason == "wrong_network"
    with pytest.raises(HandshakeError) as bad:
        check_preamble(p, b"GET / HTTP/1.")
    assert bad.value.reason == "bad_preamble" and not isinstance(bad.value, WrongNetwork)


def test_static_key_is_the_identity_key_converted_to_x25519() -> None:
    public = crypto_scalarmult_base(static_private_key(ALICE))
    assert public == crypto_sign_ed25519_pk_to_curve25519(ALICE.member_id)


def test_both_sides_agree_on_the_handshake_hash_and_hellos_bind_members() -> None:
    ini, res = handshake()
    assert ini.handshake_hash == res.handshake_hash and len(ini.handshake_hash) == 64
    hello_i = make_hello(ALICE, ini.handshake_hash, initiator=True)
    hello_r = make_hello(BOB, res.handshake_hash, initiator=False)
    hh = res.handshake_hash
    assert check_hello(hello_i, hh, sender_is_initiator=True, own=BOB.member_id) == ALICE.member_id
    assert (
        check_hello(
            hello_r, hh, sender_is_initiator=False, own=ALICE.member_id, expect=BOB.member_id
        )
        == BOB.member_id
    )
    # The role byte is signed: a Hello cannot be reflected back in the other role.
    with pytest.raises(IdentityMismatch) as reflected:
        check_hello(hello_i, hh, sender_is_initiator=False, own=BOB.member_id)
    assert reflected.value.reason == "bad_hello_signature"


def test_hello_refusals() -> None:
    ini, _ = handshake()
    hh = ini.handshake_hash
    forged = Hello(BOB.member_id, MALLORY.sign(b"peoplenet.hello.v1I" + hh))
    own = ALICE.member_id
    with pytest.raises(IdentityMismatch) as bad:
        check_hello(forged, hh, sender_is_initiator=True, own=own)
    assert bad.value.reason == "bad_hello_signature"
    other_session, _ = handshake()
    replayed = make_hello(BOB, other_session.handshake_hash, initiator=True)
    with pytest.raises(IdentityMismatch) as replay:
        check_hello(replayed, hh, sender_is_initiator=True, own=own)
    assert replay.value.reason == "bad_hello_signature"
    with pytest.raises(IdentityMismatch) as self_conn:
        check_hello(make_hello(ALICE, hh, initiator=True), hh, sender_is_initiator=True, own=own)
    assert self_conn.value.reason == "self_connection"
    with pytest.raises(IdentityMismatch) as unexpected:
        check_hello(
            make_hello(MALLORY, hh, initiator=True),
            hh,
            sender_is_initiator=True,
            own=own,
            expect=MemberId(BOB.member_id),
        )
    assert unexpected.value.reason == "unexpected_peer"
    short = Hello(b"x" * 5, b"y" * 64)
    with pytest.raises(IdentityMismatch):
        check_hello(short, hh, sender_is_initiator=True, own=own)


def test_parse_hello_requires_a_final_hello_record() -> None:
    hello = make_hello(ALICE, b"h" * 64, initiator=True)
    assert parse_hello(KIND_FINAL, codec.encode(hello)) == hello
    with pytest.raises(ProtocolViolation) as kind:
        parse_hello(KIND_CHUNK, codec.encode(hello))
    assert kind.value.reason == "expected_hello"
    with pytest.raises(RemoteProtocolError) as wrong:
        parse_hello(KIND_FINAL, codec.encode("hello"))
    assert wrong.value.reason == "wrong_type"


def test_different_networks_cannot_complete_the_handshake() -> None:
    with pytest.raises(HandshakeError) as err:
        handshake(net_b=b"other-net")
    assert err.value.reason == "handshake_failed"


def test_garbage_handshake_message_is_a_handshake_error() -> None:
    res = NoiseHandshake(BOB, NET, initiator=False)
    with pytest.raises(HandshakeError) as err:
        res.read(b"\x01" * 5)
    assert err.value.reason == "handshake_failed"


def test_frames_round_trip_and_refuse_replay_reorder_and_garbage() -> None:
    ini, res = handshake()
    f1, f2, f3 = (ini.seal(KIND_FINAL, bytes([i])) for i in range(3))
    assert res.open(body(f1)) == (KIND_FINAL, b"\x00")
    with pytest.raises(DecryptError) as replay:
        res.open(body(f1))
    assert replay.value.reason == "decrypt_failed"
    with pytest.raises(DecryptError):  # f3 before f2: the implicit nonce does not match
        res.open(body(f3))
    assert res.open(body(f2)) == (KIND_FINAL, b"\x01")
    with pytest.raises(DecryptError):
        res.open(b"\x00" * 40)
    # The other direction uses its own key and nonce.
    assert ini.open(body(res.seal(KIND_PING))) == (KIND_PING, b"")


def test_frame_length_refuses_oversize_before_the_body() -> None:
    assert frame_length(struct.pack(">I", MAX_FRAME)) == MAX_FRAME
    with pytest.raises(FrameTooLarge) as err:
        frame_length(struct.pack(">I", MAX_FRAME + 1))
    assert err.value.reason == "frame_too_large"


@pytest.mark.parametrize("size", [0, 1, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 3 * MAX_CHUNK])
def test_messages_are_chunked_and_reassembled(size: int) -> None:
    ini, res = handshake()
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    frames = ini.seal_message(data)
    assert len(frames) == max(1, -(-size // MAX_CHUNK))
    assert all(len(f) - 4 <= MAX_FRAME for f in frames)
    assembler = MessageAssembler()
    results = [assembler.feed(*res.open(body(f))) for f in frames]
    assert results[:-1] == [None] * (len(frames) - 1)
    assert results[-1] == data


def test_assembler_refuses_oversize_messages_and_unknown_kinds() -> None:
    assembler = MessageAssembler(max_message=100)
    assert assembler.feed(KIND_CHUNK, b"x" * 60) is None
    with pytest.raises(FrameTooLarge) as err:
        assembler.feed(KIND_FINAL, b"x" * 41)
    assert err.value.reason == "message_too_large"
    with pytest.raises(ProtocolViolation) as kind:
        MessageAssembler().feed(7, b"")
    assert kind.value.reason == "unknown_kind"
