"""The exact places of a ride and its start code: sealed, so the ordered lace never shows them.

Everyone in the cooperative folds every ride, so the fold sees only cells (about 1 km).  The
exact pickup and drop-off, and the rider's one-time start code, travel sealed with the work
kit's sealed details (``docs/work-kit.md#sealed-details``):

* the request carries them sealed to the **rider alone** (context ``request/RIDE``): the
  rider's phone reopens them after a restart (the code is not lost);
* once a driver is assigned, the rider's phone reseals the places (not the code) to the
  **rider and that driver** in a :class:`~.records.Details` (context ``places/JOB``: one round
  of the ride), which the driver's phone opens for ``show``.

Only the node opens a box, with the member's key the app never sees (``NodeContext.unseal``);
sealing needs only public keys, so it runs in the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from peoplenet.plugins.api import NodeContext, PeoplenetError
from peoplenet.plugins.kit import BadPoint, Point, Sealed, seal, seal_context

APP: Final = "ride_hailing"


@dataclass(frozen=True, slots=True)
class Places:
    """What is sealed: the exact points, and (to the rider alone) the start code."""

    pickup: Point
    dropoff: Point
    code: str = ""

    def plaintext(self) -> bytes:
        """``LAT,LON;LAT,LON;CODE`` in micro-degrees (ASCII)."""
        a, b = self.pickup, self.dropoff
        return f"{a.lat},{a.lon};{b.lat},{b.lon};{self.code}".encode("ascii")


def request_context(community: bytes, ride: bytes) -> bytes:
    return seal_context(community, APP, b"request/" + ride)


def details_context(community: bytes, job: bytes) -> bytes:
    return seal_context(community, APP, b"places/" + job)


def seal_request(community: bytes, ride: bytes, rider: bytes, places: Places) -> Sealed:
    """The request's sealed field: places and code, for the rider alone."""
    return seal(places.plaintext(), (rider,), request_context(community, ride))


def seal_details(
    community: bytes, job: bytes, parties: tuple[bytes, ...], places: Places
) -> Sealed:
    """The places (without the code) for the rider and the assigned driver."""
    bare = Places(places.pickup, places.dropoff)
    return seal(bare.plaintext(), parties, details_context(community, job))


def opened(node: NodeContext, sealed: Sealed | None, context: bytes) -> Places | None:
    """``sealed`` opened by this member's node, or ``None`` (not a recipient, damaged, none)."""
    if sealed is None:
        return None
    try:
        return read(node.unseal(sealed, context))
    except PeoplenetError:  # not ours, tampered, refused, or not places: nothing to show
        return None


def read(plaintext: bytes) -> Places:
    """The places :meth:`Places.plaintext` wrote; :class:`BadPoint` for anything else."""
    parts = plaintext.decode("ascii", errors="replace").split(";")
    if len(parts) != 3:
        raise BadPoint("sealed places are LAT,LON;LAT,LON;CODE")
    return Places(_point(parts[0]), _point(parts[1]), parts[2])


def _point(text: str) -> Point:
    lat, sep, lon = text.partition(",")
    if not sep or not all(p.removeprefix("-").isdecimal() for p in (lat, lon)):
        raise BadPoint(f"{text!r} is not LAT,LON in micro-degrees")
    return Point(int(lat), int(lon))


__all__ = ["Places", "details_context", "opened", "request_context", "seal_details", "seal_request"]
