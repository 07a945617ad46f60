"""The cooperative part of ``make demo``: found, admit through sureties and a vote, set a rate.

Runs against the demo's live node processes through their control sockets -- the same
operations ``peoplenet coop ...`` uses -- so what it shows is what members get.  It is a
:class:`~peoplenet.actors.member.demo.DemoPart`; the helpers below (propose, submit, wait) serve
the parts that come after it too (the apps').
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, TextIO

from peoplenet.actors.coop.audit import audit
from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding, write_coop_file
from peoplenet.actors.governance.charter import Founding
from peoplenet.runtime.errors import DemoFailed
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, wait_for
from peoplenet.runtime.wire.codec import Value

COOP: Final = "night riders"
STEP_S: Final = 90.0
CHARTER: Final = {
    "voting_period_ms": 4000,
    "admission_sureties": 2,
    "rates": [{"name": "commission", "lo": 0, "hi": 30, "step": "1/2", "initial": 10}],
    "officers": ["dispatcher"],
}
RATE_BALLOTS: Final = {"alice": "3", "bob": "4", "carol": "4.5", "dave": "6", "erin": "7"}


def run(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    workdir: Path,
    out: TextIO,
    first_step: int,
) -> int:
    """The cooperative's steps, from ``first_step``; the number of the next step."""
    founders = ["alice", "bob", "carol", "dave"]
    step = first_step
    print(f"{step}. alice, bob, carol and dave found the cooperative {COOP!r}", file=out)
    ids = tuple(sorted(bytes(identities[n].member_id) for n in founders))
    unsigned = Founding(COOP, charter_from_json(CHARTER), ids, int(time.time() * 1000), ())
    coop = CoopFile(unsigned, 500)
    for name in founders:  # each founder signs on their own phone; here all keys are at hand
        coop = sign_founding(coop, identities[name])
    path = workdir / "night-riders.coop"
    write_coop_file(path, coop)
    args: dict[str, Value] = {
        "genesis": coop.genesis_bytes(),
        "founding": coop.founding_bytes(),
        "name": COOP,
    }
    for name, node in nodes.items():
        joined = node.call("community_join", args)
        role = "participant" if joined.get("participant") else "observer (not a member yet)"
        print(f"  {name:<6} joined as {role}", file=out)

    step += 1
    print(f"{step}. erin gets mutual sureties from alice and bob", file=out)
    erin = nodes["erin"]
    for voucher in ("alice", "bob"):
        member = nodes[voucher].member.hex()
        half = erin.call("coop_vouch", {"community": COOP, "member": member})
        submit(nodes[voucher], "coop_countersign", {"half": half["half"]})
        print(f"  erin signed a half, {voucher} countersigned and submitted it", file=out)
    until(out, "both sureties are ordered", lambda: len(show(nodes["alice"])["sureties"]) == 2)

    step += 1
    print(f"{step}. alice proposes to admit erin; the four founders vote yes", file=out)
    number = propose(nodes["alice"], {"kind": "admission", "subject": erin.member.hex()})
    for name in founders:
        submit(nodes[name], "coop_vote", {"decision": number, "ballot": "true"})
    until(out, f"decision #{number} closed", lambda: closed(nodes["alice"], number))
    print_decision(out, decision(nodes["alice"], number))
    until(
        out,
        "consensus moved to epoch 1 with erin as a participant, on every phone",
        lambda: all(show(n)["epoch"] == 1 for n in nodes.values()),
    )

    step += 1
    print(f"{step}. bob proposes a new commission rate; all five vote", file=out)
    number = propose(nodes["bob"], {"kind": "rate", "subject": "commission"})
    for name, ballot in RATE_BALLOTS.items():
        submit(nodes[name], "coop_vote", {"decision": number, "ballot": ballot})
        print(f"  {name:<6} wants {ballot}%", file=out)
    until(
        out,
        f"decision #{number} closed on every phone",
        lambda: all(closed(n, number) for n in nodes.values()),
    )
    print_decision(out, decision(nodes["carol"], number))

    step += 1
    print(f"{step}. every phone holds the same state; dave audits it from the blocks", file=out)
    until(
        out,
        "the five state digests agree",
        lambda: len({show(n)["digest"] for n in nodes.values()}) == 1,
    )
    shown = show(nodes["dave"])
    print(
        f"  members {len(shown['members'])},"
        f" commission {float(Fraction(shown['params']['commission']))}%,"
        f" epoch {shown['epoch']}",
        file=out,
    )
    report = audit(nodes["dave"].data, COOP, shown)
    verdict = "matches" if not report.mismatches else f"MISMATCH {report.mismatches}"
    print(
        f"  audit: {report.transactions} transactions, {report.epochs} epochs,"
        f" {report.decisions} decisions recomputed: {verdict}",
        file=out,
    )
    if report.mismatches:
        raise DemoFailed("the audit found a mismatch")

    return step + 1


def show(node: LocalNode) -> dict[str, Any]:
    shown = node.call("coop_show", {"community": COOP})
    assert isinstance(shown, dict)
    return shown


def decision(node: LocalNode, number: int) -> dict[str, Any]:
    decisions = show(node)["decisions"]
    return decisions[number - 1] if len(decisions) >= number else {}


def closed(node: LocalNode, number: int) -> bool:
    return decision(node, number).get("status") == "closed"


def submit(node: LocalNode, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Submit and wait until ordered; a rejection is a failure of the demo."""
    sent = node.call(op, {"community": COOP, **args})
    key = sent["key"]
    result: dict[str, Any] = {}

    def ordered() -> bool:
        nonlocal result
        result = node.call("coop_tx", {"community": COOP, "key": key})
        return result.get("status") != "pending"

    if not wait_for(ordered, STEP_S, interval=0.05):
        raise DemoFailed(f"{op} by {node.name} was not ordered in {STEP_S:.0f} s")
    if result.get("status") != "applied":
        raise DemoFailed(f"{op} by {node.name} was refused: {result}")
    return result


def propose(node: LocalNode, args: dict[str, Any]) -> int:
    number = submit(node, "coop_propose", args).get("opened")
    if not isinstance(number, int):
        raise DemoFailed("the proposal opened no decision")
    return number


def until(out: TextIO, what: str, check: Callable[[], bool]) -> None:
    started = time.monotonic()
    if not wait_for(check, STEP_S, interval=0.1):
        raise DemoFailed(f"not within {STEP_S:.0f} s: {what}")
    print(f"  ok ({time.monotonic() - started:.1f} s): {what}", file=out, flush=True)


def print_decision(out: TextIO, d: dict[str, Any]) -> None:
    verdict = "adopted" if d.get("adopted") else "status quo kept"
    print(
        f"  #{d.get('number')} {d.get('kind')}: {verdict}, outcome {json.dumps(d.get('outcome'))},"
        f" support {d.get('support')}, score {d.get('score')}",
        file=out,
    )
