"""Delivery price rules: worked examples of every price form and condition, the strategies,
canonical form and digest, every malformed set refused with its path, and properties."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from peoplenet.apps.delivery.pricing import (
    DEFAULT_RULES,
    MAX_PRICE_CENTS,
    BadDeliveryFacts,
    BadRuleSet,
    DeliveryFacts,
    NoPriceRule,
    PriceBreakdown,
    PriceLine,
    PriceOutOfRange,
    RuleSet,
    TaskFacts,
)
from peoplenet.apps.delivery.pricing_parse import MAX_RULES, MAX_ZONE_CELLS
from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Breakdown, Grid
from tests.strategies import canonical_values

HOUR_MS = 3_600_000
CENTRE = Grid(4546, 919)
SUBURB = Grid(4550, 930)


def task(
    kind: str = "dropoff",
    cell: Grid = CENTRE,
    weight_g: int = 0,
    packages: Sequence[tuple[str, int]] = (),
    after_ms: int = 12 * HOUR_MS,
) -> TaskFacts:
    return TaskFacts(kind, cell, weight_g, tuple(packages), after_ms, after_ms + HOUR_MS)


def delivery(
    *dropoffs: TaskFacts,
    pickup: TaskFacts | None = None,
    distance_m: int = 1000,
    goods_cents: int = 0,
) -> DeliveryFacts:
    first = pickup or task("pickup")
    return DeliveryFacts(distance_m, (first, *(dropoffs or (task(),))), goods_cents)


def rule(
    price: Mapping[str, Any], *when: Sequence[Any], target: str = "delivery"
) -> dict[str, Any]:
    return {"target": target, "when": [list(c) for c in when], "price": dict(price)}


def rule_set(*rules: Any, strategy: str = "sum", **extra: Any) -> RuleSet:
    return RuleSet.parse({"strategy": strategy, "rules": list(rules), **extra})


def total(rules: RuleSet, facts: DeliveryFacts) -> int:
    return rules.price(facts).total


def matches(condition: Sequence[Any], facts: DeliveryFacts, target: str = "delivery") -> bool:
    """Whether one condition holds (a rule pricing 1 cent under it, or no_price_rule)."""
    rules = rule_set(rule({"fixed": 1}, condition, target=target), **ZONES_AND_SLOTS)
    try:
        rules.price(facts)
    except NoPriceRule:
        return False
    return True


ZONES_AND_SLOTS: dict[str, Any] = {
    "zones": {"centre": [[4546, 919], [4546, 920]], "north": [[4550, 930]]},
    "slots": {"lunch": [690, 870], "night": [1320, 360]},
}


# -- price forms, worked examples ---------------------------------------------------------------


def test_fixed_is_the_same_price_whatever_the_delivery() -> None:
    rules = rule_set(rule({"fixed": 450}))
    assert total(rules, delivery(distance_m=0)) == 450
    assert total(rules, delivery(distance_m=9000, goods_cents=10**6)) == 450


@pytest.mark.parametrize(
    ("distance_m", "cents"),
    [(0, 0), (2000, 0), (2001, 100), (3000, 100), (3001, 200), (4500, 300)],
)
def test_per_step_charges_each_started_step_beyond_the_threshold(
    distance_m: int, cents: int
) -> None:
    # 1.00 per started km above 2 km: 4.5 km is 2.5 km above, 3 started km, 3.00
    per_km = {"per_step": {"of": "distance_m", "price": 100, "step": 1000, "above": 2000}}
    assert total(rule_set(rule(per_km)), delivery(distance_m=distance_m)) == cents


def test_per_step_above_defaults_to_zero() -> None:
    per_drop = {"per_step": {"of": "dropoffs", "price": 150, "step": 1}}
    assert total(rule_set(rule(per_drop)), delivery(task(), task(), task())) == 450


@pytest.mark.parametrize(("boxes", "cents"), [(0, 0), (1, 0), (2, 50), (5, 200)])
def test_per_package_charges_each_package_of_a_name_beyond_the_free_ones(
    boxes: int, cents: int
) -> None:
    per_box = {"per_package": {"name": "XL box", "price": 50, "free": 1}}
    packed = [("XL box", boxes), ("bag", 9)] if boxes else [("bag", 9)]
    assert total(rule_set(rule(per_box)), delivery(task(packages=packed))) == cents


def test_per_package_on_a_task_rule_counts_that_tasks_packages() -> None:
    per_bag = {"per_package": {"name": "bag", "price": 30}}
    facts = delivery(task(packages=[("bag", 2)]), task(packages=[("bag", 1)]))
    got = rule_set(rule(per_bag, target="task")).price(facts)
    # the pickup matches too (no condition), with no bag: a line of 0
    assert got.lines == (PriceLine(0, 0, 0), PriceLine(0, 1, 60), PriceLine(0, 2, 30))
    assert got.matched() == ((0, 90),)


def test_percent_under_sum_is_a_rate_of_the_lines_before_it() -> None:
    # 10.00 base, then 10 % on top: 11.00; a percent placed first has nothing to take from
    rules = rule_set(rule({"percent": "1/10"}), rule({"fixed": 1000}), rule({"percent": "1/10"}))
    assert rules.price(delivery()).lines == (
        PriceLine(0, None, 0),
        PriceLine(1, None, 1000),
        PriceLine(2, None, 100),
    )


def test_percent_rounds_half_up_to_the_cent_and_may_be_a_discount() -> None:
    assert total(rule_set(rule({"fixed": 5}), rule({"percent": "1/2"})), delivery()) == 5 + 3
    discount = rule_set(rule({"fixed": 999}), rule({"percent": "-1/4"}))
    assert discount.price(delivery()).lines[1].cents == -250  # -249.75
    assert total(discount, delivery()) == 749


def test_percent_under_first_is_a_rate_of_the_task_lines() -> None:
    # "first": each dropoff's first task rule (2.00), then the first delivery rule: 50 % of them
    rules = rule_set(
        rule({"fixed": 200}, ["kind", "==", "dropoff"], target="task"),
        rule({"percent": "1/2"}),
        rule({"fixed": 9999}),
        strategy="first",
    )
    got = rules.price(delivery(task(), task()))
    assert got.lines == (PriceLine(0, 1, 200), PriceLine(0, 2, 200), PriceLine(1, None, 200))
    assert got.total == 600


# -- conditions, worked examples ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (["distance_m", "<", 1001], True),
        (["distance_m", "<", 1000], False),
        (["distance_m", "<=", 1000], True),
        (["distance_m", ">", 999], True),
        (["distance_m", ">", 1000], False),
        (["distance_m", ">=", 1000], True),
        (["distance_m", "==", 1000], True),
        (["distance_m", "!=", 1000], False),
        (["distance_m", "in", [5, 1000]], True),
        (["distance_m", "not_in", [5, 1000]], False),
        (["weight_g", "==", 2500], True),  # the dropoffs' 2 kg + 0.5 kg
        (["packages", "==", 4], True),  # 3 boxes (on both sides, not doubled) + 1 bag
        (["goods_cents", ">=", 2000], True),
        (["tasks", "==", 3], True),
        (["dropoffs", "==", 2], True),
        (["dropoffs", "in", [1, 3]], False),
    ],
)
def test_numeric_conditions(condition: list[Any], holds: bool) -> None:
    facts = delivery(
        task(weight_g=2000, packages=[("box", 2)]),
        task(weight_g=500, packages=[("box", 1), ("bag", 1)]),
        pickup=task("pickup", packages=[("box", 3)]),
        distance_m=1000,
        goods_cents=2000,
    )
    assert matches(condition, facts) is holds


def test_weight_and_packages_count_the_larger_side_of_pickup_and_dropoffs() -> None:
    only_pickup = delivery(task(), pickup=task("pickup", weight_g=7000, packages=[("box", 2)]))
    assert only_pickup.weight_g == 7000 and only_pickup.package_counts == {"box": 2}
    both = delivery(
        task(weight_g=3000, packages=[("box", 1)]),
        task(weight_g=3000, packages=[("box", 1)]),
        pickup=task("pickup", weight_g=6000, packages=[("box", 2)]),
    )
    assert both.weight_g == 6000 and both.package_counts == {"box": 2}


@pytest.mark.parametrize(
    ("condition", "target", "holds"),
    [
        (["weight_g", "==", 700], "task", True),  # the pickup weighs 700 g; the task rule sees it
        (["packages", "==", 2], "task", True),
        (["tasks", "==", 2], "task", True),
        (["kind", "==", "pickup"], "task", True),
        (["kind", "!=", "pickup"], "task", True),  # the dropoff
        (["zone", "in", "north"], "task", True),  # the dropoff
        (["zone", "not_in", "centre"], "task", True),
    ],
)
def test_task_rule_conditions_see_the_task(condition: list[Any], target: str, holds: bool) -> None:
    facts = delivery(task(cell=SUBURB), pickup=task("pickup", weight_g=700, packages=[("a", 2)]))
    assert matches(condition, facts, target) is holds


def test_a_task_rule_is_priced_once_per_task_it_matches() -> None:
    rules = rule_set(rule({"fixed": 100}, ["kind", "==", "dropoff"], target="task"))
    got = rules.price(delivery(task(), task(), task()))
    assert got.lines == tuple(PriceLine(0, i, 100) for i in (1, 2, 3))
    assert got.breakdown() == Breakdown.of(("rules[0]", 300))


@pytest.mark.parametrize(
    ("condition", "pickup_cell", "dropoff_cells", "holds"),
    [
        (["pickup_zone", "in", "centre"], CENTRE, [SUBURB], True),
        (["pickup_zone", "in", "centre"], Grid(4546, 920), [SUBURB], True),
        (["pickup_zone", "in", "centre"], SUBURB, [CENTRE], False),
        (["pickup_zone", "not_in", "centre"], SUBURB, [CENTRE], True),
        (["dropoff_zone", "in", "centre"], SUBURB, [CENTRE, CENTRE], True),
        (["dropoff_zone", "in", "centre"], CENTRE, [CENTRE, SUBURB], False),  # every dropoff
        (["dropoff_zone", "not_in", "centre"], CENTRE, [CENTRE, SUBURB], False),  # none
        (["dropoff_zone", "not_in", "centre"], CENTRE, [SUBURB], True),
    ],
)
def test_zone_conditions(
    condition: list[Any], pickup_cell: Grid, dropoff_cells: list[Grid], holds: bool
) -> None:
    facts = delivery(*(task(cell=c) for c in dropoff_cells), pickup=task("pickup", pickup_cell))
    assert matches(condition, facts) is holds


@pytest.mark.parametrize(
    ("condition", "hour_utc", "offset", "holds"),
    [
        (["slot", "==", "lunch"], 12, 0, True),  # lunch is 11:30..14:30 local
        (["slot", "==", "lunch"], 11, 0, False),
        (["slot", "==", "lunch"], 10, 60, False),  # 11:00 local: lunch starts at 11:30
        (["slot", "==", "lunch"], 13, 60, True),  # 14:00 local
        (["slot", "!=", "lunch"], 15, 0, True),
        (["slot", "==", "night"], 23, 0, True),  # night wraps midnight: 22:00..06:00
        (["slot", "==", "night"], 5, 0, True),
        (["slot", "==", "night"], 6, 0, False),
        (["slot", "==", "night"], 23, -120, False),  # 21:00 local
        (["slot", "in", ["lunch", "night"]], 2, 0, True),
        (["slot", "not_in", ["lunch", "night"]], 2, 0, False),
        (["slot", "not_in", ["lunch", "night"]], 9, 0, True),
    ],
)
def test_slot_conditions_read_the_pickup_window_start_in_local_time(
    condition: list[Any], hour_utc: int, offset: int, holds: bool
) -> None:
    rules = RuleSet.parse(
        {
            "strategy": "sum",
            "rules": [rule({"fixed": 1}, condition)],
            "utc_offset_min": offset,
            **ZONES_AND_SLOTS,
        }
    )
    day = 20_000 * 24 * HOUR_MS
    facts = delivery(pickup=task("pickup", after_ms=day + hour_utc * HOUR_MS))
    try:
        rules.price(facts)
        got = True
    except NoPriceRule:
        got = False
    assert got is holds


def test_a_task_rules_slot_reads_that_tasks_window() -> None:
    rules = rule_set(
        rule({"fixed": 80}, ["slot", "==", "night"], target="task"),
        rule({"fixed": 300}),
        **ZONES_AND_SLOTS,
    )
    late = delivery(task(after_ms=23 * HOUR_MS), task(after_ms=13 * HOUR_MS))
    assert rules.price(late).lines == (PriceLine(0, 1, 80), PriceLine(1, None, 300))


def documented_rule_set() -> RuleSet:
    """The example set of docs/delivery.md ("Pricing rules"): the manual's JSON, read as is."""
    page = (Path(__file__).parents[3] / "docs" / "delivery.md").read_text(encoding="utf-8")
    section = page[page.index("## Pricing rules") :]
    start = section.index("```json\n") + len("```json\n")
    return RuleSet.from_json(section[start : section.index("```", start)])


