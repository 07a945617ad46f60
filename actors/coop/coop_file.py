"""The founding file the founders pass around: a founding being signed, and its first genesis.

A :class:`~peoplenet.actors.governance.charter.Founding` needs every founder's signature, but
founders
sign one at a time on their own phones, so the file keeps the signatures gathered so far by
member (a founding's own list is positional and complete).  The file also fixes the consensus
timeout Δ of epoch 0, so that every founder derives the same first genesis: participants =
the founders, threshold 2/3, ``community = b"f/" + founding digest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from peoplenet.actors.governance.charter import (
    Charter,
    Founding,
    InvalidFounding,
    community_id,
    founding_content_digest,
)
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId, verify
from peoplenet.runtime.wire.codec import Record, decode_as, encode, wire_type

MAX_FILE: Final = 1 << 20


class CoopFileError(LocalError):
    """A founding file that cannot be read, or is not complete where it must be."""

    reason = "coop_file_invalid"


@wire_type(150)
@dataclass(frozen=True, slots=True)
class FoundingDraft(Record):
    """A founding plus the signatures gathered so far, as ``(member, signature)`` pairs."""

    name: str
    charter: Charter
    founders: tuple[bytes, ...]
    at: int
    timeout_ms: int
    signatures: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class CoopFile:
    founding: Founding
    """Signatures may be partial here (see :meth:`signers`); complete once all have signed."""
    timeout_ms: int
    partial: tuple[tuple[bytes, bytes], ...] = ()

    def digest(self) -> bytes:
        f = self.founding
        return founding_content_digest(f.name, f.charter, f.founders, f.at)

    def signers(self) -> list[MemberId]:
        """Founders whose signature in the file is valid."""
        digest = self.digest()
        founders = set(self.founding.founders)
        return [MemberId(m) for m, sig in self.partial if m in founders and verify(m, digest, sig)]

    def complete(self) -> Founding:
        """The founding with every founder's signature, in founder order."""
        by_member = dict(self.partial)
        f = self.founding
        missing = [m.hex()[:16] for m in f.founders if m not in by_member]
        if missing:
            raise CoopFileError(f"founders still to sign: {', '.join(missing)}")
        return Founding(
            f.name, f.charter, f.founders, f.at, tuple(by_member[m] for m in f.founders)
        )

    def genesis(self) -> Genesis:
        f = self.founding
        constitution = Constitution.of(f.founders, timeout_ms=self.timeout_ms)
        return Genesis.first(community_id(f), constitution)

    def genesis_bytes(self) -> bytes:
        return encode(self.genesis())

    def founding_bytes(self) -> bytes:
        return encode(self.complete())


def sign_founding(coop: CoopFile, identity: Identity) -> CoopFile:
    """Add ``identity``'s signature (it must be a founder)."""
    me = bytes(identity.member_id)
    if me not in coop.founding.founders:
        raise CoopFileError("you are not one of this founding's founders")
    pairs = dict(coop.partial)
    pairs[me] = identity.sign(coop.digest())
    return CoopFile(coop.founding, coop.timeout_ms, tuple(sorted(pairs.items())))


def read_coop_file(path: Path) -> CoopFile:
    try:
        raw = path.read_bytes()[: MAX_FILE + 1]
    except OSError as exc:
        raise CoopFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise CoopFileError(f"{path} is too large for a founding file")
    try:
        draft = decode_as(FoundingDraft, raw)
        founding = Founding(draft.name, draft.charter, draft.founders, draft.at, ())
        Constitution.of(draft.founders, timeout_ms=draft.timeout_ms)
    except (RemoteProtocolError, InvalidFounding) as exc:
        raise CoopFileError(f"{path} is not a founding file: {exc}") from None
    return CoopFile(founding, draft.timeout_ms, draft.signatures)


def write_coop_file(path: Path, coop: CoopFile) -> None:
    f = coop.founding
    draft = FoundingDraft(f.name, f.charter, f.founders, f.at, coop.timeout_ms, coop.partial)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode(draft))
    tmp.replace(path)


__all__ = [
    "CoopFile",
    "CoopFileError",
    "FoundingDraft",
    "read_coop_file",
    "sign_founding",
    "write_coop_file",
]
