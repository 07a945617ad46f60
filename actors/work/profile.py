"""A cooperative's public profile: what a customer needs to reach it and to check outcomes.

Smaller than the founding file on purpose: a customer needs no charter and never votes.  It
needs the community id (every request it signs names it), the name (to show), the members --
their ids, to count receipts (:mod:`peoplenet.actors.work.receipts`), and where their nodes
listen, to hand a request to one -- and the apps the cooperative runs.

A profile is a snapshot a member's node writes (``peoplenet coop profile``) and a customer
imports (``peoplenet customer import``).  It is not signed: it is exactly as trustworthy as the
channel it came through (a QR code on the cooperative's counter, a web page the members
publish), like a founding file; :func:`profile_fingerprint` gives 16 characters two people can
read aloud to compare copies.  What a stale one can and cannot do is in
docs/work-kit.md#customers.  Pure: the file itself is read and written in
:mod:`peoplenet.actors.coop.profile_file`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, fingerprint
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

MAX_NAME: Final = 64
MAX_MEMBERS: Final = 4096
MAX_APPS: Final = 64
MAX_HOST: Final = 253
MAX_COMMUNITY: Final = 64
_PROFILE_PERSON: Final = b"peoplenet.prof1"


class InvalidProfile(RemoteProtocolError):
    """A profile whose shape is wrong (it never decodes)."""

    reason = "invalid_profile"


@wire_type(165)
@dataclass(frozen=True, slots=True)
class ProfileMember(Record):
    """One member: the id (receipts are counted by it) and where its node listens (``""``/0:
    not known to the node that wrote the profile)."""

    member: bytes
    host: str
    port: int

    def __post_init__(self) -> None:
        if len(self.member) != ID_LEN:
            raise InvalidProfile("bad_member", "a member is a 32-byte id")
        if len(self.host) > MAX_HOST:
            raise InvalidProfile("bad_host", f"a host is at most {MAX_HOST} characters")
        if not 0 <= self.port <= 65535:
            raise InvalidProfile("bad_port", "a port is 0..65535")

    @property
    def reachable(self) -> bool:
        return bool(self.host) and self.port > 0


@wire_type(166)
@dataclass(frozen=True, slots=True)
class CoopProfile(Record):
    """The cooperative as a customer sees it (``issued_ms``: when a member's node wrote it).

    ``community`` is the cooperative's community id as its apps' folds see it and customers
    sign it: ``b"f/"`` followed by the founding digest (``coop show`` prints the digest alone).
    """

    community: bytes
    name: str
    members: tuple[ProfileMember, ...]
    apps: tuple[str, ...]
    issued_ms: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.community) <= MAX_COMMUNITY:
            raise InvalidProfile("bad_community", f"a community id is 1..{MAX_COMMUNITY} bytes")
        if not 1 <= len(self.name) <= MAX_NAME:
            raise InvalidProfile("bad_name", f"a name is 1..{MAX_NAME} characters")
        if not 1 <= len(self.members) <= MAX_MEMBERS:
            raise InvalidProfile("bad_members", f"1..{MAX_MEMBERS} members")
        ids = [m.member for m in self.members]
        if ids != sorted(set(ids)):
            raise InvalidProfile("bad_members", "members are distinct, in id order")
        if len(self.apps) > MAX_APPS or list(self.apps) != sorted(set(self.apps)):
            raise InvalidProfile("bad_apps", f"at most {MAX_APPS} distinct apps, in name order")
        if any(not 1 <= len(a) <= 40 for a in self.apps):
            raise InvalidProfile("bad_apps", "an app name is 1..40 characters")
        if self.issued_ms < 0:
            raise InvalidProfile("bad_time", "issued_ms is 0 or more")

    @property
    def member_ids(self) -> tuple[bytes, ...]:
        return tuple(m.member for m in self.members)

    def reachable(self) -> tuple[ProfileMember, ...]:
        """Members whose node's address the profile knows, in id order."""
        return tuple(m for m in self.members if m.reachable)

    def view(self) -> dict[str, Value]:
        """JSON-ready (ids as hex): what ``--json`` shows of a profile."""
        return {
            "coop": self.name,
            "community": self.community.hex(),
            "members": tuple(
                {
                    "member": m.member.hex(),
                    "fingerprint": fingerprint(m.member),
                    "host": m.host,
                    "port": m.port,
                }
                for m in self.members
            ),
            "apps": self.apps,
            "issued_ms": self.issued_ms,
            "fingerprint": profile_fingerprint(self),
        }


def profile_fingerprint(profile: CoopProfile) -> str:
    """What two people compare aloud: the cooperative and whose receipts count in it.

    16 base32 characters of ``H(10, "peoplenet.prof1")(enc([community, member ids]))``, in
    groups of 4.  Addresses, apps and the time are left out on purpose: they change without
    changing whom a customer trusts (the transport checks every member's id anyway).
    """
    data = encode((profile.community, profile.member_ids))
    digest = hashlib.blake2b(data, digest_size=10, person=_PROFILE_PERSON).digest()
    text = base64.b32encode(digest).decode("ascii").lower()
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


__all__ = [
    "CoopProfile",
    "InvalidProfile",
    "ProfileMember",
    "profile_fingerprint",
]
