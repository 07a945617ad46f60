"""Reading a delivery price rule set: its shape, its limits, and a precise error for each fault.

A rule set is a codec value a member writes as JSON (``docs/delivery.md``, "Pricing rules").
Reading it is a fixed walk over a fixed shape: no ``eval``, no recursion whose depth the input
chooses, and every list and name is bounded before it is walked, so a hostile set costs little
to refuse.  Every fault is :class:`BadRuleSet` with the exact path of the faulty part
(``rules[2].when[0]: unknown variable "distanse"``), and what is read is put in canonical form
(sorted, de-duplicated, defaults written out) so that two sets meaning the same thing have the
same digest.  Evaluating a set is :mod:`.pricing`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, TypeAlias

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Grid, parse_rate, rate_text, valid_cell

MAX_RULES: Final = 64
MAX_CONDITIONS: Final = 16
"""Conditions of one rule."""
MAX_ZONES: Final = 32
MAX_ZONE_CELLS: Final = 4096
"""Cells of all zones together (as written, duplicates included)."""
MAX_SLOTS: Final = 16
MAX_CHOICES: Final = 32
"""Items of one ``in`` / ``not_in`` list."""
MAX_CENTS: Final = 10**7
"""Most cents one price form names (100,000.00)."""
MAX_QUANTITY: Final = 10**9
"""Largest threshold, step or compared value (metres, grams, cents, counts)."""
MIN_RATE: Final = Fraction(-1)
MAX_RATE: Final = Fraction(10)
MAX_RATE_DENOMINATOR: Final = 10**6
MIN_OFFSET_MIN: Final = -720
MAX_OFFSET_MIN: Final = 840
DAY_MINUTES: Final = 1440
NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
"""A zone's or a slot's name."""
MAX_PACKAGE_NAME: Final = 64

STRATEGIES: Final = ("first", "sum")
TARGETS: Final = ("delivery", "task")
NUMERIC: Final = ("distance_m", "weight_g", "packages", "goods_cents", "tasks", "dropoffs")
"""Whole-number variables, for both targets (a task rule's weight_g and packages: the task's)."""
VARIABLES: Final = {
    "delivery": (*NUMERIC, "pickup_zone", "dropoff_zone", "slot"),
    "task": (*NUMERIC, "kind", "zone", "slot"),
}
ORDER_OPS: Final = ("<", "<=", ">", ">=", "==", "!=")
SET_OPS: Final = ("in", "not_in")
KINDS: Final = ("pickup", "dropoff")
ZONE_VARIABLES: Final = ("pickup_zone", "dropoff_zone", "zone")
PRICE_FORMS: Final = ("fixed", "per_step", "per_package", "percent")


class BadRuleSet(AppTxRejected):
    """A rule set that cannot be adopted; ``detail`` names the faulty part's path."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad_rules", detail)


@dataclass(frozen=True, slots=True)
class Condition:
    """``[variable, op, value]``: value an int, a name, or a sorted tuple of them (in/not_in)."""

    variable: str
    op: str
    value: int | str | tuple[int, ...] | tuple[str, ...]

    def to_value(self) -> Value:
        return (self.variable, self.op, self.value)


@dataclass(frozen=True, slots=True)
class Fixed:
    cents: int

    def to_value(self) -> Value:
        return {"fixed": self.cents}


@dataclass(frozen=True, slots=True)
class PerStep:
    """``price`` for each started ``step`` of variable ``of`` beyond ``above``."""

    of: str
    price: int
    step: int
    above: int

    def to_value(self) -> Value:
        fields: Value = {"above": self.above, "of": self.of, "price": self.price, "step": self.step}
        return {"per_step": fields}


@dataclass(frozen=True, slots=True)
class PerPackage:
    """``price`` for each package named ``name`` beyond the first ``free``."""

    name: str
    price: int
    free: int

    def to_value(self) -> Value:
        return {"per_package": {"free": self.free, "name": self.name, "price": self.price}}


@dataclass(frozen=True, slots=True)
class Percent:
    """``rate`` of the sum of the lines priced before this one."""

    rate: Fraction

    def to_value(self) -> Value:
        return {"percent": rate_text(self.rate)}


PriceForm: TypeAlias = Fixed | PerStep | PerPackage | Percent


