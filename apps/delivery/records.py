"""The delivery app's transactions on the cooperative's ordered lace, wire tags 350-369.

An order is named by a 16-byte id its customer's node draws at random; its tasks are the
order id and one byte, the task's index (0: the pickup, 1..: the dropoffs in route order).
Cells are ``(row, col)`` on the kit's grid: stops publish their cell, the exact address
travels sealed to the parties.  Money is integer cents, weight grams, times community
milliseconds.

:class:`PlaceOrder` is what a member sends; a customer who is not a member signs the same
body inside a :class:`CustomerOrder` (and :class:`CustomerCancel`) that a member's node carries.

Field checks raise :class:`RemoteProtocolError` ``bad_payload``, so a malformed record fails
decoding and never reaches the fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from peoplenet.plugins.api import Record, RemoteProtocolError, wire_type
from peoplenet.plugins.kit import CustomerRequest, Sealed, valid_cell

ORDER_LEN: Final = 16
TASK_LEN: Final = ORDER_LEN + 1
PROOF_LEN: Final = 32
MAX_DROPOFFS: Final = 10
MAX_CENTS: Final = 10**9
MAX_METRES: Final = 10**7
MAX_GRAMS: Final = 10**6
"""Heaviest stop: a tonne (a cargo bike carries far less; the voted rules price it)."""
MAX_PACKAGES: Final = 100
MAX_NAME: Final = 32
MAX_REASON: Final = 280
MAX_MS: Final = 2**62
MAX_DELAY_MIN: Final = 240
PICKUP: Final = "pickup"
DROPOFF: Final = "dropoff"
KINDS: Final = (PICKUP, DROPOFF)

Cell = tuple[int, int]


def _bad(detail: str) -> RemoteProtocolError:
    return RemoteProtocolError("bad_payload", detail)


def _order(order: bytes) -> None:
    if len(order) != ORDER_LEN:
        raise _bad(f"an order id is {ORDER_LEN} bytes")


def _task(task: bytes) -> None:
    if len(task) != TASK_LEN or task[-1] > MAX_DROPOFFS:
        raise _bad(f"a task id is an order id and an index 0..{MAX_DROPOFFS}")


def _member(member: bytes, name: str) -> None:
    if len(member) != 32:
        raise _bad(f"{name} is a 32-byte member id")


def _range(value: int, low: int, high: int, name: str) -> None:
    if not low <= value <= high:
        raise _bad(f"{name} must be in {low}..{high}")


def _text(text: str, name: str, most: int = MAX_REASON) -> None:
    if len(text) > most:
        raise _bad(f"{name} is at most {most} characters")


@wire_type(350)
@dataclass(frozen=True, slots=True)
class CourierOnline(Record):
    """The sender takes tasks now, waiting in ``cell`` (what automatic dispatch reads)."""

    cell: Cell

    def __post_init__(self) -> None:
        if not valid_cell(*self.cell):
            raise _bad(f"cell {self.cell} is not a cell on Earth")


@wire_type(351)
@dataclass(frozen=True, slots=True)
class CourierOffline(Record):
    """The sender takes no new tasks (the tasks already theirs stay theirs)."""


@wire_type(352)
@dataclass(frozen=True, slots=True)
class Stop(Record):
    """One stop of a delivery: the pickup or a dropoff.

    ``cell`` is public (dispatch, pricing zones); ``sealed`` holds the exact address, the
    contact and the notes, sealed to the customer and the store (then to the courier).
    ``packages`` is (name, count) pairs, names sorted and distinct."""

    kind: str
    cell: Cell
    after_ms: int
    before_ms: int
    weight_g: int
    packages: tuple[tuple[str, int], ...]
    sealed: Sealed | None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise _bad(f"a stop is a {' or a '.join(KINDS)}, not {self.kind!r}")
        if not valid_cell(*self.cell):
            raise _bad(f"cell {self.cell} is not a cell on Earth")
        _range(self.after_ms, 0, MAX_MS, "after_ms")
        _range(self.before_ms, self.after_ms, MAX_MS, "before_ms")
        _range(self.weight_g, 0, MAX_GRAMS, "weight_g")
        names = [name for name, _ in self.packages]
        if names != sorted(set(names)) or len(names) > MAX_PACKAGES:
            raise _bad("packages are distinct names in order")
        for name, count in self.packages:
            _text(name, "a package name", MAX_NAME)
            _range(count, 1, MAX_PACKAGES, f"packages[{name}]")


@wire_type(353)
@dataclass(frozen=True, slots=True)
class PlaceOrder(Record):
    """The sender (the customer) orders from ``store``: goods for ``goods_cents``, carried
    through ``stops`` (the pickup first, then 1..10 dropoffs in route order) over
    ``distance_m`` (the route between the exact places, which the fold checks against the
    cells), priced at ``price_cents`` under rules version ``rules_version`` (the fold prices it
    again and refuses a difference), paid by ``method`` (``escrow``: held now; ``cash``).

    From a customer who is not a member (inside a :class:`CustomerOrder`), ``rules_version``
    0 asks for the rules in force when it is ordered, and ``price_cents`` is then the most the
    customer agreed to pay."""

    order: bytes
    store: bytes
    goods_cents: int
    stops: tuple[Stop, ...]
    distance_m: int
    price_cents: int
    rules_version: int
    method: str

    def __post_init__(self) -> None:
        _order(self.order)
        _member(self.store, "store")
        _range(self.goods_cents, 0, MAX_CENTS, "goods_cents")
        _range(self.distance_m, 0, MAX_METRES, "distance_m")
        _range(self.price_cents, 0, MAX_CENTS, "price_cents")
        _range(self.rules_version, 0, 2**31, "rules_version")
        if not 2 <= len(self.stops) <= MAX_DROPOFFS + 1:
            raise _bad(f"a delivery is one pickup and 1..{MAX_DROPOFFS} dropoffs")
        if self.stops[0].kind != PICKUP or any(s.kind != DROPOFF for s in self.stops[1:]):
            raise _bad("the pickup comes first, then only dropoffs")
        _text(self.method, "method", MAX_NAME)


@wire_type(354)
@dataclass(frozen=True, slots=True)
class StoreAnswer(Record):
    """The store (or the dispatcher) moves an order on: ``accept``, ``refuse`` (with a
    reason), ``preparing``, ``ready``, or ``delay`` by ``minutes``."""

    order: bytes
    step: str
    reason: str = ""
    minutes: int = 0

    def __post_init__(self) -> None:
        _order(self.order)
        _text(self.step, "step", MAX_NAME)
        _text(self.reason, "reason")
        _range(self.minutes, 0, MAX_DELAY_MIN, "minutes")


@wire_type(355)
@dataclass(frozen=True, slots=True)
class CancelOrder(Record):
    """The customer (while new), the store or the dispatcher cancels an open order: every
    task of it is cancelled with it."""

    order: bytes
    reason: str

    def __post_init__(self) -> None:
        _order(self.order)
        _text(self.reason, "reason")


@wire_type(356)
@dataclass(frozen=True, slots=True)
class RestoreOrder(Record):
    """The dispatcher restores a cancelled order that had been accepted."""

    order: bytes

    def __post_init__(self) -> None:
        _order(self.order)


@wire_type(357)
@dataclass(frozen=True, slots=True)
class Assign(Record):
    """The dispatcher gives ``tasks`` (one, a whole delivery, any open tasks) to ``courier``,
    appended to their tour in this order."""

    tasks: tuple[bytes, ...]
    courier: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.tasks) <= 10 * (MAX_DROPOFFS + 1):
            raise _bad("assign 1 or more tasks")
        for task in self.tasks:
            _task(task)
        _member(self.courier, "courier")


@wire_type(358)
@dataclass(frozen=True, slots=True)
class MoveTour(Record):
    """The dispatcher moves every open task of ``courier`` to ``to`` (a sick courier's whole
    tour), in route order."""

    courier: bytes
    to: bytes

    def __post_init__(self) -> None:
        _member(self.courier, "courier")
        _member(self.to, "to")


@wire_type(359)
@dataclass(frozen=True, slots=True)
class Reorder(Record):
    """The dispatcher (or the courier) sets the route order of ``courier``'s open tasks."""

    courier: bytes
    tasks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _member(self.courier, "courier")
        for task in self.tasks:
            _task(task)


