"""Ride-hailing's part of ``make demo``: one ride, from the request to the ratings.

Runs after the demo cooperative enabled the app by vote (fares in euros, paid in cash).  The
rider is not a member: a customer with his own key and data directory and the cooperative's
profile, who signs his steps and learns the ride's from members' receipts.  Two drivers go
online; the rider requests a ride; the nearer driver is offered it first and declines, the
other takes it, arrives, starts with the rider's code and completes; both rate.  Every step is
a command on one person's phone, and the demo waits until the cooperative's order shows its
effect -- and, at the end, the same ride on every member's phone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Final, cast

from peoplenet.plugins.api import DemoDriver, DemoEnabling, DemoStepFailed, Value, hookimpl

DEMO_SETTINGS: Final[dict[str, Value]] = {
    "payment": "cash",
    "currency": "EUR",
    "rating_min_count": 1,
}
"""The app's settings in the demo's cooperative: cash fares in euros; a driver's average shown
from the first rating (one ride is all the demo has)."""
PICKUP: Final = "45.4642,9.1900"
DROPOFF: Final = "45.4781,9.2270"
NEAR: Final = "45.4642,9.1900"
"""Where the first driver waits: the pickup's own cell (offered the ride first)."""
EAST: Final = "45.4642,9.2050"
"""Where the second driver waits: one cell east of the pickup."""
TRIP_METRES: Final = 3600
TRIP_SECONDS: Final = 600
RIDER: Final = "frank"
"""The rider: a customer, not a member (his own key and data directory, no node)."""
RECEIPTS_POLL_S: Final = 2.0
"""How often the demo asks the rider's phone: each ask queries every member's node, and a
member's node answers a customer about one query every two seconds (its per-customer quota)."""
SCORES: Final = (5, 4)
"""The rider's score for the driver, the driver's for the rider."""
SAME_ON_EVERY_PHONE: Final = ("state", "rider", "driver", "fare", "paid", "commission", "offers")
"""What every phone's ``show`` of the ride must agree on (the rest is this phone's own: the
code, the opened places)."""


def cast_of(demo: DemoDriver) -> dict[str, str]:
    """Who drives: the demo's second and third people (the rider, :data:`RIDER`, is no member)."""
    if len(demo.members) < 3:
        raise DemoStepFailed("the ride-hailing demo needs three people")
    near, east = demo.members[1:3]
    return {"near": near, "east": east}


