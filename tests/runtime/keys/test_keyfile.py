"""Key files: round trips, damage vs wrong passphrase, crafted params, atomic private writes.

The layout is re-declared here from docs/identity.md rather than imported, so these tests
also pin the documented format.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.pwhash import argon2id

from peoplenet.runtime.errors import (
    CorruptKeyFile,
    KeyFileError,
    LocalError,
    PeoplenetError,
    WrongPassphrase,
)
from peoplenet.runtime.keys import keyfile
from peoplenet.runtime.keys.identity import Identity, verify
from peoplenet.runtime.keys.keyfile import (
    DEFAULT_PARAMS,
    FAST_TEST_PARAMS,
    KdfParams,
    KeyFileMissing,
    load_identity,
    read_member_id,
    save_identity,
)

PASS = "correct horse battery staple"
SEED = bytes(range(32))

# The documented layout: magic, version, kdf, opslimit, memlimit, salt, member id, nonce,
# sealed seed, then a BLAKE2b-256 checksum of everything before it.
LAYOUT = struct.Struct(">8sBBIQ16s32s24s48s")
FILE_LEN = LAYOUT.size + 32
OPS_AT, MEM_AT, ID_AT, BOX_AT = 10, 14, 38, 94


def checksum(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=32, person=b"peoplenet.keyf1").digest()


def reseal(data: bytes, at: int, new: bytes) -> bytes:
    """``data`` with bytes at ``at`` replaced and a valid checksum: a deliberate edit."""
    body = bytearray(data[:-32])
    body[at : at + len(new)] = new
    return bytes(body) + checksum(bytes(body))


def save(path: Path, identity: Identity, passphrase: str = PASS, **kw: Any) -> None:
    save_identity(
        path,
        identity,
        passphrase,
        opslimit=FAST_TEST_PARAMS.opslimit,
        memlimit=FAST_TEST_PARAMS.memlimit,
        **kw,
    )


@pytest.fixture
def ident() -> Identity:
    return Identity.from_seed(SEED)


@pytest.fixture
def key_path(tmp_path: Path, ident: Identity) -> Path:
    path = tmp_path / "member.key"
    save(path, ident)
    return path


@pytest.fixture
def no_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if argon2id runs at all."""

    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the KDF must not run")

    monkeypatch.setattr(argon2id, "kdf", boom)


@pytest.fixture
def restore_umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def only_the_key(directory: Path, name: str = "member.key") -> None:
    """No temp file is left beside the key."""
    assert sorted(p.name for p in directory.iterdir()) == [name]


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_keeps_identity_and_signs(key_path: Path, ident: Identity) -> None:
    loaded = load_identity(key_path, PASS)
    assert loaded.member_id == ident.member_id
    assert loaded.seed() == SEED
    sig = loaded.sign(b"hello")
    assert verify(ident.member_id, b"hello", sig)
    assert key_path.stat().st_size == FILE_LEN


def test_layout_matches_the_documentation(key_path: Path, ident: Identity) -> None:
    data = key_path.read_bytes()
    magic, version, kdf, ops, mem, _salt, mid, _nonce, box = LAYOUT.unpack(data[:-32])
    assert (magic, version, kdf) == (b"PNETKEY\x00", 1, 1)
    assert (ops, mem) == (FAST_TEST_PARAMS.opslimit, FAST_TEST_PARAMS.memlimit)
    assert mid == ident.member_id
    assert len(box) == 48
    assert data[-32:] == checksum(data[:-32])
    assert SEED not in data
    assert PASS.encode() not in data


def test_production_params_round_trip(tmp_path: Path, ident: Identity) -> None:
    assert KdfParams(argon2id.OPSLIMIT_INTERACTIVE, 64 * 1024 * 1024) == DEFAULT_PARAMS
    path = tmp_path / "member.key"
    save_identity(path, ident, PASS)
    ops, mem = struct.unpack_from(">IQ", path.read_bytes(), OPS_AT)
    assert (ops, mem) == (DEFAULT_PARAMS.opslimit, DEFAULT_PARAMS.memlimit)
    assert load_identity(path, PASS).member_id == ident.member_id


