"""Points, cells, rings and distances, in integers only (the fold never touches a float).

* A **point** is a latitude and longitude in integer micro-degrees (1e-6 degree, about 11 cm):
  the codec refuses floats, and ``"LAT,LON"`` decimal text is parsed exactly (a
  :class:`~fractions.Fraction`), rounded half away from zero to the micro-degree.
* A **cell** is a square of :data:`CELL_UD` micro-degrees on each side (0.01 degree: 1.11 km
  north-south, 0.79 km east-west at 45 degrees). Why a constant rather than a voted parameter:
  a cell is part of records already ordered (positions, requests), so changing its size would
  make old and new cells incomparable; and 0.01 degree is coarse enough to hide where in a
  town a driver waits, fine enough to find the nearest ones.
* **Rings**: ring ``k`` around a cell is the cells at Chebyshev distance exactly ``k``
  (ring 0 is the cell itself), each listed in (row, col) order.
* **Distance**: an equirectangular estimate in whole metres, with the cosine of the latitude
  read from a table of integers (one per degree, linearly interpolated): within 0.5 % of the
  great-circle distance for city trips, and the same on every phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Final

from peoplenet.runtime.errors import PeoplenetError

UD_PER_DEGREE: Final = 1_000_000
"""Micro-degrees per degree."""
CELL_UD: Final = 10_000
"""A cell's side in micro-degrees (0.01 degree)."""
MAX_LAT_UD: Final = 90 * UD_PER_DEGREE
MAX_LON_UD: Final = 180 * UD_PER_DEGREE
MAX_ROW: Final = MAX_LAT_UD // CELL_UD
MAX_COL: Final = MAX_LON_UD // CELL_UD
M_PER_DEGREE: Final = 111_195
"""Metres per degree of latitude (mean Earth radius 6,371,008.8 m)."""
COS_MILLIONTHS: Final = (
    1000000, 999848, 999391, 998630, 997564, 996195, 994522, 992546, 990268, 987688,
    984808, 981627, 978148, 974370, 970296, 965926, 961262, 956305, 951057, 945519,
    939693, 933580, 927184, 920505, 913545, 906308, 898794, 891007, 882948, 874620,
    866025, 857167, 848048, 838671, 829038, 819152, 809017, 798636, 788011, 777146,
    766044, 754710, 743145, 731354, 719340, 707107, 694658, 681998, 669131, 656059,
    642788, 629320, 615661, 601815, 587785, 573576, 559193, 544639, 529919, 515038,
    500000, 484810, 469472, 453990, 438371, 422618, 406737, 390731, 374607, 358368,
    342020, 325568, 309017, 292372, 275637, 258819, 241922, 224951, 207912, 190809,
    173648, 156434, 139173, 121869, 104528, 87156, 69756, 52336, 34899, 17452,
    0,
)  # fmt: skip
"""cos(d degrees) x 1e6, rounded, for d = 0..90: the fold's only trigonometry."""
_MICRO: Final = Fraction(1, UD_PER_DEGREE)


class BadPoint(PeoplenetError):
    """Text that is not a ``LAT,LON`` point on Earth (decimal degrees)."""

    reason = "bad_point"


@dataclass(frozen=True, slots=True, order=True)
class Point:
    """A place in integer micro-degrees."""

    lat: int
    lon: int

    def __post_init__(self) -> None:
        if not -MAX_LAT_UD <= self.lat <= MAX_LAT_UD:
            raise BadPoint(f"latitude {self.lat} micro-degrees is outside -90..90")
        if not -MAX_LON_UD <= self.lon <= MAX_LON_UD:
            raise BadPoint(f"longitude {self.lon} micro-degrees is outside -180..180")

    def text(self) -> str:
        return f"{_decimal(self.lat)},{_decimal(self.lon)}"


def _decimal(ud: int) -> str:
    sign = "-" if ud < 0 else ""
    whole, frac = divmod(abs(ud), UD_PER_DEGREE)
    return f"{sign}{whole}.{frac:06d}"


def parse_point(text: str) -> Point:
    """``"LAT,LON"`` in decimal degrees (``"45.4642,9.19"``), exactly; :class:`BadPoint` else."""
    lat_text, sep, lon_text = text.partition(",")
    if not sep:
        raise BadPoint(f"{text!r} is not LAT,LON (two decimal numbers and a comma)")
    return Point(_micro(lat_text, text), _micro(lon_text, text))


def _micro(part: str, whole: str) -> int:
    cleaned = part.strip()
    body = cleaned.removeprefix("-").removeprefix("+")
    digits = body.replace(".", "", 1)
    if not digits.isdecimal() or not digits.isascii() or body.startswith("."):
        raise BadPoint(f"{whole!r}: {part.strip()!r} is not a decimal number of degrees")
    value = Fraction(cleaned) / _MICRO
    return round_half_away(value)


