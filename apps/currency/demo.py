"""The currency's part of ``make demo``: payments, a mutual credit line and a redemption.

Runs after the demo cooperative enabled the app by vote, with 100 of the cooperative's coins
minted to the fifth person by that same decision.  Every step is a command on one person's
phone; what follows -- the sovereign's approval, the payee's acceptance, the repayment -- is
done by the other phones on their own, and the demo waits until it shows there.
"""

from __future__ import annotations

from typing import Any, cast

from peoplenet.apps.currency.community import COMMUNITY
from peoplenet.plugins.api import DemoDriver, DemoEnabling, DemoStepFailed, Value, hookimpl

DEMO_MINT: int = 100
"""Cooperative coins the demo's enabling decision mints to the fifth person."""
DEMO_SETTINGS: dict[str, Value] = {"ubi_per_period": 0, "claim_deadline_ms": 120_000}
"""The currency's settings in the demo's cooperative: no basic income, two-minute claims."""


def _balance(demo: DemoDriver, name: str) -> dict[str, Any]:
    shown = demo.command(name, "balance")
    if not isinstance(shown, dict):
        raise DemoStepFailed(f"balance on {name}'s phone answered {shown!r}")
    return shown


def _coins(demo: DemoDriver, name: str) -> dict[str, int]:
    """``name``'s holdings of members' coins, keyed by the issuer's first name."""
    names = {demo.member_id(n): n for n in demo.members}
    coins = _balance(demo, name)["coins"]
    return {names.get(k, k[:8]): int(v) for k, v in coins.items()}


def _history(demo: DemoDriver, name: str) -> list[dict[str, Any]]:
    """``name``'s history rows of members' coins."""
    history = demo.command(name, "history")
    rows = history.get("coins") if isinstance(history, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list | tuple) else []


def _history_state(demo: DemoDriver, name: str, block: str) -> str | None:
    return next((str(r["state"]) for r in _history(demo, name) if r.get("block") == block), None)


def _knows(demo: DemoDriver, name: str, block: str) -> bool:
    return any(r.get("block") == block for r in _history(demo, name))


def _result(value: object, key: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get(key), str):
        raise DemoStepFailed(f"expected {key!r} in {value!r}")
    return str(value[key])


@hookimpl
def peoplenet_demo_enable(demo: object) -> DemoEnabling:
    """Enabled with :data:`DEMO_MINT` cooperative coins minted to the fifth person."""
    d = cast(DemoDriver, demo)
    if len(d.members) < 5:
        raise DemoStepFailed("the currency demo needs five people")
    fifth = d.members[4]
    return DemoEnabling(
        settings=DEMO_SETTINGS,
        action={"mint": DEMO_MINT, "to": d.member_id(fifth)},
        note=f"minting {DEMO_MINT} cooperative coins to {fifth}",
    )


@hookimpl
def peoplenet_demo(demo: object) -> None:
    d = cast(DemoDriver, demo)
    if len(d.members) < 5:
        raise DemoStepFailed("the currency demo needs five people")
    a, b, c, dv, e = d.members[:5]
    ids = {n: d.member_id(n) for n in d.members}

    d.step(f"{a} pays {b} 30 of her own coins: no approval needed, {b}'s phone accepts")
    d.command(a, "pay", to=ids[b], amount=30, memo="ride share")
    d.until(f"{b} holds 30 {a}-coins", lambda: _coins(d, b).get(a) == 30)

    d.step(f"{b} pays {c} 10 of those: {a}'s phone approves (her coins), {c}'s accepts")
    paid = d.command(b, "pay", to=ids[c], amount=10, currency=ids[a])
    d.say(f"payment {_result(paid, 'payment')[:12]} needs the approval of {a}, the sovereign")
    d.until(
        f"{c} holds 10 {a}-coins and {b} keeps 20",
        lambda: _coins(d, c).get(a) == 10 and _coins(d, b).get(a) == 20,
    )

    d.step(f"{c} and {dv} open a mutual credit line: 50 of each other's coins, limit 80")
    offer = _result(d.command(c, "credit", amount=50, limit=80, **{"with": ids[dv]}), "offer")
    d.until(f"{dv}'s phone has {c}'s offer", lambda: _knows(d, dv, offer))
    d.command(dv, "credit", offer=offer, limit=80)
    d.until(
        f"{c} holds 50 {dv}-coins and {dv} holds 50 {c}-coins",
        lambda: _coins(d, c).get(dv) == 50 and _coins(d, dv).get(c) == 50,
    )

    d.step(f"{dv} pays {a} 15 of his own coins; {c} redeems her 10 {a}-coins, preferring {dv}'s")
    d.command(dv, "pay", to=ids[a], amount=15, memo="bike repair")
    d.until(f"{a} holds 15 {dv}-coins", lambda: _coins(d, a).get(dv) == 15)
    claim = _result(d.command(c, "redeem", sovereign=ids[a], amount=10, prefer=ids[dv]), "claim")
    d.say(f"claim {claim[:12]}: {a}'s phone repays it on its own, in {dv}-coins first")
    d.until(
        f"repaid: {c} holds 60 {dv}-coins and no {a}-coins; {a} has hers back, 5 {dv}-coins left",
        lambda: (
            _history_state(d, c, claim) == "repaid"
            and _coins(d, c) == {dv: 60}
            and _coins(d, a).get(dv) == 5
        ),
    )

    d.step(f"{e} pays {a} 40 of the cooperative's coins (minted by the vote), in consensus order")
    d.command(e, "pay", to=ids[a], amount=40, currency=COMMUNITY, memo="dispatch shift")
    d.until(
        f"{a} holds 40 cooperative coins and {e} {DEMO_MINT - 40}",
        lambda: (
            _balance(d, a)["cooperative"] == 40 and _balance(d, e)["cooperative"] == DEMO_MINT - 40
        ),
    )

    d.step("what everyone holds")
    for name in d.members:
        shown = _balance(d, name)
        held = ", ".join(f"{v} {k}" for k, v in sorted(_coins(d, name).items())) or "nothing"
        d.say(f"{name:<6} members' coins: {held}; cooperative coins: {shown['cooperative']}")


__all__ = ["DEMO_MINT", "DEMO_SETTINGS", "peoplenet_demo", "peoplenet_demo_enable"]