def test_each_save_uses_fresh_salt_and_nonce(tmp_path: Path, ident: Identity) -> None:
    save(tmp_path / "a", ident)
    save(tmp_path / "b", ident)
    a, b = (tmp_path / "a").read_bytes(), (tmp_path / "b").read_bytes()
    assert a[: ID_AT - 16] == b[: ID_AT - 16]  # same header
    assert a[ID_AT - 16 : ID_AT] != b[ID_AT - 16 : ID_AT]  # salt
    assert a[ID_AT + 32 : BOX_AT] != b[ID_AT + 32 : BOX_AT]  # nonce


def test_read_member_id_needs_no_passphrase(key_path: Path, ident: Identity, no_kdf: None) -> None:
    assert read_member_id(key_path) == ident.member_id
    assert read_member_id(str(key_path)) == ident.member_id


@pytest.mark.parametrize("passphrase", ["pässwörd", "密码很长很长", "🔑 ключ", " spaced  "])
def test_unicode_passphrases(tmp_path: Path, ident: Identity, passphrase: str) -> None:
    path = tmp_path / "member.key"
    save(path, ident, passphrase)
    assert load_identity(path, passphrase).member_id == ident.member_id
    with pytest.raises(WrongPassphrase):
        load_identity(path, passphrase.strip() + "x")


def test_passphrase_is_unicode_normalised(tmp_path: Path, ident: Identity) -> None:
    composed = unicodedata.normalize("NFC", "café Ångström")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    path = tmp_path / "member.key"
    save(path, ident, composed)
    assert load_identity(path, decomposed).member_id == ident.member_id


# -- wrong passphrase vs damage ---------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["correct horse battery stapl", PASS.upper(), PASS + " ", ""])
def test_wrong_passphrase(key_path: Path, wrong: str) -> None:
    with pytest.raises(WrongPassphrase, match="passphrase does not open"):
        load_identity(key_path, wrong)


def test_every_flipped_byte_is_corruption(key_path: Path) -> None:
    data = key_path.read_bytes()
    for pos in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[pos] ^= mask
            key_path.write_bytes(bytes(damaged))
            with pytest.raises(CorruptKeyFile):
                load_identity(key_path, PASS)
            with pytest.raises(CorruptKeyFile):
                read_member_id(key_path)


def test_truncation_and_extension_are_corruption(key_path: Path) -> None:
    data = key_path.read_bytes()
    for cut in range(len(data)):
        key_path.write_bytes(data[:cut])
        with pytest.raises(CorruptKeyFile):
            load_identity(key_path, PASS)
    for extra in (b"\x00", b"\n", data):
        key_path.write_bytes(data + extra)
        with pytest.raises(CorruptKeyFile):
            load_identity(key_path, PASS)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "member.key"
    path.write_bytes(b"")
    with pytest.raises(CorruptKeyFile, match="empty"):
        load_identity(path, PASS)


def test_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "member.key"
    path.write_bytes(b"PNETKEY\x00" + b"\x00" * 100_000)
    with pytest.raises(CorruptKeyFile, match="too large"):
        read_member_id(path)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=400), with_magic=st.booleans())
def test_garbage_is_corruption(tmp_path: Path, garbage: bytes, with_magic: bool) -> None:
    path = tmp_path / "garbage.key"
    path.write_bytes((b"PNETKEY\x00" if with_magic else b"") + garbage)
    with pytest.raises(CorruptKeyFile):
        load_identity(path, PASS)


# -- crafted files (valid checksum, hostile content) ------------------------------------------