def round_half_away(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero (deterministic)."""
    magnitude = abs(value)
    rounded = int(magnitude + Fraction(1, 2))
    return rounded if value >= 0 else -rounded


@dataclass(frozen=True, slots=True, order=True)
class Grid:
    """A cell's (row, col) on the grid: row from latitude, col from longitude."""

    row: int
    col: int


def cell_of(point: Point) -> Grid:
    """The cell ``point`` lies in (floor division: cells do not straddle the equator)."""
    return Grid(point.lat // CELL_UD, point.lon // CELL_UD)


def valid_cell(row: int, col: int) -> bool:
    """Whether (row, col) is a cell on Earth (a record's cell is checked with this)."""
    return -MAX_ROW <= row <= MAX_ROW and -MAX_COL <= col <= MAX_COL


def chebyshev(a: Grid, b: Grid) -> int:
    """How many rings apart two cells are."""
    return max(abs(a.row - b.row), abs(a.col - b.col))


def ring(center: Grid, k: int) -> tuple[Grid, ...]:
    """The cells at Chebyshev distance exactly ``k`` from ``center``, in (row, col) order."""
    if k < 0:
        return ()
    if k == 0:
        return (center,)
    out = [
        Grid(r, c)
        for r in range(center.row - k, center.row + k + 1)
        for c in range(center.col - k, center.col + k + 1)
        if max(abs(r - center.row), abs(c - center.col)) == k
    ]
    return tuple(out)


def rings(center: Grid, max_k: int) -> Iterator[tuple[int, tuple[Grid, ...]]]:
    """Rings 0..``max_k`` outward: ``(k, cells)``."""
    for k in range(max_k + 1):
        yield k, ring(center, k)


def cos_millionths(lat_ud: int) -> int:
    """cos(latitude) x 1e6 from :data:`COS_MILLIONTHS`, linearly interpolated (integers)."""
    a = abs(lat_ud)
    degree, rest = divmod(a, UD_PER_DEGREE)
    if degree >= 90:
        return 0
    low, high = COS_MILLIONTHS[degree], COS_MILLIONTHS[degree + 1]
    return low - (low - high) * rest // UD_PER_DEGREE


def distance_m(a: Point, b: Point) -> int:
    """The straight-line distance in whole metres (equirectangular, at the mean latitude)."""
    dlat = b.lat - a.lat
    dlon = abs(b.lon - a.lon)
    if dlon > MAX_LON_UD:  # the short way round the antimeridian
        dlon = 2 * MAX_LON_UD - dlon
    cos = cos_millionths((a.lat + b.lat) // 2)
    dy = dlat * M_PER_DEGREE  # metres x 1e6
    dx = dlon * M_PER_DEGREE * cos // UD_PER_DEGREE
    return (isqrt(dx * dx + dy * dy) + UD_PER_DEGREE // 2) // UD_PER_DEGREE


def cell_distance_bounds(a: Grid, b: Grid) -> tuple[int, int]:
    """The least and most straight-line metres between a point of cell ``a`` and one of ``b``.

    The fold checks a request's estimate against them: the rider's node computed it from
    the exact points, which the fold never sees.
    """
    rows = abs(a.row - b.row)
    cols = abs(a.col - b.col)
    cols = min(cols, 2 * MAX_COL - cols)
    # distance_m takes the cosine at the two points' mean latitude, which lies anywhere
    # between the southern edge of the lower row and the northern edge of the upper one
    # (across the equator when the rows are on both sides of it).
    least, most = _abs_lat_span(min(a.row, b.row), max(a.row, b.row))
    near_cos = cos_millionths(min(most, MAX_LAT_UD))
    far_cos = cos_millionths(min(least, MAX_LAT_UD))
    low = _metres(max(rows - 1, 0) * CELL_UD, max(cols - 1, 0) * CELL_UD, near_cos)
    high = _metres((rows + 1) * CELL_UD, (cols + 1) * CELL_UD, far_cos)
    return max(low - 1, 0), high + 1


def _abs_lat_span(low_row: int, high_row: int) -> tuple[int, int]:
    """The least and most |latitude| (micro-degrees) from row ``low_row`` to ``high_row``."""
    south, north = low_row * CELL_UD, (high_row + 1) * CELL_UD
    if south <= 0 <= north:
        return 0, max(-south, north)
    return min(abs(south), abs(north)), max(abs(south), abs(north))


def _metres(dlat_ud: int, dlon_ud: int, cos: int) -> int:
    dy = dlat_ud * M_PER_DEGREE
    dx = dlon_ud * M_PER_DEGREE * cos // UD_PER_DEGREE
    return isqrt(dx * dx + dy * dy) // UD_PER_DEGREE


__all__ = [
    "CELL_UD",
    "BadPoint",
    "Grid",
    "Point",
    "cell_distance_bounds",
    "cell_of",
    "chebyshev",
    "cos_millionths",
    "distance_m",
    "parse_point",
    "ring",
    "rings",
    "round_half_away",
    "valid_cell",
]
