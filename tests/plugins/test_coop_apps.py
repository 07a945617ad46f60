"""An ``app`` decision the app refuses is never shown applied while the app kept the old value.

Settings are checked against the app's declared parameters when the proposal is made (a typed
error, nothing submitted), and again by every node that has the app when the adopted decision
is folded: a refused decision reaches no app, and ``coop show``, ``coop decisions`` and
``apps list`` say it was refused and why, with the settings still in force.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.governance.records import AppChange, AppTx, GovTx, Open, Vote
from peoplenet.apps.currency.community import CommunityPay
from peoplenet.bench.coop_net import CoopNet
from peoplenet.plugins.coop_apps import AppProposalRefused
from peoplenet.runtime.wire.codec import Value, encode

GOOD: dict[str, Value] = {"ubi_per_period": 0, "claim_deadline_ms": 60_000}


@pytest.fixture
def net(tmp_path: Path) -> Iterator[CoopNet]:
    net = CoopNet(tmp_path)
    try:
        net.connect()
        yield net
    finally:
        net.close()


def _command(net: CoopNet, i: int, op: str, args: dict[str, Value] | None = None) -> Any:
    result, _ = net.nodes[i].command(op, args or {}, net.now)
    return result


def _crafted(net: CoopNet, settings: Value) -> int:
    """A member's ``app`` proposal that bypassed the command's check, adopted by all."""
    net.clocks()
    change = AppChange(True, settings, None)
    net.queue.append((net.people[1], GovTx(net.now, Open("app", "currency", (), change, None))))
    net.order()
    number = len(net.nodes[0].governance.state.decisions)
    for p in net.people:
        net.queue.append((p, GovTx(net.now, Vote(number, True))))
    net.order()
    net.now += 2_000
    net.clocks()
    net.settle()
    return number


def _listed(net: CoopNet, i: int) -> dict[str, Any]:
    (currency,) = [a for a in _command(net, i, "coop_apps") if a["name"] == "currency"]
    return dict(currency)


def test_a_proposal_with_settings_the_app_refuses_is_refused_before_submitting(
    net: CoopNet,
) -> None:
    args: dict[str, Value] = {"kind": "app", "subject": "currency"}
    with pytest.raises(AppProposalRefused) as caught:
        net.nodes[0].command("coop_propose", {**args, "settings": '{"ubi": 5}'}, net.now)
    assert caught.value.reason == "unknown_setting"
    assert "ubi (known: ubi_per_period, period_ms, claim_deadline_ms)" in str(caught.value)
    with pytest.raises(AppProposalRefused, match="setting_out_of_bounds"):
        net.nodes[0].command("coop_propose", {**args, "settings": '{"period_ms": 5}'}, net.now)
    bad = json.dumps({"ubi_per_period": "many"})
    with pytest.raises(AppProposalRefused, match="bad_setting"):
        net.nodes[0].command("coop_propose", {**args, "settings": bad}, net.now)
    with pytest.raises(AppProposalRefused, match="app_not_installed: no app 'nosuch'"):
        net.nodes[0].command("coop_propose", {**args, "subject": "nosuch"}, net.now)
    net.settle()
    assert net.nodes[0].governance.state.decisions == []  # nothing was submitted


def test_a_refused_change_is_shown_refused_and_the_old_settings_stay(net: CoopNet) -> None:
    net.decide_app("currency", GOOD)
    number = _crafted(net, {"ubi": 5})
    for i in range(len(net.nodes)):
        shown = _command(net, i, "coop_show")["apps"]["currency"]
        assert shown["enabled"] is True
        assert shown["settings"]["claim_deadline_ms"] == 60_000 and "ubi" not in shown["settings"]
        assert shown["decision"] == {
            "number": number,
            "status": "refused",
            "reason": "unknown_setting",
            "detail": "ubi (known: ubi_per_period, period_ms, claim_deadline_ms)",
        }
        (row,) = [d for d in _command(net, i, "coop_decisions") if d["number"] == number]
        assert row["adopted"] is True and row["applied"] is False
        assert row["note"].startswith("refused by the app: unknown_setting")
        listed = _listed(net, i)
        assert listed["settings"] == shown["settings"]
        assert listed["decision"]["status"] == "refused"
    # a later good decision applies, and says so
    net.decide_app("currency", {**GOOD, "claim_deadline_ms": 90_000})
    shown = _command(net, 2, "coop_show")["apps"]["currency"]
    assert shown["settings"] == {"claim_deadline_ms": 90_000, "ubi_per_period": 0}
    assert shown["decision"]["status"] == "applied"
    assert _listed(net, 2)["settings"]["claim_deadline_ms"] == 90_000


def test_a_refused_first_enabling_leaves_the_app_disabled(net: CoopNet) -> None:
    number = _crafted(net, {"period_ms": 5})  # below the declared minimum
    for i in range(len(net.nodes)):
        shown = _command(net, i, "coop_show")["apps"]["currency"]
        assert shown["enabled"] is False
        assert shown["decision"]["number"] == number
        assert shown["decision"]["reason"] == "setting_out_of_bounds"
        assert _listed(net, i)["enabled"] is False
    # the governance record says enabled, but no node runs the app: its transactions are
    # refused alike everywhere
    pay = GovTx(net.now, AppTx("currency", encode(CommunityPay(net.people[1].member_id, 1))))
    net.queue.append((net.people[0], pay))
    net.settle()
    for i in range(len(net.nodes)):
        result = net.status(i, pay)["app"]
        assert result["status"] == "rejected" and result["reason"] == "app_disabled"
