"""``peoplenet decide FILE.json [--json]``: the decision rule on a file, offline.

Why: any member can check a decision by hand (or try a "what if") without a node, and the
numbers are exact: JSON numbers are read as exact decimals, and "n/d" strings are accepted
wherever a fraction is expected (thresholds, rates), so 2/3 need not be rounded.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Final

from peoplenet.actors.governance.decision import (
    YES_NO_KINDS,
    DecisionError,
    DecisionInput,
    DecisionOutcome,
    decide,
    effective_threshold,
)
from peoplenet.actors.governance.kinds import check_kind
from peoplenet.runtime.cli.group import Context, Subparsers

REQUIRED: Final = ("kind", "members", "status_quo", "threshold", "ballots")
OPTIONAL: Final = ("sybil_estimate", "proposals", "params")
_FRACTION_TEXT: Final = re.compile(r"-?\d+(?:/\d+)?")
_NAME_LISTS: Final = frozenset({"items", "candidates", "clauses"})


def _exact(value: object) -> object:
    """JSON numbers and "n/d" strings as exact numbers; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return value
        return Fraction(value)
    if isinstance(value, str) and _FRACTION_TEXT.fullmatch(value):
        numerator, _, denominator = value.partition("/")
        if denominator and int(denominator) == 0:
            return value
        return Fraction(int(numerator), int(denominator or 1))
    return value


def _tuples(value: object) -> object:
    """Lists (also nested) as tuples, the API's form for points."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _point(kind: str, value: object) -> object:
    if kind == "rate":
        return _exact(value)
    if kind in YES_NO_KINDS:
        return value
    return _tuples(value)


def _reject_constant(name: str) -> object:
    raise DecisionError("bad_json", f"{name} is not a number here")


def load_input(text: str) -> DecisionInput:
    """Parse a decision file; raises DecisionError for anything malformed."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DecisionError("bad_json", str(exc)) from None
    if not isinstance(data, dict):
        raise DecisionError("bad_file", "the file must hold one JSON object")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise DecisionError("missing_key", f"the file needs {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DecisionError("unknown_key", f"unexpected {', '.join(unknown)}")
    kind = check_kind(data["kind"])
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise DecisionError("bad_params", "params must be an object")
    lists = {"ballots": data["ballots"], "proposals": data.get("proposals", [])}
    for name, value in lists.items():
        if not isinstance(value, list):
            raise DecisionError("not_a_list", f"{name} must be a list")
    members = data["members"]
    return DecisionInput(
        kind=kind,
        members=members,
        status_quo=_point(kind, data["status_quo"]),
        threshold=_exact(data["threshold"]),  # type: ignore[arg-type]  # decide checks
        sybil_estimate=_exact(data.get("sybil_estimate", 0)),  # type: ignore[arg-type]
        ballots=tuple(_point(kind, v) for v in lists["ballots"]),
        proposals=tuple(_point(kind, v) for v in lists["proposals"]),
        params={
            key: _tuples(value) if key in _NAME_LISTS else _exact(value)
            for key, value in params.items()
        },
    )


def _json_number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _json_value(value: object) -> object:
    if isinstance(value, Fraction):
        return _json_number(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def outcome_json(result: DecisionOutcome) -> dict[str, object]:
    """The tool's output object: outcome, adopted, support and score."""
    return {
        "outcome": _json_value(result.outcome),
        "adopted": result.adopted,
        "support": _json_number(result.support),
        "score": _json_number(result.score),
    }


def _show(value: object) -> str:
    if isinstance(value, Fraction):
        return str(value) if value.denominator == 1 else f"{value} ({float(value):g})"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return json.dumps(value)


def summary(inp: DecisionInput, result: DecisionOutcome) -> str:
    """A few lines a member can read."""
    theta = effective_threshold(Fraction(inp.threshold), Fraction(inp.sybil_estimate))
    head = (
        f"{inp.kind} decision: {len(inp.ballots)} ballots from {inp.members} eligible members, "
        f"a change needs support above {theta}"
    )
    numbers = f"support {_show(result.support)}, score {_show(result.score)}"
    if result.adopted:
        return f"{head}\nadopted {_show(result.outcome)} ({numbers})"
    return f"{head}\nstatus quo {_show(result.outcome)} stays (best candidate: {numbers})"


class DecideCommands:
    """``peoplenet decide FILE.json``: a decision computed from a file, no node needed."""

    def add_parsers(self, sub: Subparsers) -> None:
        decide = sub.add_parser(
            "decide",
            help="compute a decision from a JSON file (members and auditors, no node needed)",
        )
        decide.add_argument("file", metavar="FILE.json")
        decide.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        return run(args.file, args.json)


def run(path: str, as_json: bool) -> int:
    """Decide the file at ``path`` and print the result; 0, or 2 on a bad file."""
    try:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DecisionError("unreadable", str(exc)) from None
        inp = load_input(text)
        result = decide(inp)
    except DecisionError as exc:
        print(f"peoplenet decide: {path}: {exc.reason}: {exc.detail}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(outcome_json(result)))
    else:
        print(summary(inp, result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peoplenet decide", description=__doc__)
    parser.add_argument("file", metavar="FILE", help="the decision as JSON")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    return run(args.file, args.json)


if __name__ == "__main__":
    sys.exit(main())
