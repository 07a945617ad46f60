"""Delivery prices as the cooperative's bylaws: a voted rule set, evaluated on a delivery's facts.

A member writes the rule set as JSON; a cooperative decision adopts or amends it, and every
version is kept, so a delivery's price is a pure function of (rules version, delivery facts)
that anyone can recompute from the ordered transactions.  Reading a set (its shape, limits and
errors) is :mod:`.pricing_parse`; this module is the facts a set is evaluated on, the
evaluation, and its result: a total with one line per match, so a member can see why a
delivery cost what it did.  ``docs/delivery.md`` ("Pricing rules") is the language's manual.

Evaluation order: each task in the delivery's order, the task rules by position against it;
then the delivery rules by position.  ``"first"`` takes the first matching rule per task and
the first matching delivery rule; ``"sum"`` takes every match.  A ``percent`` (delivery rules
only) is a rate of the sum of the lines before it.  Nothing matched at all: :class:`NoPriceRule`
-- a delivery is never priced at zero by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Final

from peoplenet.apps.delivery.pricing_parse import (
    DAY_MINUTES,
    KINDS,
    MAX_QUANTITY,
    BadRuleSet,
    Condition,
    Fixed,
    Parsed,
    Percent,
    PerPackage,
    PerStep,
    PriceForm,
    Rule,
    Slots,
    Zones,
    package_name,
    parse_rule_set,
)
from peoplenet.plugins.api import AppTxRejected, Value, encode
from peoplenet.plugins.kit import Breakdown, Grid, apply_rate, valid_cell

MINUTE_MS: Final = 60_000
MAX_TASKS: Final = 64
MAX_PACKAGE_KINDS: Final = 32
"""Distinct package names on one task."""
MAX_TIME_MS: Final = 2**63 - 1
MAX_PRICE_CENTS: Final = 10**9
"""The most a delivery may cost (10,000,000.00): past it, ``price_out_of_range``."""
MAX_JSON_CHARS: Final = 65_536
MAX_JSON_DEPTH: Final = 8
"""Nesting a rule set's JSON needs at most 6 (a condition's list in a rule in the rules)."""


class NoPriceRule(AppTxRejected):
    """No rule of the set matched the delivery: the order is refused, never priced at zero."""

    def __init__(self, detail: str) -> None:
        super().__init__("no_price_rule", detail)


class PriceOutOfRange(AppTxRejected):
    """The rules price the delivery above :data:`MAX_PRICE_CENTS`: refused, not truncated."""

    def __init__(self, detail: str) -> None:
        super().__init__("price_out_of_range", detail)


class BadDeliveryFacts(AppTxRejected):
    """Facts no delivery has (a task weighing -1 g, no pickup...): refused before pricing."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad_delivery", detail)


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What pricing knows of one task: public facts only (the exact address stays sealed)."""

    kind: str
    """``"pickup"`` or ``"dropoff"``."""
    cell: Grid
    weight_g: int
    packages: tuple[tuple[str, int], ...]
    """(name, count) pairs, names distinct, counts >= 1."""
    after_ms: int
    before_ms: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadDeliveryFacts(f"task kind {self.kind!r} is not pickup or dropoff")
        if not isinstance(self.cell, Grid) or not valid_cell(self.cell.row, self.cell.col):
            raise BadDeliveryFacts(f"task cell {self.cell!r} is not a cell on Earth")
        _check_int(self.weight_g, "weight_g", MAX_QUANTITY)
        if not isinstance(self.packages, tuple) or len(self.packages) > MAX_PACKAGE_KINDS:
            raise BadDeliveryFacts(f"packages: a tuple of at most {MAX_PACKAGE_KINDS} pairs")
        names = set()
        for pair in self.packages:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise BadDeliveryFacts("packages: (name, count) pairs")
            try:
                names.add(package_name(pair[0], "package"))
            except BadRuleSet as exc:
                raise BadDeliveryFacts(exc.detail) from None
            _check_int(pair[1], f"package {pair[0]!r}", MAX_QUANTITY, least=1)
        if len(names) != len(self.packages):
            raise BadDeliveryFacts("packages: each name once")
        _check_int(self.after_ms, "after_ms", MAX_TIME_MS)
        _check_int(self.before_ms, "before_ms", MAX_TIME_MS)
        if self.after_ms > self.before_ms:
            window = f"{self.after_ms}..{self.before_ms}"
            raise BadDeliveryFacts(f"window {window} ends before it starts")

    @property
    def package_count(self) -> int:
        return sum(count for _, count in self.packages)


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """One pickup and one or more dropoffs (any order), the distance and the goods' value.

    The delivery's weight and packages are derived: per package name (and for the weight) the
    larger of the pickup's and the dropoffs' sum, since each package is picked up once and
    dropped off once -- an order may list it on either side, or on both without counting twice.
    """

    distance_m: int
    tasks: tuple[TaskFacts, ...]
    goods_cents: int

    def __post_init__(self) -> None:
        _check_int(self.distance_m, "distance_m", MAX_QUANTITY)
        _check_int(self.goods_cents, "goods_cents", MAX_QUANTITY)
        if not isinstance(self.tasks, tuple) or not 2 <= len(self.tasks) <= MAX_TASKS:
            raise BadDeliveryFacts(f"a delivery has 2..{MAX_TASKS} tasks")
        if not all(isinstance(task, TaskFacts) for task in self.tasks):
            raise BadDeliveryFacts("tasks are TaskFacts")
        if sum(task.kind == "pickup" for task in self.tasks) != 1:
            raise BadDeliveryFacts("a delivery has exactly one pickup (and one or more dropoffs)")

    @property
    def pickup(self) -> TaskFacts:
        return next(task for task in self.tasks if task.kind == "pickup")

    @property
    def dropoffs(self) -> tuple[TaskFacts, ...]:
        return tuple(task for task in self.tasks if task.kind == "dropoff")

    @property
    def weight_g(self) -> int:
        return max(self.pickup.weight_g, sum(task.weight_g for task in self.dropoffs))

    @property
    def package_counts(self) -> dict[str, int]:
        dropped: dict[str, int] = {}
        for task in self.dropoffs:
            for name, count in task.packages:
                dropped[name] = dropped.get(name, 0) + count
        picked = dict(self.pickup.packages)
        return {name: max(picked.get(name, 0), dropped.get(name, 0)) for name in picked | dropped}


def _check_int(value: object, name: str, most: int, least: int = 0) -> None:
    if type(value) is not int or not least <= value <= most:
        huge = isinstance(value, int) and value.bit_length() > 64  # too many digits to print
        shown = "a very large integer" if huge else f"{value!r:.40}"
        raise BadDeliveryFacts(f"{name} is {shown}, not an integer in {least}..{most}")


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One match: rule ``rule`` (its index) priced ``cents``, for task ``task`` (None: the
    delivery rule)."""

    rule: int
    task: int | None
    cents: int


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """A delivery's price: the total and every line that makes it, in evaluation order."""

    total: int
    lines: tuple[PriceLine, ...]

    def matched(self) -> tuple[tuple[int, int], ...]:
        """(rule index, cents) per matched rule, by index (a task rule's tasks summed)."""
        by_rule: dict[int, int] = {}
        for line in self.lines:
            by_rule[line.rule] = by_rule.get(line.rule, 0) + line.cents
        return tuple(sorted(by_rule.items()))

    def breakdown(self) -> Breakdown:
        """The kit's :class:`~peoplenet.plugins.kit.Breakdown`, one ``rules[i]`` term per rule."""
        return Breakdown.of(*((f"rules[{index}]", cents) for index, cents in self.matched()))

    def to_value(self) -> dict[str, Value]:
        lines = tuple((line.rule, line.task, line.cents) for line in self.lines)
        return {"lines": lines, "total": self.total}


