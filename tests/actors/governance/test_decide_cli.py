"""``peoplenet decide FILE.json [--json]``: file format, output, and exit 2 on bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peoplenet.actors.governance.decide_cli import run

WORKED = {
    "kind": "rate",
    "members": 5,
    "status_quo": 5,
    "threshold": 0.5,
    "ballots": [3, 4, 4.5, 6, 7],
    "params": {"lo": 0, "hi": 10, "step": 0.5},
}


def write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "decision.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_worked_example_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(write(tmp_path, WORKED), True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"outcome": 4.5, "adopted": True, "support": 0.6, "score": 0.5}


def test_worked_example_two_thirds_as_a_fraction_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(write(tmp_path, {**WORKED, "threshold": "2/3"}), True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"outcome": 5, "adopted": False, "support": 0.6, "score": 0.5}


def test_human_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(write(tmp_path, WORKED), False) == 0
    out = capsys.readouterr().out
    assert "adopted 9/2 (4.5)" in out
    assert "support 3/5 (0.6)" in out
    assert run(write(tmp_path, {**WORKED, "threshold": "2/3"}), False) == 0
    assert "status quo 5 stays" in capsys.readouterr().out


KIND_FILES = [
    (
        {"kind": "budget", "members": 3, "status_quo": [5, 5], "threshold": 0.5,
         "ballots": [[8, 2], [7, 3], [6, 4]], "params": {"items": ["a", "b"], "total": 10}},
        {"outcome": [7, 3], "adopted": True, "support": 0.6666666666666666, "score": 8},
    ),
    (
        {"kind": "ranking", "members": 2, "status_quo": ["b", "a"], "threshold": 0.5,
         "ballots": [["a", "b"], ["a", "b"]], "params": {"items": ["a", "b"]}},
        {"outcome": ["a", "b"], "adopted": True, "support": 1, "score": 2},
    ),
    (
        {"kind": "board", "members": 2, "status_quo": [], "threshold": 0.5,
         "ballots": [["bo", "ann"], ["ann", "bo", "cy"]],
         "params": {"candidates": ["ann", "bo", "cy"], "k": 2}},
        {"outcome": ["ann", "bo"], "adopted": True, "support": 1, "score": 4},
    ),
    (
        {"kind": "bylaws", "members": 2, "status_quo": ["c2"], "threshold": 0.5,
         "ballots": [["c1"], ["c1"]], "params": {"clauses": ["c1", "c2"]}},
        {"outcome": ["c1"], "adopted": True, "support": 1, "score": 4},
    ),
    (
        {"kind": "officer", "members": 3, "status_quo": "vacant", "threshold": 0.5,
         "ballots": [["ada", "vacant"], ["ada", "ben", "vacant"], ["vacant", "ben"]],
         "params": {"candidates": ["ada", "ben"]}},
        {"outcome": "ada", "adopted": True, "support": 0.6666666666666666, "score": 1},
    ),
    (
        {"kind": "admission", "members": 4, "status_quo": False, "threshold": 0.5,
         "sybil_estimate": 0.2, "ballots": [True, True, True, False]},
        {"outcome": True, "adopted": True, "support": 0.75, "score": 2},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), KIND_FILES, ids=lambda v: str(v.get("kind", "")))
def test_every_ballot_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, object], expected: object
) -> None:
    assert run(write(tmp_path, data), True) == 0
    assert json.loads(capsys.readouterr().out) == expected


BAD_FILES = [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_file"),
    ('{"kind": "rate", "members": 1, "status_quo": 1, "threshold": NaN}', "bad_json"),
    ({k: v for k, v in WORKED.items() if k != "ballots"}, "missing_key"),
    ({**WORKED, "colour": "red"}, "unknown_key"),
    ({**WORKED, "kind": "poll"}, "unknown_kind"),
    ({**WORKED, "ballots": [3, 4.25]}, "off_step"),
    ({**WORKED, "ballots": [3, "four"]}, "not_a_number"),
    ({**WORKED, "threshold": 1}, "bad_threshold"),
    ({**WORKED, "threshold": "3/0"}, "bad_threshold"),
    ({**WORKED, "members": 4}, "too_many_ballots"),
    ({**WORKED, "params": {"lo": 0, "hi": 10}}, "missing_param"),
    ({**WORKED, "params": [1]}, "bad_params"),
    ({**WORKED, "proposals": 4}, "not_a_list"),
    (
        {"kind": "budget", "members": 1, "status_quo": [5, 5], "threshold": 0.5,
         "ballots": [[6, 5]], "params": {"items": ["a", "b"], "total": 10}},
        "bad_total",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "reason"), BAD_FILES)
def test_bad_files_exit_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: object, reason: str
) -> None:
    path = write(tmp_path, data)
    assert run(path, True) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"peoplenet decide: {path}: {reason}: ")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(tmp_path / "nowhere.json"), False) == 2
    assert ": unreadable: " in capsys.readouterr().err


@pytest.mark.processes
def test_module_entry_point_in_a_child_process(tmp_path: Path) -> None:
    path = write(tmp_path, WORKED)
    command = [sys.executable, "-m", "peoplenet.actors.governance.decide_cli", path, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "outcome": 4.5, "adopted": True, "support": 0.6, "score": 0.5,
    }  # fmt: skip
    bad = write(tmp_path, {**WORKED, "ballots": [4.25]})
    done = subprocess.run(
        [*command[:3], bad], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "off_step" in done.stderr
