"""Member identities: Ed25519 key pairs whose public key *is* the member id.

Why a bare 32-byte id: it is what travels in every block, it needs no registry (grassroots:
no global resource), and anyone can check a signature with nothing but the id.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final, NewType, NoReturn

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import SealedBox
from nacl.signing import SigningKey, VerifyKey

from peoplenet.runtime.errors import LocalError

MemberId = NewType("MemberId", bytes)
"""A member's Ed25519 public key (32 bytes)."""

ID_LEN: Final = 32
SIGNATURE_LEN: Final = 64
SEED_LEN: Final = 32
SEALED_KEY_BOX_LEN: Final = 80
"""The only boxes :meth:`Identity.open_sealed_box` opens: a 32-byte key sealed (``SealedBox``)
to the member's X25519 key."""


def member_id(raw: bytes) -> MemberId:
    """Check that ``raw`` has the shape of a member id and type it as one."""
    if type(raw) is not bytes or len(raw) != ID_LEN:
        raise LocalError("a member id is 32 bytes")
    return MemberId(raw)


def fingerprint(mid: bytes) -> str:
    """A short, human-comparable name for a member id, e.g. ``k3tq-7xwa-pm2d-r5ve``.

    Sixteen base32 characters of a hash of the key: 80 bits, enough that two people reading
    them aloud to each other would notice a substitution.
    """
    digest = hashlib.blake2b(mid, digest_size=16, person=b"peoplenet.fpr").digest()
    text = base64.b32encode(digest).decode("ascii").lower()[:16]
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def verify(mid: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``mid``'s Ed25519 signature of ``message``."""
    if len(signature) != SIGNATURE_LEN or len(mid) != ID_LEN:
        return False
    try:
        VerifyKey(mid).verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


class Identity:
    """A member's key pair.  Only the member actor should hold one."""

    __slots__ = ("_key", "member_id")

    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self.member_id: MemberId = MemberId(bytes(key.verify_key))

    @classmethod
    def generate(cls) -> Identity:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """Rebuild a key pair from its 32-byte seed (deterministic; used by tests and key files)."""
        if type(seed) is not bytes or len(seed) != SEED_LEN:
            raise LocalError("an Ed25519 seed is 32 bytes")
        return cls(SigningKey(seed))

    def seed(self) -> bytes:
        """The secret seed.  Callers must not log or send it; the key file encrypts it."""
        return bytes(self._key)

    def sign(self, message: bytes) -> bytes:
        """The detached 64-byte signature of ``message``."""
        return bytes(self._key.sign(message).signature)

    def open_sealed_box(self, box: bytes) -> bytes | None:
        """The 32-byte key sealed to this member in ``box`` (``SealedBox`` to the X25519 key
        converted from the member's Ed25519 key), or None if it does not open.

        Why only that: the secret stays here and only a key for sealed details comes out (see
        ``actors/work/sealed.py``); nothing else sealed to the member's key is opened."""
        if type(box) is not bytes or len(box) != SEALED_KEY_BOX_LEN:
            return None
        try:
            key: bytes = SealedBox(self._key.to_curve25519_private_key()).decrypt(box)
        except CryptoError:
            return None
        return key

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.member_id)

    def __repr__(self) -> str:  # never show the secret
        return f"Identity({self.fingerprint})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an Identity holds a secret key and is never pickled")
