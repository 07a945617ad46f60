"""Sealed details: only the named members open them, only under the context they were sealed for,
and every malformed record is a typed error (never another exception)."""

from __future__ import annotations

import contextlib
import dataclasses

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519
from nacl.public import PublicKey, SealedBox

from peoplenet.actors.work.sealed import (
    BOX_LEN,
    MAX_PLAINTEXT,
    MAX_PURPOSE,
    MAX_RECIPIENTS,
    PAD,
    BadSealRequest,
    NotARecipient,
    Sealed,
    SealedKey,
    SealedMalformed,
    SealedTampered,
    open_sealed,
    parse_context,
    seal,
    seal_context,
)
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import RECORD_EXT, decode, encode

COMMUNITY = b"f/" + b"\x0c" * 32
CONTEXT = seal_context(COMMUNITY, "ride", b"pickup/job-1")
PEOPLE = tuple(Identity.from_seed(bytes([i + 1]) * 32) for i in range(MAX_RECIPIENTS + 1))
RIDER, DRIVER, JUROR, OTHER = PEOPLE[:4]


def _open(sealed: Sealed, who: Identity, context: bytes = CONTEXT) -> bytes:
    return open_sealed(sealed, context, who.member_id, who.open_sealed_box)


def _ids(*who: Identity) -> list[bytes]:
    return [bytes(p.member_id) for p in who]


@pytest.mark.parametrize("count", [1, 2, 3, 7, MAX_RECIPIENTS])
def test_every_recipient_opens_and_no_one_else(count: int) -> None:
    readers = PEOPLE[:count]
    sealed = seal(b"12 Quay Street, flat 3", _ids(*reversed(readers)), CONTEXT)
    assert decode(encode(sealed)) == sealed
    assert list(sealed.recipients) == sorted(_ids(*readers))  # the order says nothing of roles
    for who in readers:
        assert _open(sealed, who) == b"12 Quay Street, flat 3"
    outsider = PEOPLE[count]
    assert not sealed.is_for(outsider.member_id)
    with pytest.raises(NotARecipient) as refused:
        _open(sealed, outsider)
    assert refused.value.reason == "not_a_recipient"


