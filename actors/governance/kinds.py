"""Decision kinds: their parameters and the normal form of their points.

Why a module of its own: the state fold validates every ballot and proposal when it arrives
(and records a typed rejection), long before the decision closes; the rule itself
(:mod:`peoplenet.actors.governance.decision`) then validates the same way again.  Both use these
checks,
so a point accepted at voting time is never refused at the close.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

from peoplenet.runtime.errors import LocalError

KINDS: Final[tuple[str, ...]] = (
    "rate",
    "budget",
    "ranking",
    "board",
    "bylaws",
    "officer",
    "amendment",
    "app",
    "admission",
    "removal",
)
YES_NO_KINDS: Final[frozenset[str]] = frozenset({"amendment", "app", "admission", "removal"})
MAX_NAME_LEN: Final = 64
"""Longest name (characters) of an item, clause, candidate or officer: as the charter's names,
so a candidate cannot carry what no declared name could (a 50,000-character one did)."""

_PARAM_KEYS: Final[dict[str, frozenset[str]]] = {
    "rate": frozenset({"lo", "hi", "step"}),
    "budget": frozenset({"items", "total"}),
    "ranking": frozenset({"items"}),
    "board": frozenset({"candidates", "k"}),
    "bylaws": frozenset({"clauses"}),
    "officer": frozenset({"candidates"}),
}
_OPTIONAL_PARAMS: Final[dict[str, frozenset[str]]] = {"officer": frozenset({"k", "status_quo"})}


class DecisionError(LocalError):
    """A decision's input is invalid: ``reason`` is a stable snake_case code, ``detail`` prose."""

    reason = "invalid_decision"

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def check_kind(kind: object) -> str:
    """``kind`` itself, if it names a decision kind."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise DecisionError("unknown_kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    return kind


def as_fraction(value: object, *, what: str) -> Fraction:
    """An exact number (int or Fraction, never bool or float) as a Fraction."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise DecisionError("not_a_number", f"{what}: {value!r} is not an exact number")
    return Fraction(value)


def _check_name(name: object, *, what: str) -> str:
    """``name`` itself, if it is a string of 1..:data:`MAX_NAME_LEN` characters."""
    if not isinstance(name, str) or not name:
        raise DecisionError("bad_name", f"{what}: {name!r:.80} is not a non-empty string")
    if len(name) > MAX_NAME_LEN:
        raise DecisionError(
            "bad_name",
            f"{what}: a name is at most {MAX_NAME_LEN} characters, not {len(name)}"
            f" ({name[:16]!r}...)",
        )
    return name


def _names(value: object, *, what: str) -> tuple[str, ...]:
    """A tuple of distinct names of 1..:data:`MAX_NAME_LEN` characters (a list is accepted)."""
    if not isinstance(value, tuple | list):
        raise DecisionError("not_a_list", f"{what}: expected a list of names, got {value!r:.80}")
    for name in value:
        _check_name(name, what=what)
    names = tuple(value)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DecisionError("duplicate_name", f"{what}: {dup!r} appears more than once")
    return names


