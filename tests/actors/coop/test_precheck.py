"""What waits for a member (``coop_inbox``), and the node's check before it submits.

On in-process consumers sharing one order (bench/coop_net.py): a credit offer only the
person's consent takes and a decision they have not voted in show in their inbox; a ballot
the order would reject is refused before it is submitted (so nothing is ordered).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.consumer import CoopCommandRefused
from peoplenet.actors.coop.precheck import WouldBeRejected
from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.wire.codec import Value


@pytest.fixture
def net(tmp_path: Path) -> Iterator[CoopNet]:
    net = CoopNet(tmp_path)
    try:
        net.connect()
        yield net
    finally:
        net.close()


def _inbox(net: CoopNet, i: int) -> dict[str, Any]:
    result, out = net.nodes[i].command("coop_inbox", {}, net.now)
    assert out.submit == () and isinstance(result, dict)
    return result


def _propose_fee(net: CoopNet) -> int:
    net.clocks()  # community time is now: the decision stays open for the voting period
    _, out = net.nodes[0].command(
        "coop_propose", {"kind": "rate", "subject": "fee", "proposal": "3"}, net.now
    )
    net.take(0, out)
    net.order()
    return len(net.nodes[0].governance.state.decisions)


def test_inbox_lists_credit_offers_and_unvoted_decisions(net: CoopNet) -> None:
    net.decide_app("currency", {"ubi_per_period": 0})
    net.connect()
    c, d = 2, 3
    assert _inbox(net, d)["apps"] == ()
    offer = net.app(c, "credit", amount=50, limit=80, **{"with": net.hexid(d)})
    net.settle()
    (waiting,) = _inbox(net, d)["apps"]
    assert waiting["app"] == "currency"
    (item,) = waiting["waiting"]
    assert item == {"kind": "credit_offer", "offer": offer["offer"], "from": net.hexid(c),
                    "amount": 50}  # fmt: skip
    number = _propose_fee(net)
    (decision,) = _inbox(net, d)["decisions"]
    assert decision["number"] == number and decision["voted"] is False
    assert decision["tabled"] == ("3",) and decision["options"]["hi"] == "10"
    _, out = net.nodes[d].command("coop_vote", {"decision": number, "ballot": "4"}, net.now)
    net.take(d, out)
    net.order()
    assert _inbox(net, d)["decisions"] == ()
    shown: Any
    shown, _ = net.nodes[d].command("coop_decisions", {}, net.now)
    assert shown[-1]["my_ballot"] == "4" and shown[-1]["proposals"] == 1  # old key kept


def test_a_ballot_the_order_would_reject_is_not_submitted(net: CoopNet) -> None:
    number = _propose_fee(net)
    node = net.nodes[1]
    for ballot, reason in [("11", "invalid_ballot"), ("2.5", "invalid_ballot")]:
        args: dict[str, Value] = {"decision": number, "ballot": ballot, "check": True}
        with pytest.raises(WouldBeRejected, match=reason) as caught:
            node.command("coop_vote", args, net.now)
        assert caught.value.rule == reason
    with pytest.raises(WouldBeRejected, match="unknown_decision"):
        node.command("coop_close", {"decision": 99, "check": True}, net.now)
    with pytest.raises(WouldBeRejected, match="duplicate"):
        node.command("coop_table", {"decision": number, "proposal": "3", "check": True}, net.now)
    with pytest.raises(CoopCommandRefused, match="expected a number"):
        node.command("coop_vote", {"decision": number, "ballot": '"x"', "check": True}, net.now)
    with pytest.raises(CoopCommandRefused, match="must be positive"):
        node.command("coop_contribute", {"period": "p1", "hours": -3, "check": True}, net.now)
    with pytest.raises(WouldBeRejected, match="unknown_subject"):
        node.command("coop_propose", {"kind": "rate", "subject": "nope", "check": True}, net.now)
    admit: dict[str, Value] = {"kind": "admission", "subject": net.hexid(0), "check": True}
    with pytest.raises(WouldBeRejected, match="already_member"):
        node.command("coop_propose", admit, net.now)
    assert not net.queue  # nothing was submitted
    # a good ballot passes the check; without the check a bad one is submitted (and rejected)
    answer: Any
    answer, out = node.command("coop_vote", {"decision": number, "ballot": "4", "check": True},
                               net.now)  # fmt: skip
    assert answer["submitted"] is True and len(out.submit) == 1
    _, unchecked = node.command("coop_vote", {"decision": number, "ballot": "11"}, net.now)
    net.take(1, unchecked)
    net.order()
    assert net.status(1, unchecked.submit[0])["reason"] == "invalid_ballot"


def test_a_negative_amount_says_it_must_be_positive(net: CoopNet) -> None:
    net.decide_app("currency", {"ubi_per_period": 0})
    # (with typed command arguments the host refuses it first: "a whole number, 0 or more")
    with pytest.raises(CoopCommandRefused, match=r"amount (must be positive|is a whole number, 0)"):
        net.app(0, "pay", to=net.hexid(1), amount="-5")
    with pytest.raises(CoopCommandRefused, match="amount is a whole number"):
        net.app(0, "pay", to=net.hexid(1), amount="lots")


def test_a_surety_already_recorded_is_not_submitted_again(net: CoopNet) -> None:
    half: Any
    half, _ = net.nodes[0].command("coop_vouch", {"member": net.hexid(1)}, net.now)
    args: dict[str, Value] = {"half": half["half"], "check": True}
    _, out = net.nodes[1].command("coop_countersign", args, net.now)
    net.take(1, out)
    net.order()
    assert len(net.nodes[1].governance.state.sureties) == 1
    with pytest.raises(WouldBeRejected, match="duplicate"):
        net.nodes[1].command("coop_countersign", args, net.now)
