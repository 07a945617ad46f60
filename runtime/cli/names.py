"""How a person names members, blocks and decisions on the command line (pure, no I/O).

A member may be named by its full id (64 hex), its full fingerprint (``k3tq-7xwa-pm2d-r5ve``),
a unique prefix of either (at least 8 characters; a fingerprint prefix keeps its dashes), or a
local petname.  Short names are matched only against members whose identity this node has
verified (friends, members it befriended or follows, cooperative members, creators of signed
blocks it holds).  A member known only from an unverified source -- a pending friend request,
an mDNS announcement -- is named by its full id or full fingerprint: anyone can grind a key
whose first few characters squat the prefix a person is about to type (four hex characters
take well under a second), so a short name must never reach such a key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import ID_LEN, fingerprint

MIN_PREFIX: Final = 8
"""Shortest prefix accepted (hex or fingerprint characters, dashes not counted)."""
FULL_HEX: Final = 2 * ID_LEN
MAX_PETNAME: Final = 40
SHOWN_CANDIDATES: Final = 10

_HEX: Final = re.compile(r"[0-9a-f]+")
_FINGERPRINT: Final = re.compile(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}")
_FINGERPRINT_BARE: Final = re.compile(r"[a-z2-7]{16}")
_FINGERPRINT_PREFIX: Final = re.compile(r"[a-z2-7]{1,4}(-[a-z2-7]{0,4}){1,3}")


class NamingError(LocalError):
    """A name given on the command line does not pick out exactly one thing."""

    reason = "naming_error"


class UnknownName(NamingError):
    """Nothing this node knows matches the name."""

    reason = "unknown_name"


class AmbiguousName(NamingError):
    """More than one known thing matches the name; ``candidates`` lists them."""

    reason = "ambiguous_name"

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class NameTooShort(NamingError):
    """A prefix shorter than :data:`MIN_PREFIX` characters (too easy to squat or mistype);
    ``candidates`` lists what it would match."""

    reason = "name_too_short"

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class UnverifiedName(NamingError):
    """A short name matches only members whose identity is unverified (a pending request)."""

    reason = "unverified_name"


class InvalidName(NamingError):
    """The text cannot be a name of that kind at all (bad hex, a bad decision number)."""

    reason = "invalid_name"


class InvalidPetname(NamingError):
    """A petname that could be confused with an id or fingerprint, or is not printable."""

    reason = "invalid_petname"


class PetnameTaken(NamingError):
    """The petname already names another member on this node."""

    reason = "petname_taken"


@dataclass(frozen=True)
class KnownMember:
    """A member this node knows, from where, and whether its identity is verified."""

    member: bytes
    sources: tuple[str, ...] = ()
    verified: bool = True
    petname: str | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.member)

    def label(self) -> str:
        """How a candidate is shown: fingerprint, petname, id prefix and sources."""
        name = f" ({self.petname})" if self.petname else ""
        where = f" [{', '.join(self.sources)}]" if self.sources else ""
        return f"{self.fingerprint}{name} {self.member.hex()[:16]}{where}"


def merge(entries: Iterable[KnownMember], petnames: Mapping[str, bytes]) -> list[KnownMember]:
    """One entry per member: sources joined, verified if any source verifies, petname added."""
    by_member: dict[bytes, KnownMember] = {}
    for e in entries:
        old = by_member.get(e.member)
        if old is None:
            by_member[e.member] = e
            continue
        sources = tuple(dict.fromkeys(old.sources + e.sources))
        by_member[e.member] = KnownMember(e.member, sources, old.verified or e.verified)
    names = {bytes(m): n for n, m in petnames.items()}
    for member in names:
        if member not in by_member:
            by_member[member] = KnownMember(member, ("petname",), True)
    return [
        KnownMember(e.member, e.sources, e.verified, names.get(e.member))
        for e in sorted(by_member.values(), key=lambda k: k.member)
    ]


def resolve_member(
    text: str, known: Sequence[KnownMember], petnames: Mapping[str, bytes] | None = None
) -> bytes:
    """The one member ``text`` names (see the module docstring for the rules).

    A full 64-hex id is accepted even when unknown (it names a key, whoever holds it).
    """
    petnames = petnames or {}
    name = text.strip()
    if not name:
        raise InvalidName("name a member: a member id, fingerprint, prefix or petname")
    by_petname = petname_lookup(petnames, name)
    if by_petname is not None:
        return by_petname
    key = name.lower()
    if len(key) == FULL_HEX and _HEX.fullmatch(key):
        return bytes.fromhex(key)
    if _FINGERPRINT.fullmatch(key) or _FINGERPRINT_BARE.fullmatch(key):
        full = key.replace("-", "")
        found = [k for k in known if k.fingerprint.replace("-", "") == full]
        if found:
            return found[0].member
        raise UnknownName(
            f"no member this node knows has fingerprint {name!r}; give the full 64-hex member id"
            f"{_known_text(known)}"
        )
    hex_prefix = _HEX.fullmatch(key) is not None
    fpr_prefix = _FINGERPRINT_PREFIX.fullmatch(key) is not None
    if not hex_prefix and not fpr_prefix:
        raise UnknownName(
            f"{name!r} is neither a petname, a member id (hex) nor a fingerprint"
            f"{_petnames_text(petnames)}"
        )
    matches = [k for k in known if _matches(k, key, hex_prefix=hex_prefix)]
    verified = [k for k in matches if k.verified]
    if len(key.replace("-", "")) < MIN_PREFIX:
        raise NameTooShort(
            f"{name!r} is too short: give at least {MIN_PREFIX} characters of a member id or "
            f"fingerprint, the full id, or a petname{_candidates_text(verified)}",
            [k.label() for k in verified],
        )
    if len(verified) == 1:
        return verified[0].member
    if len(verified) > 1:
        raise AmbiguousName(
            f"{name!r} matches {len(verified)} members; give more characters"
            f"{_candidates_text(verified)}",
            [k.label() for k in verified],
        )
    if matches:
        raise UnverifiedName(
            f"{name!r} matches only a member whose identity is not verified "
            f"({', '.join(sorted({s for k in matches for s in k.sources}))}): name it by its full "
            "fingerprint or full 64-hex id, after checking that fingerprint with its owner"
        )
    raise UnknownName(f"no known member matches the prefix {name!r}{_known_text(known)}")


def looks_like_id(text: str) -> bool:
    """Whether ``text`` has the shape of a member id or fingerprint, or a prefix of one."""
    key = text.strip().lower()
    return bool(
        _HEX.fullmatch(key)
        or _FINGERPRINT_PREFIX.fullmatch(key)
        or _FINGERPRINT.fullmatch(key)
        or _FINGERPRINT_BARE.fullmatch(key)
    )


def is_too_short(text: str) -> bool:
    return len(text.strip().replace("-", "")) < MIN_PREFIX


def _matches(k: KnownMember, key: str, *, hex_prefix: bool) -> bool:
    if hex_prefix and k.member.hex().startswith(key):
        return True
    return k.fingerprint.startswith(key)


def _candidates_text(candidates: Sequence[KnownMember]) -> str:
    if not candidates:
        return ""
    shown = "\n".join(f"  {k.label()}" for k in candidates[:SHOWN_CANDIDATES])
    more = len(candidates) - SHOWN_CANDIDATES
    return f"; it matches:\n{shown}" + (f"\n  ... and {more} more" if more > 0 else "")


def _known_text(known: Sequence[KnownMember]) -> str:
    verified = [k for k in known if k.verified]
    if not verified:
        return " (this node knows no verified member yet)"
    shown = "\n".join(f"  {k.label()}" for k in verified[:SHOWN_CANDIDATES])
    more = len(verified) - SHOWN_CANDIDATES
    return f"; known members:\n{shown}" + (f"\n  ... and {more} more" if more > 0 else "")


def _petnames_text(petnames: Mapping[str, bytes]) -> str:
    if not petnames:
        return " (no petnames set: `peoplenet friends name MEMBER NAME`)"
    return f" (petnames: {', '.join(sorted(petnames))})"


# -- petnames -----------------------------------------------------------------------------------


def petname_lookup(petnames: Mapping[str, bytes], name: str) -> bytes | None:
    """The member a petname names (petnames compare case-insensitively)."""
    folded = name.strip().casefold()
    for key, member in petnames.items():
        if key.casefold() == folded:
            return member
    return None


def check_petname(name: str) -> str:
    """``name`` if it can be a petname: printable, short, and unlike any id or fingerprint."""
    if not name or name != name.strip():
        raise InvalidPetname("a petname is not empty and has no spaces at either end")
    if len(name) > MAX_PETNAME:
        raise InvalidPetname(f"a petname has at most {MAX_PETNAME} characters")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        raise InvalidPetname("a petname has no control, format or unusual space characters")
    if name.startswith("-"):
        raise InvalidPetname("a petname does not start with '-' (it would read as an option)")
    key = name.lower()
    if _HEX.fullmatch(key):
        raise InvalidPetname(f"{name!r} looks like a member id prefix (only hex digits)")
    if (
        _FINGERPRINT_PREFIX.fullmatch(key)
        or _FINGERPRINT.fullmatch(key)
        or _FINGERPRINT_BARE.fullmatch(key)
    ):
        raise InvalidPetname(f"{name!r} looks like a fingerprint")
    if name.startswith("#") or name.isdigit():
        raise InvalidPetname(f"{name!r} looks like a decision number")
    return name


def set_petname(petnames: Mapping[str, bytes], name: str, member: bytes) -> dict[str, bytes]:
    """The petnames with ``name`` naming ``member`` (replacing the member's old petname)."""
    check_petname(name)
    holder = petname_lookup(petnames, name)
    if holder is not None and holder != member:
        raise PetnameTaken(f"{name!r} already names {fingerprint(holder)}; unname it first")
    out = {n: m for n, m in petnames.items() if m != member and n.casefold() != name.casefold()}
    out[name] = member
    return out


def remove_petname(petnames: Mapping[str, bytes], name: str) -> dict[str, bytes]:
    folded = name.strip().casefold()
    out = {n: m for n, m in petnames.items() if n.casefold() != folded}
    if len(out) == len(petnames):
        raise UnknownName(f"no petname {name!r}{_petnames_text(petnames)}")
    return out


# -- blocks, offers, decisions ------------------------------------------------------------------


def resolve_id(text: str, ids: Iterable[bytes], what: str = "block") -> bytes:
    """The one id (32 bytes) of which ``text`` is the full hex or a unique hex prefix."""
    key = text.strip().lower()
    if not key or not _HEX.fullmatch(key):
        raise InvalidName(f"{text!r} is not a {what} id (hex)")
    if len(key) == FULL_HEX:
        return bytes.fromhex(key)
    if len(key) > FULL_HEX:
        raise InvalidName(f"{text!r} is longer than a {what} id ({FULL_HEX} hex digits)")
    matches = sorted({bytes(i) for i in ids if bytes(i).hex().startswith(key)})
    shown = [m.hex() for m in matches]
    listed = "".join(f"\n  {h}" for h in shown[:SHOWN_CANDIDATES])
    if len(key) < MIN_PREFIX:
        hint = f"; it matches:{listed}" if listed else ""
        raise NameTooShort(
            f"{text!r} is too short: give at least {MIN_PREFIX} hex digits{hint}", shown
        )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownName(f"no {what} this node knows starts with {text!r}")
    raise AmbiguousName(
        f"{text!r} matches {len(matches)} {what}s; give more digits:{listed}", shown
    )


def decision_number(text: str) -> int:
    """A decision as typed: ``3`` or ``#3``."""
    key = text.strip().removeprefix("#")
    if not key.isascii() or not key.isdigit():
        raise InvalidName(f"{text!r} is not a decision number (like 3 or #3)")
    return int(key)
