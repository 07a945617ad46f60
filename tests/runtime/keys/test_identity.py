"""Identities: Ed25519 signing, stable fingerprints, and a secret that never leaks.

Why: the member id is the public key and a block's authority is its signature, so these
must match the standard exactly; and the seed must not escape through repr or pickling.
"""

from __future__ import annotations

import copy
import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import (
    ID_LEN,
    SEED_LEN,
    SIGNATURE_LEN,
    Identity,
    fingerprint,
    member_id,
    verify,
)

# RFC 8032, section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIG_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
RFC2_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC2_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC2_SIG = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)

FINGERPRINT = re.compile(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}")


def test_matches_rfc8032_vectors() -> None:
    one = Identity.from_seed(RFC_SEED)
    assert one.member_id == RFC_PUBLIC
    assert one.sign(b"") == RFC_SIG_EMPTY
    assert verify(RFC_PUBLIC, b"", RFC_SIG_EMPTY)
    two = Identity.from_seed(RFC2_SEED)
    assert two.member_id == RFC2_PUBLIC
    assert two.sign(b"\x72") == RFC2_SIG


def test_sign_and_verify() -> None:
    me = Identity.generate()
    sig = me.sign(b"hello")
    assert len(sig) == SIGNATURE_LEN
    assert len(me.member_id) == ID_LEN
    assert verify(me.member_id, b"hello", sig)
    assert not verify(me.member_id, b"hellO", sig)
    assert me.sign(b"hello") == sig  # Ed25519 is deterministic


def test_wrong_key_does_not_verify() -> None:
    me, other = Identity.generate(), Identity.generate()
    assert me.member_id != other.member_id
    assert not verify(other.member_id, b"msg", me.sign(b"msg"))


@pytest.mark.parametrize(
    ("mid", "sig"),
    [
        (b"\x00" * 31, b"\x00" * 64),
        (b"\x00" * 33, b"\x00" * 64),
        (RFC_PUBLIC, RFC_SIG_EMPTY[:-1]),
        (RFC_PUBLIC, RFC_SIG_EMPTY + b"\x00"),
        (b"", b""),
        (b"\xff" * 32, RFC_SIG_EMPTY),  # not a curve point
        (b"\x00" * 32, b"\x00" * 64),  # small-order key, all-zero signature
        (b"\x01" + b"\x00" * 31, b"\x01" + b"\x00" * 63),  # the identity point
    ],
)
def test_verify_says_no_instead_of_raising(mid: bytes, sig: bytes) -> None:
    assert verify(mid, b"", sig) is False


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=32, max_size=32), st.binary(max_size=64), st.binary(min_size=64, max_size=64)
)
def test_verify_is_total(mid: bytes, message: bytes, sig: bytes) -> None:
    assert verify(mid, message, sig) in (True, False)


def test_from_seed_is_deterministic() -> None:
    seed = bytes(range(SEED_LEN))
    a, b = Identity.from_seed(seed), Identity.from_seed(seed)
    assert a.member_id == b.member_id
    assert a.sign(b"x") == b.sign(b"x")
    assert a.seed() == seed
    assert Identity.from_seed(a.seed()).member_id == a.member_id
    assert Identity.from_seed(b"\x01" * 32).member_id != a.member_id


@pytest.mark.parametrize("seed", [b"", b"\x00" * 31, b"\x00" * 33, bytearray(32), "x" * 32, None])
def test_bad_seed_is_a_local_error(seed: object) -> None:
    with pytest.raises(LocalError):
        Identity.from_seed(seed)  # type: ignore[arg-type]


def test_fingerprint_format_and_stability() -> None:
    seeded = Identity.from_seed(bytes(range(32)))
    assert seeded.fingerprint == fingerprint(seeded.member_id)
    assert FINGERPRINT.fullmatch(seeded.fingerprint)
    # Pinned: people compare these across phones and versions.
    assert seeded.fingerprint == "fmpv-srtf-zjaz-djul"
    assert fingerprint(RFC_PUBLIC) == Identity.from_seed(RFC_SEED).fingerprint
    assert fingerprint(RFC_PUBLIC) != fingerprint(RFC2_PUBLIC)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_fingerprint_format_for_any_key(mid: bytes) -> None:
    assert FINGERPRINT.fullmatch(fingerprint(mid))


def test_member_id_checks_shape() -> None:
    assert member_id(RFC_PUBLIC) == RFC_PUBLIC
    for bad in (RFC_PUBLIC[:-1], RFC_PUBLIC + b"\x00", bytearray(RFC_PUBLIC), "x" * 32):
        with pytest.raises(LocalError):
            member_id(bad)  # type: ignore[arg-type]


def test_repr_does_not_show_the_seed() -> None:
    me = Identity.from_seed(RFC_SEED)
    for text in (repr(me), str(me), f"{me}", repr([me])):
        assert RFC_SEED.hex() not in text.lower()
        assert repr(RFC_SEED) not in text
        assert RFC_SEED.hex()[:16] not in text.lower()
        assert me.fingerprint in text


def test_identity_is_never_pickled_or_copied() -> None:
    me = Identity.generate()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(me, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps([me])
    with pytest.raises(TypeError):
        copy.copy(me)
    with pytest.raises(TypeError):
        copy.deepcopy(me)