@dataclass(frozen=True, slots=True)
class _Subject:
    """What a rule sees: the delivery, or one task of it (with the delivery-wide counts)."""

    numbers: Mapping[str, int]
    packages: Mapping[str, int]
    minute: int
    """Local minute of day the pickup's (delivery) or the task's window opens."""
    kind: str = ""
    cell: Grid | None = None
    pickup: Grid | None = None
    dropoffs: tuple[Grid, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One version of the cooperative's delivery price rules.

    Build it with :meth:`parse` (the fields are its canonical form); ``parse(v).to_value()`` is
    a fixed point and :meth:`digest` names the version's content.
    """

    strategy: str
    rules: tuple[Rule, ...]
    zones: Zones
    slots: Slots
    utc_offset_min: int
    _cells: Mapping[str, frozenset[Grid]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        cells = {name: frozenset(cells) for name, cells in self.zones}
        object.__setattr__(self, "_cells", cells)

    @classmethod
    def parse(cls, value: object) -> RuleSet:
        """The rule set ``value`` (a codec value; lists or tuples), or :class:`BadRuleSet`."""
        parsed: Parsed = parse_rule_set(value)
        return cls(parsed.strategy, parsed.rules, parsed.zones, parsed.slots, parsed.utc_offset_min)

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        """The rule set a member wrote as JSON text (no floats, no duplicate keys)."""
        if type(text) is not str or len(text) > MAX_JSON_CHARS:
            raise BadRuleSet(f"rule set: JSON text of at most {MAX_JSON_CHARS} characters")
        _check_depth(text)
        try:
            value = json.loads(
                text,
                parse_float=_no_float,
                parse_constant=_no_float,
                object_pairs_hook=_no_duplicates,
            )
        except RecursionError:  # pragma: no cover - _check_depth bounds the nesting first
            raise BadRuleSet("rule set: JSON nested too deep") from None
        except ValueError as exc:  # JSONDecodeError, and ints past Python's digit limit
            raise BadRuleSet(f"rule set: not JSON ({exc})") from None
        return cls.parse(value)

    def to_value(self) -> dict[str, Value]:
        """The canonical codec value (tuples, every default written out)."""
        return {
            "rules": tuple(rule.to_value() for rule in self.rules),
            "slots": {name: (start, end) for name, start, end in self.slots},
            "strategy": self.strategy,
            "utc_offset_min": self.utc_offset_min,
            "zones": {name: tuple((c.row, c.col) for c in cells) for name, cells in self.zones},
        }

    def to_json(self) -> str:
        """The canonical value as JSON text (what :meth:`from_json` reads back)."""
        return json.dumps(self.to_value(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> bytes:
        """32 bytes: BLAKE2b of the canonical encoding (equal iff the rule sets are equal)."""
        return blake2b(encode(self.to_value()), digest_size=32).digest()

    def price(self, facts: DeliveryFacts) -> PriceBreakdown:
        """The price of the delivery ``facts`` under these rules (pure, integers only).

        :class:`NoPriceRule` if no rule matched; :class:`PriceOutOfRange` past
        :data:`MAX_PRICE_CENTS`.
        """
        if not isinstance(facts, DeliveryFacts):
            raise BadDeliveryFacts("facts are DeliveryFacts")
        lines: list[PriceLine] = []
        running = 0
        subjects: list[tuple[int | None, _Subject]] = [
            (index, self._task(facts, task)) for index, task in enumerate(facts.tasks)
        ]
        subjects.append((None, self._delivery(facts)))
        for task_index, subject in subjects:
            target = "delivery" if task_index is None else "task"
            for index, rule in enumerate(self.rules):
                if rule.target != target or not all(self._holds(c, subject) for c in rule.when):
                    continue
                cents = _amount(rule.price, subject, running)
                running += cents
                if running > MAX_PRICE_CENTS:
                    raise PriceOutOfRange(f"rules[{index}] takes the price past {MAX_PRICE_CENTS}")
                lines.append(PriceLine(index, task_index, cents))
                if self.strategy == "first":
                    break
        if not lines:
            raise NoPriceRule(
                f"none of the {len(self.rules)} rules matches this delivery or its tasks"
            )
        return PriceBreakdown(running, tuple(lines))

    def _delivery(self, facts: DeliveryFacts) -> _Subject:
        packages = facts.package_counts
        numbers = {
            "distance_m": facts.distance_m,
            "weight_g": facts.weight_g,
            "packages": sum(packages.values()),
            "goods_cents": facts.goods_cents,
            "tasks": len(facts.tasks),
            "dropoffs": len(facts.dropoffs),
        }
        pickup = facts.pickup
        minute = self._minute(pickup.after_ms)
        dropoffs = tuple(task.cell for task in facts.dropoffs)
        return _Subject(numbers, packages, minute, pickup=pickup.cell, dropoffs=dropoffs)

    def _task(self, facts: DeliveryFacts, task: TaskFacts) -> _Subject:
        numbers = {
            "distance_m": facts.distance_m,
            "weight_g": task.weight_g,
            "packages": task.package_count,
            "goods_cents": facts.goods_cents,
            "tasks": len(facts.tasks),
            "dropoffs": len(facts.dropoffs),
        }
        minute = self._minute(task.after_ms)
        return _Subject(numbers, dict(task.packages), minute, kind=task.kind, cell=task.cell)

    def _minute(self, at_ms: int) -> int:
        return (at_ms // MINUTE_MS + self.utc_offset_min) % DAY_MINUTES

    def _holds(self, condition: Condition, subject: _Subject) -> bool:
        variable, op, operand = condition.variable, condition.op, condition.value
        if variable == "kind":
            return (subject.kind == operand) == (op == "==")
        if variable == "slot":
            names = operand if isinstance(operand, tuple) else (operand,)
            inside = any(self._in_slot(name, subject.minute) for name in names)
            return inside == (op in ("==", "in"))
        if variable.endswith("zone"):
            assert isinstance(operand, str)
            zone = self._cells[operand]
            if variable == "dropoff_zone":  # in: every dropoff inside; not_in: none inside
                wanted = op == "in"
                return all((cell in zone) == wanted for cell in subject.dropoffs)
            cell = subject.pickup if variable == "pickup_zone" else subject.cell
            return (cell in zone) == (op == "in")
        return _compare(subject.numbers[variable], op, operand)

    def _in_slot(self, name: object, minute: int) -> bool:
        start, end = next((s, e) for n, s, e in self.slots if n == name)
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end  # across midnight


def _compare(value: int, op: str, operand: object) -> bool:
    if op in ("in", "not_in"):
        assert isinstance(operand, tuple)
        return (value in operand) == (op == "in")
    assert type(operand) is int
    if op == "<":
        return value < operand
    if op == "<=":
        return value <= operand
    if op == ">":
        return value > operand
    if op == ">=":
        return value >= operand
    return (value == operand) == (op == "==")


def _amount(price: PriceForm, subject: _Subject, running: int) -> int:
    if isinstance(price, Fixed):
        return price.cents
    if isinstance(price, PerStep):
        beyond = subject.numbers[price.of] - price.above
        return price.price * -(-beyond // price.step) if beyond > 0 else 0
    if isinstance(price, PerPackage):
        return price.price * max(subject.packages.get(price.name, 0) - price.free, 0)
    assert isinstance(price, Percent)
    return apply_rate(running, price.rate)


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` before parsing it (no recursion)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BadRuleSet(f"rule set: JSON nested deeper than {MAX_JSON_DEPTH}")
        elif char in "]}":
            depth -= 1


def _no_float(text: str) -> Value:
    raise BadRuleSet(f"rule set: {text[:40]} is not an integer (cents, metres, grams)")


def _no_duplicates(pairs: list[tuple[str, Value]]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key, value in pairs:
        if key in out:
            raise BadRuleSet(f"rule set: key {json.dumps(key[:40])} given twice")
        out[key] = value
    return out


DEFAULT_RULES: Final = RuleSet.parse(
    {
        "strategy": "sum",
        "rules": (
            {"target": "delivery", "when": (), "price": {"fixed": 300}},
            {
                "target": "delivery",
                "when": (("distance_m", ">", 2000),),
                "price": {
                    "per_step": {"of": "distance_m", "price": 100, "step": 1000, "above": 2000}
                },
            },
            {
                "target": "delivery",
                "when": (("weight_g", ">", 5000),),
                "price": {"per_step": {"of": "weight_g", "price": 50, "step": 1000, "above": 5000}},
            },
            {
                "target": "delivery",
                "when": (("dropoffs", ">", 1),),
                "price": {"per_step": {"of": "dropoffs", "price": 150, "step": 1, "above": 1}},
            },
        ),
    }
)
"""The rules in force until the cooperative adopts its own: 3.00 a delivery, 1.00 per started
km beyond 2 km, 0.50 per started kg beyond 5 kg, 1.50 per dropoff beyond the first."""


__all__ = [
    "DEFAULT_RULES",
    "MAX_PRICE_CENTS",
    "MAX_TASKS",
    "BadDeliveryFacts",
    "BadRuleSet",
    "DeliveryFacts",
    "NoPriceRule",
    "PriceBreakdown",
    "PriceLine",
    "PriceOutOfRange",
    "RuleSet",
    "TaskFacts",
]
