"""A customer reaches a cooperative of real nodes on loopback, without joining it.

Three members found a cooperative on their own nodes and enable, by vote, a tiny app that takes
customers' orders (tests/actors/work/orders_app.py, installed through an entry point as a third
party's would be).  One member writes the cooperative's profile; a fourth person -- their own
data directory and key, never a member -- imports it, signs an order and hands it to one
member's node over the encrypted transport.  The order is carried into the cooperative's order
and applied; the customer then collects receipts from the members' nodes and accepts the
outcome once more than a third of the profile's members signed it.  A replay and a forged
signature are refused with their reasons and change nothing.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.customer_client import Target, hand_over
from peoplenet.actors.work.customers import CustomerRequest, sign_request
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import PASSPHRASE, LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import encode
from tests.cli_run import run_cli

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[3]
COOP = "riders"
STEP = 90.0


class People:
    """The command line, as each person runs it on their own data directory."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def ok(self, *args: str) -> Any:
        done = run_cli(*args, "--json", passphrase=PASSPHRASE, env=self.env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def refused(self, *args: str) -> tuple[Any, str]:
        """A command the cooperative's rules refuse: exit 1, its JSON and its words."""
        done = run_cli(*args, "--json", passphrase=PASSPHRASE, env=self.env)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return json.loads(done.stdout.splitlines()[0]), done.stderr


def _entry_point(site: Path) -> None:
    """The orders app installed as a third party's would be: an entry point in a dist-info."""
    dist = site / "peoplenet_test_orders-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: peoplenet-test-orders\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[peoplenet.apps]\norders = tests.actors.work.orders_app\n"
    )