def test_the_documented_example() -> None:
    rules = documented_rule_set()
    outside = Grid(4560, 940)
    facts = delivery(
        task(cell=Grid(4547, 918)),
        task(cell=outside),
        pickup=task("pickup", Grid(4546, 919), after_ms=20_000 * 24 * HOUR_MS + 640 * 60_000),
        distance_m=3500,
        goods_cents=12_000,
    )
    got = rules.price(facts)
    assert got.lines == (
        PriceLine(3, 2, 200),
        PriceLine(0, None, 300),
        PriceLine(1, None, 200),
        PriceLine(2, None, 150),
        PriceLine(4, None, -85),
    )
    assert got.total == 765
    first = RuleSet.parse({**rules.to_value(), "strategy": "first"})
    assert first.price(facts).total == 500


# -- strategies and refusals --------------------------------------------------------------------


def test_first_takes_the_first_matching_delivery_rule_by_position() -> None:
    rules = rule_set(
        rule({"fixed": 900}, ["distance_m", ">", 5000]),
        rule({"fixed": 500}, ["distance_m", ">", 2000]),
        rule({"fixed": 300}),
        strategy="first",
    )
    assert total(rules, delivery(distance_m=6000)) == 900
    assert total(rules, delivery(distance_m=3000)) == 500
    assert rules.price(delivery(distance_m=100)).lines == (PriceLine(2, None, 300),)


