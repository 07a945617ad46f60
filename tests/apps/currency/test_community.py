"""The currency app in a cooperative of four consumers: enabled by vote, then payments in
own coins, payments needing the sovereign's approval, a mutual credit line, a redemption, the
cooperative's coins minted by decision and by the egalitarian rule, and typed refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.consumer import CoopCommandRefused
from peoplenet.actors.governance.records import AppTx, GovTx
from peoplenet.apps.currency.community import CommunityPay
from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.wire.codec import encode


def _bal(net: CoopNet, i: int) -> dict[str, Any]:
    result = net.app(i, "balance")
    assert isinstance(result, dict)
    return result


@pytest.fixture
def net(tmp_path: Path) -> Iterator[CoopNet]:
    net = CoopNet(tmp_path)
    try:
        net.connect()
        net.decide_app("currency", {"ubi_per_period": 0, "claim_deadline_ms": 60_000})
        net.connect()  # the app's lace exists now: members exchange what they hold
        yield net
    finally:
        net.close()  # the members' app workers


def test_own_coins_approval_credit_and_redemption(net: CoopNet) -> None:
    a, b, c, d = 0, 1, 2, 3
    # a pays b 30 of a's own coins: minted on the spot, no approval needed, b accepts
    paid = net.app(a, "pay", to=net.hexid(b), amount="30")
    assert isinstance(paid, dict) and paid["minted"] and not paid["needs_approval"]
    net.settle()
    assert _bal(net, b)["coins"] == {net.hexid(a): 30}
    assert _bal(net, a)["coins"] == {}
    # b pays c 10 of a's coins: a (the sovereign) approves on its own, c accepts
    paid = net.app(b, "pay", to=net.hexid(c), amount=10, currency=net.hexid(a))
    assert isinstance(paid, dict) and paid["needs_approval"]
    net.settle()
    assert _bal(net, c)["coins"] == {net.hexid(a): 10}
    assert _bal(net, b)["coins"] == {net.hexid(a): 20}
    # c and d open a credit line of 50: each ends up holding 50 of the other's coins
    offer = net.app(c, "credit", amount=50, limit=80, **{"with": net.hexid(d)})
    assert isinstance(offer, dict)
    net.settle()
    taken = net.app(d, "credit", offer=offer["offer"], limit=80)
    assert isinstance(taken, dict) and "accepted" in taken
    net.settle()
    assert _bal(net, c)["coins"] == {net.hexid(a): 10, net.hexid(d): 50}
    assert _bal(net, d)["coins"] == {net.hexid(c): 50}
    # c redeems its 10 a-coins, preferring d's coins (a holds none): repaid in a's own coins
    claim = net.app(c, "redeem", sovereign=net.hexid(a), amount=10, prefer=net.hexid(d))
    assert isinstance(claim, dict)
    net.settle()
    history = net.app(c, "history")
    assert isinstance(history, dict)
    states = {row["kind"]: row["state"] for row in history["coins"]}
    assert states.get("redeem") == "repaid"
    assert _bal(net, c)["coins"] == {net.hexid(a): 10, net.hexid(d): 50}
    # every node folded the same coin lace to the same digest
    snaps = net.snapshots()
    assert all(s == snaps[0] for s in snaps)


def test_cooperative_coins_are_minted_by_decision_and_paid_in_order(net: CoopNet) -> None:
    a, b = 0, 1
    net.decide_app(
        "currency",
        {"ubi_per_period": 0, "claim_deadline_ms": 60_000},
        action={"mint": 100, "to": net.hexid(a)},
    )
    assert _bal(net, a)["cooperative"] == 100
    out = net.app(a, "pay", to=net.hexid(b), amount=60, currency="community")
    assert isinstance(out, dict) and out["ordered"]
    net.settle()
    assert _bal(net, a)["cooperative"] == 40 and _bal(net, b)["cooperative"] == 60
    # a double spend by consensus order: two payments of 40 from a, the second refused
    first = GovTx(net.now, AppTx("currency", encode(CommunityPay(net.people[b].member_id, 40))))
    second = GovTx(
        net.now + 1, AppTx("currency", encode(CommunityPay(net.people[2].member_id, 40)))
    )
    net.queue.extend([(net.people[a], first), (net.people[a], second)])
    net.settle()
    assert net.status(0, first)["app"]["status"] == "applied"
    refused = net.status(0, second)["app"]
    assert refused["status"] == "rejected" and refused["reason"] == "insufficient_funds"
    with pytest.raises(CoopCommandRefused, match="insufficient_funds"):
        net.app(a, "pay", to=net.hexid(b), amount=1, currency="community")
    snaps = net.snapshots()
    assert all(s == snaps[0] for s in snaps)


def test_egalitarian_minting_per_member_per_period(net: CoopNet) -> None:
    net.decide_app("currency", {"ubi_per_period": 7, "period_ms": 1000})
    before = [_bal(net, i)["cooperative"] for i in range(4)]
    net.now += 3_000
    net.clocks()
    after = [_bal(net, i)["cooperative"] for i in range(4)]
    gained = {int(x) - int(y) for x, y in zip(after, before, strict=True)}
    assert len(gained) == 1 and gained.pop() >= 14  # the same for all, whole periods of 7


def test_bad_commands_are_typed_and_change_nothing(net: CoopNet) -> None:
    a, b = 0, 1
    before = net.snapshots()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"to": net.hexid(b), "amount": "lots"}, "bad_argument"),
        ({"to": "zz", "amount": 1}, "unknown_member"),
        ({"to": net.hexid(b), "amount": 5, "currency": net.hexid(b)}, "insufficient_funds"),
    ]
    for args, reason in cases:
        with pytest.raises(CoopCommandRefused, match=reason):
            net.app(a, "pay", **args)
    with pytest.raises(CoopCommandRefused, match="unknown_offer"):
        net.app(a, "credit", offer="00" * 32, limit=5)
    net.settle()
    assert net.snapshots() == before


def test_paying_yourself_is_refused_before_anything_is_signed(net: CoopNet) -> None:
    a, b = 0, 1
    before = net.snapshots()
    with pytest.raises(CoopCommandRefused, match="self_payment: you cannot pay yourself"):
        net.app(a, "pay", to=net.hexid(a), amount=5)  # would need a mint of 5 first
    with pytest.raises(CoopCommandRefused, match="self_payment"):
        net.app(a, "credit", amount=5, limit=5, **{"with": net.hexid(a)})
    with pytest.raises(CoopCommandRefused, match="own_currency"):
        net.app(a, "redeem", sovereign=net.hexid(a), amount=1)
    # a memo too long for the payment refuses the mint it would have needed, too
    with pytest.raises(CoopCommandRefused, match="bad_memo"):
        net.app(a, "pay", to=net.hexid(b), amount=5, memo="x" * 10_000)
    net.settle()
    assert net.app(a, "history")["coins"] == ()
    assert net.snapshots() == before