def _count(value: object, *, what: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise DecisionError("bad_params", f"{what} must be an integer >= {least}, not {value!r}")
    return value


def check_params(kind: str, params: Mapping[str, object]) -> None:
    """Refuse parameters that do not describe a usable space for ``kind``."""
    check_kind(kind)
    if not isinstance(params, Mapping):
        raise DecisionError("bad_params", f"params must be a mapping, not {params!r}")
    needed = _PARAM_KEYS.get(kind, frozenset())
    allowed = needed | _OPTIONAL_PARAMS.get(kind, frozenset())
    missing = sorted(needed - params.keys())
    if missing:
        raise DecisionError("missing_param", f"{kind} needs params {', '.join(missing)}")
    extra = sorted(str(k) for k in params.keys() - allowed)
    if extra:
        raise DecisionError("unknown_param", f"{kind} takes no params {', '.join(extra)}")
    if kind == "rate":
        lo = as_fraction(params["lo"], what="params.lo")
        hi = as_fraction(params["hi"], what="params.hi")
        step = as_fraction(params["step"], what="params.step")
        if step <= 0:
            raise DecisionError("bad_params", f"step must be positive, not {step}")
        if hi < lo:
            raise DecisionError("bad_params", f"hi {hi} is below lo {lo}")
        if ((hi - lo) / step).denominator != 1:
            raise DecisionError("bad_params", f"hi - lo = {hi - lo} is not a multiple of {step}")
    elif kind in ("budget", "ranking"):
        items = _names(params["items"], what="params.items")
        if not items:
            raise DecisionError("bad_params", "items must not be empty")
        if kind == "budget":
            _count(params["total"], what="params.total", least=0)
    elif kind in ("board", "officer"):
        candidates = _names(params["candidates"], what="params.candidates")
        if kind == "board":
            k = _count(params["k"], what="params.k", least=1)
            if k > len(candidates):
                raise DecisionError("bad_params", f"k = {k} exceeds the {len(candidates)} names")
        else:
            if "k" in params and (type(params["k"]) is not int or params["k"] != 1):
                raise DecisionError("bad_params", "an officer decision fills one seat: k = 1")
            if "status_quo" in params and not isinstance(params["status_quo"], str):
                raise DecisionError("bad_params", "params.status_quo must be a name")
    elif kind == "bylaws":
        _names(params["clauses"], what="params.clauses")


def normalize_point(kind: str, params: Mapping[str, object], point: object, *, what: str) -> object:
    """The normal form of a ballot, proposal or status quo of ``kind``; refuses invalid ones.

    ``what`` names the point in error messages ("ballot 3", "status quo", ...); a status quo
    is recognised by ``what`` starting with "status quo" (its rules differ for a few kinds).
    """
    check_params(kind, params)
    is_status_quo = what.startswith("status quo")
    if kind in YES_NO_KINDS:
        if not isinstance(point, bool):
            raise DecisionError("not_a_bool", f"{what}: {point!r} is not true/false")
        if is_status_quo and point:
            raise DecisionError("bad_status_quo", f"{what}: a yes/no status quo is false")
        return point
    if kind == "rate":
        return _rate_point(params, point, what=what)
    if kind == "budget":
        return _budget_point(params, point, what=what)
    if kind == "ranking":
        items = name_list(params, "items")
        ranking = _names(point, what=what)
        if sorted(ranking) != sorted(items):
            raise DecisionError("not_a_permutation", f"{what}: must order exactly {items}")
        return ranking
    if kind == "board":
        return _board_point(params, point, what=what, is_status_quo=is_status_quo)
    if kind == "bylaws":
        clauses = set(name_list(params, "clauses"))
        chosen = _names(point, what=what)
        unknown = sorted(set(chosen) - clauses)
        if unknown:
            raise DecisionError("unknown_clause", f"{what}: no clause {unknown[0]!r}")
        return tuple(sorted(chosen))
    return _officer_point(params, point, what=what, is_status_quo=is_status_quo)


def name_list(params: Mapping[str, object], key: str) -> tuple[str, ...]:
    """A checked list of names from ``params`` (items, candidates, clauses)."""
    return _names(params[key], what=f"params.{key}")


def rate_grid(params: Mapping[str, object]) -> tuple[Fraction, Fraction, int]:
    """``(lo, step, last)``: the rate's points are ``lo + i * step`` for ``0 <= i <= last``."""
    lo = as_fraction(params["lo"], what="params.lo")
    step = as_fraction(params["step"], what="params.step")
    last = (as_fraction(params["hi"], what="params.hi") - lo) / step
    return lo, step, int(last)


def _rate_point(params: Mapping[str, object], point: object, *, what: str) -> Fraction:
    value = as_fraction(point, what=what)
    lo, step, last = rate_grid(params)
    index = (value - lo) / step
    if not 0 <= index <= last:
        hi = lo + last * step
        raise DecisionError("out_of_range", f"{what}: {value} is outside [{lo}, {hi}]")
    if index.denominator != 1:
        raise DecisionError("off_step", f"{what}: {value} is not {lo} plus a multiple of {step}")
    return value


def _budget_point(params: Mapping[str, object], point: object, *, what: str) -> tuple[int, ...]:
    items = name_list(params, "items")
    total = params["total"]
    if not isinstance(point, tuple | list):
        raise DecisionError("not_a_list", f"{what}: expected a list of {len(items)} integers")
    if len(point) != len(items):
        raise DecisionError(
            "wrong_size", f"{what}: {len(point)} amounts for {len(items)} items {items}"
        )
    for amount in point:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise DecisionError("not_an_integer", f"{what}: {amount!r} is not an integer")
        if amount < 0:
            raise DecisionError("negative_amount", f"{what}: {amount} is negative")
    if sum(point) != total:
        raise DecisionError("bad_total", f"{what}: amounts sum to {sum(point)}, not {total}")
    return tuple(point)


def _board_point(
    params: Mapping[str, object], point: object, *, what: str, is_status_quo: bool
) -> tuple[str, ...]:
    chosen = _names(point, what=what)
    k = params["k"]
    assert isinstance(k, int)
    if is_status_quo:
        # The sitting board: at most k names, not necessarily standing again (or empty).
        if len(chosen) > k:
            raise DecisionError("wrong_size", f"{what}: {len(chosen)} names for {k} seats")
        return tuple(sorted(chosen))
    candidates = set(name_list(params, "candidates"))
    unknown = sorted(set(chosen) - candidates)
    if unknown:
        raise DecisionError("unknown_name", f"{what}: {unknown[0]!r} is not a candidate")
    if what.startswith("proposal") and len(chosen) != k:
        raise DecisionError("wrong_size", f"{what}: a board has exactly {k} members")
    return tuple(sorted(chosen))


def _officer_point(
    params: Mapping[str, object], point: object, *, what: str, is_status_quo: bool
) -> object:
    candidates = set(name_list(params, "candidates"))
    known = params.get("status_quo")
    if is_status_quo:
        return _check_name(point, what=what)
    if what.startswith("proposal"):
        if not isinstance(point, str) or point not in candidates:
            raise DecisionError("unknown_name", f"{what}: {point!r} is not a candidate")
        return point
    ranking = _names(point, what=what)
    outside = [name for name in ranking if name not in candidates]
    if known is not None:
        outside = [name for name in outside if name != known]
        if known not in ranking:
            raise DecisionError("missing_status_quo", f"{what}: must rank {known!r}")
    elif not outside:
        raise DecisionError("missing_status_quo", f"{what}: must rank the status quo")
    elif len(outside) == 1:
        outside = []
    if outside:
        raise DecisionError("unknown_name", f"{what}: {outside[0]!r} is not a candidate")
    return ranking