def test_first_takes_each_tasks_first_matching_task_rule() -> None:
    rules = rule_set(
        rule({"fixed": 250}, ["zone", "in", "north"], target="task"),
        rule({"fixed": 100}, ["kind", "==", "dropoff"], target="task"),
        strategy="first",
        **ZONES_AND_SLOTS,
    )
    got = rules.price(delivery(task(cell=SUBURB), task(cell=CENTRE)))
    assert got.lines == (PriceLine(0, 1, 250), PriceLine(1, 2, 100))  # the pickup matches none


def test_sum_takes_every_matching_rule() -> None:
    rules = rule_set(
        rule({"fixed": 300}),
        rule({"fixed": 200}, ["goods_cents", ">", 10_000]),
        rule({"fixed": 50}, target="task"),
    )
    got = rules.price(delivery(goods_cents=20_000))
    assert got.matched() == ((0, 300), (1, 200), (2, 100))
    assert got.total == 600


def test_no_match_refuses_the_delivery_rather_than_pricing_it_zero() -> None:
    rules = rule_set(rule({"fixed": 300}, ["distance_m", "<", 5000]))
    with pytest.raises(NoPriceRule) as caught:
        rules.price(delivery(distance_m=8000))
    assert caught.value.reason == "no_price_rule"
    assert isinstance(caught.value, AppTxRejected)


