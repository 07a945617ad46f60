"""The fare formula and the quote: every term voted, integers only, terms summing to the total."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.apps.ride_hailing.fare import FARE_PARAMS, FareRules, fare, quote, within_quote
from peoplenet.plugins.api import AppTxRejected
from peoplenet.plugins.kit import apply_rate, round_half_up

DEFAULTS = {p.name: p.default for p in FARE_PARAMS}
NOON = 12 * 3_600_000
MIDNIGHT = 0


def rules(**changes: object) -> FareRules:
    return FareRules.from_settings({**DEFAULTS, **changes})  # type: ignore[dict-item]


def test_the_metered_fare_by_day() -> None:
    got = fare(rules(), 5000, 900, 0, NOON)  # 5 km, 15 minutes, at noon
    assert got.terms == (
        ("base", 250),
        ("distance", 600),
        ("time", 450),
        ("minimum", 0),
        ("night", 0),
        ("waiting", 0),
    )
    assert got.total == 1300


def test_a_short_trip_costs_the_minimum_and_night_and_waiting_come_on_top() -> None:
    got = fare(rules(), 100, 30, 5 * 60, MIDNIGHT)  # waited 5 minutes, 3 free
    assert got.term("minimum") == 500 - (250 + 12 + 15)
    assert got.term("night") == 200
    assert got.term("waiting") == 40
    assert got.total == 500 + 200 + 40


@pytest.mark.parametrize(
    ("start", "end", "offset", "hour", "night"),
    [
        (22, 6, 0, 23, True),
        (22, 6, 0, 5, True),
        (22, 6, 0, 6, False),
        (22, 6, 0, 21, False),
        (1, 5, 0, 3, True),
        (1, 5, 0, 0, False),
        (22, 6, 120, 21, True),  # 21:00 UTC is 23:00 local
        (7, 7, 0, 7, False),  # no night at all
    ],
)
def test_night_hours_wrap_midnight_in_local_time(
    start: int, end: int, offset: int, hour: int, night: bool
) -> None:
    r = rules(night_from_hour=start, night_to_hour=end, utc_offset_minutes=offset)
    assert r.is_night(hour * 3_600_000) is night


@given(
    st.integers(0, 200_000),
    st.integers(0, 20_000),
    st.integers(0, 3_600),
    st.integers(0, 86_400_000),
    st.integers(0, 1000),
    st.integers(0, 500),
)
def test_the_terms_always_sum_to_the_total_and_the_minimum_holds(
    metres: int, seconds: int, wait: int, at: int, per_km: int, minimum: int
) -> None:
    got = fare(rules(per_km_cents=per_km, minimum_cents=minimum), metres, seconds, wait, at)
    assert sum(v for _, v in got.terms) == got.total
    assert all(type(v) is int and v >= 0 for _, v in got.terms)
    assert got.total - got.term("night") - got.term("waiting") >= minimum


@given(st.integers(0, 100_000), st.integers(0, 86_400_000))
def test_the_straight_line_trip_by_day_is_the_low_end_of_the_quote(estimate: int, at: int) -> None:
    r = rules()
    low, high = quote(r, estimate)
    assert low <= high
    fastest = round_half_up(Fraction(estimate * 3600, r.speed_max_kmh * 1000))
    assert fare(r, estimate, fastest, 0, NOON).total == low
    slowest = fare(r, estimate, round_half_up(Fraction(estimate * 3600, 15_000)), 0, at)
    assert within_quote(slowest, low, high)  # the route as quoted, at any hour


def test_rules_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(AppTxRejected) as caught:
        rules(base_cents="a lot")
    assert caught.value.reason == "bad_rules"


def test_rates_round_half_up_to_the_cent() -> None:
    assert apply_rate(1005, "1/10") == 101  # 100.5
    assert apply_rate(1004, "1/10") == 100
    assert apply_rate(0, "1/3") == 0
    assert apply_rate(1000, Fraction(1, 3)) == 333
