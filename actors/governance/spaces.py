"""The metric kinds' spaces: candidates, total distances and support counts, computed fast.

Why not the plain formulas: the rule needs, for every candidate p, the score
``sum_i d(v_i, s) - d(v_i, p)``, and with every ballot a candidate that is O(n^2) distance
evaluations.  Each space here computes the total distance ``D(p) = sum_i d(v_i, p)`` from
precomputed aggregates instead (sorted values and prefix sums for rates and budget items,
pairwise counts for rankings, approval counts for boards and bylaws); counting the support of
one candidate stays O(n), and the rule asks for it only in score order, as far as needed.

All distances here are integers: a rate is kept as its index on the step grid (the rule
multiplies scores by the step at the end).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import accumulate, combinations
from typing import Protocol, cast

from peoplenet.actors.governance.kinds import name_list, normalize_point, rate_grid


def _tuple_points(
    kind: str,
    params: Mapping[str, object],
    status_quo: object,
    ballots: Sequence[object],
    proposals: Sequence[object],
) -> tuple[tuple[Hashable, ...], list[tuple[Hashable, ...]], list[tuple[Hashable, ...]]]:
    """Status quo, ballots and proposals of a tuple-valued kind, each in normal form."""

    def point(value: object, what: str) -> tuple[Hashable, ...]:
        normal = normalize_point(kind, params, value, what=what)
        assert isinstance(normal, tuple)
        return normal

    return (
        point(status_quo, "status quo"),
        [point(v, f"ballot {i}") for i, v in enumerate(ballots, start=1)],
        [point(p, f"proposal {i}") for i, p in enumerate(proposals, start=1)],
    )


class Space(Protocol):
    """What the generic rule needs from a kind (points are the space's internal form)."""

    unit: Fraction
    """The size of one distance step in the kind's own units (the rate's step, else 1)."""

    @property
    def status_quo(self) -> Hashable: ...

    def candidates(self) -> set[Hashable]:
        """Proposals, ballots that are points of the space, and the kind's aggregate."""
        ...

    def total_distance(self, p: Hashable) -> int:
        """``sum_i d(v_i, p)`` over the ballots."""
        ...

    def distance(self, p: Hashable, q: Hashable) -> int: ...

    def support_count(self, p: Hashable) -> int:
        """How many ballots are strictly closer to ``p`` than to the status quo."""
        ...

    def external(self, p: Hashable) -> object:
        """The API's normal form of an internal point."""
        ...

    def codec_form(self, p: Hashable) -> object:
        """What :func:`peoplenet.runtime.wire.codec.encode` sees when ties are broken by
        encoding."""
        ...


# -- rate ------------------------------------------------------------------------------------


class RateSpace:
    """Numbers on a step grid; ``|x - y|``; aggregate: the median (even count: nearer s)."""

    def __init__(
        self,
        params: Mapping[str, object],
        status_quo: object,
        ballots: Sequence[object],
        proposals: Sequence[object],
    ) -> None:
        self._lo, self.unit, _ = rate_grid(params)
        self._params = params
        self.status_quo = self._index(status_quo, what="status quo")
        self._sorted = sorted(self._indices(ballots))
        self._prefix = [0, *accumulate(self._sorted)]
        self._proposals = [
            self._index(p, what=f"proposal {i}") for i, p in enumerate(proposals, start=1)
        ]

    def _index(self, value: object, *, what: str) -> int:
        point = normalize_point("rate", self._params, value, what=what)
        assert isinstance(point, Fraction)
        return int((point - self._lo) / self.unit)

    def _indices(self, ballots: Sequence[object]) -> list[int]:
        """Grid indices of the ballots; each distinct value is validated once (a million fly)."""
        seen: dict[tuple[int, int], int] = {}
        out: list[int] = []
        append = out.append
        for number, value in enumerate(ballots, start=1):
            kind = type(value)
            if kind is Fraction:
                exact = cast(Fraction, value)
                key = (exact.numerator, exact.denominator)
            elif kind is int:
                key = (cast(int, value), 1)
            else:  # bool, float, str...: refused with the precise error
                append(self._index(value, what=f"ballot {number}"))
                continue
            index = seen.get(key)
            if index is None:
                index = seen[key] = self._index(value, what=f"ballot {number}")
            append(index)
        return out

    def median(self) -> int | None:
        xs = self._sorted
        if not xs:
            return None
        half = len(xs) // 2
        if len(xs) % 2:
            return xs[half]
        low, high = xs[half - 1], xs[half]
        s = self.status_quo
        return min((low, high), key=lambda x: (abs(x - s), x))

    def candidates(self) -> set[Hashable]:
        found: set[Hashable] = set(self._proposals)
        found.update(self._sorted)
        median = self.median()
        if median is not None:
            found.add(median)
        return found

    def total_distance(self, p: Hashable) -> int:
        assert isinstance(p, int)
        xs, pre = self._sorted, self._prefix
        below = bisect_left(xs, p)
        n = len(xs)
        return p * below - pre[below] + (pre[n] - pre[below]) - p * (n - below)

    def distance(self, p: Hashable, q: Hashable) -> int:
        assert isinstance(p, int)
        assert isinstance(q, int)
        return abs(p - q)

    def support_count(self, p: Hashable) -> int:
        assert isinstance(p, int)
        s, xs = self.status_quo, self._sorted
        if p < s:  # strictly below the midpoint: 2v < p + s
            return bisect_right(xs, (p + s - 1) // 2)
        if p > s:  # strictly above it: 2v > p + s
            return len(xs) - bisect_right(xs, (p + s) // 2)
        return 0

    def external(self, p: Hashable) -> object:
        assert isinstance(p, int)
        return self._lo + p * self.unit

    def codec_form(self, p: Hashable) -> object:
        value = self.external(p)
        assert isinstance(value, Fraction)
        return f"{value.numerator}/{value.denominator}"


# -- budget ----------------------------------------------------------------------------------


def _l1(u: Sequence[int], v: Sequence[int]) -> int:
    return sum(abs(a - b) for a, b in zip(u, v, strict=True))


class BudgetSpace:
    """Integer allocations summing to a total; l1; aggregate: the ballot nearest all ballots.

    The aggregate (an l1 medoid of the ballots) is a ballot, so it is already a candidate;
    ranking candidates by score ranks them by exactly that total distance.
    """

    unit = Fraction(1)

    def __init__(
        self,
        params: Mapping[str, object],
        status_quo: object,
        ballots: Sequence[object],
        proposals: Sequence[object],
    ) -> None:
        sq, ballot_points, proposal_points = _tuple_points(
            "budget", params, status_quo, ballots, proposals
        )
        self.status_quo = cast(tuple[int, ...], sq)
        self._ballots = cast(list[tuple[int, ...]], ballot_points)
        self._proposals = cast(list[tuple[int, ...]], proposal_points)
        self._columns = [sorted(column) for column in zip(*self._ballots, strict=True)]
        self._prefixes = [[0, *accumulate(column)] for column in self._columns]
        self._to_status_quo = [_l1(v, self.status_quo) for v in self._ballots]

    def candidates(self) -> set[Hashable]:
        return {*self._proposals, *self._ballots}

    def total_distance(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        if not self._ballots:
            return 0
        n = len(self._ballots)
        total = 0
        for x, column, pre in zip(p, self._columns, self._prefixes, strict=True):
            below = bisect_left(column, x)
            total += x * below - pre[below] + (pre[n] - pre[below]) - x * (n - below)
        return total

    def distance(self, p: Hashable, q: Hashable) -> int:
        assert isinstance(p, tuple)
        assert isinstance(q, tuple)
        return _l1(p, q)

    def support_count(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        return sum(
            1
            for v, to_s in zip(self._ballots, self._to_status_quo, strict=True)
            if _l1(v, p) < to_s
        )

    def external(self, p: Hashable) -> object:
        return p

    def codec_form(self, p: Hashable) -> object:
        return p


# -- ranking ---------------------------------------------------------------------------------


def kendall_tau(u: Sequence[int], v: Sequence[int]) -> int:
    """Discordant pairs between two rank vectors (``u[item]`` = the item's position)."""
    return sum(1 for a, b in combinations(range(len(u)), 2) if (u[a] < u[b]) != (v[a] < v[b]))


def borda_order(items: Sequence[str], ballots: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Items by Borda score (m-1 for a first place ... 0 for a last), ties by item name."""
    points = dict.fromkeys(items, 0)
    last = len(points) - 1
    for ballot in ballots:
        for place, item in enumerate(ballot):
            points[item] += last - place
    return tuple(sorted(points, key=lambda item: (-points[item], item)))


class RankingSpace:
    """Orders of the items; Kendall tau; aggregate: the Borda order (ties by item name)."""

    unit = Fraction(1)

    def __init__(
        self,
        params: Mapping[str, object],
        status_quo: object,
        ballots: Sequence[object],
        proposals: Sequence[object],
    ) -> None:
        self._items = tuple(sorted(name_list(params, "items")))
        self._slot = {item: i for i, item in enumerate(self._items)}
        sq, ballot_points, proposal_points = _tuple_points(
            "ranking", params, status_quo, ballots, proposals
        )
        self.status_quo = cast(tuple[str, ...], sq)
        self._ballots = cast(list[tuple[str, ...]], ballot_points)
        self._proposals = cast(list[tuple[str, ...]], proposal_points)
        self._ranks = [self._rank_vector(v) for v in self._ballots]
        m = len(self._items)
        above = [[0] * m for _ in range(m)]  # above[a][b]: ballots placing a before b
        for ranks in self._ranks:
            for a, b in combinations(range(m), 2):
                if ranks[a] < ranks[b]:
                    above[a][b] += 1
                else:
                    above[b][a] += 1
        self._above = above
        s_ranks = self._rank_vector(self.status_quo)
        self._to_status_quo = [kendall_tau(r, s_ranks) for r in self._ranks]

    def _rank_vector(self, order: Sequence[str]) -> tuple[int, ...]:
        ranks = [0] * len(self._items)
        for place, item in enumerate(order):
            ranks[self._slot[item]] = place
        return tuple(ranks)

    def candidates(self) -> set[Hashable]:
        found: set[Hashable] = {*self._proposals, *self._ballots}
        found.add(borda_order(self._items, self._ballots))
        return found

    def total_distance(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        order = [self._slot[item] for item in p]
        above = self._above
        return sum(above[b][a] for a, b in combinations(order, 2))

    def distance(self, p: Hashable, q: Hashable) -> int:
        assert isinstance(p, tuple)
        assert isinstance(q, tuple)
        return kendall_tau(self._rank_vector(p), self._rank_vector(q))

    def support_count(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        target = self._rank_vector(p)
        return sum(
            1
            for ranks, to_s in zip(self._ranks, self._to_status_quo, strict=True)
            if kendall_tau(ranks, target) < to_s
        )

    def external(self, p: Hashable) -> object:
        return p

    def codec_form(self, p: Hashable) -> object:
        return p


# -- board and bylaws (sets under symmetric difference) ---------------------------------------


class SetSpace:
    """Sets of names under symmetric difference: the board (k-subsets) and bylaws kinds.

    ``D(p) = sum_i |A_i| + n |p| - 2 sum_{c in p} approvals(c)``, so a total distance costs
    O(|p|).  Board aggregate: the k names approved most (ties by name); bylaws aggregate: the
    clauses approved by more than half of the ballots.  A board ballot may approve any number
    of candidates, but only a ballot of exactly k names is itself a candidate board.
    """

    unit = Fraction(1)

    def __init__(
        self,
        kind: str,
        params: Mapping[str, object],
        status_quo: object,
        ballots: Sequence[object],
        proposals: Sequence[object],
    ) -> None:
        self._kind = kind
        self._size = params["k"] if kind == "board" else None
        self._names = tuple(
            sorted(name_list(params, "candidates" if kind == "board" else "clauses"))
        )
        sq, ballot_points, proposal_points = _tuple_points(
            kind, params, status_quo, ballots, proposals
        )
        self.status_quo = cast(tuple[str, ...], sq)
        self._ballots = cast(list[tuple[str, ...]], ballot_points)
        self._sets = [frozenset(b) for b in self._ballots]
        self._proposals = cast(list[tuple[str, ...]], proposal_points)
        self._approvals = dict.fromkeys(self._names, 0)
        for ballot in self._ballots:
            for name in ballot:
                self._approvals[name] += 1
        self._ballot_sizes = sum(len(b) for b in self._ballots)
        s = frozenset(self.status_quo)
        self._to_status_quo = [len(a ^ s) for a in self._sets]

    def aggregate(self) -> tuple[str, ...]:
        approvals = self._approvals
        if self._size is not None:
            assert isinstance(self._size, int)
            ranked = sorted(self._names, key=lambda name: (-approvals[name], name))
            return tuple(sorted(ranked[: self._size]))
        n = len(self._ballots)
        return tuple(name for name in self._names if 2 * approvals[name] > n)

    def candidates(self) -> set[Hashable]:
        found: set[Hashable] = set(self._proposals)
        found.update(b for b in self._ballots if self._size is None or len(b) == self._size)
        found.add(self.aggregate())
        return found

    def total_distance(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        approvals = self._approvals
        n = len(self._ballots)
        return self._ballot_sizes + n * len(p) - 2 * sum(approvals.get(c, 0) for c in p)

    def distance(self, p: Hashable, q: Hashable) -> int:
        assert isinstance(p, tuple)
        assert isinstance(q, tuple)
        return len(set(p) ^ set(q))

    def support_count(self, p: Hashable) -> int:
        assert isinstance(p, tuple)
        target = frozenset(p)
        return sum(
            1
            for a, to_s in zip(self._sets, self._to_status_quo, strict=True)
            if len(a ^ target) < to_s
        )

    def external(self, p: Hashable) -> object:
        return p

    def codec_form(self, p: Hashable) -> object:
        return p