def test_a_matching_rule_that_prices_nothing_is_still_a_match() -> None:
    per_km = {"per_step": {"of": "distance_m", "price": 100, "step": 1000, "above": 2000}}
    got = rule_set(rule(per_km), strategy="first").price(delivery(distance_m=10))
    assert got == PriceBreakdown(0, (PriceLine(0, None, 0),))


def test_a_price_past_the_ceiling_is_refused() -> None:
    per_m = {"per_step": {"of": "distance_m", "price": 10**7, "step": 1}}
    with pytest.raises(PriceOutOfRange) as caught:
        rule_set(rule(per_m)).price(delivery(distance_m=1000))
    assert caught.value.reason == "price_out_of_range"
    compounding = [rule({"fixed": 10**7})] + [rule({"percent": "10"})] * 8
    with pytest.raises(PriceOutOfRange):
        rule_set(*compounding).price(delivery())
    assert MAX_PRICE_CENTS == 10**9


def test_the_default_rules() -> None:
    assert DEFAULT_RULES.strategy == "sum"
    assert total(DEFAULT_RULES, delivery(distance_m=1500)) == 300
    heavy = delivery(task(weight_g=7200), task(), task(), distance_m=4500)
    assert DEFAULT_RULES.price(heavy).matched() == ((0, 300), (1, 300), (2, 150), (3, 300))


@pytest.mark.parametrize(
    "make",
    [
        lambda: TaskFacts("courier", CENTRE, 0, (), 0, 1),
        lambda: TaskFacts("pickup", Grid(10**6, 0), 0, (), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, -1, (), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, True, (), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, 0, (("box", 0),), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, 0, (("box", 1), ("box", 2)), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, 0, (("", 1),), 0, 1),
        lambda: TaskFacts("pickup", CENTRE, 0, (), 5, 1),
        lambda: DeliveryFacts(0, (task("pickup"),), 0),
        lambda: DeliveryFacts(0, (task(), task()), 0),
        lambda: DeliveryFacts(0, (task("pickup"), task("pickup"), task()), 0),
        lambda: DeliveryFacts(-5, (task("pickup"), task()), 0),
        lambda: DeliveryFacts(0, (task("pickup"), task()), 10**10),
        lambda: DeliveryFacts(0, (task("pickup"), task()), 10**5000),
    ],
)
def test_facts_no_delivery_has_are_refused(make: Any) -> None:
    with pytest.raises(BadDeliveryFacts) as caught:
        make()
    assert caught.value.reason == "bad_delivery"


# -- canonical form, digest, JSON ---------------------------------------------------------------


