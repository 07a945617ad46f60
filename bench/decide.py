"""Decision rule benchmark: 1,000,000 rate ballots and 10,000 budget ballots, pure Python.

The issue asks the pure rule to handle these in seconds.  Each time comes with a ceiling
measured in the same run on the same ballots, so the ratio is meaningful across machines:

* rate: ``sorted()`` of the ballots (Fractions) -- the rule must at least order them;
* budget (20 items): one pass computing every ballot's l1 distance to the status quo -- the
  rule must at least read every ballot once against s.

``python -m peoplenet.bench.decide --json`` prints the dict that :func:`run` returns.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from fractions import Fraction
from typing import Final

from peoplenet.actors.governance.decision import DecisionInput, decide

BUDGET_ITEMS: Final = 20
BUDGET_TOTAL: Final = 10_000
RATE_PARAMS: Final = {"lo": 0, "hi": 100, "step": Fraction(1, 2)}


def _rate_ballots(count: int, rng: random.Random) -> list[Fraction]:
    grid = [Fraction(i, 2) for i in range(201)]  # 0, 0.5, ..., 100
    return [grid[min(200, max(0, round(rng.gauss(80, 30))))] for _ in range(count)]


def _budget_ballot(rng: random.Random, favourite: list[float]) -> tuple[int, ...]:
    weights = [max(0.01, w + rng.gauss(0, 0.5)) for w in favourite]
    scale = BUDGET_TOTAL / sum(weights)
    amounts = [int(w * scale) for w in weights]
    amounts[rng.randrange(BUDGET_ITEMS)] += BUDGET_TOTAL - sum(amounts)
    return tuple(amounts)


def run(
    *, rate_ballots: int = 1_000_000, budget_ballots: int = 10_000, seed: int = 0
) -> dict[str, int | float | bool]:
    """Time the rule on both profiles; returns times (s), ceilings (s) and ratios."""
    rng = random.Random(seed)
    rates = _rate_ballots(rate_ballots, rng)
    started = time.perf_counter()
    rate_result = decide(
        DecisionInput(
            "rate",
            rate_ballots,
            Fraction(50),
            Fraction(1, 2),
            Fraction(0),
            tuple(rates),
            (),
            RATE_PARAMS,
        )
    )
    rate_s = time.perf_counter() - started
    started = time.perf_counter()
    sorted(rates)
    rate_ceiling_s = time.perf_counter() - started

    favourite = [rng.uniform(0.5, 2.0) for _ in range(BUDGET_ITEMS)]
    budgets = [_budget_ballot(rng, favourite) for _ in range(budget_ballots)]
    even = BUDGET_TOTAL // BUDGET_ITEMS
    status_quo = (even,) * BUDGET_ITEMS
    params = {"items": tuple(f"item{i:02d}" for i in range(BUDGET_ITEMS)), "total": BUDGET_TOTAL}
    started = time.perf_counter()
    budget_result = decide(
        DecisionInput(
            "budget",
            budget_ballots,
            status_quo,
            Fraction(1, 2),
            Fraction(0),
            tuple(budgets),
            (),
            params,
        )
    )
    budget_s = time.perf_counter() - started
    started = time.perf_counter()
    [sum(abs(a - b) for a, b in zip(v, status_quo, strict=True)) for v in budgets]
    budget_ceiling_s = time.perf_counter() - started
    return {
        "rate_ballots": rate_ballots,
        "rate_s": round(rate_s, 3),
        "rate_sorted_s": round(rate_ceiling_s, 3),
        "rate_ratio": round(rate_s / rate_ceiling_s, 2),
        "rate_adopted": rate_result.adopted,
        "budget_ballots": budget_ballots,
        "budget_items": BUDGET_ITEMS,
        "budget_s": round(budget_s, 3),
        "budget_one_pass_s": round(budget_ceiling_s, 4),
        "budget_ratio": round(budget_s / budget_ceiling_s, 1),
        "budget_adopted": budget_result.adopted,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peoplenet.bench.decide", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rate-ballots", type=int, default=1_000_000)
    parser.add_argument("--budget-ballots", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = run(rate_ballots=args.rate_ballots, budget_ballots=args.budget_ballots, seed=args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
