"""Helpers for tests that run a cooperative on real member nodes (LocalNode processes)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding, write_coop_file
from peoplenet.actors.governance.charter import Founding
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import Value
from tests.cli_run import run_cli


def app_cli(group: str, coop: str, node: LocalNode | Path, *args: str) -> Any:
    """``peoplenet GROUP COMMAND --data D COOP ... --json`` on ``node`` (or a customer's data
    directory, which runs no node): its JSON answer; the command must succeed."""
    command, *rest = args
    data = node if isinstance(node, Path) else node.data.root
    result = run_cli(
        group, command, "--data", str(data), coop, *rest, "--json", passphrase=PASSPHRASE
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_json(*args: str) -> Any:
    """``peoplenet ARGS --json`` (not an app's command): its JSON answer; it must succeed."""
    result = run_cli(*args, "--json", passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def app_read(node: LocalNode, coop: str, app: str, command: str, args: dict[str, Value]) -> Any:
    """An app's command on ``node`` through its control socket: its result."""
    shown = node.call("coop_app", {"community": coop, "app": app, "command": command, "args": args})
    return shown["result"]


def submit_ordered(
    node: LocalNode, coop: str, op: str, args: dict[str, Any], *, step: float
) -> dict[str, Any]:
    """Send ``op`` to ``node`` for ``coop`` and wait until its transaction is ordered and
    applied (a refusal or a timeout fails the test); the transaction's record."""
    key = node.call(op, {"community": coop, **args})["key"]
    result: dict[str, Any] = {}

    def ordered() -> bool:
        nonlocal result
        result = node.call("coop_tx", {"community": coop, "key": key})
        return result.get("status") != "pending"

    assert wait_for(ordered, step, interval=0.05), f"{op} on {node.name} never ordered"
    assert result.get("status") == "applied", result
    return result


def found_coop(
    made: list[LocalNode],
    identities: Mapping[str, Identity],
    file: Path,
    coop: str,
    charter: Mapping[str, Any],
) -> None:
    """Every member founds ``coop`` (each signature made with that member's key, the file
    written to ``file``) and every node joins it as a participant."""
    ids = tuple(sorted(bytes(i.member_id) for i in identities.values()))
    founding = Founding(coop, charter_from_json(dict(charter)), ids, int(time.time() * 1000), ())
    made_file = CoopFile(founding, 500)
    for identity in identities.values():
        made_file = sign_founding(made_file, identity)
    write_coop_file(file, made_file)
    args: dict[str, Value] = {
        "genesis": made_file.genesis_bytes(),
        "founding": made_file.founding_bytes(),
        "name": coop,
    }
    for node in made:
        assert node.call("community_join", args)["participant"] is True


def make_nodes(
    folder: Path, names: tuple[str, ...], network: str
) -> tuple[list[LocalNode], dict[str, Identity]]:
    """A data directory and identity per name under ``folder`` (not started): the nodes, and
    each name's identity."""
    made: list[LocalNode] = []
    identities: dict[str, Identity] = {}
    for name in names:
        data, identity = create_node(folder / name, network=network)
        made.append(LocalNode(name, data, identity.member_id))
        identities[name] = identity
    return made, identities