def test_the_canonical_form_writes_defaults_and_sorts_and_dedupes() -> None:
    loose: dict[str, Any] = {
        "strategy": "sum",
        "rules": [
            {"target": "task", "price": {"per_package": {"name": "bag", "price": 5}}},
            rule({"percent": "2/20"}, ["tasks", "in", [3, 2, 3]]),
        ],
        "zones": {"z": [[2, 2], [1, 1], [2, 2]]},
    }
    rules = RuleSet.parse(loose)
    assert rules.to_value() == {
        "rules": (
            {
                "price": {"per_package": {"free": 0, "name": "bag", "price": 5}},
                "target": "task",
                "when": (),
            },
            {
                "price": {"percent": "1/10"},
                "target": "delivery",
                "when": (("tasks", "in", (2, 3)),),
            },
        ),
        "slots": {},
        "strategy": "sum",
        "utc_offset_min": 0,
        "zones": {"z": ((1, 1), (2, 2))},
    }
    assert RuleSet.parse(rules.to_value()) == rules
    assert RuleSet.parse(rules.to_value()).to_value() == rules.to_value()


def test_the_digest_names_the_content() -> None:
    a = rule_set(rule({"fixed": 300}), **ZONES_AND_SLOTS)
    same = RuleSet.parse(json.loads(a.to_json()))
    other = rule_set(rule({"fixed": 301}), **ZONES_AND_SLOTS)
    assert len(a.digest()) == 32
    assert a.digest() == same.digest()
    assert a.digest() != other.digest()


def test_json_round_trip_and_json_faults() -> None:
    assert RuleSet.from_json(DEFAULT_RULES.to_json()) == DEFAULT_RULES
    text = '{"strategy": "first", "rules": [{"target": "delivery", "price": {"fixed": 3.5}}]}'
    faults = {
        text: "not an integer",
        text.replace("3.5", "NaN"): "not an integer",
        '{"strategy": "sum", "strategy": "first"}': "given twice",
        "[" * 50 + "]" * 50: "nested deeper",
        '{"strategy": ': "not JSON",
        " " * 70_000: "at most",
    }
    for bad, words in faults.items():
        with pytest.raises(BadRuleSet, match=words):
            RuleSet.from_json(bad)


# -- malformed sets ----------------------------------------------------------------------------

GOOD_RULE: dict[str, Any] = {"target": "delivery", "when": [], "price": {"fixed": 1}}


def one(rule_value: Any, **extra: Any) -> Any:
    return {"strategy": "sum", "rules": [GOOD_RULE, rule_value], **extra}


def cond(*condition: Any) -> Any:
    return one({**GOOD_RULE, "when": [["distance_m", ">", 0], list(condition)]})


def priced(price: Any, target: str = "delivery") -> Any:
    return one({"target": target, "price": price})