@dataclass(frozen=True, slots=True)
class Rule:
    target: str
    when: tuple[Condition, ...]
    price: PriceForm

    def to_value(self) -> Value:
        return {
            "price": self.price.to_value(),
            "target": self.target,
            "when": tuple(c.to_value() for c in self.when),
        }


Zones: TypeAlias = tuple[tuple[str, tuple[Grid, ...]], ...]
Slots: TypeAlias = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Parsed:
    """Every part of a rule set, canonical: what :class:`~.pricing.RuleSet` is built from."""

    strategy: str
    rules: tuple[Rule, ...]
    zones: Zones
    slots: Slots
    utc_offset_min: int


def parse_rule_set(value: object) -> Parsed:
    """The rule set ``value`` in canonical form, or :class:`BadRuleSet` naming the fault."""
    top = _map(value, "rule set", {"strategy", "rules"}, {"zones", "slots", "utc_offset_min"})
    strategy = top["strategy"]
    if strategy not in STRATEGIES:
        raise BadRuleSet(f"strategy: {_show(strategy)} is not one of {_alternatives(STRATEGIES)}")
    assert isinstance(strategy, str)
    zones = _zones(top.get("zones", {}))
    slots = _slots(top.get("slots", {}))
    offset = _int(top.get("utc_offset_min", 0), "utc_offset_min", MIN_OFFSET_MIN, MAX_OFFSET_MIN)
    raw_rules = _list(top["rules"], "rules", 1, MAX_RULES)
    zone_names = {name for name, _ in zones}
    slot_names = {name for name, _, _ in slots}
    rules = tuple(
        _rule(raw, f"rules[{i}]", zone_names, slot_names) for i, raw in enumerate(raw_rules)
    )
    return Parsed(strategy, rules, zones, slots, offset)


def _rule(value: object, path: str, zones: set[str], slots: set[str]) -> Rule:
    fields = _map(value, path, {"target", "price"}, {"when"})
    target = fields["target"]
    if target not in TARGETS:
        raise BadRuleSet(f"{path}.target: {_show(target)} is not one of {_alternatives(TARGETS)}")
    assert isinstance(target, str)
    raw_when = _list(fields.get("when", ()), f"{path}.when", 0, MAX_CONDITIONS)
    when = tuple(
        _condition(raw, f"{path}.when[{i}]", target, zones, slots) for i, raw in enumerate(raw_when)
    )
    return Rule(target, when, _price(fields["price"], f"{path}.price", target))


def _condition(
    value: object, path: str, target: str, zones: set[str], slots: set[str]
) -> Condition:
    items = _list(value, path, 3, 3, "a condition is [variable, op, value]")
    variable, op, operand = items
    if type(variable) is not str or variable not in VARIABLES["delivery"] + VARIABLES["task"]:
        raise BadRuleSet(f"{path}: unknown variable {_show(variable)}")
    if variable not in VARIABLES[target]:
        raise BadRuleSet(f"{path}: {_show(variable)} is not a variable of {target} rules")
    ops, check = _OPERANDS[variable]
    if op not in ops:
        raise BadRuleSet(f"{path}: {_show(variable)} takes {_alternatives(ops)}, not {_show(op)}")
    assert isinstance(op, str)
    known = zones if variable.endswith("zone") else slots
    at = f"{path}[2]"
    if op in SET_OPS and variable not in ZONE_VARIABLES:
        items = _list(operand, at, 1, MAX_CHOICES)
        found = {check(item, f"{at}[{i}]", known) for i, item in enumerate(items)}
        numbers = tuple(sorted(v for v in found if isinstance(v, int)))
        names = tuple(sorted(v for v in found if isinstance(v, str)))
        return Condition(variable, op, numbers or names)
    return Condition(variable, op, check(operand, at, known))


def _quantity(value: object, path: str, _known: set[str]) -> int:
    return _int(value, path, 0, MAX_QUANTITY)


def _declared(value: object, path: str, known: set[str]) -> str:
    if type(value) is not str or value not in known:
        return _fail(f"{path}: {_show(value)} is not a declared name ({_names(known)})")
    return value


