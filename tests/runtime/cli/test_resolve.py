"""Naming on the real command line: petnames, prefixes, the squatting rule, option placement.

Two nodes on loopback, driven only through ``python -m peoplenet`` child processes,
as a
member would: ben asks ana to be friends; ana cannot accept him by a short prefix (a pending
request is unverified), names him by his full fingerprint, and from then on uses the petname.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.keys.identity import Identity, fingerprint
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from tests.cli_run import run_cli

pytestmark = pytest.mark.processes

STEP = 60.0


def _ok(*args: str) -> Any:
    result = run_cli(*args, passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _refused(*args: str) -> str:
    result = run_cli(*args, passphrase=PASSPHRASE)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def _section(node: LocalNode, section: str) -> dict[str, dict[str, Any]]:
    shown = _ok("friends", "--json", "--data", str(node.data.root))
    return {e["member"]: e for e in shown[section]}


def test_petnames_prefixes_and_option_placement(tmp_path: Path, nodes: list[LocalNode]) -> None:
    network = f"names-{time.time_ns()}"
    made = []
    for name in ("ana", "ben"):
        data, identity = create_node(tmp_path / name, network=network)
        made.append(LocalNode(name, data, identity.member_id))
    ana, ben = made
    for node in made:
        nodes.append(node)
        node.start()
    a, b = str(ana.data.root), str(ben.data.root)
    ben_hex, ben_fpr = ben.member.hex(), fingerprint(ben.member)

    # --data after the member, before the subcommand's action, and before the command
    _ok("friends", "add", ana.member.hex(), "--data", b)
    assert wait_for(lambda: ben_hex in _section(ana, "pending"), STEP)

    # a pending request is unverified: a short prefix never reaches it
    squat = _refused("friends", "--data", a, "accept", ben_hex[:12])
    assert "unverified_name" in squat and "full fingerprint" in squat
    # the full fingerprint does; it becomes a petname that works from then on
    named = _ok("friends", "name", ben_fpr, "bob", "--data", a, "--json")
    assert named == {"petname": "bob", "member": ben_hex, "fingerprint": ben_fpr}
    stored = Path(a) / "petnames.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    _ok("--data", a, "friends", "accept", "bob")
    assert wait_for(lambda: ben_hex in _section(ana, "friends"), STEP)
    assert _section(ana, "friends")[ben_hex]["petname"] == "bob"
    listing = _ok("--json", "--data", a, "friends")
    assert listing["petnames"] == [{"petname": "bob", "member": ben_hex, "fingerprint": ben_fpr}]
    # a verified friend: a prefix and the fingerprint now name him too
    _ok("friends", "follow", ben_hex[:8], "--data", a)
    _ok("friends", "follow", ben_fpr, "--data", a)

    # petnames that would be confused with ids, or are taken, are refused
    assert "invalid_petname" in _refused("friends", "name", "bob", "deadbeef", "--data", a)
    assert "invalid_petname" in _refused("friends", "name", "bob", "k3tq-7x", "--data", a)
    assert "petname_taken" in _refused("friends", "name", ana.member.hex(), "Bob", "--data", a)

    # an unknown 16-hex prefix says so, and lists what is known
    unknown = _refused("friends", "--data", a, "add", "0123456789abcdef")
    assert "no known member matches the prefix '0123456789abcdef'" in unknown
    assert ben_fpr in unknown and "bob" in unknown
    assert "neither a petname" in _refused("friends", "add", "robert", "--data", a)

    # a post is replied to by a prefix of its block id; --json before the command
    posted = _ok("--json", "post", "hello", "--data", a)
    reply = _ok("post", "re", "--reply", posted["block"][:10], "--data", a, "--json")
    assert reply["block"] != posted["block"]
    assert _ok("--json", "--data", a, "status")["fingerprint"] == fingerprint(ana.member)
    assert _ok("status", "--data", a, "--json")["fingerprint"] == fingerprint(ana.member)

    # founders by petname and fingerprint (a fingerprint used to fail in bytes.fromhex)
    out = tmp_path / "duo.coop"
    founding = _ok(
        "coop", "found", "duo", "--founder", ben_fpr, "--out", str(out), "--data", a, "--json"
    )
    assert sorted(founding["founders"]) == sorted([ana.member.hex(), ben_hex])
    again = _ok(
        "--data", a, "coop", "found", "duo", "--founder", "bob", "--out", str(out), "--force"
    )
    assert "duo" in again

    # an unknown cooperative points at `coop join`, not `community join`
    missing = _refused("coop", "show", "nosuch", "--data", a)
    assert "peoplenet coop join" in missing and "community join" not in missing
    # a cooperative of one with the currency enabled (decision named "#N")
    charter = tmp_path / "charter.json"
    charter.write_text(json.dumps({"voting_period_ms": 5000}))  # a vote is a new process
    solo = tmp_path / "solo.coop"
    _ok("coop", "found", "solo", "--charter", str(charter), "--out", str(solo), "--data", a)
    _ok("coop", "join", str(solo), "--data", a)
    opened = _ok(
        "coop", "propose", "solo", "app", "currency", "--settings", "{}", "--wait", "60",
        "--data", a, "--json",
    )  # fmt: skip
    assert opened["status"] == "applied", opened
    voted = _ok("coop", "vote", "solo", f"#{opened['opened']}", "true", "--wait", "60",
                "--data", a, "--json")  # fmt: skip
    assert voted["status"] == "applied", voted

    def enabled() -> bool:
        apps = ana.call("coop_apps", {"community": "solo"})
        return any(app["name"] == "currency" and app["enabled"] for app in apps)

    assert wait_for(enabled, STEP)
    # an unknown 16-hex payee: no known member matches (it used to ask for "8 hex digits")
    pay = _refused("pay", "solo", "--to", "0123456789abcdef", "--amount", "1", "--data", a)
    assert "no known member matches the prefix" in pay
    assert "at least 8 hex digits" not in pay
    # a member of the cooperative is named like anyone else (here: ana herself, by prefix)
    balance = _ok("balance", "solo", "--data", a, "--json")
    assert set(balance) == {"result", "submitted"}

    # forgetting a petname
    _ok("friends", "unname", "BOB", "--data", a)
    assert "neither a petname" in _refused("friends", "follow", "bob", "--data", a)
    assert json.loads(stored.read_text())["names"] == {}


def test_names_without_a_running_node(tmp_path: Path) -> None:
    data, _identity = create_node(tmp_path / "ana", network="offline")
    d = str(data.root)
    other = create_node(tmp_path / "cai", network="offline")[1].member_id
    # a petname for a full id needs no node, and works for offline commands
    _ok("friends", "name", other.hex(), "cai", "--data", d)
    genesis = tmp_path / "g.bin"
    third = Identity.generate().member_id.hex()
    made = _ok(
        "community", "create", "pair", "--member", "cai", third, "--out", str(genesis),
        "--data", d, "--json",
    )  # fmt: skip
    assert made["participants"] == 2
    assert "listed twice" in _refused(
        "community", "create", "x", "--member", "cai", other.hex(), "--out", str(genesis),
        "--data", d,
    )  # fmt: skip
    # a fingerprint or prefix needs the node to look it up: a clear error, not a hex error
    fpr = _refused("coop", "found", "x", "--founder", fingerprint(other), "--out", "f", "--data", d)
    assert "node_needed_for_name" in fpr and "fromhex" not in fpr and "non-hexadecimal" not in fpr
    short = _refused("coop", "found", "x", "--founder", other.hex()[:6], "--out", "f", "--data", d)
    assert "name_too_short" in short


def test_a_static_peer_is_befriended_by_the_fingerprint_peers_shows(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    """The README's first steps: `friends peers`, then `friends add` with what it printed."""
    network = f"static-{time.time_ns()}"
    ana_data, ana_id = create_node(tmp_path / "ana", network=network, mdns=False)
    ana = LocalNode("ana", ana_data, ana_id.member_id)
    nodes.append(ana)
    ana.start()
    ben_data, ben_id = create_node(tmp_path / "ben", network=network, mdns=False)
    ben = LocalNode("ben", ben_data, ben_id.member_id)
    nodes.append(ben)
    ben.start(peers=(ana.address,))
    b = str(ben.data.root)
    ana_fpr = fingerprint(ana.member)

    def listed() -> bool:
        return any(
            p["fingerprint"] == ana_fpr for p in _ok("friends", "peers", "--data", b, "--json")
        )

    assert wait_for(listed, STEP)
    _ok("friends", "add", ana_fpr, "--data", b)
    assert wait_for(lambda: ben.member.hex() in _section(ana, "pending"), STEP)
