"""The delivery app's conformance case: whole orders, and every refusal of the fold.

Test support, not loaded by the node (it imports :mod:`peoplenet.plugins.testing`).  Member 0
orders and is the cooperative's dispatcher; member 1 is the store; members 2 and 3 are
couriers.  The first order is accepted, prepared and delayed, given whole to member 2, who
takes the pickup; member 2's tour moves to member 3, whose route is reordered and back; the
dispatcher reseals an address to member 3, who picks up, shares a sealed position, delivers
(cash, collected by member 3), and settles part of the cooperative's share; the customer and
the store rate.  The second order is refused; the third is cancelled, restored, and its
pickup fails.  A customer who is not a member orders at the rules in force, and cancels.
Then each bad transaction is refused with its reason, and the node's commands run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from peoplenet.apps.delivery import plugin
from peoplenet.apps.delivery.fold import DeliveryFold
from peoplenet.apps.delivery.places import (
    Address as Place,
)
from peoplenet.apps.delivery.places import (
    address_context,
    seal_address,
    seal_position,
    stop_context,
)
from peoplenet.apps.delivery.records import (
    DROPOFF,
    PICKUP,
    Address,
    AnswerTask,
    Assign,
    CancelOrder,
    Cell,
    CompleteTask,
    CourierOffline,
    CourierOnline,
    CustomerOrder,
    FailTask,
    MoveTour,
    PlaceOrder,
    Rate,
    Reorder,
    Repay,
    RestoreOrder,
    SettleDebt,
    StartTask,
    Stop,
    StoreAnswer,
    Track,
)
from peoplenet.plugins.kit import cell_of, distance_m, parse_point, sign_request
from peoplenet.plugins.testing import (
    COMMUNITY,
    START_MS,
    By,
    ConformanceCase,
    CustomerKey,
    OtherApp,
    member_id,
)

SHOP: Final = parse_point("45.464200,9.190000")
HOME: Final = parse_point("45.470000,9.205000")
O1, O2, O3, O4, O5 = (bytes([n]) * 16 for n in (1, 2, 3, 4, 5))
M0, M1, M2, M3 = (member_id(i) for i in range(4))
DAY_MS: Final = 86_400_000
DONE_MS: Final = START_MS + 70_000
PROOF: Final = bytes(range(32))


def cell(point: object) -> Cell:
    g = cell_of(point)  # type: ignore[arg-type]
    return (g.row, g.col)


def task(order: bytes, index: int) -> bytes:
    return order + bytes([index])


def stops(order: bytes, readers: tuple[bytes, ...] = (M0, M1)) -> tuple[Stop, Stop]:
    """The shop's pickup and the home's drop-off, their addresses sealed to ``readers``."""
    sealed = [
        seal_address(Place(text, at), readers, stop_context(COMMUNITY, task(order, i)))
        for i, (text, at) in enumerate((("Via Dante 1", SHOP), ("Via Lupetta 4", HOME)))
    ]
    window = (START_MS, START_MS + DAY_MS)
    return (
        Stop(PICKUP, cell(SHOP), *window, 1500, (("box", 1),), sealed[0]),
        Stop(DROPOFF, cell(HOME), *window, 1500, (("box", 1),), sealed[1]),
    )


def place(order: bytes, *, version: int = 1, price: int | None = None) -> PlaceOrder:
    """An order from member 1's shop to the home, at the default rules' price."""
    draft = PlaceOrder(order, M1, 2450, stops(order), distance_m(SHOP, HOME), 0, version, "cash")
    right = DeliveryFold().quote(draft, 1).total
    return replace(draft, price_cents=right if price is None else price)


DEFAULT_SEED: Final = b"deliver".ljust(32, b".")


class Customer(CustomerKey):
    """A customer who is not a member (test support: a fixed seed)."""

    def __init__(self, seed: bytes = DEFAULT_SEED) -> None:
        super().__init__(seed)

    def step(self, seq: int, body: PlaceOrder | CancelOrder | Rate) -> CustomerOrder:
        return CustomerOrder(sign_request(self, COMMUNITY, plugin.NAME, seq, body))


CUSTOMER: Final = Customer()


def conformance_case(funds_provider: object) -> ConformanceCase:
    """The delivery app's case for :func:`peoplenet.plugins.testing.check_app`.

    ``funds_provider``: the plugin of the app that provides the cooperative's coins (the
    bundled currency: member 3 settles its cash debt in coins; apps never import each other,
    so the test hands it over)."""
    shop = cell(SHOP)
    resealed = seal_address(
        Place("Via Dante 1", SHOP), (M0, M1, M3), address_context(COMMUNITY, task(O1, 0), M3)
    )
    position = seal_position(HOME, (M0, M3), COMMUNITY, task(O1, 0))
    nosy = seal_position(HOME, (M0, M2, M3), COMMUNITY, task(O1, 0))
    by_customer = replace(place(O4), rules_version=0, price_cents=10**6)
    by_customer = replace(by_customer, stops=stops(O4, (CUSTOMER.member_id, M1)))
    return ConformanceCase(
        plugin,
        good_txs=[
            By(2, CourierOnline(shop)),
            By(3, CourierOnline(shop)),
            place(O1),
            By(1, StoreAnswer(O1, "accept")),
            By(1, StoreAnswer(O1, "preparing")),
            By(1, StoreAnswer(O1, "delay", "", 1)),  # the windows move a minute later
            Assign((task(O1, 0), task(O1, 1)), M2),
            By(2, AnswerTask(task(O1, 0), True)),
            MoveTour(M2, M3),
            Reorder(M3, (task(O1, 1), task(O1, 0))),
            By(3, Reorder(M3, (task(O1, 0), task(O1, 1)))),
            Address(task(O1, 0), M3, resealed),
            By(1, StoreAnswer(O1, "ready")),
            By(3, StartTask(task(O1, 0))),
            By(3, Track(task(O1, 0), position)),
            By(3, CompleteTask(task(O1, 0), DONE_MS, PROOF)),
            By(3, StartTask(task(O1, 1))),
            By(3, CompleteTask(task(O1, 1), DONE_MS + 1000, PROOF)),
            Rate(O1, 5),
            By(1, Rate(O1, 4)),
            By(3, SettleDebt(1)),
            place(O2),
            By(1, StoreAnswer(O2, "refuse", "closing")),
            place(O3),
            By(1, StoreAnswer(O3, "accept")),
            By(1, CancelOrder(O3, "sold out")),
            RestoreOrder(O3),
            By(3, replace(place(O5), method="escrow")),  # member 3 orders in coins
            By(1, StoreAnswer(O5, "accept")),
            By(1, CancelOrder(O5, "closed early")),
            RestoreOrder(O5),
            By(3, Repay(O5)),  # restored: paid again by a new hold
            Assign((task(O3, 0),), M2),
            By(2, FailTask(task(O3, 0), "shop closed")),
            By(2, CourierOffline()),
            By(1, CUSTOMER.step(1, by_customer)),  # member 1's node carries it
            CUSTOMER.step(2, CancelOrder(O4, "changed my mind")),
        ],
        bad_txs=[
            (place(O1), "order_exists"),
            (place(bytes([9]) * 16, version=7), "stale_rules"),
            (place(bytes([9]) * 16, price=1), "price_mismatch"),
            (replace(place(bytes([9]) * 16), distance_m=10**6), "bad_distance"),
            (By(1, replace(place(bytes([9]) * 16))), "self_order"),
            (By(2, StoreAnswer(O3, "ready")), "not_your_order"),
            (By(1, StoreAnswer(O1, "dance")), "bad_step"),
            (By(2, Assign((task(O3, 1),), M3)), "not_dispatcher"),
            (By(2, CompleteTask(task(O3, 1), DONE_MS, PROOF)), "not_your_task"),
            (By(2, StartTask(task(O3, 1))), "not_your_task"),
            (By(3, Track(task(O1, 0), position)), "task_not_active"),
            (By(2, Track(task(O1, 1), nosy)), "not_your_task"),
            (Address(task(O1, 0), M3, resealed), "not_the_courier"),
            (By(2, Rate(O1, 3)), "not_a_party"),
            (Rate(O1, 5), "already_rated"),
            (SettleDebt(1), "no_debt"),
            (By(3, Repay(O5)), "not_unpaid"),
            (Repay(O5), "not_your_order"),
            (By(2, CourierOffline()), "not_online"),
            (CUSTOMER.step(2, CancelOrder(O4, "again")), "replayed"),
            (CUSTOMER.step(3, StartTask(task(O4, 0))), "not_a_customer_step"),  # type: ignore[arg-type]
        ],
        commands={
            "online": {"at": "45.4642,9.19"},
            "quote": {"pickup": "45.4642,9.19", "dropoff": "45.47,9.205", "weight": 800},
            "orders": {},
            "show": {"order": O1.hex()[:8]},
            "tour": {},
            "board": {},
            "rules": {},
            "earnings": {},
        },
        members=4,
        settings={"payment": "escrow"},  # a member may pay in coins; cash orders stay cash
        officers={"dispatcher": 0},
        others=[OtherApp(funds_provider, action={"mint": 100_000, "to": M3.hex()})],
        source="peoplenet.apps.delivery.plugin",
    )


__all__ = ["CUSTOMER", "HOME", "SHOP", "conformance_case", "place", "stops", "task"]
