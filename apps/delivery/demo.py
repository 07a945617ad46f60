"""Delivery's part of ``make demo``: one order, from the customer's phone to the paid delivery.

Runs after the demo cooperative enabled the app by vote (prices in euros, paid in cash) and
elected its dispatcher.  The customer is not a member: a person with her own key and data
directory and the cooperative's profile, who signs her order and learns its fate from
members' receipts.  The store is a member; two couriers go online; the dispatcher gives the
delivery to the first, who falls ill after taking it: the dispatcher moves his whole tour to
the second, whose phone gets the addresses resealed to her, and who picks up, shares her
position sealed to the customer, and delivers.  The order is fulfilled and paid, the same on
every member's phone.
"""

from __future__ import annotations

from typing import Any, Final, cast

from peoplenet.plugins.api import DemoDriver, DemoEnabling, DemoStepFailed, Value, hookimpl

DEMO_SETTINGS: Final[dict[str, Value]] = {"payment": "cash", "currency": "EUR"}
STORE_AT: Final = "45.4642,9.1900"
HOME_AT: Final = "45.4700,9.2050"
CUSTOMER: Final = "grace"
"""The customer: not a member (her own key and data directory, no node)."""
MOST_CENTS: Final = 2000
GOODS_CENTS: Final = 2450
RECEIPTS_POLL_S: Final = 2.0


def cast_of(demo: DemoDriver) -> dict[str, str]:
    """The store, the two couriers and the dispatcher, among the demo's people."""
    if len(demo.members) < 4:
        raise DemoStepFailed("the delivery demo needs four people")
    store, first, second, dispatcher = demo.members[:4]
    return {"store": store, "first": first, "second": second, "dispatcher": dispatcher}