def _kind(value: object, path: str, _known: set[str]) -> str:
    if value not in KINDS:
        return _fail(f"{path}: {_show(value)} is not one of {_alternatives(KINDS)}")
    assert isinstance(value, str)
    return value


_Check: TypeAlias = Callable[[object, str, set[str]], int | str]
_OPERANDS: Final[dict[str, tuple[tuple[str, ...], _Check]]] = {
    **dict.fromkeys(NUMERIC, ((*ORDER_OPS, *SET_OPS), _quantity)),
    "pickup_zone": (SET_OPS, _declared),
    "dropoff_zone": (SET_OPS, _declared),
    "zone": (SET_OPS, _declared),
    "slot": (("==", "!=", *SET_OPS), _declared),
    "kind": (("==", "!="), _kind),
}
"""Per variable: the operators it takes and how its operand is checked (a zone condition's
operand is one zone name even under ``in``)."""


def _price(value: object, path: str, target: str) -> PriceForm:
    if not isinstance(value, dict) or len(value) != 1:
        raise BadRuleSet(f"{path}: a price is one of {_alternatives(PRICE_FORMS)}")
    ((form, body),) = value.items()
    at = f"{path}.{form}"
    if form == "fixed":
        return Fixed(_int(body, at, 0, MAX_CENTS))
    if form == "per_step":
        fields = _map(body, at, {"of", "price", "step"}, {"above"})
        of = fields["of"]
        if of not in NUMERIC:
            raise BadRuleSet(f"{at}.of: {_show(of)} is not one of {_alternatives(NUMERIC)}")
        assert isinstance(of, str)
        return PerStep(
            of,
            _int(fields["price"], f"{at}.price", 0, MAX_CENTS),
            _int(fields["step"], f"{at}.step", 1, MAX_QUANTITY),
            _int(fields.get("above", 0), f"{at}.above", 0, MAX_QUANTITY),
        )
    if form == "per_package":
        fields = _map(body, at, {"name", "price"}, {"free"})
        return PerPackage(
            package_name(fields["name"], f"{at}.name"),
            _int(fields["price"], f"{at}.price", 0, MAX_CENTS),
            _int(fields.get("free", 0), f"{at}.free", 0, MAX_QUANTITY),
        )
    if form == "percent":
        if target != "delivery":
            raise BadRuleSet(f"{at}: a percent applies to delivery rules only")
        return Percent(_rate(body, at))
    raise BadRuleSet(f"{path}: {_show(form)} is not one of {_alternatives(PRICE_FORMS)}")


def _rate(value: object, path: str) -> Fraction:
    if type(value) is not str:
        raise BadRuleSet(f'{path}: a rate is "n/d" text, not {_show(value)}')
    try:
        rate = parse_rate(value)
    except AppTxRejected:
        raise BadRuleSet(f'{path}: {_show(value)} is not "n/d" text') from None
    if not MIN_RATE <= rate <= MAX_RATE or rate.denominator > MAX_RATE_DENOMINATOR:
        raise BadRuleSet(
            f"{path}: {_show(value)} is outside {rate_text(MIN_RATE)}..{rate_text(MAX_RATE)} "
            f"or has a denominator above {MAX_RATE_DENOMINATOR}"
        )
    return rate


def _zones(value: object) -> Zones:
    raw = _named_map(value, "zones", MAX_ZONES)
    out: list[tuple[str, tuple[Grid, ...]]] = []
    budget = MAX_ZONE_CELLS
    for name, cells in raw:
        path = f"zones.{name}"
        items = _list(cells, path, 1, MAX_ZONE_CELLS, "a zone is a list of [row, col] cells")
        budget -= len(items)
        if budget < 0:
            raise BadRuleSet(f"{path}: zones hold at most {MAX_ZONE_CELLS} cells in all")
        found = {_cell(item, f"{path}[{i}]") for i, item in enumerate(items)}
        out.append((name, tuple(sorted(found))))
    return tuple(out)


def _cell(value: object, path: str) -> Grid:
    row, col = _list(value, path, 2, 2, "a cell is [row, col]")
    row_i, col_i = _int(row, f"{path}[0]", None, None), _int(col, f"{path}[1]", None, None)
    if not valid_cell(row_i, col_i):
        raise BadRuleSet(f"{path}: [{row_i}, {col_i}] is not a cell on Earth")
    return Grid(row_i, col_i)


