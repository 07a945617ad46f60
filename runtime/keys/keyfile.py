"""A member's secret key at rest: the Ed25519 seed sealed under a passphrase.

Why this shape:

* **argon2id** turns the passphrase into a 32-byte key, so guessing passphrases offline costs
  memory as well as time.  **SecretBox** (XSalsa20-Poly1305) seals the 32-byte seed.
* The **member id is stored in clear**, so a phone can say whose key a file holds before
  asking for the passphrase (:func:`read_member_id`), and, after decrypting, a seed that does
  not yield that id is caught.
* A **BLAKE2b checksum** over the rest of the file separates two failures the secretbox MAC
  alone cannot tell apart: a damaged file (:class:`CorruptKeyFile`) and a wrong passphrase
  (:class:`WrongPassphrase`).  A member must know whether to retype or to restore a backup.
* The KDF parameters read from a file are **bounded** before use, so a crafted file cannot
  make us allocate gigabytes or spin for minutes.
* Writes are **atomic and private**: a temp file (mode 0600) in the same directory, fsynced,
  then moved onto the target; a crash or error leaves the previous file as it was.

The byte layout is in ``docs/identity.md``.  Every exception raised here names the file but
never the passphrase or the seed.  Reading a missing file raises :class:`KeyFileMissing`
(a :class:`KeyFileError`); writing onto an existing file without ``overwrite=True`` raises
:class:`LocalError` (the caller asked for something we refuse to do).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeAlias

from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id
from nacl.secret import SecretBox

from peoplenet.runtime.errors import CorruptKeyFile, KeyFileError, LocalError, WrongPassphrase
from peoplenet.runtime.keys.identity import ID_LEN, SEED_LEN, Identity, MemberId

StrPath: TypeAlias = str | os.PathLike[str]


class KeyFileMissing(KeyFileError):
    """There is no key file at the given path (nothing is damaged; maybe it was never made)."""

    reason = "key_file_missing"


# -- KDF parameters ---------------------------------------------------------------------------

MAX_OPSLIMIT: Final = 8
"""Most argon2id passes we accept from a file: bounds the time a crafted file can cost."""

MAX_MEMLIMIT: Final = 256 * 1024 * 1024
"""Most argon2id memory (bytes) we accept from a file: argon2id's MODERATE level, so a file
sealed on a desktop at that level still opens, but a crafted file cannot ask for gigabytes."""


def _kdf_params_problem(opslimit: int, memlimit: int) -> str | None:
    """Why ``(opslimit, memlimit)`` is unacceptable, or ``None`` if it is fine."""
    if type(opslimit) is not int or not argon2id.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT:
        return f"argon2id opslimit must be {argon2id.OPSLIMIT_MIN}..{MAX_OPSLIMIT}"
    if type(memlimit) is not int or not argon2id.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT:
        return f"argon2id memlimit must be {argon2id.MEMLIMIT_MIN}..{MAX_MEMLIMIT} bytes"
    return None


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost parameters: passes over memory (``opslimit``) and memory in bytes."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        problem = _kdf_params_problem(self.opslimit, self.memlimit)
        if problem:
            raise LocalError(problem)


DEFAULT_PARAMS: Final = KdfParams(argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)
"""Production cost: libsodium's INTERACTIVE level, 2 passes over 64 MiB.