def _hex(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _dict(value: Value, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DemoStepFailed(f"{what} answered {value!r}")
    return cast(dict[str, Any], value)


def _show(demo: DemoDriver, name: str, ride: str) -> dict[str, Any]:
    """A member's ``show`` of the ride (any member's phone shows any ride)."""
    return _dict(demo.command(name, "show", ride=ride), f"show on {name}'s phone")


def _online(demo: DemoDriver, name: str, at: str) -> bool:
    """Whether the cooperative's order has ``name`` online in ``at``'s cell.

    ``position`` with the cell the fold already has sends nothing and says so; before the
    ``DriverOnline`` is ordered it is refused (``not_online``)."""
    try:
        moved = demo.command(name, "position", at=at)
    except DemoStepFailed:
        return False
    return isinstance(moved, dict) and moved.get("sent") is False


def _offered_to(demo: DemoDriver, name: str, ride: str) -> bool:
    offers = _dict(demo.command(name, "offers"), f"offers on {name}'s phone").get("offers")
    return any(isinstance(o, dict) and o.get("ride") == ride for o in offers or ())


def _outcomes(shown: dict[str, Any], names: dict[str, str]) -> list[str]:
    """The offer log as ``who: outcome`` (the ride's offers, in order)."""
    log = shown.get("offers")
    offers = log.get("offers") if isinstance(log, dict) else None
    return [
        f"{names.get(_hex(o.get('driver')), '?')}: {o.get('outcome')}"
        for o in offers or ()
        if isinstance(o, dict)
    ]


def _euros(cents: object) -> str:
    """Cents as euros, ``11.82`` (integers only)."""
    whole = int(cast(int, cents))
    return f"{whole // 100}.{whole % 100:02d}"


@hookimpl
def peoplenet_demo_enable(demo: object) -> DemoEnabling:
    """Enabled with cash fares in euros (the default: no currency app needed)."""
    cast_of(cast(DemoDriver, demo))
    return DemoEnabling(settings=DEMO_SETTINGS, note="cash fares in EUR")


@hookimpl
def peoplenet_demo(demo: object) -> None:  # noqa: PLR0915 - a script, step by step
    d = cast(DemoDriver, demo)
    who = cast_of(d)
    near, east, rider = who["near"], who["east"], RIDER
    names = {d.member_id(n): n for n in d.members}

    d.step(f"{rider}, who is not a member, takes the cooperative's profile from a member's phone")
    names[d.customer(rider)] = rider
    d.say(f"{rider}: his own key and data directory, no node; he never votes")

    d.step(f"{near} and {east} go online as drivers: {near} in the pickup's cell, {east} east")
    d.command(near, "online", at=NEAR)  # both at once, as two drivers would: neither waits
    d.command(east, "online", at=EAST)
    d.until(f"{near} is online in the cooperative's order", lambda: _online(d, near, NEAR))
    d.until(f"{east} is online in the cooperative's order", lambda: _online(d, east, EAST))

    d.step(f"{rider} requests a ride, signed with his key and carried by a member's phone")
    asked = d.customer_command(rider, "request", **{"from": PICKUP, "to": DROPOFF})
    quoted = _dict(asked, "request")
    ride = str(quoted["ride"])
    d.say(
        f"ride {ride[:12]}: quote {_euros(quoted['quote_low'])}-{_euros(quoted['quote_high'])}"
        f" {quoted['currency']}, told by members' receipts; only the cells travel in the clear"
    )
    d.until(f"{near}, the nearest driver, is offered it first", lambda: _offered_to(d, near, ride))

    d.step(f"{near} declines; the offer passes to {east}, who accepts")
    d.command(near, "decline", ride=ride)
    d.until(f"{east}'s phone shows the offer", lambda: _offered_to(d, east, ride))
    d.command(east, "accept", ride=ride)
    d.until(f"{east} is assigned", lambda: _show(d, east, ride).get("driver") == d.member_id(east))
    d.say("offers: " + ", ".join(_outcomes(_show(d, east, ride), names)))

    d.step(f"{rider}'s phone learns it from receipts and seals the exact places to {east}")
    mine: dict[str, Any] = {}

    def told(state: str) -> Callable[[], bool]:
        def check() -> bool:
            mine.update(_dict(d.customer_command(rider, "show", ride=ride), "show"))
            return mine.get("state") == state

        return _at_most_every(RECEIPTS_POLL_S, check)

    d.until(f"{rider}'s phone: assigned to {east}", told("assigned"))
    signers = min(int(s.get("signers", 0)) for s in mine.get("steps") or ())
    d.say(
        f"each step he was told: receipts signed by {signers} of the {len(d.members)} members'"
        " phones (more than a third is enough)"
    )
    d.until(
        f"{east}'s phone opened the exact pickup {rider}'s phone sealed to her",
        lambda: _show(d, east, ride).get("pickup_at") == mine.get("pickup_at"),
    )

    d.step(f"{east} arrives and starts the trip with the code {rider} tells her")
    d.command(east, "arrive", ride=ride)
    d.until("arrived", lambda: _show(d, east, ride).get("state") == "arrived")
    d.command(east, "start", ride=ride, code=str(mine["code"]))
    d.until(f"started with {rider}'s code", lambda: _show(d, east, ride).get("state") == "started")

    km, minutes = TRIP_METRES / 1000, TRIP_SECONDS // 60
    d.step(f"{east} completes the trip ({km:g} km, {minutes} min): the fare the voted rules give")
    done = _dict(
        d.command(east, "complete", ride=ride, metres=TRIP_METRES, seconds=TRIP_SECONDS),
        "complete",
    )
    fare = _dict(done.get("fare"), "the fare")
    terms = _dict(fare.get("terms"), "the fare's terms")
    d.say(
        f"fare {_euros(fare['total'])} {done['currency']}: "
        + ", ".join(f"{k} {_euros(v)}" for k, v in terms.items() if v)
    )
    d.until(
        "completed and paid (cash), on every member's phone",
        lambda: all(_show(d, n, ride).get("paid") for n in d.members),
    )
    shown = _show(d, east, ride)
    d.say(
        f"{rider} paid {_euros(shown['fare'])} EUR in cash; commission to the cooperative"
        f" {_euros(shown['commission'])} EUR"
    )

    d.step(f"{rider} and {east} rate each other (double-blind: shown once both rated)")
    rated = _dict(d.customer_command(rider, "rate", ride=ride, score=SCORES[0]), "rate")
    d.say(f"{rider}'s rating: {rated.get('status')} in the order, as members' receipts say")
    d.command(east, "rate", ride=ride, score=SCORES[1])
    d.until(
        f"both scores shown: {rider} gave {SCORES[0]}, {east} gave {SCORES[1]}",
        lambda: _given(_show(d, east, ride), names) == {rider: SCORES[0], east: SCORES[1]},
    )
    earned = _dict(d.command(east, "earnings"), "earnings")
    rating = "none" if earned["rating"] is None else str(Fraction(str(earned["rating"])))
    d.say(
        f"{east}'s earnings: {earned['rides']} ride, net {_euros(earned['net'])} EUR, owes"
        f" {_euros(earned['owed_to_cooperative'])} EUR commission, rating {rating}"
    )

    d.step("every member's phone holds the same ride")
    d.until(
        f"the ride is the same on all {len(d.members)} phones",
        lambda: len({_same(_show(d, n, ride)) for n in d.members}) == 1,
    )


def _at_most_every(seconds: float, check: Callable[[], bool]) -> Callable[[], bool]:
    """``check`` called at most once every ``seconds`` (False in between): a customer's
    queries cost members' per-customer quota, unlike a member's own reads."""
    last = [-seconds]

    def throttled() -> bool:
        if time.monotonic() - last[0] < seconds:
            return False
        last[0] = time.monotonic()
        return check()

    return throttled


def _given(shown: dict[str, Any], names: dict[str, str]) -> dict[str, int]:
    """Who gave which score (``show`` keys the scores by rater); {} while they are hidden."""
    ratings = shown.get("ratings")
    if not isinstance(ratings, dict):
        return {}
    return {names.get(_hex(k), _hex(k)): int(v) for k, v in ratings.items()}


def _same(shown: dict[str, Any]) -> str:
    return repr([shown.get(k) for k in SAME_ON_EVERY_PHONE])


__all__ = ["DEMO_SETTINGS", "RIDER", "cast_of", "peoplenet_demo", "peoplenet_demo_enable"]