@pytest.mark.parametrize(
    ("ops", "mem"),
    [
        (1, 2**40),  # a terabyte
        (1, 2**64 - 1),
        (1, keyfile.MAX_MEMLIMIT + 1),
        (1, 8191),  # below argon2id's minimum
        (0, 8192),
        (keyfile.MAX_OPSLIMIT + 1, 8192),
        (2**32 - 1, 8192),
    ],
)
def test_crafted_kdf_params_are_refused_without_running_kdf(
    key_path: Path, no_kdf: None, ops: int, mem: int
) -> None:
    key_path.write_bytes(reseal(key_path.read_bytes(), OPS_AT, struct.pack(">IQ", ops, mem)))
    with pytest.raises(CorruptKeyFile, match="argon2id"):
        load_identity(key_path, PASS)
    with pytest.raises(CorruptKeyFile):
        read_member_id(key_path)


@pytest.mark.parametrize(("at", "value"), [(8, b"\x02"), (8, b"\x00"), (9, b"\x02")])
def test_unknown_version_or_kdf(key_path: Path, no_kdf: None, at: int, value: bytes) -> None:
    key_path.write_bytes(reseal(key_path.read_bytes(), at, value))
    with pytest.raises(CorruptKeyFile, match=r"version|derivation"):
        load_identity(key_path, PASS)


def test_swapped_member_id_is_caught_after_decrypting(key_path: Path) -> None:
    other = Identity.from_seed(b"\x07" * 32).member_id
    key_path.write_bytes(reseal(key_path.read_bytes(), ID_AT, other))
    assert read_member_id(key_path) == other  # cannot know without the passphrase
    with pytest.raises(CorruptKeyFile, match="does not match"):
        load_identity(key_path, PASS)


def test_edited_ciphertext_with_fixed_checksum_reads_as_wrong_passphrase(key_path: Path) -> None:
    # Only a deliberate edit that also recomputes the checksum gets here; the MAC cannot
    # tell it from a wrong passphrase, and nothing is revealed either way.
    data = key_path.read_bytes()
    key_path.write_bytes(reseal(data, BOX_AT, bytes([data[BOX_AT] ^ 1])))
    with pytest.raises(WrongPassphrase):
        load_identity(key_path, PASS)


# -- missing and unreadable files -------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nobody.key"
    with pytest.raises(KeyFileMissing, match=r"nobody\.key") as info:
        load_identity(path, PASS)
    assert isinstance(info.value, KeyFileError)
    assert not isinstance(info.value, CorruptKeyFile)
    with pytest.raises(KeyFileMissing):
        read_member_id(path)


def test_directory_is_unreadable_not_corrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read") as info:
        load_identity(tmp_path, PASS)
    assert type(info.value) is KeyFileError


# -- saving: refusals -------------------------------------------------------------------------


def test_empty_passphrase_is_refused(tmp_path: Path, ident: Identity) -> None:
    path = tmp_path / "member.key"
    with pytest.raises(LocalError, match="empty passphrase"):
        save(path, ident, "")
    assert not path.exists()


