"""The fast rule against plain references: a naive O(n^2) rule, pref_voting and abcvoting.

The naive rule below is written straight from the issue text (every distance computed, every
candidate scored), independently of actors/governance/spaces.py.  Small random profiles are
checked with random proposals and with the whole space tabled (brute force), so every point's
support and score is compared, not just the winner's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import combinations, permutations, product

import pytest
from abcvoting import abcrules
from abcvoting.preferences import Profile as ApprovalProfile
from pref_voting.margin_based_methods import beat_path
from pref_voting.profiles import Profile

from peoplenet.actors.governance.decision import DecisionInput, DecisionOutcome, decide
from peoplenet.actors.governance.officer import Pairwise, condorcet_winner, schulze_winner
from peoplenet.actors.governance.spaces import SetSpace, borda_order
from peoplenet.runtime.wire.codec import encode

HALF = Fraction(1, 2)

# -- the naive reference -------------------------------------------------------------------


def kendall(p: Sequence[str], q: Sequence[str]) -> int:
    return sum(
        1 for a, b in combinations(p, 2) if q.index(a) > q.index(b)
    )  # a before b in p, after in q


def sym(p: Sequence[str], q: Sequence[str]) -> int:
    return len(set(p) ^ set(q))


def l1(p: Sequence[int], q: Sequence[int]) -> int:
    return sum(abs(a - b) for a, b in zip(p, q, strict=True))


def rate_distance(p: Fraction, q: Fraction) -> Fraction:
    return abs(p - q)


def codec_form(p: object) -> object:
    if isinstance(p, Fraction):
        return f"{p.numerator}/{p.denominator}"
    return p


def naive_rule(
    distance: Callable[[object, object], Fraction | int],
    status_quo: object,
    ballots: Sequence[object],
    candidates: set[object],
    members: int,
    theta: Fraction,
) -> DecisionOutcome:
    """Score every candidate, order them, adopt the first supported one with a positive score."""
    rows = []
    for p in candidates - {status_quo}:
        support = Fraction(
            sum(1 for v in ballots if distance(v, p) < distance(v, status_quo)), members
        )
        score = Fraction(sum(distance(v, status_quo) - distance(v, p) for v in ballots))
        rows.append((-score, distance(p, status_quo), encode(codec_form(p)), p, support, score))
    rows.sort(key=lambda row: row[:3])
    for *_, p, support, score in rows:
        if support > theta and score > 0:
            return DecisionOutcome(p, True, support, score)
    if not rows:
        return DecisionOutcome(status_quo, False, Fraction(0), Fraction(0))
    *_, support, score = rows[0]
    return DecisionOutcome(status_quo, False, support, score)


def naive_median(values: Sequence[Fraction], status_quo: Fraction) -> set[object]:
    xs = sorted(values)
    if not xs:
        return set()
    if len(xs) % 2:
        return {xs[len(xs) // 2]}
    pair = xs[len(xs) // 2 - 1], xs[len(xs) // 2]
    return {min(pair, key=lambda x: (abs(x - status_quo), x))}


# -- random instances ----------------------------------------------------------------------


def theta_for(rng: random.Random) -> tuple[Fraction, Fraction]:
    return rng.choice([Fraction(0), HALF, Fraction(3, 5), Fraction(2, 3)]), rng.choice(
        [Fraction(0), Fraction(0), Fraction(1, 5)]
    )


def check(
    inp: DecisionInput, distance: Callable[[object, object], Fraction | int], extra: set[object]
) -> None:
    theta, sigma = inp.threshold, inp.sybil_estimate
    effective = max(theta, HALF + sigma / 2)
    candidates = set(inp.proposals) | set(inp.ballots) | extra
    expected = naive_rule(distance, inp.status_quo, inp.ballots, candidates, inp.members, effective)
    assert decide(inp) == expected


def rate_case(rng: random.Random, whole_space: bool) -> None:
    step = Fraction(1, 2)
    grid = [Fraction(i, 2) for i in range(13)]  # 0 .. 6
    n = rng.randint(1, 9)
    ballots = tuple(rng.choice(grid) for _ in range(rng.randint(0, n)))
    s = rng.choice(grid)
    proposals = tuple(grid) if whole_space else tuple(rng.sample(grid, rng.randint(0, 2)))
    theta, sigma = theta_for(rng)
    params = {"lo": 0, "hi": 6, "step": step}
    inp = DecisionInput("rate", n, s, theta, sigma, ballots, proposals, params)
    check(inp, rate_distance, naive_median(ballots, s))  # type: ignore[arg-type]


def budget_case(rng: random.Random, whole_space: bool) -> None:
    items, total = ("a", "b", "c"), 4
    space = [p for p in product(range(total + 1), repeat=3) if sum(p) == total]
    n = rng.randint(1, 8)
    ballots = tuple(rng.choice(space) for _ in range(rng.randint(0, n)))
    s = rng.choice(space)
    proposals = tuple(space) if whole_space else tuple(rng.sample(space, rng.randint(0, 2)))
    theta, sigma = theta_for(rng)
    inp = DecisionInput(
        "budget", n, s, theta, sigma, ballots, proposals, {"items": items, "total": total}
    )
    check(inp, l1, set())  # type: ignore[arg-type]  # the medoid is a ballot


def ranking_case(rng: random.Random, whole_space: bool) -> None:
    items = ("w", "x", "y", "z")
    space = list(permutations(items))
    n = rng.randint(1, 8)
    ballots = tuple(rng.choice(space) for _ in range(rng.randint(0, n)))
    s = rng.choice(space)
    proposals = tuple(space) if whole_space else tuple(rng.sample(space, rng.randint(0, 2)))
    theta, sigma = theta_for(rng)
    inp = DecisionInput("ranking", n, s, theta, sigma, ballots, proposals, {"items": items})
    check(inp, kendall, {naive_borda(items, ballots)})  # type: ignore[arg-type]


def naive_borda(items: Sequence[str], ballots: Sequence[Sequence[str]]) -> tuple[str, ...]:
    points = {i: sum(len(items) - 1 - b.index(i) for b in ballots) for i in items}
    return tuple(sorted(items, key=lambda i: (-points[i], i)))


def subsets(names: Sequence[str]) -> list[tuple[str, ...]]:
    return [c for r in range(len(names) + 1) for c in combinations(sorted(names), r)]


def board_case(rng: random.Random, whole_space: bool) -> None:
    names, k = ("ann", "bo", "cy", "di", "ed"), 2
    boards = list(combinations(names, k))
    n = rng.randint(1, 8)
    ballots = tuple(rng.choice(subsets(names)) for _ in range(rng.randint(0, n)))
    s = rng.choice([*boards, (), ("zed",), ("ann", "zed")])
    proposals = tuple(boards) if whole_space else tuple(rng.sample(boards, rng.randint(0, 2)))
    theta, sigma = theta_for(rng)
    inp = DecisionInput(
        "board", n, s, theta, sigma, ballots, proposals, {"candidates": names, "k": k}
    )
    approvals = {c: sum(c in b for b in ballots) for c in names}
    top = tuple(sorted(sorted(names, key=lambda c: (-approvals[c], c))[:k]))
    extra: set[object] = {top, *(b for b in ballots if len(b) == k)}
    effective = max(inp.threshold, HALF + inp.sybil_estimate / 2)
    expected = naive_rule(
        sym,  # type: ignore[arg-type]
        s,
        ballots,
        set(proposals) | extra,
        n,
        effective,
    )
    assert decide(inp) == expected


def bylaws_case(rng: random.Random, whole_space: bool) -> None:
    clauses = ("c1", "c2", "c3", "c4")
    space = subsets(clauses)
    n = rng.randint(1, 8)
    ballots = tuple(rng.choice(space) for _ in range(rng.randint(0, n)))
    s = rng.choice(space)
    proposals = tuple(space) if whole_space else tuple(rng.sample(space, rng.randint(0, 2)))
    theta, sigma = theta_for(rng)
    inp = DecisionInput("bylaws", n, s, theta, sigma, ballots, proposals, {"clauses": clauses})
    majority = tuple(c for c in clauses if 2 * sum(c in b for b in ballots) > len(ballots))
    check(inp, sym, {majority})  # type: ignore[arg-type]


CASES = [rate_case, budget_case, ranking_case, board_case, bylaws_case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_fast_rule_matches_naive_reference(case: Callable[[random.Random, bool], None]) -> None:
    rng = random.Random(f"naive-{case.__name__}")
    for _ in range(150):
        case(rng, False)
    for _ in range(40):
        case(rng, True)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_fast_rule_matches_naive_reference_many(
    case: Callable[[random.Random, bool], None],
) -> None:
    rng = random.Random(f"naive-many-{case.__name__}")
    for _ in range(3000):
        case(rng, rng.random() < 0.3)


# -- pref_voting and abcvoting --------------------------------------------------------------


def random_orders(rng: random.Random, names: Sequence[str], count: int) -> list[list[str]]:
    orders = []
    for _ in range(count):
        order = list(names)
        rng.shuffle(order)
        orders.append(order)
    return orders


def check_against_pref_voting(rounds: int) -> None:
    rng = random.Random(f"pref_voting-{rounds}")
    for _ in range(rounds):
        names = sorted(rng.sample(["ada", "ben", "cat", "dan", "eve", "fay"], rng.randint(2, 6)))
        orders = random_orders(rng, names, rng.randint(1, 9))
        index = {name: i for i, name in enumerate(names)}  # index order == name order
        profile = Profile([[index[x] for x in order] for order in orders])
        pairs = Pairwise(names, orders)
        expected_cw = profile.condorcet_winner()
        assert condorcet_winner(pairs, names) == (
            None if expected_cw is None else names[expected_cw]
        )
        assert schulze_winner(pairs, names) == names[min(beat_path(profile))]
        borda = profile.borda_scores()
        expected_borda = tuple(sorted(names, key=lambda x: (-borda[index[x]], x)))
        assert borda_order(names, orders) == expected_borda


def test_condorcet_schulze_and_borda_match_pref_voting() -> None:
    check_against_pref_voting(80)


@pytest.mark.slow
def test_condorcet_schulze_and_borda_match_pref_voting_many() -> None:
    check_against_pref_voting(3000)


def test_officer_second_stage_runs_on_the_supported_set_only() -> None:
    rng = random.Random("officer")
    for _ in range(200):
        names = ["ada", "ben", "cat", "dan"]
        orders = random_orders(rng, [*names, "vacant"], rng.randint(1, 9))
        n = len(orders) + rng.randint(0, 2)
        inp = DecisionInput(
            "officer",
            n,
            "vacant",
            HALF,
            Fraction(0),
            tuple(map(tuple, orders)),
            (),
            {"candidates": tuple(names)},
        )
        result = decide(inp)
        supported = sorted(
            c
            for c in names
            if Fraction(sum(o.index(c) < o.index("vacant") for o in orders), n) > HALF
        )
        if not supported:
            assert not result.adopted
            continue
        index = {name: i for i, name in enumerate(supported)}
        restricted = [[index[x] for x in o if x in index] for o in orders]
        profile = Profile(restricted)
        cw = profile.condorcet_winner()
        winner = supported[cw] if cw is not None else supported[min(beat_path(profile))]
        assert result.adopted
        assert result.outcome == winner


def test_board_aggregate_is_an_approval_voting_committee() -> None:
    rng = random.Random("abcvoting")
    names = ("ann", "bo", "cy", "di", "ed", "flo")
    for _ in range(200):
        k = rng.randint(1, 4)
        ballots = [
            tuple(sorted(rng.sample(names, rng.randint(1, 4)))) for _ in range(rng.randint(1, 8))
        ]
        profile = ApprovalProfile(len(names))
        profile.add_voters([{names.index(c) for c in b} for b in ballots])
        committees = abcrules.compute("av", profile, k, resolute=False)
        winners = {tuple(names[i] for i in sorted(c)) for c in committees}
        params = {"candidates": names, "k": k}
        aggregate = SetSpace("board", params, (), ballots, ()).aggregate()
        assert aggregate in winners
        # the name tie-break: among the AV committees, the one whose sorted (approvals,
        # name) key sequence is smallest, i.e. the first names among the tied approvals.
        approvals = {c: sum(c in b for b in ballots) for c in names}
        key = sorted(names, key=lambda c: (-approvals[c], c))
        assert aggregate == tuple(sorted(key[:k]))
