"""A stop's exact address and a courier's exact position: sealed, so the ordered lace never
shows them.

Every member's phone folds every order, so the fold sees only cells (about 1 km).  What a
person needs to find the door travels sealed with the work kit's sealed details
(``docs/work-kit.md#sealed-details``):

* each :class:`~.records.Stop` of an order carries its :class:`Address` sealed to the
  **customer, the store and the dispatcher** (context ``stop/TASK``);
* once a courier holds the task, the dispatcher's node (or the store's, when the cooperative
  has no dispatcher) reseals it to the **customer, the store and that courier** in an
  :class:`~.records.Address` record (context ``address/TASK/COURIER``);
* while a task is active, the courier's exact position goes sealed to the task's parties in a
  :class:`~.records.Track` (context ``track/TASK``); the fold refuses it once the task ended.

Only the node opens a box, with the member's key the app never sees (``NodeContext.unseal``);
sealing needs only public keys, so it runs in the app.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from peoplenet.plugins.api import NodeContext, PeoplenetError, Value
from peoplenet.plugins.kit import BadPoint, Point, Sealed, parse_point, seal, seal_context

APP: Final = "delivery"
MAX_FIELD: Final = 280


class BadAddress(PeoplenetError):
    """An address that cannot be sealed or read back (too long, not text, no door)."""

    reason = "bad_address"


@dataclass(frozen=True, slots=True)
class Address:
    """Where the door is: the street text, the exact point if known, who to ask, notes."""

    text: str
    at: Point | None = None
    contact: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise BadAddress("an address needs its text")
        for name in ("text", "contact", "notes"):
            if len(getattr(self, name)) > MAX_FIELD:
                raise BadAddress(f"{name} is at most {MAX_FIELD} characters")

    def plaintext(self) -> bytes:
        at = "" if self.at is None else f"{self.at.lat},{self.at.lon}"
        fields = {"text": self.text, "at": at, "contact": self.contact, "notes": self.notes}
        return json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def shown(self) -> dict[str, Value]:
        """As a member's command prints it."""
        return {
            "text": self.text,
            "at": "" if self.at is None else self.at.text(),
            "contact": self.contact,
            "notes": self.notes,
        }


def read(plaintext: bytes) -> Address:
    """The address :meth:`Address.plaintext` wrote; :class:`BadAddress` for anything else."""
    try:
        fields = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadAddress("sealed address is not the app's JSON") from None
    if not isinstance(fields, dict) or not all(
        isinstance(fields.get(k), str) for k in ("text", "at", "contact", "notes")
    ):
        raise BadAddress("sealed address lacks its fields")
    at = None
    if fields["at"]:
        lat, sep, lon = fields["at"].partition(",")
        if not sep or not all(p.removeprefix("-").isdecimal() for p in (lat, lon)):
            raise BadAddress("the address's point is not micro-degrees")
        at = Point(int(lat), int(lon))
    return Address(fields["text"], at, fields["contact"], fields["notes"])


def parse_at(text: str) -> Point:
    """``LAT,LON`` in degrees, as a member types it (:class:`BadPoint` otherwise)."""
    return parse_point(text)


def stop_context(community: bytes, task: bytes) -> bytes:
    return seal_context(community, APP, b"stop/" + task)


def address_context(community: bytes, task: bytes, courier: bytes) -> bytes:
    return seal_context(community, APP, b"address/" + task + b"/" + courier)


def track_context(community: bytes, task: bytes) -> bytes:
    return seal_context(community, APP, b"track/" + task)


def seal_address(address: Address, recipients: Sequence[bytes], context: bytes) -> Sealed:
    return seal(address.plaintext(), recipients, context)


def seal_position(at: Point, recipients: Sequence[bytes], community: bytes, task: bytes) -> Sealed:
    return seal(f"{at.lat},{at.lon}".encode("ascii"), recipients, track_context(community, task))


def opened(node: NodeContext, sealed: Sealed | None, context: bytes) -> Address | None:
    """``sealed`` opened by this member's node, or ``None`` (not a recipient, damaged, none)."""
    if sealed is None:
        return None
    try:
        return read(node.unseal(sealed, context))
    except PeoplenetError:  # not ours, tampered, refused, or not an address: nothing to show
        return None


def opened_position(
    node: NodeContext, sealed: Sealed, community: bytes, task: bytes
) -> Point | None:
    try:
        text = node.unseal(sealed, track_context(community, task)).decode("ascii")
    except (PeoplenetError, UnicodeDecodeError):
        return None
    lat, sep, lon = text.partition(",")
    if not sep or not all(p.removeprefix("-").isdecimal() for p in (lat, lon)):
        return None
    return Point(int(lat), int(lon))


__all__ = [
    "Address",
    "BadAddress",
    "BadPoint",
    "address_context",
    "opened",
    "opened_position",
    "parse_at",
    "read",
    "seal_address",
    "seal_position",
    "stop_context",
    "track_context",
]