def _dict(value: Value, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DemoStepFailed(f"{what} answered {value!r}")
    return cast(dict[str, Any], value)


def _euros(cents: object) -> str:
    whole = int(cast(int, cents))
    return f"{whole // 100}.{whole % 100:02d}"


def _show(d: DemoDriver, name: str, order: str) -> dict[str, Any]:
    try:
        return _dict(d.command(name, "show", order=order), f"show on {name}'s phone")
    except DemoStepFailed:
        return {}  # not ordered on this phone yet


def _online(d: DemoDriver, name: str) -> bool:
    board = _dict(d.command(name, "board"), "board")
    return d.member_id(name) in (board.get("online") or {})


def _tasks(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in shown.get("tasks") or () if isinstance(t, dict)]


def _held_by(d: DemoDriver, viewer: str, order: str, courier: str) -> bool:
    tasks = _tasks(_show(d, viewer, order))
    return bool(tasks) and all(t.get("courier") == d.member_id(courier) for t in tasks)


@hookimpl
def peoplenet_demo_enable(demo: object) -> DemoEnabling:
    """Enabled with cash prices in euros, and a dispatcher elected."""
    d = cast(DemoDriver, demo)
    who = cast_of(d)
    return DemoEnabling(
        settings=DEMO_SETTINGS,
        note="cash prices in EUR",
        officers={"dispatcher": who["dispatcher"]},
    )


@hookimpl
def peoplenet_demo(demo: object) -> None:
    d = cast(DemoDriver, demo)
    who = cast_of(d)
    store, first, second, boss = who["store"], who["first"], who["second"], who["dispatcher"]

    d.step(f"{first} and {second} go online as couriers near {store}'s shop")
    for courier in (first, second):
        d.command(courier, "online", at=STORE_AT)
    d.until(
        "both couriers online in the cooperative's order",
        lambda: all(_online(d, c) for c in (first, second)),
    )

    d.step(f"{CUSTOMER}, who is not a member, orders from {store}'s shop, paying cash at the door")
    d.customer(CUSTOMER)
    placed = _dict(
        d.customer_command(
            CUSTOMER, "order", store=d.member_id(store), pickup=STORE_AT, dropoff=HOME_AT,
            pickup_address="Via Dante 1, shop counter", dropoff_address="Via Lupetta 4, 2nd floor",
            goods=GOODS_CENTS, weight=1500, packages=1, max=MOST_CENTS,
        ),
        "order",
    )  # fmt: skip
    order = str(placed["order"])
    d.say(
        f"order {order[:12]}: delivery {_euros(placed['price'])} EUR under rules version"
        f" {placed['rules_version']}, told by members' receipts; the addresses travel sealed"
    )
    d.until(
        f"{store}'s phone shows the order", lambda: _show(d, store, order).get("state") == "new"
    )

    d.step(f"{store} accepts it and prepares it")
    d.command(store, "accept", order=order)
    d.until("accepted", lambda: _show(d, store, order).get("state") == "accepted")
    d.command(store, "preparing", order=order)
    d.until("preparing", lambda: _show(d, store, order).get("state") == "preparing")

    d.step(f"{boss}, the elected dispatcher, gives the whole delivery to {first}, who takes it")
    d.command(boss, "assign", order=order, courier=d.member_id(first))
    d.until(f"both tasks held by {first}", lambda: _held_by(d, first, order, first))
    for task in _tasks(_show(d, first, order)):
        d.command(first, "take", task=str(task["task"]))

    d.step(f"{first} falls ill: {boss} moves his whole tour to {second}")
    d.command(boss, "move", courier=d.member_id(first), to=d.member_id(second))
    d.until(f"both tasks held by {second}", lambda: _held_by(d, second, order, second))
    tasks = _tasks(_show(d, second, order))
    pickup, dropoff = (str(t["task"]) for t in tasks)
    d.until(
        f"{second}'s phone opened both addresses, resealed to her by {boss}'s phone",
        lambda: len(_show(d, second, order).get("addresses") or {}) == 2,
    )
    shown = _show(d, second, order)
    d.say(f"{second} reads: pick up at {shown['addresses'][pickup]['text']!r}")

    d.step(f"{store} has it ready; {second} picks it up and rides to {CUSTOMER}")
    d.command(store, "ready", order=order)
    d.command(second, "start", task=pickup)
    d.until("the pickup started", lambda: _task_state(d, second, order, pickup) == "doing")
    d.command(second, "done", task=pickup, signed_by=store)
    d.until("picked up", lambda: _task_state(d, second, order, pickup) == "done")
    d.command(second, "start", task=dropoff)
    d.until("on the way", lambda: _task_state(d, second, order, dropoff) == "doing")
    tracked = _dict(d.command(second, "track", task=dropoff, at=HOME_AT), "track")
    d.say(
        f"her position sealed to {len(tracked['sealed_to'])} phones: the customer, the store, hers"
    )

    d.step(f"{second} delivers; {CUSTOMER} signs on her phone; the order is fulfilled and paid")
    d.command(second, "done", task=dropoff, signed_by=CUSTOMER)
    d.until(
        "fulfilled and paid (cash), on every member's phone",
        lambda: all(_show(d, n, order).get("money") == "paid" for n in d.members),
    )
    earned = _dict(d.command(second, "earnings"), "earnings")
    d.say(
        f"{second} earned {_euros(earned['paid_as_courier'])} EUR; she collected the cash and owes"
        f" the cooperative {_euros(earned['owed_to_cooperative'])} EUR"
    )
    shop = _dict(d.command(store, "earnings"), "earnings")
    d.say(f"{store}'s shop is paid {_euros(shop['paid_as_store'])} EUR for the goods")
    d.until(
        f"{CUSTOMER}'s phone: fulfilled, from members' receipts",
        _every(RECEIPTS_POLL_S, lambda: _customer_state(d, order) == "fulfilled"),
    )

    d.step("every member's phone holds the same order")
    d.until(
        f"the order is the same on all {len(d.members)} phones",
        lambda: len({repr(_same(_show(d, n, order))) for n in d.members}) == 1,
    )


def _task_state(d: DemoDriver, viewer: str, order: str, task: str) -> str:
    for t in _tasks(_show(d, viewer, order)):
        if t.get("task") == task:
            return str(t.get("state"))
    return ""


def _customer_state(d: DemoDriver, order: str) -> str:
    shown = _dict(d.customer_command(CUSTOMER, "show", order=order), "show")
    return str(shown.get("state"))


def _every(seconds: float, check: Any) -> Any:
    import time  # noqa: PLC0415

    last = [-seconds]

    def throttled() -> bool:
        if time.monotonic() - last[0] < seconds:
            return False
        last[0] = time.monotonic()
        return bool(check())

    return throttled


def _same(shown: dict[str, Any]) -> list[object]:
    return [shown.get(k) for k in ("state", "price", "rules_version", "tasks", "money", "log")]


__all__ = ["DEMO_SETTINGS", "cast_of", "peoplenet_demo", "peoplenet_demo_enable"]
