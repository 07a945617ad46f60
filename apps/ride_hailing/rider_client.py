"""The ride commands of a rider who is not a member, run on the customer's own data directory.

``peoplenet ride request|show|history|cancel|agree|rate|dispute --data D COOP`` where ``D``
imported ``COOP``'s profile and runs no node.  Every step the rider takes is a request signed
with the customer's key (:class:`~peoplenet.plugins.api.CustomerSide`), carried by a member's
node; what became of it, and of the ride, the client learns from members' receipts past the
kit's threshold (more than a third of the profile): the request's outcome, the ``quoted`` event
(the quote the fold computed from the rules in force) and the ride's ``step_N`` events.

This phone keeps, per ride, the exact places and the start code (also sealed to the customer in
the request) and the steps it was told.  Once a step says a driver is assigned, ``show`` (or
``history``) reseals the exact places to the customer and that driver (:class:`Details`), as a
member rider's node does in its duties.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final

from peoplenet.apps.ride_hailing.places import Places, seal_details, seal_request
from peoplenet.apps.ride_hailing.records import (
    RIDE_LEN,
    AgreeFare,
    AskRide,
    Cancel,
    Details,
    Dispute,
    Rate,
)
from peoplenet.apps.ride_hailing.riders import QUOTED, STEP, read_quoted
from peoplenet.apps.ride_hailing.trips import code_hash
from peoplenet.plugins.api import AppCommandError, CustomerOutcome, CustomerSide, Record, Value
from peoplenet.plugins.kit import geo

RIDES: Final = "rides"
"""The kept value: ride id hex -> what this phone knows of it."""
WAIT_S: Final = 30.0
"""How long a command waits for the order's outcome of its request (receipts)."""
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LEN: Final = 10
ON_TRIP: Final = ("assigned", "arrived", "started")


def run(command: str, args: Mapping[str, Value], customer: CustomerSide) -> Value:
    handler = _COMMANDS.get(command)
    if handler is None:
        raise AppCommandError(
            "members_only", f"{command} is a member's command: a customer rides, nothing else"
        )
    try:
        return handler(args, customer)
    except geo.BadPoint as exc:
        raise AppCommandError("bad_point", str(exc)) from None


def _rides(customer: CustomerSide) -> dict[str, Any]:
    """Ride id hex -> ``{request, pickup, dropoff, code, quote, steps, details_round}``."""
    kept = customer.kept(RIDES)
    return dict(kept) if isinstance(kept, dict) else {}