def test_a_customer_orders_through_a_member_and_gets_receipts(
    tmp_path: Path, nodes: list[LocalNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _entry_point(site)
    path = os.pathsep.join([str(ROOT), str(site)])
    monkeypatch.setenv("PYTHONPATH", path)
    people = People({"PYTHONPATH": path})
    network = f"customers-{time.time_ns()}"
    members: list[LocalNode] = []
    for name in ("ana", "ben", "cai"):
        data, identity = create_node(tmp_path / name, network=network)
        members.append(LocalNode(name, data, identity.member_id))
    rider_data, rider = create_node(tmp_path / "rider", network=network)  # never started
    for node in members:
        nodes.append(node)
        node.start()
    ana, ben, cai = members
    d = {n.name: str(n.data.root) for n in members}

    # the cooperative: founded by three, the orders app enabled by their vote
    charter = tmp_path / "charter.json"
    charter.write_text(json.dumps({"voting_period_ms": 8000}))
    founding = str(tmp_path / "riders.coop")
    others = [a for n in (ben, cai) for a in ("--founder", n.member.hex())]
    people.ok(
        "coop", "found", COOP, *others, "--charter", str(charter), "--timeout-ms", "300",
        "--out", founding, "--data", d["ana"],
    )  # fmt: skip
    for name in ("ben", "cai"):
        people.ok("coop", "found", "--sign", founding, "--data", d[name])
    for node in members:
        people.ok("coop", "join", "--data", d[node.name], founding)
    opened = people.ok(
        "coop", "propose", "--data", d["ana"], COOP, "app", "orders", "--settings", "{}",
        "--wait", "60",
    )  # fmt: skip
    assert opened["status"] == "applied", opened
    number = str(opened["opened"])

    def vote(name: str) -> Any:
        return people.ok("coop", "vote", "--data", d[name], COOP, number, "true", "--wait", "60")

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert all(v["status"] == "applied" for v in pool.map(vote, d))

    def enabled(node: LocalNode) -> bool:
        status = node.call("coop_app_status", {"community": COOP, "app": "orders"})
        return bool(status.get("enabled"))

    assert wait_for(lambda: all(enabled(n) for n in members), STEP), "orders never enabled"

    # the profile: written on ana's node once it has seen the others' nodes
    profile_file = str(tmp_path / "riders.profile")

    def profile_complete() -> bool:
        made = people.ok("coop", "profile", "--data", d["ana"], COOP, "--out", profile_file)
        return all(m["port"] for m in made["members"])

    assert wait_for(profile_complete, STEP), "ana's node never saw every member's node"
    imported = people.ok("customer", "import", "--data", str(rider_data.root), profile_file)
    listed = people.ok("customer", "coops", "--data", str(rider_data.root))
    assert [(p["coop"], p["fingerprint"]) for p in listed] == [(COOP, imported["fingerprint"])]
    assert imported["apps"] == ["orders"]
    assert sorted(m["member"] for m in imported["members"]) == sorted(
        n.member.hex() for n in members
    )

    # the order: signed by the rider, carried by ben's node into the cooperative's order
    r = str(rider_data.root)
    sent = people.ok(
        "customer", "request", "--data", r, COOP, "orders", "--body", '{"dish": "soup"}',
        "--via", ben.member.hex()[:12],
    )  # fmt: skip
    assert (sent["status"], sent["carrier"], sent["seq"]) == ("submitted", ben.member.hex(), 1)
    started = time.monotonic()
    outcome = people.ok("customer", "status", "--data", r, COOP, sent["request"], "--wait", "60")
    print(f"receipts accepted {time.monotonic() - started:.2f} s after the carrier's word")
    assert outcome["accepted"] is True, outcome
    assert outcome["status"] == "applied"
    assert outcome["signers"] >= outcome["needed"] == 2  # more than a third of three
    assert rider.member_id not in {n.member for n in members}

    def orders(node: LocalNode) -> list[Any]:
        listing = people.ok("app", "--data", str(node.data.root), COOP, "orders", "list")
        return list(listing["result"]["orders"])

    taken = orders(cai)
    assert [(o["customer"], o["seq"], o["body"]) for o in taken] == [
        (rider.member_id.hex(), 1, {"dish": "soup"})
    ]

    # a later event: a member serves the order; the customer gets receipts of that too
    people.ok("app", "--data", d["cai"], COOP, "orders", "serve", "--arg", "order=1")
    served = people.ok(
        "customer", "status", "--data", r, COOP, sent["request"], "--event", "served",
        "--wait", "60",
    )  # fmt: skip
    assert (served["accepted"], served["status"], served["detail"]) == (True, "served", "order 1")
    assert served["position"] > outcome["position"] or served["epoch"] > outcome["epoch"]

    # a replay: the very same signed order, through another member's node
    word, words = people.refused(
        "customer", "resend", "--data", r, COOP, sent["request"], "--via", ana.member.hex()[:12]
    )
    assert (word["status"], word["detail"].split(":")[0]) == ("refused", "replayed")
    assert "replayed" in words

    # a forgery: the rider's id and the next seq, signed by someone else; and an order the
    # connection's own key did not sign (someone hands over another customer's request)
    other = Identity.generate()
    honest = sign_request(rider, imported_community(imported), "orders", 2, encode({"dish": "x"}))
    forged = CustomerRequest(
        honest.customer, honest.community, honest.app, honest.seq, honest.body,
        other.sign(honest.digest),
    )  # fmt: skip
    target = Target(cai.member, cai.host, cai.port)
    network_id = rider_data.settings().network_id
    (answer,) = hand_over(rider, network_id, [target], forged)
    assert answer.receipt is not None, answer.error
    assert (answer.receipt.status, answer.receipt.detail.split(":")[0]) == (
        "refused",
        "bad_customer_signature",
    )
    (answer,) = hand_over(other, network_id, [target], honest)
    assert answer.receipt is not None, answer.error
    assert answer.receipt.detail.split(":")[0] == "not_the_customer"
    time.sleep(2.0)  # nothing was carried: nothing arrives late either
    assert all(orders(n) == taken for n in members)


def imported_community(imported: dict[str, Any]) -> bytes:
    return bytes.fromhex(imported["community"])