@wire_type(360)
@dataclass(frozen=True, slots=True)
class AnswerTask(Record):
    """The courier takes (``accept``) or gives back an assigned task."""

    task: bytes
    accept: bool

    def __post_init__(self) -> None:
        _task(self.task)


@wire_type(361)
@dataclass(frozen=True, slots=True)
class StartTask(Record):
    """The courier is on their way to the stop."""

    task: bytes

    def __post_init__(self) -> None:
        _task(self.task)


@wire_type(362)
@dataclass(frozen=True, slots=True)
class CompleteTask(Record):
    """The courier finished the stop at ``done_ms``, the time signed on their phone (offline
    work keeps it), with ``proof``: the hash of the customer's signature or a photo."""

    task: bytes
    done_ms: int
    proof: bytes

    def __post_init__(self) -> None:
        _task(self.task)
        _range(self.done_ms, 0, MAX_MS, "done_ms")
        if len(self.proof) != PROOF_LEN:
            raise _bad(f"a proof is a {PROOF_LEN}-byte hash")


@wire_type(363)
@dataclass(frozen=True, slots=True)
class FailTask(Record):
    """The courier could not finish the stop (nobody home, refused, damaged...)."""

    task: bytes
    reason: str

    def __post_init__(self) -> None:
        _task(self.task)
        _text(self.reason, "reason")