def _request(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    pickup, dropoff = _point(args, "from"), _point(args, "to")
    ride = secrets.token_bytes(RIDE_LEN)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
    a, b = geo.cell_of(pickup), geo.cell_of(dropoff)
    places = Places(pickup, dropoff, code)
    sealed = seal_request(customer.community, ride, customer.me, places)
    estimate = geo.distance_m(pickup, dropoff)
    body = AskRide(ride, (a.row, a.col), (b.row, b.col), sealed, estimate, code_hash(ride, code))
    digest = customer.send(body)
    rides = _rides(customer)
    entry: dict[str, Any] = {
        "request": digest,
        "pickup": pickup.text(),
        "dropoff": dropoff.text(),
        "code": code,
        "steps": (),
        "details_round": 0,
    }
    rides[ride.hex()] = entry
    customer.keep(RIDES, rides)  # kept before the wait: show follows it even if this times out
    _applied(customer, digest, "request")
    quoted = customer.outcome(digest, QUOTED, WAIT_S)
    if quoted is None:
        raise AppCommandError("no_receipts", "the request was taken but its quote not receipted")
    low, high, _, currency = read_quoted(quoted.detail)
    entry["quote"] = (low, high, currency)
    customer.keep(RIDES, rides)
    return {"ride": ride.hex(), "quote_low": low, "quote_high": high, "currency": currency}


def _applied(customer: CustomerSide, digest: bytes, what: str) -> CustomerOutcome:
    """The order's outcome of a request: applied, or the fold's refusal as the command's."""
    got = customer.outcome(digest, "", WAIT_S)
    if got is None:
        raise AppCommandError("no_receipts", f"no outcome of the {what} receipted yet")
    if got.status != "applied":
        raise AppCommandError(got.detail or "rejected", f"the cooperative rejected the {what}")
    return got


def _step(record: Callable[[bytes, Mapping[str, Value]], Record], name: str) -> _Handler:
    def send(args: Mapping[str, Value], customer: CustomerSide) -> Value:
        ride = _ride(args, customer)
        digest = customer.send(record(bytes.fromhex(ride), args))
        got = _applied(customer, digest, name)
        return {"ride": ride, "submitted": name, "status": got.status, "request": digest.hex()}

    return send


def _fare(ride: bytes, args: Mapping[str, Value]) -> Record:
    fare = args.get("fare")
    if type(fare) is not int or fare < 0:
        raise AppCommandError("bad_argument", "--fare is a whole number of cents")
    return AgreeFare(ride, fare)


def _score(ride: bytes, args: Mapping[str, Value]) -> Record:
    score = args.get("score")
    if type(score) is not int:
        raise AppCommandError("bad_argument", "--score is 1 to 5")
    return Rate(ride, score)


def _reason(ride: bytes, args: Mapping[str, Value]) -> Record:
    reason = args.get("reason")
    return Dispute(ride, reason if isinstance(reason, str) else "")


def _show(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    ride = _ride(args, customer)
    rides = _rides(customer)
    shown = _follow(customer, ride, rides[ride])
    customer.keep(RIDES, rides)
    return shown


def _history(args: Mapping[str, Value], customer: CustomerSide) -> Value:
    rides = _rides(customer)
    rows = []
    for ride, entry in sorted(rides.items()):
        shown = _follow(customer, ride, entry)
        rows.append({k: shown[k] for k in _ROW})
    customer.keep(RIDES, rides)
    return tuple(rows)


_ROW: Final = ("ride", "rider", "driver", "state", "fare", "paid", "commission", "currency")


def _follow(customer: CustomerSide, ride: str, entry: dict[str, Any]) -> dict[str, Value]:
    """Ask for the ride's next steps until one is not receipted; reseal the places to a newly
    assigned driver; what the rider sees."""
    digest = entry["request"]
    assert isinstance(digest, bytes)
    steps: list[Any] = list(entry.get("steps") or ())
    while True:
        got = customer.outcome(digest, f"{STEP}{len(steps) + 1}")
        if got is None:
            break
        steps.append((got.status, got.detail, got.epoch, got.position, got.signers))
    entry["steps"] = tuple(steps)
    words = str(steps[-1][1]).split(" ") if steps else ["requested"]
    state, driver, fare, commission = words[0], None, None, 0
    if state in ON_TRIP and len(words) == 3:
        driver, round_ = words[1], int(words[2])
        _reseal(customer, ride, entry, bytes.fromhex(driver), round_)
    if state == "completed":
        fare, commission = int(words[1]), int(words[2])
    quote = entry.get("quote")
    low, high, currency = quote if isinstance(quote, tuple) else (None, None, None)
    for word in reversed(steps):  # the driver once assigned stays the ride's after the trip
        parts = str(word[1]).split(" ")
        if driver is None and parts[0] in ON_TRIP and len(parts) == 3:
            driver = parts[1]
            break
    return {
        "ride": ride,
        "rider": customer.me.hex(),
        "driver": driver if state not in ("offered", "requested") else None,
        "state": state,
        "fare": fare,
        "paid": state in ("completed", "ruled"),
        "commission": commission,
        "currency": currency,
        "quote_low": low,
        "quote_high": high,
        "code": entry.get("code"),
        "pickup_at": entry.get("pickup"),
        "dropoff_at": entry.get("dropoff"),
        "steps": tuple(
            {"step": i + 1, "said": s[1], "epoch": s[2], "position": s[3], "signers": s[4]}
            for i, s in enumerate(steps)
        ),
    }


def _reseal(
    customer: CustomerSide, ride: str, entry: dict[str, Any], driver: bytes, round_: int
) -> None:
    """Seal the exact places to me and the assigned driver, once per round of the ride."""
    if entry.get("details_round") == round_:
        return
    places = Places(geo.parse_point(str(entry["pickup"])), geo.parse_point(str(entry["dropoff"])))
    rid = bytes.fromhex(ride)
    job = rid + bytes([round_])
    sealed = seal_details(customer.community, job, tuple(sorted((customer.me, driver))), places)
    customer.send(Details(rid, sealed))
    entry["details_round"] = round_  # the driver opens it under details_context(..., job)


def _ride(args: Mapping[str, Value], customer: CustomerSide) -> str:
    text = args.get("ride")
    if not isinstance(text, str) or len(text.strip()) < 6:
        raise AppCommandError("bad_argument", "--ride is required (its id or 6+ hex digits)")
    found = [r for r in _rides(customer) if r.startswith(text.strip().lower())]
    if len(found) != 1:
        raise AppCommandError("unknown_ride", f"no single ride of yours starts with {text}")
    return found[0]


def _point(args: Mapping[str, Value], name: str) -> geo.Point:
    text = args.get(name)
    if not isinstance(text, str) or not text.strip():
        raise AppCommandError("bad_argument", f"--{name} is required: LAT,LON in degrees")
    return geo.parse_point(text)


_Handler = Callable[[Mapping[str, Value], CustomerSide], Value]
_COMMANDS: Final[dict[str, _Handler]] = {
    "request": _request,
    "show": _show,
    "history": _history,
    "cancel": _step(lambda ride, args: Cancel(ride), "cancel"),
    "agree": _step(_fare, "agree"),
    "rate": _step(_score, "rate"),
    "dispute": _step(_reason, "dispute"),
}

__all__ = ["run"]