def test_bad_arguments_are_local_errors(tmp_path: Path, ident: Identity) -> None:
    path = tmp_path / "member.key"
    with pytest.raises(LocalError):
        save(path, ident, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        save(path, SEED, PASS)  # type: ignore[arg-type]
    with pytest.raises(LocalError):
        save_identity(path, ident, PASS, opslimit=0, memlimit=8192)
    with pytest.raises(LocalError):
        save_identity(path, ident, PASS, opslimit=1, memlimit=2**33)
    with pytest.raises(LocalError):
        KdfParams(1, 1024)
    assert not path.exists()
    with pytest.raises(LocalError):
        load_identity(path, None)  # type: ignore[arg-type]


def test_unencodable_passphrase_is_refused_without_echo(tmp_path: Path, ident: Identity) -> None:
    with pytest.raises(LocalError) as info:
        save(tmp_path / "member.key", ident, "ab\udc80cd")
    assert "\udc80" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # the UnicodeEncodeError's text holds the passphrase


def test_overwrite_is_refused_by_default(key_path: Path) -> None:
    before = key_path.read_bytes()
    with pytest.raises(LocalError, match="refusing to overwrite"):
        save(key_path, Identity.generate())
    assert key_path.read_bytes() == before
    only_the_key(key_path.parent)


def test_overwrite_when_asked(key_path: Path) -> None:
    key_path.chmod(0o644)
    new = Identity.generate()
    save(key_path, new, "new passphrase", overwrite=True)
    assert load_identity(key_path, "new passphrase").member_id == new.member_id
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    only_the_key(key_path.parent)


def test_file_appearing_during_save_is_not_clobbered(
    tmp_path: Path, ident: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "member.key"
    real_kdf = argon2id.kdf

    def racing_kdf(*args: Any, **kwargs: Any) -> bytes:
        path.write_bytes(b"another writer's key")
        return bytes(real_kdf(*args, **kwargs))

    monkeypatch.setattr(argon2id, "kdf", racing_kdf)
    with pytest.raises(LocalError, match="refusing to overwrite"):
        save(path, ident)
    assert path.read_bytes() == b"another writer's key"
    only_the_key(tmp_path)


def test_missing_directory_is_a_key_file_error(tmp_path: Path, ident: Identity) -> None:
    with pytest.raises(KeyFileError, match="could not write"):
        save(tmp_path / "no" / "such" / "member.key", ident)


# -- saving: private and atomic ---------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_file_mode_is_0600_whatever_the_umask(
    tmp_path: Path, ident: Identity, restore_umask: None, mask: int
) -> None:
    os.umask(mask)
    path = tmp_path / "member.key"
    save(path, ident)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("failing", ["replace", "fsync", "write", "fchmod"])
def test_failed_overwrite_keeps_old_file_and_leaves_no_temp(
    key_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    before = key_path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "simulated I/O error")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(KeyFileError, match="could not write"):
        save(key_path, Identity.generate(), overwrite=True)
    monkeypatch.undo()
    assert key_path.read_bytes() == before
    assert load_identity(key_path, PASS).seed() == SEED
    only_the_key(key_path.parent)


@pytest.mark.parametrize("failing", ["link", "fsync", "write"])
def test_failed_first_save_leaves_nothing(
    tmp_path: Path, ident: Identity, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "simulated full disk")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(KeyFileError, match="could not write"):
        save(tmp_path / "member.key", ident)
    assert list(tmp_path.iterdir()) == []


def test_filesystem_without_hard_links(
    tmp_path: Path, ident: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "member.key"
    save(path, ident)
    assert load_identity(path, PASS).member_id == ident.member_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    only_the_key(tmp_path)


# -- secrets never shown ----------------------------------------------------------------------


def test_no_secret_in_errors_or_reprs(
    tmp_path: Path, key_path: Path, ident: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[BaseException] = []

    def collect(call: Callable[[], object]) -> None:
        with pytest.raises(PeoplenetError) as info:
            call()
        errors.append(info.value)

    collect(lambda: load_identity(key_path, "wrong " + PASS))
    collect(lambda: save(key_path, ident))
    collect(lambda: save(tmp_path / "x", ident, PASS + "\udc80"))
    collect(lambda: load_identity(tmp_path / "absent", PASS))
    data = key_path.read_bytes()
    other = Identity.from_seed(b"\x07" * 32).member_id
    key_path.write_bytes(reseal(data, ID_AT, other))
    collect(lambda: load_identity(key_path, PASS))
    key_path.write_bytes(data[:-1])
    collect(lambda: load_identity(key_path, PASS))

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "simulated")

    monkeypatch.setattr(os, "replace", fail)
    collect(lambda: save(key_path, ident, overwrite=True))
    monkeypatch.undo()

    forbidden = [PASS, SEED.hex(), repr(SEED), "wrong " + PASS]
    texts = [repr(ident), repr(DEFAULT_PARAMS)]
    for exc in errors:
        chain: BaseException | None = exc
        while chain is not None:
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__
    for text in texts:
        for secret in forbidden:
            assert secret not in text