Why not MODERATE (3 passes over 256 MiB): the key is opened on phones.  256 MiB of native
memory gets a background app killed on low-end Android phones and takes seconds there;
64 MiB takes about 0.07 s on a server core, and should take 0.2-0.5 s on a mid-range phone
(an estimate, not yet measured on one): a pause a member unlocking the app will accept,
while every offline guess still costs an attacker 64 MiB.
"""

FAST_TEST_PARAMS: Final = KdfParams(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)
"""The cheapest argon2id allows (1 pass, 8 KiB).  For tests only: it protects nothing."""


# -- file layout ------------------------------------------------------------------------------

MAGIC: Final = b"PNETKEY\x00"
VERSION: Final = 1
KDF_ARGON2ID13: Final = 1
"""KDF id in the file: argon2id, version 1.3 (libsodium's ``crypto_pwhash_argon2id``)."""

SALT_LEN: Final = argon2id.SALTBYTES  # 16
NONCE_LEN: Final = SecretBox.NONCE_SIZE  # 24
BOX_LEN: Final = SecretBox.MACBYTES + SEED_LEN  # 16-byte tag + 32-byte sealed seed
CHECKSUM_LEN: Final = 32
_CHECKSUM_PERSON: Final = b"peoplenet.keyf1"

_HEADER: Final = struct.Struct(">8sBBIQ")  # magic, version, kdf, opslimit, memlimit
_BODY: Final = struct.Struct(f">8sBBIQ{SALT_LEN}s{ID_LEN}s{NONCE_LEN}s{BOX_LEN}s")
"""Header, then salt, member id, nonce, sealed seed (big-endian integers)."""
BODY_LEN: Final = _BODY.size
FILE_LEN: Final = BODY_LEN + CHECKSUM_LEN
"""Size of a version-1 key file: 174 bytes."""

_MAX_READ: Final = 4096
"""We never read more than this: anything bigger is not a key file."""


def _checksum(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=CHECKSUM_LEN, person=_CHECKSUM_PERSON).digest()


@dataclass(frozen=True, slots=True)
class _Sealed:
    """The parsed fields of a key file (nothing secret: the seed is still sealed)."""

    params: KdfParams
    salt: bytes
    member_id: MemberId
    nonce: bytes
    box: bytes


def _encode(sealed: _Sealed) -> bytes:
    params = sealed.params
    body = _BODY.pack(
        MAGIC,
        VERSION,
        KDF_ARGON2ID13,
        params.opslimit,
        params.memlimit,
        sealed.salt,
        sealed.member_id,
        sealed.nonce,
        sealed.box,
    )
    return body + _checksum(body)


def _parse(data: bytes, where: Path) -> _Sealed:
    """Check a key file's integrity and split it into fields; raise :class:`CorruptKeyFile`.

    The checksum is the last 32 bytes whatever the version, so it is checked before the
    version or length: a flipped byte anywhere reads as damage, not as an unknown version.
    """

    def corrupt(why: str) -> CorruptKeyFile:
        return CorruptKeyFile(f"{where} is damaged or is not a Peoplenet key file: {why}")

    if not data:
        raise corrupt("the file is empty")
    if len(data) > _MAX_READ:
        raise corrupt("the file is too large")
    if not data.startswith(MAGIC):
        raise corrupt("unrecognised header")
    if len(data) < _HEADER.size + CHECKSUM_LEN:
        raise corrupt("the file is truncated")
    body, check = data[:-CHECKSUM_LEN], data[-CHECKSUM_LEN:]
    if _checksum(body) != check:
        raise corrupt("checksum mismatch (truncated or altered)")
    _, version, kdf, opslimit, memlimit = _HEADER.unpack_from(body)
    if version != VERSION:
        raise corrupt(f"unsupported format version {version}")
    if kdf != KDF_ARGON2ID13:
        raise corrupt(f"unknown key derivation function {kdf}")
    if len(data) != FILE_LEN:
        raise corrupt(f"a version-{VERSION} file is {FILE_LEN} bytes, not {len(data)}")
    problem = _kdf_params_problem(opslimit, memlimit)
    if problem:
        raise corrupt(problem)
    *_, salt, mid, nonce, box = _BODY.unpack(body)
    return _Sealed(KdfParams(opslimit, memlimit), salt, MemberId(mid), nonce, box)


# -- passphrase -> key ------------------------------------------------------------------------


def _passphrase_bytes(passphrase: str) -> bytes:
    """UTF-8 of the NFC form: the same passphrase typed on two keyboards gives one key.

    Errors here must not carry the passphrase (a UnicodeEncodeError's text includes it).
    """
    if type(passphrase) is not str:
        raise LocalError("a passphrase must be a str")
    try:
        secret: bytes | None = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:
        secret = None
    if secret is None:  # raised out here so that no __context__ carries the passphrase
        raise LocalError("the passphrase is not valid Unicode text (it has lone surrogates)")
    return secret


def _derive(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    return bytes(
        argon2id.kdf(
            SecretBox.KEY_SIZE,
            passphrase,
            salt,
            opslimit=params.opslimit,
            memlimit=params.memlimit,
        )
    )


# -- public API -------------------------------------------------------------------------------


def save_identity(
    path: StrPath,
    identity: Identity,
    passphrase: str,
    *,
    opslimit: int = DEFAULT_PARAMS.opslimit,
    memlimit: int = DEFAULT_PARAMS.memlimit,
    overwrite: bool = False,
) -> None:
    """Seal ``identity`` under ``passphrase`` and write it atomically to ``path`` (mode 0600).

    Raises :class:`LocalError` for an empty passphrase, out-of-range KDF parameters, or an
    existing file when ``overwrite`` is false; :class:`KeyFileError` if the disk write fails
    (the previous file, if any, is then untouched and no temp file is left behind).
    """
    secret = _passphrase_bytes(passphrase)
    if not secret:
        raise LocalError("refusing to seal a key under an empty passphrase")
    if not isinstance(identity, Identity):
        raise LocalError("save_identity takes an Identity")
    params = KdfParams(opslimit, memlimit)
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise LocalError(f"refusing to overwrite the existing key file {target}")
    salt = secrets.token_bytes(SALT_LEN)
    nonce = secrets.token_bytes(NONCE_LEN)
    sealed = SecretBox(_derive(secret, salt, params)).encrypt(identity.seed(), nonce)
    data = _encode(_Sealed(params, salt, identity.member_id, nonce, bytes(sealed.ciphertext)))
    try:
        _write_atomically(target, data, overwrite=overwrite)
    except FileExistsError:
        # Someone created the file between our check and our (no-clobber) publication.
        raise LocalError(f"refusing to overwrite the existing key file {target}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KeyFileError(f"could not write the key file {target}: {reason}") from exc


def load_identity(path: StrPath, passphrase: str) -> Identity:
    """Open the key file at ``path`` with ``passphrase``.

    Raises :class:`KeyFileMissing` if there is no file, :class:`CorruptKeyFile` if the file is
    damaged (checked before the passphrase is tried), :class:`WrongPassphrase` if it is intact
    but the passphrase does not open it, and :class:`KeyFileError` for other read failures.
    """
    secret = _passphrase_bytes(passphrase)
    target = Path(path)
    sealed = _parse(_read(target), target)
    wrong = f"the passphrase does not open the key file {target}"
    if not secret:  # no file is ever sealed under an empty passphrase
        raise WrongPassphrase(wrong)
    try:
        seed = bytes(
            SecretBox(_derive(secret, sealed.salt, sealed.params)).decrypt(sealed.box, sealed.nonce)
        )
    except CryptoError:
        raise WrongPassphrase(wrong) from None
    if len(seed) != SEED_LEN:  # cannot happen with a fixed-size box; checked anyway
        raise CorruptKeyFile(f"{target} holds a sealed value that is not a seed")
    identity = Identity.from_seed(seed)
    if identity.member_id != sealed.member_id:
        raise CorruptKeyFile(f"{target} is damaged: its key does not match its member id")
    return identity


def read_member_id(path: StrPath) -> MemberId:
    """Whose key the file at ``path`` holds, without the passphrase (integrity is checked)."""
    target = Path(path)
    return _parse(_read(target), target).member_id


# -- disk -------------------------------------------------------------------------------------


def _read(target: Path) -> bytes:
    try:
        with target.open("rb") as f:
            return f.read(_MAX_READ + 1)
    except FileNotFoundError:
        raise KeyFileMissing(f"there is no key file at {target}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KeyFileError(f"cannot read the key file {target}: {reason}") from exc


_TMP_FLAGS: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
)

_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}
)
"""``link()`` errors that mean "this filesystem cannot", not "this file exists"."""


def _write_atomically(target: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to a private temp file beside ``target``, fsync it, then publish it.

    Publication is ``os.replace`` when overwriting, else ``os.link`` (which fails if the
    target appeared meanwhile, so a concurrent writer's key is never clobbered).  The temp file
    is removed on every path.
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, _TMP_FLAGS, 0o600)
    moved = False
    try:
        try:
            os.fchmod(fd, 0o600)  # the umask may have removed bits; we want exactly 0600
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # raw fd: no userspace buffer to flush
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
            moved = True
        else:
            moved = _link_no_clobber(tmp, target)
    finally:
        if not moved:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(target.parent)


def _link_no_clobber(tmp: Path, target: Path) -> bool:
    """Publish ``tmp`` at ``target`` unless it exists; True if ``tmp`` itself was moved."""
    try:
        os.link(tmp, target)
    except OSError as exc:
        if isinstance(exc, FileExistsError) or exc.errno not in _NO_HARD_LINKS:
            raise
        # No hard links here (some phone storage): check, then replace.  Racy, but only
        # against another writer on a filesystem that gives us nothing better.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "key file exists", str(target)) from None
        os.replace(tmp, target)
        return True
    return False


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable.  Best effort: the file is already in place, and some
    filesystems refuse to fsync a directory."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