MALFORMED: list[tuple[Any, str]] = [
    (None, "rule set: a map"),
    ({"rules": [GOOD_RULE]}, 'rule set: missing "strategy"'),
    ({"strategy": "sum", "rules": [GOOD_RULE], "extra": 1}, 'rule set: unknown key "extra"'),
    ({"strategy": "cheapest", "rules": [GOOD_RULE]}, 'strategy: "cheapest" is not one of'),
    ({"strategy": "sum", "rules": []}, "rules: a list of 1..64 items"),
    ({"strategy": "sum", "rules": [GOOD_RULE] * (MAX_RULES + 1)}, "rules: a list of 1..64"),
    ({"strategy": "sum", "rules": "all"}, "rules: a list"),
    ({"strategy": "sum", "rules": [GOOD_RULE], "utc_offset_min": 900}, "utc_offset_min: 900"),
    ({"strategy": "sum", "rules": [GOOD_RULE], "utc_offset_min": "1"}, "utc_offset_min:"),
    (one(5), "rules[1]: a map"),
    (one({"target": "shop", "price": {"fixed": 1}}), 'rules[1].target: "shop"'),
    (one({"price": {"fixed": 1}}), 'rules[1]: missing "target"'),
    (one({**GOOD_RULE, "name": "x"}), 'rules[1]: unknown key "name"'),
    (one({**GOOD_RULE, "when": [["tasks", ">", 1]] * 17}), "rules[1].when: a list of 0..16"),
    (cond("distanse", "<", 3), 'rules[1].when[1]: unknown variable "distanse"'),
    (cond("distance_m", "<"), "rules[1].when[1]: a condition is [variable, op, value]"),
    (cond("distance_m", "~", 3), 'rules[1].when[1]: "distance_m" takes'),
    (cond("distance_m", "<", -1), "rules[1].when[1][2]: -1 is outside"),
    (cond("distance_m", "<", True), "rules[1].when[1][2]: true is not an integer"),
    (cond("distance_m", "<", "3"), 'rules[1].when[1][2]: "3" is not an integer'),
    (cond("distance_m", "in", []), "rules[1].when[1][2]: a list of 1..32"),
    (cond("distance_m", "in", [1, "2"]), 'rules[1].when[1][2][1]: "2" is not an integer'),
    (cond("kind", "==", "pickup"), 'rules[1].when[1]: "kind" is not a variable of delivery'),
    (cond("zone", "in", "centre"), 'rules[1].when[1]: "zone" is not a variable of delivery'),
    (cond("pickup_zone", "in", "centre"), 'rules[1].when[1][2]: "centre" is not a declared'),
    (cond("pickup_zone", "==", "centre"), 'rules[1].when[1]: "pickup_zone" takes'),
    (cond("slot", "==", "brunch"), 'rules[1].when[1][2]: "brunch" is not a declared'),
    (cond("slot", ">", "lunch"), 'rules[1].when[1]: "slot" takes'),
    (
        one({"target": "task", "when": [["kind", "==", "courier"]], "price": {"fixed": 1}}),
        'rules[1].when[0][2]: "courier" is not one of',
    ),
    (
        one({"target": "task", "when": [["pickup_zone", "in", "x"]], "price": {"fixed": 1}}),
        'rules[1].when[0]: "pickup_zone" is not a variable of task rules',
    ),
    (one({"target": "delivery"}), 'rules[1]: missing "price"'),
    (priced({}), "rules[1].price: a price is one of"),
    (priced({"fixed": 1, "percent": "1"}), "rules[1].price: a price is one of"),
    (priced({"free": 1}), 'rules[1].price: "free" is not one of'),
    (priced({"fixed": -1}), "rules[1].price.fixed: -1 is outside"),
    (priced({"fixed": 10**8}), "rules[1].price.fixed: 100000000 is outside"),
    (priced({"per_step": {"of": "speed", "price": 1, "step": 1}}), "price.per_step.of: "),
    (priced({"per_step": {"of": "tasks", "price": 1, "step": 0}}), "per_step.step: 0 is outside"),
    (priced({"per_step": {"of": "tasks", "price": 1}}), 'rules[1].price.per_step: missing "step"'),
    (priced({"per_package": {"name": "", "price": 1}}), "price.per_package.name: a package name"),
    (priced({"per_package": {"name": "a", "price": 1, "free": -2}}), "per_package.free: -2"),
    (priced({"percent": "1/10"}, "task"), "rules[1].price.percent: a percent applies to deliv"),
    (priced({"percent": "0.1"}), 'rules[1].price.percent: "0.1" is not "n/d" text'),
    (priced({"percent": "1/0"}), 'rules[1].price.percent: "1/0" is not "n/d" text'),
    (priced({"percent": 10}), "rules[1].price.percent: a rate is"),
    (priced({"percent": "11"}), 'rules[1].price.percent: "11" is outside -1..10'),
    (priced({"percent": "-3/2"}), "rules[1].price.percent: "),
    (priced({"percent": "1/10000001"}), "has a denominator above"),
    (one(GOOD_RULE, zones={"Centre": [[1, 1]]}), 'zones: "Centre" is not a name'),
    (one(GOOD_RULE, zones={"c": []}), "zones.c: a zone is a list"),
    (one(GOOD_RULE, zones={"c": [[1, 1], [1]]}), "zones.c[1]: a cell is [row, col]"),
    (one(GOOD_RULE, zones={"c": [[1, 10**6]]}), "zones.c[0]: [1, 1000000] is not a cell"),
    (one(GOOD_RULE, zones={"c": [[1, "2"]]}), 'zones.c[0][1]: "2" is not an integer'),
    (
        one(GOOD_RULE, zones={"a": [[1, 1]] * 4000, "b": [[2, 2]] * 100}),
        f"zones.b: zones hold at most {MAX_ZONE_CELLS} cells",
    ),
    (one(GOOD_RULE, zones={f"z{i}": [[1, 1]] for i in range(33)}), "zones: 33 entries"),
    (one(GOOD_RULE, slots={"lunch": [600, 600]}), "slots.lunch: from and to are both 600"),
    (one(GOOD_RULE, slots={"lunch": [600, 1441]}), "slots.lunch[1]: 1441 is outside"),
    (one(GOOD_RULE, slots={"lunch": [1440, 60]}), "slots.lunch[0]: 1440 is outside"),
    (one(GOOD_RULE, slots={"lunch": "noon"}), "slots.lunch: a slot is [from_minute"),
    (one(GOOD_RULE, slots=[]), "slots: a map of names"),
    (one(GOOD_RULE, utc_offset_min=10**5000), "utc_offset_min: a very large integer is outside"),
    (cond("tasks", "in", [10**5000]), "rules[1].when[1][2][0]: a very large integer is outside"),
]


