"""The ride fare: a pure function of the voted rules and what the fold recorded of the trip.

    fare = max(minimum, base + per_km x km + per_min x minutes)
           + night charge (a trip started between the voted hours)
           + waiting charge (per minute the driver waited past the free minutes)

Every term is a voted parameter (:data:`FARE_PARAMS`); the result is a :class:`Breakdown`
whose named terms sum to the total (``minimum`` is the top-up that lifts the metered part to
the minimum).  Money is integer cents, rounded half up to the cent once per term.  The
breakdown, the rounding and the versions of the rules are the work kit's pricing.

The **quote** a rider sees comes from the straight-line estimate: the low end drives it as
the crow flies at the voted top speed, by day; the high end with the voted largest detour at
the voted lowest speed, plus the night charge.  The fare is checked against the quote without
the waiting charge (the rider's own lateness, recorded in the fold, is charged on top by the
voted rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from peoplenet.plugins.api import AppTxRejected, ParamSpec, Value
from peoplenet.plugins.kit import Breakdown, round_half_up

MINUTE_MS: Final = 60_000
DAY_MINUTES: Final = 1440

FARE_PARAMS: Final = (
    ParamSpec("base_cents", "int", 250, "fixed part of every fare", minimum=0, maximum=10**6),
    ParamSpec("per_km_cents", "int", 120, "per kilometre driven", minimum=0, maximum=10**5),
    ParamSpec("per_min_cents", "int", 30, "per minute driven", minimum=0, maximum=10**5),
    ParamSpec("minimum_cents", "int", 500, "the least a trip costs", minimum=0, maximum=10**6),
    ParamSpec(
        "night_cents", "int", 200, "added to a trip started at night", minimum=0, maximum=10**6
    ),
    ParamSpec("night_from_hour", "int", 22, "night starts (local hour)", minimum=0, maximum=23),
    ParamSpec("night_to_hour", "int", 6, "night ends (local hour)", minimum=0, maximum=23),
    ParamSpec("utc_offset_minutes", "int", 0, "local time minus UTC", minimum=-720, maximum=840),
    ParamSpec("waiting_cents_per_min", "int", 20, "per minute waited", minimum=0, maximum=10**5),
    ParamSpec("free_wait_minutes", "int", 3, "waiting not charged", minimum=0, maximum=120),
    ParamSpec(
        "detour_max",
        "rate",
        "3/2",
        "longest route / straight line (quote)",
        minimum="1",
        maximum="5",
    ),
    ParamSpec("speed_min_kmh", "int", 15, "slowest average speed (quote)", minimum=1, maximum=200),
    ParamSpec("speed_max_kmh", "int", 60, "fastest average speed (quote)", minimum=1, maximum=300),
)
"""The fare's voted parameters (part of the app's :class:`~peoplenet.plugins.api.AppSpec`)."""

TERMS: Final = ("base", "distance", "time", "minimum", "night", "waiting")


@dataclass(frozen=True, slots=True)
class FareRules:
    """One version of the voted fare rules, read from the app's settings."""

    base: int
    per_km: int
    per_min: int
    minimum: int
    night: int
    night_from: int
    night_to: int
    utc_offset: int
    waiting_per_min: int
    free_wait_min: int
    detour_max: Fraction
    speed_min_kmh: int
    speed_max_kmh: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Value]) -> FareRules:
        def num(name: str) -> int:
            value = settings.get(name, _DEFAULTS[name])
            if type(value) is not int:
                raise AppTxRejected("bad_rules", f"{name} is {value!r}, not an integer")
            return value

        detour = settings.get("detour_max", _DEFAULTS["detour_max"])
        if not isinstance(detour, str | int) or isinstance(detour, bool):
            raise AppTxRejected("bad_rules", f"detour_max is {detour!r}, not a rate")
        return cls(
            num("base_cents"),
            num("per_km_cents"),
            num("per_min_cents"),
            num("minimum_cents"),
            num("night_cents"),
            num("night_from_hour"),
            num("night_to_hour"),
            num("utc_offset_minutes"),
            num("waiting_cents_per_min"),
            num("free_wait_minutes"),
            Fraction(detour),
            num("speed_min_kmh"),
            max(num("speed_max_kmh"), num("speed_min_kmh")),
        )

    def is_night(self, at_ms: int) -> bool:
        """Whether community time ``at_ms`` is between the voted night hours, local time."""
        minute = (at_ms // MINUTE_MS + self.utc_offset) % DAY_MINUTES
        start, end = self.night_from * 60, self.night_to * 60
        if start == end:
            return False
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end


_NOON_UTC: Final = 12 * 60 * MINUTE_MS
"""A moment at local noon for a zero offset (the quote's day-time fare)."""
_DEFAULTS: Final[Mapping[str, Value]] = {p.name: p.default for p in FARE_PARAMS}


def fare(
    rules: FareRules, metres: int, seconds: int, wait_seconds: int, start_ms: int
) -> Breakdown:
    """The fare of a trip of ``metres`` and ``seconds`` started at ``start_ms``, after the
    driver waited ``wait_seconds`` at the pickup."""
    base = rules.base
    distance = round_half_up(Fraction(metres * rules.per_km, 1000))
    time = round_half_up(Fraction(seconds * rules.per_min, 60))
    metered = base + distance + time
    charged_wait = max(wait_seconds - rules.free_wait_min * 60, 0)
    return Breakdown.of(
        ("base", base),
        ("distance", distance),
        ("time", time),
        ("minimum", max(rules.minimum - metered, 0)),
        ("night", rules.night if rules.is_night(start_ms) else 0),
        ("waiting", round_half_up(Fraction(charged_wait * rules.waiting_per_min, 60))),
    )


def quote(rules: FareRules, estimate_m: int) -> tuple[int, int]:
    """The fare range from a straight-line estimate, whatever the hour.

    Low: the straight line at the top speed, by day.  High: the largest detour at the lowest
    speed, with the night charge (a quote must not depend on the moment the request is
    ordered, which the rider's phone cannot know exactly).
    """
    fast_s = _seconds(estimate_m, rules.speed_max_kmh)
    longest_m = round_half_up(estimate_m * rules.detour_max)
    slow_s = _seconds(longest_m, rules.speed_min_kmh)
    low = fare(rules, estimate_m, fast_s, 0, _NOON_UTC - rules.utc_offset * MINUTE_MS)
    high = fare(rules, longest_m, slow_s, 0, _NOON_UTC - rules.utc_offset * MINUTE_MS)
    night = rules.night if rules.night_from != rules.night_to else 0
    day_low, day_high = low.total - low.term("night"), high.total - high.term("night")
    return day_low, max(day_low, day_high) + night


def _seconds(metres: int, kmh: int) -> int:
    return round_half_up(Fraction(metres * 3600, kmh * 1000))


def within_quote(breakdown: Breakdown, low: int, high: int) -> bool:
    """Whether the fare, less the rider's waiting charge, is within the quote."""
    return low <= breakdown.total - breakdown.term("waiting") <= high


__all__ = [
    "FARE_PARAMS",
    "TERMS",
    "FareRules",
    "fare",
    "quote",
    "within_quote",
]
