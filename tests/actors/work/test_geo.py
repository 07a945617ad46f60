"""Points, cells, rings and distances: exact parsing, integer arithmetic, honest bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from peoplenet.actors.work import geo
from peoplenet.actors.work.geo import BadPoint, Grid, Point

lats = st.integers(-80_000_000, 80_000_000)
lons = st.integers(-179_999_999, 179_999_999)
points = st.builds(Point, lats, lons)
inland = st.builds(Point, lats, st.integers(-179_000_000, 179_000_000))
"""Points a city trip's offset keeps on the map."""


def test_decimal_text_is_parsed_exactly_to_micro_degrees() -> None:
    assert geo.parse_point("45.4642,9.19") == Point(45_464_200, 9_190_000)
    assert geo.parse_point(" -33.8688 , 151.2093 ") == Point(-33_868_800, 151_209_300)
    assert geo.parse_point("0.0000005,-0.0000005") == Point(1, -1)  # halves away from zero
    assert geo.parse_point("0.00000049,0") == Point(0, 0)
    assert geo.parse_point("90,-180") == Point(90_000_000, -180_000_000)
    assert geo.parse_point("45.4642,9.19").text() == "45.464200,9.190000"


@pytest.mark.parametrize(
    "text",
    ["", "45.4", "a,b", "45.4,9.1,2", "91,0", "0,181", "1e3,0", "nan,0", "inf,0", ".5,1", "٣,1"],
)
def test_anything_else_is_a_bad_point(text: str) -> None:
    with pytest.raises(BadPoint) as caught:
        geo.parse_point(text)
    assert caught.value.reason == "bad_point"


@given(points)
def test_a_point_is_in_its_cell_and_its_text_reads_back(p: Point) -> None:
    cell = geo.cell_of(p)
    assert cell.row * geo.CELL_UD <= p.lat < (cell.row + 1) * geo.CELL_UD
    assert cell.col * geo.CELL_UD <= p.lon < (cell.col + 1) * geo.CELL_UD
    assert geo.valid_cell(cell.row, cell.col)
    assert geo.parse_point(p.text()) == p


@given(st.integers(-100, 100), st.integers(-100, 100), st.integers(0, 6))
def test_ring_k_is_the_8k_cells_at_distance_k(row: int, col: int, k: int) -> None:
    center = Grid(row, col)
    ring = geo.ring(center, k)
    assert len(ring) == (8 * k if k else 1) == len(set(ring))
    assert all(geo.chebyshev(center, c) == k for c in ring)
    assert list(ring) == sorted(ring)


@given(inland, st.integers(-20_000, 20_000), st.integers(-20_000, 20_000))
def test_the_distance_is_within_half_a_percent_of_the_great_circle(
    a: Point, dlat: int, dlon: int
) -> None:
    b = Point(a.lat + dlat, a.lon + dlon)
    got = geo.distance_m(a, b)
    phi1, phi2 = math.radians(a.lat / 1e6), math.radians(b.lat / 1e6)
    dphi, dlmb = phi2 - phi1, math.radians((b.lon - a.lon) / 1e6)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    great = 2 * 6_371_008.8 * math.asin(math.sqrt(h))
    assert abs(got - great) <= 0.005 * great + 2


@given(points, points)
@example(Point(-22324, 22499981), Point(35481, 0))  # rows either side of the equator
def test_the_distance_lies_within_the_bounds_the_fold_checks(a: Point, b: Point) -> None:
    low, high = geo.cell_distance_bounds(geo.cell_of(a), geo.cell_of(b))
    assert low <= geo.distance_m(a, b) <= high


@given(inland, st.integers(-60_000, 60_000), st.integers(-60_000, 60_000))
def test_the_bounds_hold_for_city_trips_too(a: Point, dlat: int, dlon: int) -> None:
    b = Point(a.lat + dlat, a.lon + dlon)
    low, high = geo.cell_distance_bounds(geo.cell_of(a), geo.cell_of(b))
    assert low <= geo.distance_m(a, b) <= high
    assert high - low <= 4 * 1600  # tight enough to catch a made-up estimate


def test_the_cosine_table_is_interpolated_in_integers() -> None:
    assert geo.cos_millionths(0) == 1_000_000
    assert geo.cos_millionths(60_000_000) == 500_000
    assert geo.cos_millionths(-60_000_000) == 500_000
    assert geo.cos_millionths(90_000_000) == 0
    assert 707_107 > geo.cos_millionths(45_500_000) > 694_658