@pytest.mark.parametrize(("value", "detail"), MALFORMED)
def test_every_malformed_set_is_refused_with_its_path(value: Any, detail: str) -> None:
    with pytest.raises(BadRuleSet) as caught:
        RuleSet.parse(value)
    assert caught.value.reason == "bad_rules"
    assert detail in caught.value.detail, caught.value.detail


def test_an_unknown_variable_is_named_exactly() -> None:
    bad = {"strategy": "sum", "rules": [GOOD_RULE, GOOD_RULE, cond_rule("distanse")]}
    with pytest.raises(BadRuleSet) as caught:
        RuleSet.parse(bad)
    assert caught.value.detail == 'rules[2].when[0]: unknown variable "distanse"'


def cond_rule(variable: str) -> Any:
    return {**GOOD_RULE, "when": [[variable, "<", 3]]}


# -- properties ---------------------------------------------------------------------------------

NUMBERS = ("distance_m", "weight_g", "packages", "goods_cents", "tasks", "dropoffs")
cells = st.sampled_from([CENTRE, Grid(4546, 920), SUBURB])
quantities = st.integers(0, 8000)


@st.composite
def conditions(draw: st.DrawFn, target: str) -> list[Any]:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return [draw(st.sampled_from(NUMBERS)), op, draw(st.integers(0, 8000))]
    if choice == 1:
        op = draw(st.sampled_from(["in", "not_in"]))
        values = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
        return [draw(st.sampled_from(["tasks", "dropoffs", "packages"])), op, values]
    if choice == 2:
        variable = (
            "zone" if target == "task" else draw(st.sampled_from(["pickup_zone", "dropoff_zone"]))
        )
        return [variable, draw(st.sampled_from(["in", "not_in"])), "centre"]
    if target == "task" and draw(st.booleans()):
        return [
            "kind",
            draw(st.sampled_from(["==", "!="])),
            draw(st.sampled_from(["pickup", "dropoff"])),
        ]
    return ["slot", draw(st.sampled_from(["==", "!="])), draw(st.sampled_from(["lunch", "night"]))]


@st.composite
def rules_values(draw: st.DrawFn, percent: bool = False) -> Any:
    target = draw(st.sampled_from(["delivery", "task"]))
    forms: list[Any] = [
        {"fixed": draw(st.integers(0, 2000))},
        {
            "per_step": {
                "of": draw(st.sampled_from(NUMBERS)),
                "price": draw(st.integers(0, 300)),
                "step": draw(st.integers(1, 2000)),
                "above": draw(st.integers(0, 3000)),
            }
        },
        {
            "per_package": {
                "name": "box",
                "price": draw(st.integers(0, 300)),
                "free": draw(st.integers(0, 2)),
            }
        },
    ]
    if percent and target == "delivery":
        forms.append({"percent": f"{draw(st.integers(-10, 50))}/10"})
    when = draw(st.lists(conditions(target), max_size=3))
    return {"target": target, "when": when, "price": draw(st.sampled_from(forms))}


def rule_sets(strategy: str | None = None, percent: bool = False) -> st.SearchStrategy[RuleSet]:
    return st.builds(
        lambda s, rs, offset: RuleSet.parse(
            {"strategy": s, "rules": rs, "utc_offset_min": offset, **ZONES_AND_SLOTS}
        ),
        st.sampled_from(["first", "sum"]) if strategy is None else st.just(strategy),
        st.lists(rules_values(percent), min_size=1, max_size=6),
        st.integers(-720, 840),
    )


def task_facts(kind: str) -> st.SearchStrategy[TaskFacts]:
    return st.builds(
        lambda cell, weight, boxes, start: TaskFacts(
            kind, cell, weight, (("box", boxes),) if boxes else (), start, start + HOUR_MS
        ),
        cells,
        quantities,
        st.integers(0, 4),
        st.integers(0, 10**13),
    )


facts_strategy = st.builds(
    lambda pickup, drops, distance, goods: DeliveryFacts(distance, (pickup, *drops), goods),
    task_facts("pickup"),
    st.lists(task_facts("dropoff"), min_size=1, max_size=3),
    quantities,
    quantities,
)


def price_or_none(rules: RuleSet, facts: DeliveryFacts) -> PriceBreakdown | None:
    try:
        return rules.price(facts)
    except NoPriceRule:
        return None


def alone(rules: RuleSet, index: int, facts: DeliveryFacts) -> PriceBreakdown | None:
    """Rule ``index`` priced on its own (the same zones and slots): what a match of it gives."""
    value = rules.to_value()
    single = {**value, "strategy": "sum", "rules": (value["rules"][index],)}  # type: ignore[index]
    return price_or_none(RuleSet.parse(single), facts)


