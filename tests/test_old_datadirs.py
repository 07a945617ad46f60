"""Data directories written by earlier code open unchanged, and every ``--json`` output stays.

``tests/data/old-datadirs-v1.tar.gz`` holds three members' data directories made by
``tests/data/make_old_datadirs.py`` (friends, posts, petnames, a cooperative with two decisions,
the currency app and payments); ``old-datadirs-v1.expected.json`` holds what every read-only
``--json`` command printed on them then. This test runs the same commands with the code under
test -- through the command line only, never importing the project's modules, so it holds
across a move of every module -- and compares, ignoring only the recorded JSON paths whose
values differ from run to run (the time now, the port a node listens on).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CLI_MODULE = "peoplenet"
"""The command line under test, run as ``python -m CLI_MODULE``."""

DATA = Path(__file__).resolve().parent / "data"
TARBALL = DATA / "old-datadirs-v1.tar.gz"
EXPECTED = DATA / "old-datadirs-v1.expected.json"


def _kit() -> ModuleType:
    """The fixture's maker, loaded by path: it imports nothing of the project."""
    spec = importlib.util.spec_from_file_location(
        "make_old_datadirs", DATA / "make_old_datadirs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


kit = _kit()


@pytest.fixture
def started() -> Iterator[list[Any]]:
    """Every node the test starts: stopped (then killed by group), none may leave a process."""
    nodes: list[Any] = []
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        left = {node.name: node.left_behind() for node in nodes}
        assert not any(left.values()), f"processes left behind: {left}"


@pytest.mark.slow
@pytest.mark.processes
def test_old_datadirs_open_and_print_the_same_json(tmp_path: Path, started: list[Any]) -> None:
    expected = json.loads(EXPECTED.read_text())
    stored = kit.extract(TARBALL, tmp_path)
    assert [str(p) for p in stored] == expected["stored_files"]

    outputs = kit.record(CLI_MODULE, tmp_path, started)  # raises on any refused command

    got = _without_new_apps(kit.normalise(outputs, expected["normalised"]), expected["outputs"])
    assert sorted(got) == sorted(expected["outputs"])
    changed = {
        command: kit.differing_paths(expected["outputs"][command], got[command])
        for command in got
        if got[command] != expected["outputs"][command]
    }
    assert changed == {}, "outputs differ from the recorded ones (command: JSON paths)"
    # a SQLite write-ahead log may be folded into its database and removed on a clean close
    kept = [p for p in stored if not p.name.endswith(("-wal", "-shm"))]
    gone = [p for p in kept if not (tmp_path / p).is_file()]
    assert gone == [], f"stored files gone after the nodes ran: {gone}"


def _without_new_apps(got: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
    """``apps list`` as it was recorded: the apps bundled since then (an addition, like a new
    key) are left out of its lists; every app that was there compares in full."""
    out = dict(got)
    for command, shown in got.items():
        if not command.endswith("apps list --json") or command not in recorded:
            continue
        then = recorded[command]
        known = {app["name"] for app in then["installed"]}
        known |= {app["name"] for coop in then["cooperatives"] for app in coop["apps"]}
        kept = json.loads(json.dumps(shown))
        kept["installed"] = [a for a in kept["installed"] if a["name"] in known]
        for coop in kept["cooperatives"]:
            coop["apps"] = [a for a in coop["apps"] if a["name"] in known]
        out[command] = kept
    return out


def test_apps_bundled_since_are_left_out_and_nothing_else() -> None:
    """Only apps the recording did not know are dropped: a recorded app that went missing or
    changed still shows as a difference."""
    expected = json.loads(EXPECTED.read_text())
    outputs = expected["outputs"]
    command = next(
        k for k in outputs if k.endswith("apps list --json") and outputs[k]["cooperatives"]
    )
    grown = json.loads(json.dumps(outputs))
    new_app = {"name": "ride_hailing", "source": "x", "summary": "x", "version": "1.0"}
    grown[command]["installed"].append(new_app)
    grown[command]["cooperatives"][0]["apps"].append({"name": "ride_hailing", "enabled": False})
    assert _without_new_apps(grown, outputs) == outputs
    gone = json.loads(json.dumps(outputs))
    gone[command]["installed"] = []
    assert _without_new_apps(gone, outputs)[command] != outputs[command]


def test_normalising_keeps_everything_but_the_recorded_paths() -> None:
    """The comparison is exact outside the recorded paths: a changed key or value shows."""
    expected = json.loads(EXPECTED.read_text())
    outputs = expected["outputs"]
    assert kit.normalise(outputs, expected["normalised"]) == outputs
    status = next(k for k in outputs if k.endswith(": status --json"))
    renamed = json.loads(json.dumps(outputs))
    renamed[status]["blocks_stored"] = renamed[status].pop("blocks")
    assert kit.differing_paths(outputs[status], renamed[status]) == ["blocks", "blocks_stored"]
    assert kit.normalise(renamed, expected["normalised"]) != outputs
