"""The cooperative part of ``make demo``: found, admit through sureties and a vote, set a rate.

Runs against the demo's live node processes through their control sockets -- the same
operations ``peoplenet coop ...`` uses -- so what it shows is what members get.
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
from peoplenet.apps.currency.demo import DEMO_MINT
from peoplenet.plugins.manager import load_apps
from peoplenet.runtime.errors import DemoFailed, PeoplenetError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, wait_for
from peoplenet.runtime.wire.codec import Value

COOP: Final = "night riders"
STEP_S: Final = 90.0
CHARTER: Final = {
    "voting_period_ms": 4000,
    "admission_sureties": 2,
    "rates": [{"name": "commission", "lo": 0, "hi": 30, "step": "1/2", "initial": 10}],
}
CURRENCY: Final = "currency"
CURRENCY_SETTINGS: Final = {"ubi_per_period": 0, "claim_deadline_ms": 120_000}
RATE_BALLOTS: Final = {"alice": "3", "bob": "4", "carol": "4.5", "dave": "6", "erin": "7"}


def run(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    workdir: Path,
    out: TextIO,
    first_step: int,
) -> None:
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
        _submit(nodes[voucher], "coop_countersign", {"half": half["half"]})
        print(f"  erin signed a half, {voucher} countersigned and submitted it", file=out)
    _until(out, "both sureties are ordered", lambda: len(_show(nodes["alice"])["sureties"]) == 2)

    step += 1
    print(f"{step}. alice proposes to admit erin; the four founders vote yes", file=out)
    number = _open(nodes["alice"], {"kind": "admission", "subject": erin.member.hex()})
    for name in founders:
        _submit(nodes[name], "coop_vote", {"decision": number, "ballot": "true"})
    _until(out, f"decision #{number} closed", lambda: _closed(nodes["alice"], number))
    _print_decision(out, _decision(nodes["alice"], number))
    _until(
        out,
        "consensus moved to epoch 1 with erin as a participant, on every phone",
        lambda: all(_show(n)["epoch"] == 1 for n in nodes.values()),
    )

    step += 1
    print(f"{step}. bob proposes a new commission rate; all five vote", file=out)
    number = _open(nodes["bob"], {"kind": "rate", "subject": "commission"})
    for name, ballot in RATE_BALLOTS.items():
        _submit(nodes[name], "coop_vote", {"decision": number, "ballot": ballot})
        print(f"  {name:<6} wants {ballot}%", file=out)
    _until(
        out,
        f"decision #{number} closed on every phone",
        lambda: all(_closed(n, number) for n in nodes.values()),
    )
    _print_decision(out, _decision(nodes["carol"], number))

    step += 1
    print(f"{step}. every phone holds the same state; dave audits it from the blocks", file=out)
    _until(
        out,
        "the five state digests agree",
        lambda: len({_show(n)["digest"] for n in nodes.values()}) == 1,
    )
    shown = _show(nodes["dave"])
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

    step += 1
    _enable_currency(nodes, out, step)
    run_app_demos(nodes, identities, out, step + 1)


def _enable_currency(nodes: Mapping[str, LocalNode], out: TextIO, step: int) -> None:
    print(
        f"{step}. dave proposes to enable the currency app, minting {DEMO_MINT} cooperative"
        " coins to erin; all five vote yes",
        file=out,
    )
    number = _open(
        nodes["dave"],
        {
            "kind": "app",
            "subject": CURRENCY,
            "settings": json.dumps(CURRENCY_SETTINGS),
            "action": json.dumps({"mint": DEMO_MINT, "to": nodes["erin"].member.hex()}),
        },
    )
    for name in nodes:
        _submit(nodes[name], "coop_vote", {"decision": number, "ballot": "true"})
    _until(
        out,
        f"decision #{number} closed and the app enabled on every phone",
        lambda: all(_closed(n, number) and _app_enabled(n, CURRENCY) for n in nodes.values()),
    )
    _print_decision(out, _decision(nodes["erin"], number))


def run_app_demos(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    out: TextIO,
    first_step: int,
) -> int:
    """Every installed app the cooperative enabled runs its ``peoplenet_demo`` part."""
    registry = load_apps(use_entry_points=False)
    step = first_step
    for app in registry.names():
        if not registry.implements(app, "peoplenet_demo") or not _app_enabled(
            next(iter(nodes.values())), app
        ):
            continue
        driver = NodeDemoDriver(app, nodes, identities, out, step)
        try:
            registry.hook(app, "peoplenet_demo")(demo=driver)
        except DemoFailed as exc:
            raise DemoFailed(f"the {app} app's demo: {exc}") from None
        step = driver.next_step
    return step


class NodeDemoDriver:
    """:class:`peoplenet.plugins.demo.DemoDriver` over the demo's live nodes (control sockets)."""

    def __init__(
        self,
        app: str,
        nodes: Mapping[str, LocalNode],
        identities: Mapping[str, Identity],
        out: TextIO,
        first_step: int,
    ) -> None:
        self._app = app
        self._nodes = nodes
        self._ids = {n: bytes(identities[n].member_id).hex() for n in nodes}
        self._out = out
        self.next_step = first_step

    @property
    def app(self) -> str:
        return self._app

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def member_id(self, name: str) -> str:
        return self._ids[name]

    def command(self, name: str, command: str, **args: Value) -> Value:
        try:
            answer = self._nodes[name].call(
                "coop_app",
                {"community": COOP, "app": self._app, "command": command, "args": args},
            )
        except PeoplenetError as exc:
            raise DemoFailed(f"{command} on {name}'s phone: {exc}") from None
        result: Value = answer.get("result") if isinstance(answer, dict) else answer
        return result

    def until(self, what: str, check: Callable[[], bool]) -> None:
        _until(self._out, what, check)

    def step(self, title: str) -> None:
        print(f"{self.next_step}. {title}", file=self._out, flush=True)
        self.next_step += 1

    def say(self, text: str) -> None:
        print(f"  {text}", file=self._out, flush=True)


def _app_enabled(node: LocalNode, app: str) -> bool:
    status = node.call("coop_app_status", {"community": COOP, "app": app})
    return isinstance(status, dict) and status.get("enabled") is True


def _show(node: LocalNode) -> dict[str, Any]:
    shown = node.call("coop_show", {"community": COOP})
    assert isinstance(shown, dict)
    return shown


def _decision(node: LocalNode, number: int) -> dict[str, Any]:
    decisions = _show(node)["decisions"]
    return decisions[number - 1] if len(decisions) >= number else {}


def _closed(node: LocalNode, number: int) -> bool:
    return _decision(node, number).get("status") == "closed"


def _submit(node: LocalNode, op: str, args: dict[str, Any]) -> dict[str, Any]:
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


def _open(node: LocalNode, args: dict[str, Any]) -> int:
    number = _submit(node, "coop_propose", args).get("opened")
    if not isinstance(number, int):
        raise DemoFailed("the proposal opened no decision")
    return number


def _until(out: TextIO, what: str, check: Callable[[], bool]) -> None:
    started = time.monotonic()
    if not wait_for(check, STEP_S, interval=0.1):
        raise DemoFailed(f"not within {STEP_S:.0f} s: {what}")
    print(f"  ok ({time.monotonic() - started:.1f} s): {what}", file=out, flush=True)


def _print_decision(out: TextIO, d: dict[str, Any]) -> None:
    verdict = "adopted" if d.get("adopted") else "status quo kept"
    print(
        f"  #{d.get('number')} {d.get('kind')}: {verdict}, outcome {json.dumps(d.get('outcome'))},"
        f" support {d.get('support')}, score {d.get('score')}",
        file=out,
    )