@pytest.mark.parametrize("size", [0, 1, PAD - 5, PAD - 4, PAD, 1000, MAX_PLAINTEXT])
def test_any_size_up_to_the_limit_round_trips_padded(size: int) -> None:
    text = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sealed = seal(text, _ids(RIDER), CONTEXT)
    assert _open(sealed, RIDER) == text
    assert (len(sealed.body) - 40) % PAD == 0
    assert len(seal(b"x" * (size // 2), _ids(RIDER), CONTEXT).body) <= len(sealed.body)


def test_short_details_of_different_lengths_look_the_same_size() -> None:
    sizes = {len(encode(seal(b"y" * n, _ids(RIDER, DRIVER), CONTEXT))) for n in range(60)}
    assert len(sizes) == 1


def test_a_repeated_recipient_counts_once() -> None:
    sealed = seal(b"hi", _ids(RIDER, DRIVER, RIDER), CONTEXT)
    assert len(sealed.keys) == 2


@pytest.mark.parametrize(
    "context",
    [
        seal_context(b"f/" + b"\x0d" * 32, "ride", b"pickup/job-1"),  # another cooperative
        seal_context(COMMUNITY, "delivery", b"pickup/job-1"),  # another app
        seal_context(COMMUNITY, "ride", b"pickup/job-2"),  # another job
        seal_context(COMMUNITY, "ride", b"dropoff/job-1"),  # another purpose
    ],
)
def test_a_record_moved_to_another_context_does_not_open(context: bytes) -> None:
    sealed = seal(b"secret", _ids(RIDER, DRIVER), CONTEXT)
    with pytest.raises(SealedTampered) as refused:
        _open(sealed, DRIVER, context)
    assert refused.value.reason == "sealed_tampered"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize("at", [0, 23, 24, 39, 40, -1])
def test_a_tampered_body_does_not_open(at: int) -> None:
    sealed = seal(b"secret", _ids(RIDER, DRIVER), CONTEXT)
    tampered = dataclasses.replace(sealed, body=_flip(sealed.body, at % len(sealed.body)))
    with pytest.raises(SealedTampered):
        _open(tampered, RIDER)


@pytest.mark.parametrize("at", [0, 31, 32, 47, 48, BOX_LEN - 1])
def test_a_tampered_box_does_not_open(at: int) -> None:
    sealed = seal(b"secret", _ids(RIDER), CONTEXT)
    (key,) = sealed.keys
    tampered = Sealed((SealedKey(key.recipient, _flip(key.box, at)),), sealed.body)
    with pytest.raises(SealedTampered):
        _open(tampered, RIDER)


def test_stripping_adding_or_damaging_a_recipient_breaks_the_record_for_everyone() -> None:
    sealed = seal(b"secret", _ids(RIDER, DRIVER, JUROR), CONTEXT)
    fewer = Sealed(tuple(k for k in sealed.keys if k.recipient != JUROR.member_id), sealed.body)
    other = seal(b"other", _ids(OTHER), CONTEXT).keys[0]
    more = Sealed(tuple(sorted((*sealed.keys, other), key=lambda k: k.recipient)), sealed.body)
    damaged = Sealed(
        tuple(
            SealedKey(k.recipient, _flip(k.box, 5)) if k.recipient == JUROR.member_id else k
            for k in sealed.keys
        ),
        sealed.body,
    )
    for record in (fewer, more, damaged):
        with pytest.raises(SealedTampered):
            _open(record, RIDER)


def test_a_box_sealed_to_someone_else_under_my_id_does_not_open() -> None:
    """A member named with another's box: the key does not come out."""
    sealed = seal(b"secret", _ids(DRIVER), CONTEXT)
    forged = Sealed((SealedKey(RIDER.member_id, sealed.keys[0].box),), sealed.body)
    with pytest.raises(SealedTampered):
        _open(forged, RIDER)


def test_a_box_of_another_record_does_not_open_these_details() -> None:
    """The key of one record, spliced into another's body: the body does not open."""
    first = seal(b"first", _ids(RIDER), CONTEXT)
    second = seal(b"second", _ids(RIDER), CONTEXT)
    spliced = Sealed(first.keys, second.body)
    with pytest.raises(SealedTampered):
        _open(spliced, RIDER)


def test_the_identity_opens_only_a_key_box() -> None:
    """The member's key opens 80-byte boxes holding a 32-byte key, nothing else sealed to it."""
    public = PublicKey(crypto_sign_ed25519_pk_to_curve25519(RIDER.member_id))
    assert RIDER.open_sealed_box(bytes(SealedBox(public).encrypt(b"k" * 32))) == b"k" * 32
    assert RIDER.open_sealed_box(bytes(SealedBox(public).encrypt(b"a longer secret" * 3))) is None
    assert RIDER.open_sealed_box(bytes(SealedBox(public).encrypt(b"k" * 31))) is None
    assert RIDER.open_sealed_box(b"\x00" * BOX_LEN) is None
    assert DRIVER.open_sealed_box(bytes(SealedBox(public).encrypt(b"k" * 32))) is None


@pytest.mark.parametrize(
    ("plaintext", "recipients", "context", "why"),
    [
        (b"x" * (MAX_PLAINTEXT + 1), _ids(RIDER), CONTEXT, "at most"),
        ("text", _ids(RIDER), CONTEXT, "at most"),
        (b"x", [], CONTEXT, "1 to"),
        (b"x", _ids(*PEOPLE[: MAX_RECIPIENTS + 1]), CONTEXT, "1 to"),
        (b"x", [b"\x01" * 31], CONTEXT, "32-byte"),
        (b"x", [b"\x00" * 32], CONTEXT, "not a usable member key"),  # a point of small order
        (b"x", [b"\x02" + b"\xff" * 31], CONTEXT, "not a usable member key"),  # not on the curve
        (b"x", _ids(RIDER), b"ride/job-1", "not a seal context"),
    ],
)
def test_seal_refuses_what_it_cannot_take(
    plaintext: bytes, recipients: list[bytes], context: bytes, why: str
) -> None:
    with pytest.raises(BadSealRequest, match=why) as refused:
        seal(plaintext, recipients, context)
    assert refused.value.reason == "bad_seal_request"


def test_contexts_parse_back_and_bad_ones_are_refused() -> None:
    assert parse_context(CONTEXT) == (COMMUNITY, "ride", b"pickup/job-1")
    assert parse_context(seal_context(COMMUNITY, "é", b"")) == (COMMUNITY, "é", b"")
    bad = [
        b"",
        CONTEXT[:-1],
        CONTEXT + b"\x00",
        b"\x00\x00" * 3,
        b"\x00\x01f\x00\x02\xff\xfe\x00\x00",
    ]
    for context in bad:
        with pytest.raises(BadSealRequest):
            parse_context(context)
    for community, app, purpose in [
        (b"", "ride", b""),
        (COMMUNITY, "", b""),
        (b"c" * 65, "ride", b""),
        (COMMUNITY, "ride", b"p" * (MAX_PURPOSE + 1)),
    ]:
        with pytest.raises(BadSealRequest):
            seal_context(community, app, purpose)


# -- decoding: malformed records are typed errors ---------------------------------------------


def _record(tag: int, *fields: object) -> bytes:
    """A record's encoding built by hand (as a peer could send it), fields unchecked."""
    body = msgpack.packb([tag, *fields], use_bin_type=True)
    out: bytes = msgpack.packb(msgpack.ExtType(RECORD_EXT, body), use_bin_type=True)
    return out


def _key(recipient: bytes = b"\x01" * 32, box: bytes = b"\x00" * BOX_LEN) -> object:
    """A SealedKey's encoding, built by hand (its rules unchecked)."""
    return msgpack.ExtType(RECORD_EXT, msgpack.packb([161, recipient, box], use_bin_type=True))


@pytest.mark.parametrize(
    ("keys", "body", "why"),
    [
        ([], b"\x00" * 104, "recipients"),  # nobody
        ([_key(b"\x01" * 32), _key(b"\x01" * 32)], b"\x00" * 104, "ascending"),  # twice
        ([_key(b"\x02" * 32), _key(b"\x01" * 32)], b"\x00" * 104, "ascending"),  # unsorted
        ([_key(b"\x01" * 31)], b"\x00" * 104, "member id"),
        ([_key(box=b"\x00" * (BOX_LEN - 1))], b"\x00" * 104, "box"),
        ([_key(box=b"\x00" * (BOX_LEN + 1))], b"\x00" * 104, "box"),
        ([_key()], b"\x00" * 103, "body"),  # truncated
        ([_key()], b"\x00" * 105, "body"),  # not padded
        ([_key()], b"\x00" * (40 + 4160 + 64), "body"),  # oversized
        ([_key(bytes([i]) * 32) for i in range(MAX_RECIPIENTS + 1)], b"\x00" * 104, "recipients"),
    ],
)
def test_a_malformed_record_fails_decoding_with_a_typed_error(
    keys: list[object], body: bytes, why: str
) -> None:
    with pytest.raises(SealedMalformed, match=why) as refused:
        decode(_record(160, keys, body))
    assert refused.value.reason == "sealed_malformed"


def test_a_valid_record_cut_short_or_grown_is_refused() -> None:
    data = encode(seal(b"secret", _ids(RIDER, DRIVER), CONTEXT))
    for cut in (1, 2, 40, len(data) // 2, len(data) - 1):
        with pytest.raises(RemoteProtocolError):
            decode(data[:cut])
    with pytest.raises(RemoteProtocolError):
        decode(data + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_decode_to_a_typed_error_or_a_value(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):  # anything else fails the test
        decode(data)


_fields = st.one_of(
    st.binary(max_size=120), st.integers(-5, 300), st.text(max_size=5), st.none(),
    st.lists(st.binary(max_size=90), max_size=3),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"\x01" * 32, b"\x02" * 32, b"\x03" * 31]),
            st.sampled_from([BOX_LEN, BOX_LEN - 1, 0]),
            st.integers(160, 162),
        ),
        max_size=4,
    ),
    st.one_of(st.binary(max_size=300), _fields),
    st.integers(0, 3),
)
def test_sealed_shaped_input_gives_a_typed_error_or_a_valid_record(
    keys: list[tuple[bytes, int, int]], body: object, extra: int
) -> None:
    items = [
        msgpack.ExtType(RECORD_EXT, msgpack.packb([tag, who, b"\x00" * size], use_bin_type=True))
        for who, size, tag in keys
    ]
    data = _record(160, items, body, *([b""] * (extra == 3)))
    try:
        record = decode(data)
    except RemoteProtocolError:
        return
    assert isinstance(record, Sealed)  # valid: it holds the rules
    assert 1 <= len(record.keys) <= MAX_RECIPIENTS
    with pytest.raises((SealedTampered, NotARecipient)):
        _open(record, RIDER)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_damaged_valid_record_is_refused_or_does_not_open(data: st.DataObject) -> None:
    original = encode(seal(b"secret", _ids(RIDER, DRIVER), CONTEXT))
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        record = decode(bytes(raw))
    except RemoteProtocolError:
        return
    if not isinstance(record, Sealed):
        return  # the damage changed the tag: some other value, refused by whoever wants a Sealed
    try:
        opened = _open(record, RIDER)
    except (SealedTampered, NotARecipient):
        return
    assert (opened, bytes(raw)) == (b"secret", original)  # opens only if the damage cancelled