@wire_type(364)
@dataclass(frozen=True, slots=True)
class Track(Record):
    """The courier's exact position for an active task, sealed to its parties alone."""

    task: bytes
    sealed: Sealed

    def __post_init__(self) -> None:
        _task(self.task)


@wire_type(368)
@dataclass(frozen=True, slots=True)
class Address(Record):
    """A stop's exact address resealed to the customer, the store and ``courier``, who holds
    the task now (the dispatcher's node sends it; see :mod:`.places`)."""

    task: bytes
    courier: bytes
    sealed: Sealed

    def __post_init__(self) -> None:
        _task(self.task)
        _member(self.courier, "courier")


@wire_type(369)
@dataclass(frozen=True, slots=True)
class Repay(Record):
    """The customer pays a restored order again, in coins (a new hold: only they consent to
    moving their coins)."""

    order: bytes

    def __post_init__(self) -> None:
        _order(self.order)


@wire_type(365)
@dataclass(frozen=True, slots=True)
class Rate(Record):
    """A party of a fulfilled order rates it (1..5), double-blind."""

    order: bytes
    score: int

    def __post_init__(self) -> None:
        _order(self.order)
        _range(self.score, 1, 5, "score")


@wire_type(366)
@dataclass(frozen=True, slots=True)
class SettleDebt(Record):
    """The sender pays ``cents`` of what cash orders left them owing the cooperative, in the
    cooperative's coins (one a cent)."""

    cents: int

    def __post_init__(self) -> None:
        _range(self.cents, 1, MAX_CENTS, "cents")


@wire_type(367)
@dataclass(frozen=True, slots=True)
class CustomerOrder(Record):
    """A customer's signed :class:`PlaceOrder` or :class:`CancelOrder` (its body), carried by
    a member's node; the fold checks the customer's signature and their sequence."""

    request: CustomerRequest


__all__ = [
    "DROPOFF",
    "KINDS",
    "MAX_DROPOFFS",
    "ORDER_LEN",
    "PICKUP",
    "PROOF_LEN",
    "TASK_LEN",
    "Address",
    "AnswerTask",
    "Assign",
    "CancelOrder",
    "CompleteTask",
    "CourierOffline",
    "CourierOnline",
    "CustomerOrder",
    "FailTask",
    "MoveTour",
    "PlaceOrder",
    "Rate",
    "Reorder",
    "Repay",
    "RestoreOrder",
    "SettleDebt",
    "StartTask",
    "Stop",
    "StoreAnswer",
    "Track",
]
