"""The profile file: a cooperative's public profile written by a member, read by a customer.

The file is the canonical encoding of one :class:`~peoplenet.actors.work.profile.CoopProfile`
(tag 166).  :func:`build_profile` assembles one from what a member's running node answers --
``coop_show`` (name, id, members, apps), ``peers`` (where other members' nodes were seen) and
its own ``status`` (where it listens) -- so writing a profile needs no key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from peoplenet.actors.work.profile import CoopProfile, ProfileMember
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.wire.codec import decode_as, encode

MAX_FILE: Final = 1 << 20
COOPERATIVE_PREFIX: Final = b"f/"
"""A cooperative's community id is this prefix and its founding digest (``coop show`` gives
the digest as ``community_id``; :func:`peoplenet.actors.governance.charter.community_id`)."""
SOURCE_ORDER: Final = ("address_block", "mdns", "static")
"""Which sighting of a member's node a profile prefers (its own published address first)."""


class ProfileFileError(LocalError):
    """A profile file that cannot be read or written, or is not a profile."""

    reason = "profile_file_invalid"


def read_profile(path: Path) -> CoopProfile:
    try:
        raw = path.read_bytes()[: MAX_FILE + 1]
    except OSError as exc:
        raise ProfileFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise ProfileFileError(f"{path} is too large for a profile file")
    return profile_from_bytes(raw, str(path))


def profile_from_bytes(raw: bytes, where: str = "the profile") -> CoopProfile:
    try:
        return decode_as(CoopProfile, raw, max_size=MAX_FILE)
    except RemoteProtocolError as exc:
        raise ProfileFileError(f"{where} is not a cooperative's profile: {exc}") from None


def write_profile(path: Path, profile: CoopProfile) -> None:
    """Write atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(encode(profile))
        tmp.replace(path)
    except OSError as exc:
        raise ProfileFileError(f"cannot write {path}: {exc.strerror or exc}") from None


def build_profile(
    shown: Mapping[str, Any],
    peers: Sequence[Mapping[str, Any]],
    me: bytes,
    mine: tuple[str, int] | None,
    now_ms: int,
) -> CoopProfile:
    """The profile of the cooperative ``shown`` (a ``coop_show`` answer) as this node knows it.

    ``peers`` is the node's ``peers`` answer (sightings of other nodes), ``mine`` where this
    node listens (its advertised host and port).  A member whose node was never seen is listed
    without an address: its receipts still count.
    """
    try:
        name = str(shown["community"])
        community = COOPERATIVE_PREFIX + bytes.fromhex(str(shown["community_id"]))
        members = [bytes.fromhex(str(m)) for m in shown["members"]]
        apps = shown.get("apps") or {}
        enabled = sorted(n for n, a in apps.items() if isinstance(a, Mapping) and a.get("enabled"))
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"the node's answer about the cooperative is incomplete: {exc}"
        raise ProfileFileError(msg) from None
    seen: dict[bytes, tuple[int, str, int]] = {}
    for peer in peers:
        try:
            member = bytes.fromhex(str(peer["member"]))
            host, port, source = str(peer["host"]), int(peer["port"]), str(peer.get("source"))
        except (KeyError, TypeError, ValueError):
            continue
        rank = SOURCE_ORDER.index(source) if source in SOURCE_ORDER else len(SOURCE_ORDER)
        if member not in seen or rank < seen[member][0]:
            seen[member] = (rank, host, port)
    if mine is not None:
        seen[me] = (-1, *mine)
    listed = tuple(
        ProfileMember(m, *(seen[m][1:] if m in seen else ("", 0))) for m in sorted(members)
    )
    try:
        return CoopProfile(community, name, listed, tuple(enabled), now_ms)
    except RemoteProtocolError as exc:
        raise ProfileFileError(f"cannot make a profile of {name!r}: {exc}") from None


__all__ = [
    "ProfileFileError",
    "build_profile",
    "profile_from_bytes",
    "read_profile",
    "write_profile",
]
