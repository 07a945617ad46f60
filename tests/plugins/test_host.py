"""The app platform inside a cooperative: loading, lifecycle by vote, isolation, consent.

Driven through the cooperative's real consumer and governance fold (no processes): an ``app``
decision enables an app, its transactions go through the fold, a disable keeps its state.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.consumer import CoopCommandRefused, CoopConsumer
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding
from peoplenet.actors.governance.charter import Founding
from peoplenet.actors.governance.records import AppTx, Close, GovTx, Open, Vote
from peoplenet.plugins.api import AppSpec, ParamSpec, PluginError
from peoplenet.plugins.coop_apps import CoopApps
from peoplenet.plugins.guard import Guard, PluginFailed
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.manager import AppRegistry, load_apps
from peoplenet.runtime.consensus.consumer import ConsumerError, IdentitySigner
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.app_lace import LaceBlocks
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.wire.codec import Value, encode
from tests.plugin_fixtures import (
    Add,
    BadSpecApp,
    CounterApp,
    HangingApp,
    MisnamedHookApp,
    NodeRefusingFoldApp,
    Note,
    RaisingApp,
)

CHARTER = {
    "voting_period_ms": 1000,
    "rates": [{"name": "fee", "lo": 0, "hi": 10, "step": 1, "initial": 5}],
}


def _people(n: int) -> list[Identity]:
    return sorted(
        (Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)), key=lambda i: i.member_id
    )


class Coop:
    """One member's cooperative consumer with the given apps, and the others' hands."""

    def __init__(self, tmp: Path, plugins: Sequence[object], *, deadline_s: float = 2.0) -> None:
        self.people = _people(4)
        ids = tuple(sorted(bytes(p.member_id) for p in self.people))
        coop = CoopFile(Founding("t", charter_from_json(CHARTER), ids, 1_000, ()), 500)
        for p in self.people:
            coop = sign_founding(coop, p)
        genesis = coop.genesis()
        (tmp / f"{genesis.lace().hex()}.founding").write_bytes(coop.founding_bytes())
        self.registry = load_apps(
            bundled=(), use_entry_points=False, extra=[(type(p).__name__, p) for p in plugins]
        )
        self.consumer = CoopConsumer(
            genesis,
            tmp,
            IdentitySigner(self.people[0]),
            apps=functools.partial(CoopApps, registry=self.registry),
        )
        host = self.consumer.apps.host
        assert isinstance(host, AppHost)  # a registry given: the apps run in this process
        self.host = host
        host.deadline_s = deadline_s
        self.now = 2_000

    def deliver(self, txs: Sequence[tuple[Identity, Value]]) -> list[Value]:
        state = self.consumer.governance.state
        start = self.consumer.delivered_count
        batch = [
            Delivery(state.genesis.epoch, start + i, BlockId(bytes(32)), MemberId(p.member_id), tx)
            for i, (p, tx) in enumerate(txs)
        ]
        self.now += 10
        return list(self.consumer.delivered(batch, [state.genesis], self.now).submit)

    def decide_app(self, name: str, settings: dict[str, Value], *, enabled: bool = True) -> int:
        args: dict[str, Value] = {
            "kind": "app",
            "subject": name,
            "settings": json.dumps(settings),
        }
        if not enabled:
            args["disable"] = True
        # Everyone's clock claim first (a refused Close still counts), so community time is now.
        self.deliver([(q, GovTx(self.now, Close(10_000))) for q in self.people])
        _, out = self.consumer.command("coop_propose", args, self.now)
        (open_tx,) = out.submit
        assert isinstance(open_tx, GovTx) and isinstance(open_tx.action, Open)
        self.deliver([(self.people[0], open_tx)])
        number = len(self.consumer.governance.state.decisions)
        self.deliver([(p, GovTx(self.now, Vote(number, True))) for p in self.people])
        self.now += 2_000
        self.deliver([(p, GovTx(self.now, Close(number))) for p in self.people[:3]])
        d = self.consumer.governance.state.decision(number)
        assert d is not None and not d.is_open and d.adopted, d
        return number

    def app(self, command: str, args: dict[str, Value] | None = None, app: str = "counter") -> Any:
        result, out = self.consumer.command(
            "coop_app", {"app": app, "command": command, "args": args or {}}, self.now
        )
        assert isinstance(result, dict)
        self.last_out = out
        return result

    def submit_app_tx(self, who: Identity, app: str, tx: Any) -> Any:
        gov = GovTx(self.now, AppTx(app, encode(tx)))
        self.deliver([(who, gov)])
        from peoplenet.runtime.consensus.core import tx_key  # noqa: PLC0415

        status, _ = self.consumer.command("coop_tx", {"key": tx_key(gov).hex()}, self.now)
        assert isinstance(status, dict)
        return status


def test_load_apps_registers_plugins_and_sets_broken_ones_aside() -> None:
    counter = CounterApp()
    registry = load_apps(
        bundled=("no_such_module_here",),
        use_entry_points=False,
        extra=[("counter", counter), ("typo", MisnamedHookApp()), ("badspec", BadSpecApp())],
    )
    assert registry.names() == ["counter"]
    reasons = {b.source: b.reason for b in registry.broken}
    assert "cannot import" in reasons["no_such_module_here"]
    assert "unknown hook" in reasons["typo"] and "peoplenet_aply_tx" in reasons["typo"]
    assert "bad declaration" in reasons["badspec"] and "outside" in reasons["badspec"]
    with pytest.raises(PluginError, match="peoplenet_aply_tx"):
        load_apps(
            bundled=(), use_entry_points=False, extra=[("typo", MisnamedHookApp())], strict=True
        )
    again = load_apps(
        bundled=(), use_entry_points=False, extra=[("a", CounterApp()), ("b", CounterApp())]
    )
    assert again.names() == ["counter"] and "already taken" in again.broken[0].reason


def test_app_spec_declarations_are_checked() -> None:
    with pytest.raises(PluginError, match="must match"):
        AppSpec(name="Bad Name", version="1", summary="x")
    with pytest.raises(PluginError, match="app wire tag"):
        AppSpec(name="x", version="1", summary="x", tx_types=(GovTx,))
    with pytest.raises(PluginError, match="undeclared"):
        AppSpec(name="x", version="1", summary="x", uses_lace=True, lace_records=((Note, "n"),))
    spec = ParamSpec("fee", "rate", "1/2", minimum=0, maximum="3/4")
    assert spec.check("0.5") == "1/2" and spec.check(0) == "0"
    for bad in ("1", True, "x"):
        with pytest.raises(Exception, match="setting"):
            spec.check(bad)


def test_enabling_by_vote_then_transactions_then_disable_keeps_state(tmp_path: Path) -> None:
    coop = Coop(tmp_path, [CounterApp()])
    p = coop.people
    # before the vote: the fold refuses the app's transactions
    assert coop.submit_app_tx(p[1], "counter", Add(1))["reason"] == "app_disabled"
    with pytest.raises(CoopCommandRefused, match="app_disabled"):
        coop.app("add", {"n": 1})
    coop.decide_app("counter", {"step": 3})
    assert coop.app("show") == {"result": {"total": 0}, "submitted": ()}
    applied = coop.submit_app_tx(p[1], "counter", Add(2))
    assert applied["status"] == "applied" and applied["app"]["result"] == 2
    over = coop.submit_app_tx(p[2], "counter", Add(4))["app"]
    assert over["status"] == "rejected" and over["reason"] == "over_step"
    bad = coop.submit_app_tx(p[2], "counter", Note("not a tx of this app"))["app"]
    assert bad["reason"] == "unknown_tx"
    # a member's command becomes an AppTx wrapped in a governance transaction
    result = coop.app("add", {"n": 3})
    assert result["result"] == {"queued": 3} and len(result["submitted"]) == 1
    (tx,) = [
        t for t in coop.last_out.submit if isinstance(t, GovTx) and isinstance(t.action, AppTx)
    ]
    coop.deliver([(p[0], tx)])
    assert coop.app("show")["result"] == {"total": 5}
    # a rate decision reaches the app
    _, out = coop.consumer.command(
        "coop_propose", {"kind": "rate", "subject": "fee", "proposal": "3"}, coop.now
    )
    coop.deliver([(p[0], out.submit[0])])
    coop.deliver([(q, GovTx(coop.now, Vote(2, "3"))) for q in p])
    coop.now += 2_000
    coop.deliver([(q, GovTx(coop.now, Close(2))) for q in p[:3]])
    state: Any = coop.host.instances["counter"].state
    assert ("rate", "fee", "3") in state["decisions"]
    # disable: transactions refused, state kept; re-enable with new settings: continues
    coop.decide_app("counter", {}, enabled=False)
    assert coop.submit_app_tx(p[1], "counter", Add(1))["reason"] == "app_disabled"
    coop.decide_app("counter", {"step": 10})
    assert coop.app("show")["result"] == {"total": 5}
    assert coop.submit_app_tx(p[1], "counter", Add(9))["app"]["status"] == "applied"
    changes = state["changes"]
    assert [c[0] for c in changes] == [True, False, True] and changes[-1][1] == {"step": 10}
    listing = coop.consumer.command("coop_apps", {}, coop.now)[0]
    assert isinstance(listing, tuple)
    (row,) = listing
    assert isinstance(row, dict) and row["enabled"] is True and row["applied"] == 3


def test_a_raising_plugin_is_faulted_and_the_others_go_on(tmp_path: Path) -> None:
    coop = Coop(tmp_path, [CounterApp(), RaisingApp()])
    p = coop.people
    coop.decide_app("counter", {})
    coop.decide_app("raiser", {})
    reasons = [coop.submit_app_tx(p[1], "raiser", Add(1))["app"]["reason"] for _ in range(4)]
    assert reasons == ["plugin_failed", "plugin_failed", "plugin_failed", "app_faulted"]
    status = coop.consumer.apps.host.status("raiser")
    assert "3 failures in a row" in str(status["faulted"])
    assert coop.submit_app_tx(p[1], "counter", Add(1))["app"]["status"] == "applied"
    with pytest.raises(CoopCommandRefused, match="app_faulted"):
        coop.app("show", app="raiser")


def test_a_fold_raising_a_node_side_refusal_is_a_plugin_failure(tmp_path: Path) -> None:
    """Only AppTxRejected is a fold's refusal: a command's error raised there would escape the
    host (and a worker would crash on every replay of the same order) if the guard let it by."""
    coop = Coop(tmp_path, [CounterApp(), NodeRefusingFoldApp()])
    p = coop.people
    coop.decide_app("node_refuser", {})
    results = [coop.submit_app_tx(p[1], "node_refuser", Add(1))["app"] for _ in range(4)]
    assert [r["reason"] for r in results] == ["plugin_failed"] * 3 + ["app_faulted"]
    assert "not_here" in str(results[0]["detail"])


def test_a_hanging_plugin_is_cut_off_at_its_deadline(tmp_path: Path) -> None:
    hanger = HangingApp()
    coop = Coop(tmp_path, [CounterApp(), hanger], deadline_s=0.2)
    p = coop.people
    coop.decide_app("counter", {})
    coop.decide_app("hanger", {})
    try:
        started = time.monotonic()
        result = coop.submit_app_tx(p[1], "hanger", Add(1))["app"]
        assert time.monotonic() - started < 5
        assert result["reason"] == "plugin_failed" and "hung" in result["detail"]
        assert coop.submit_app_tx(p[1], "hanger", Add(1))["app"]["reason"] == "app_faulted"
        assert coop.submit_app_tx(p[1], "counter", Add(2))["app"]["result"] == 2
    finally:
        hanger.release.set()


def test_plugins_sign_only_what_the_person_consented_to(tmp_path: Path) -> None:
    counter = CounterApp()
    coop = Coop(tmp_path, [counter])
    coop.decide_app("counter", {})
    # every duties run tried to sign a Spend without consent, and was refused
    assert counter.duty_attempts and set(counter.duty_attempts) == {"ConsentRefused"}
    note = coop.app("note")["result"]  # an automatic purpose: signed
    assert isinstance(note, str) and len(note) == 64
    spent = coop.app("spend", {"amount": 5})["result"]
    assert isinstance(spent, dict) and spent["second"] == "ConsentRefused"
    # the signed blocks went to the other members, chained on my own tip
    sends = [m for _, m in coop.last_out.sends if isinstance(m, LaceBlocks)]
    assert sends and {peer for peer, _ in coop.last_out.sends} == {
        bytes(q.member_id) for q in coop.people[1:]
    }
    blocks = [Block.from_bytes(raw) for m in sends for raw in m.blocks]
    assert len(blocks) == 3 and {b.id.hex() for b in blocks} == {spent["first"]}
    assert blocks[0].pointers == (bytes.fromhex(note),)
    state: Any = coop.host.instances["counter"].state
    assert len(state["notes"]) == 2


def test_the_runtime_signer_signs_app_laces_only() -> None:
    signer = IdentitySigner(Identity.generate())
    with pytest.raises(ConsumerError, match="app laces only"):
        signer.block(b"p/" + bytes(32), Note("x"), ())
    with pytest.raises(ConsumerError, match="app laces only"):
        signer.block(b"c/" + bytes(32), Note("x"), ())
    block = signer.block(b"a/" + bytes(32), Note("x"), ())
    assert block.signature_ok()


def test_guard_counts_failures_in_a_row_and_resets_on_success() -> None:
    guard = Guard("g", deadline_s=1.0, max_failures=2)
    calls = iter([RuntimeError("a"), 1, RuntimeError("b"), RuntimeError("c")])

    def step() -> Any:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    with pytest.raises(PluginFailed, match="raised"):
        guard.call("h", step)
    assert guard.call("h", step) == 1 and guard.failures == {}
    with pytest.raises(PluginFailed):
        guard.call("h", step)
    with pytest.raises(PluginFailed) as caught:
        guard.call("h", step)
    assert caught.value.faulted and guard.faulted
    guard.close()


def test_registry_hooks_reach_only_their_own_app() -> None:
    registry: AppRegistry = load_apps(
        bundled=(), use_entry_points=False, extra=[("c", CounterApp()), ("r", RaisingApp())]
    )
    new_state = registry.hook("counter", "peoplenet_new_state")
    assert new_state(community=b"x", settings={}) == {
        "total": 0,
        "decisions": [],
        "changes": [],
        "notes": [],
    }
    apply = registry.hook("counter", "peoplenet_apply_tx")
    state = {"total": 1}
    assert apply(state=state, tx=Add(2), ctx=None) == 3  # the raiser's version never ran