def _slots(value: object) -> Slots:
    out: list[tuple[str, int, int]] = []
    for name, span in _named_map(value, "slots", MAX_SLOTS):
        path = f"slots.{name}"
        start, end = _list(span, path, 2, 2, "a slot is [from_minute, to_minute]")
        start_i = _int(start, f"{path}[0]", 0, DAY_MINUTES - 1)
        end_i = _int(end, f"{path}[1]", 1, DAY_MINUTES)
        if start_i == end_i:
            raise BadRuleSet(f"{path}: from and to are both {start_i} (an empty slot)")
        out.append((name, start_i, end_i))
    return tuple(out)


def _named_map(value: object, path: str, most: int) -> list[tuple[str, object]]:
    if not isinstance(value, dict):
        raise BadRuleSet(f"{path}: a map of names, not {_show(value)}")
    if len(value) > most:
        raise BadRuleSet(f"{path}: {len(value)} entries, at most {most}")
    for name in value:
        if type(name) is not str or not NAME.match(name):
            raise BadRuleSet(f"{path}: {_show(name)} is not a name (a-z, 0-9, _ or -, <= 32)")
    return sorted(value.items())


def package_name(value: object, path: str) -> str:
    """A package's name: printable text of 1..64 characters (a rule's and a task's alike)."""
    if type(value) is not str or not 0 < len(value) <= MAX_PACKAGE_NAME:
        raise BadRuleSet(f"{path}: a package name is 1..{MAX_PACKAGE_NAME} characters")
    if not value.isprintable():
        raise BadRuleSet(f"{path}: a package name is printable text")
    return value


def _map(value: object, path: str, required: set[str], optional: set[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BadRuleSet(f"{path}: a map with {_alternatives(sorted(required))}")
    for key in sorted(value, key=repr):
        if key not in required and key not in optional:
            raise BadRuleSet(f"{path}: unknown key {_show(key)}")
    for key in sorted(required):
        if key not in value:
            raise BadRuleSet(f"{path}: missing {_show(key)}")
    return value


def _list(
    value: object, path: str, least: int, most: int, what: str = ""
) -> tuple[object, ...] | list[object]:
    if not isinstance(value, tuple | list) or not least <= len(value) <= most:
        size = f"{least}..{most}" if least != most else str(least)
        raise BadRuleSet(f"{path}: {what or f'a list of {size} items'}, not {_show(value)}")
    return value


def _int(value: object, path: str, least: int | None, most: int | None) -> int:
    if type(value) is not int:
        raise BadRuleSet(f"{path}: {_show(value)} is not an integer")
    if (least is not None and value < least) or (most is not None and value > most):
        raise BadRuleSet(f"{path}: {_show(value)} is outside {least}..{most}")
    return value


def _fail(detail: str) -> str:
    raise BadRuleSet(detail)


def _show(value: object) -> str:
    """``value`` for a message: JSON-like, cut at 40 characters (input chooses its length)."""
    if isinstance(value, str):
        text = json.dumps(value[:41])
        return text if len(value) <= 40 else text[:-1] + '..."'
    if isinstance(value, int) and value.bit_length() > 64:
        return "a very large integer"  # its digits could be too many even to print
    if value is None or isinstance(value, bool | int):
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:40] + "..."
    if isinstance(value, tuple | list):
        return "a list"
    return "a map" if isinstance(value, dict) else f"a {type(value).__name__} value"


def _alternatives(names: object) -> str:
    assert isinstance(names, tuple | list)
    return ", ".join(f'"{n}"' for n in names)


def _names(known: set[str]) -> str:
    return ", ".join(sorted(known)) if known else "none declared"


__all__ = [
    "MAX_CENTS",
    "MAX_CONDITIONS",
    "MAX_QUANTITY",
    "MAX_RULES",
    "MAX_SLOTS",
    "MAX_ZONES",
    "MAX_ZONE_CELLS",
    "BadRuleSet",
    "Condition",
    "Fixed",
    "Parsed",
    "PerPackage",
    "PerStep",
    "Percent",
    "PriceForm",
    "Rule",
    "package_name",
    "parse_rule_set",
]