@given(rule_sets(percent=True), facts_strategy)
def test_price_is_a_pure_function_of_rules_and_facts(rules: RuleSet, facts: DeliveryFacts) -> None:
    first = price_or_none(rules, facts)
    assert price_or_none(rules, facts) == first
    again = RuleSet.parse(rules.to_value())
    assert again == rules and again.digest() == rules.digest()
    assert price_or_none(again, facts) == first
    assert price_or_none(RuleSet.from_json(rules.to_json()), facts) == first
    if first is not None:
        assert first.total == sum(line.cents for line in first.lines) >= 0
        assert first.breakdown().total == first.total


@given(rule_sets("first"), facts_strategy)
def test_first_is_the_first_match_by_position(rules: RuleSet, facts: DeliveryFacts) -> None:
    got = price_or_none(rules, facts)
    expected: list[PriceLine] = []
    for subject, target in [*((i, "task") for i in range(len(facts.tasks))), (None, "delivery")]:
        for index, candidate in enumerate(rules.rules):
            if candidate.target != target:
                continue
            single = alone(rules, index, facts)
            mine = [] if single is None else [ln for ln in single.lines if ln.task == subject]
            if mine:
                expected.append(PriceLine(index, subject, mine[0].cents))
                break
    event(f"{len(expected)} lines")
    if not expected:
        assert got is None
    else:
        assert got is not None and got.lines == tuple(expected)


@given(rule_sets("sum"), facts_strategy)
def test_sum_is_the_sum_of_every_match(rules: RuleSet, facts: DeliveryFacts) -> None:
    got = price_or_none(rules, facts)
    singles = [alone(rules, index, facts) for index in range(len(rules.rules))]
    matched = {index: s.total for index, s in enumerate(singles) if s is not None}
    event(f"{len(matched)} of {len(rules.rules)} rules match")
    if not matched:
        assert got is None  # never zero by default
        return
    assert got is not None
    assert got.matched() == tuple(sorted(matched.items()))
    assert got.total == sum(matched.values())


def mutated(data: st.DataObject, value: Value) -> Value:
    """``value`` with one part (anywhere inside) replaced by an arbitrary codec value."""
    paths: list[tuple[Any, ...]] = [()]
    stack: list[tuple[tuple[Any, ...], Value]] = [((), value)]
    while stack:
        path, here = stack.pop()
        items = (
            here.items()
            if isinstance(here, dict)
            else enumerate(here)
            if isinstance(here, tuple)
            else ()
        )
        for key, child in items:
            paths.append((*path, key))
            stack.append(((*path, key), child))
    target = data.draw(st.sampled_from(paths))
    extremes: st.SearchStrategy[Value] = st.sampled_from([0, -1, 10**9 + 1, "", "x" * 50])
    replacement = data.draw(canonical_values(max_leaves=6) | extremes)
    return _replace(value, target, replacement)


def _replace(value: Value, path: tuple[Any, ...], new: Value) -> Value:
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, key: _replace(value[key], rest, new)}
    assert isinstance(value, tuple)
    return (*value[:key], _replace(value[key], rest, new), *value[key + 1 :])


def assert_parses_or_bad_rules(value: Value) -> None:
    """Parsing ``value`` gives a rule set in canonical form or ``bad_rules``: nothing else."""
    outcome: RuleSet | BadRuleSet
    try:
        outcome = RuleSet.parse(value)
    except BadRuleSet as exc:
        outcome = exc
    event("bad_rules" if isinstance(outcome, BadRuleSet) else "parsed")
    if isinstance(outcome, BadRuleSet):
        assert outcome.reason == "bad_rules" and outcome.detail
    else:
        assert RuleSet.parse(outcome.to_value()) == outcome


@given(st.data(), rule_sets(percent=True))
def test_a_mutated_rule_set_parses_or_is_bad_rules(data: st.DataObject, rules: RuleSet) -> None:
    value = mutated(data, rules.to_value())
    assert_parses_or_bad_rules(value)


@given(canonical_values(max_leaves=20))
def test_any_codec_value_parses_or_is_bad_rules(value: Value) -> None:
    assert_parses_or_bad_rules(value)


@given(st.data(), rule_sets())
def test_any_json_text_reads_or_is_bad_rules(data: st.DataObject, rules: RuleSet) -> None:
    text = rules.to_json()
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    noise = data.draw(st.text(alphabet='[]{}",:0123456789.-eE truefalsnNI\\', max_size=6))
    outcome: RuleSet | BadRuleSet
    try:
        outcome = RuleSet.from_json(text[:at] + noise + text[at + cut :])
    except BadRuleSet as exc:
        outcome = exc
    event("bad_rules" if isinstance(outcome, BadRuleSet) else "parsed")
    if isinstance(outcome, BadRuleSet):
        assert outcome.reason == "bad_rules" and outcome.detail
    else:
        assert RuleSet.from_json(outcome.to_json()) == outcome
