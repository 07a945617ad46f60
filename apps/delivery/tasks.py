"""A delivery's tasks: what a pickup or a dropoff is, its ids, and when it may be completed.

A delivery is one pickup and 1..:data:`MAX_DROPOFFS` dropoffs, each a task:

    todo -> doing -> done | failed | cancelled      (done and failed also straight from todo)

Task ids are derived, not chosen: ``order id (16 bytes) + index (1 byte)``, 17 bytes, index 0
the pickup and 1..N the dropoffs in the order the customer listed them.  Why: the task's order
is read from its id (no index to keep), ids never collide across orders, and a replayed order
creation can never mint a task id another order already holds.

Pure data and checks only (no clock): the book (:mod:`.orders`) decides who may do what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from peoplenet.plugins.api import AppTxRejected, Value
from peoplenet.plugins.kit import Grid, valid_cell

ORDER_ID_LEN: Final = 16
TASK_ID_LEN: Final = ORDER_ID_LEN + 1
MEMBER_ID_LEN: Final = 32
PROOF_LEN: Final = 32
"""A proof of delivery: the 32-byte digest of the customer's signature, or of a photo."""

PICKUP: Final = "pickup"
DROPOFF: Final = "dropoff"
TODO: Final = "todo"
DOING: Final = "doing"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
TASK_STATES: Final = (TODO, DOING, DONE, FAILED, CANCELLED)
OPEN_TASK: Final = frozenset({TODO, DOING})
TERMINAL_TASK: Final = frozenset({DONE, FAILED, CANCELLED})

MAX_DROPOFFS: Final = 10
MAX_WEIGHT_G: Final = 1_000_000
MAX_PACKAGE_KINDS: Final = 32
MAX_PACKAGE_COUNT: Final = 1_000
MAX_PACKAGE_NAME: Final = 64
MAX_ADDRESS_LEN: Final = 4_096
"""The sealed address blob's bound (bytes): the shell seals it, the book only carries it."""
MAX_REASON_LEN: Final = 200
CLOCK_SKEW_MS: Final = 120_000
"""How far past the community time a phone's signed completion time may be (2 minutes): the
order's clock and a phone's differ by seconds, never by minutes; more would let a courier sign
a time still to come."""

Event: TypeAlias = tuple[str, bytes] | tuple[str, bytes, bytes]
"""What a call did that the shell acts on: ``(what, order or task id[, courier])``."""


def reject(reason: str, detail: str = "") -> AppTxRejected:
    return AppTxRejected(reason, detail)


def task_id(order_id: bytes, index: int) -> bytes:
    """The id of task ``index`` (0 the pickup, 1.. the dropoffs) of ``order_id``."""
    return order_id + bytes([index])


def order_of(task: bytes) -> bytes:
    """The order a task id belongs to."""
    return task[:ORDER_ID_LEN]


def check_id(value: object, length: int, what: str) -> bytes:
    if type(value) is not bytes or len(value) != length:
        raise reject("bad_id", f"{what} is {length} bytes")
    return value


def check_int(value: object, low: int, high: int, reason: str, what: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise reject(reason, f"{what} is an integer in {low}..{high}")
    return value


def check_text(value: object, reason: str, what: str) -> str:
    if type(value) is not str or not 1 <= len(value) <= MAX_REASON_LEN:
        raise reject(reason, f"{what} is text of 1..{MAX_REASON_LEN} characters")
    return value


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What the creator of an order says of one task (the book derives its id)."""

    kind: str
    cell: Grid
    """The coarse cell, public (dispatch and pricing read it); the exact place is sealed."""
    after_ms: int
    before_ms: int
    weight_g: int = 0
    packages: tuple[tuple[str, int], ...] = ()
    """Package name -> count, sorted by name, each name once."""
    address: bytes = b""
    """The exact address, sealed by the shell to the parties: opaque bytes here."""


def check_specs(specs: Sequence[TaskSpec]) -> None:
    """One pickup first, then 1..MAX_DROPOFFS dropoffs, each well formed (``bad_tasks``)."""
    if not isinstance(specs, Sequence) or not 2 <= len(specs) <= MAX_DROPOFFS + 1:
        raise reject("bad_tasks", f"a pickup and 1..{MAX_DROPOFFS} dropoffs")
    for index, spec in enumerate(specs):
        if not isinstance(spec, TaskSpec):
            raise reject("bad_tasks", f"task {index} is not a TaskSpec")
        want = PICKUP if index == 0 else DROPOFF
        if spec.kind != want:
            raise reject("bad_tasks", f"task {index} is a {want}")
        _check_spec(index, spec)


def _check_spec(index: int, spec: TaskSpec) -> None:
    where = f"task {index}"
    cell = spec.cell
    if (
        not isinstance(cell, Grid)
        or type(cell.row) is not int
        or type(cell.col) is not int
        or not valid_cell(cell.row, cell.col)
    ):
        raise reject("bad_tasks", f"{where}: the cell is not on Earth")
    check_int(spec.after_ms, 0, 2**63 - 1, "bad_tasks", f"{where}: after_ms")
    check_int(spec.before_ms, spec.after_ms, 2**63 - 1, "bad_tasks", f"{where}: before_ms")
    check_int(spec.weight_g, 0, MAX_WEIGHT_G, "bad_tasks", f"{where}: weight_g")
    if type(spec.address) is not bytes or len(spec.address) > MAX_ADDRESS_LEN:
        raise reject("bad_tasks", f"{where}: the address is at most {MAX_ADDRESS_LEN} bytes")
    packages = spec.packages
    if type(packages) is not tuple or len(packages) > MAX_PACKAGE_KINDS:
        raise reject("bad_tasks", f"{where}: at most {MAX_PACKAGE_KINDS} kinds of package")
    names = []
    for item in packages:
        if type(item) is not tuple or len(item) != 2:
            raise reject("bad_tasks", f"{where}: packages are (name, count) pairs")
        name, count = item
        if type(name) is not str or not 1 <= len(name) <= MAX_PACKAGE_NAME:
            raise reject("bad_tasks", f"{where}: a package name is 1..{MAX_PACKAGE_NAME} chars")
        check_int(count, 1, MAX_PACKAGE_COUNT, "bad_tasks", f"{where}: package {name!r}")
        names.append(name)
    if names != sorted(set(names)):
        raise reject("bad_tasks", f"{where}: package names sorted, each once")


@dataclass(slots=True)
class Task:
    """One pickup or dropoff and everything the book recorded of it."""

    id: bytes
    spec: TaskSpec
    state: str = TODO
    courier: bytes = b""
    """Who holds it (empty: unassigned); a done or failed task keeps its courier for good."""
    accepted: bool = False
    """Whether the courier accepted the assignment (starting or finishing it accepts it)."""
    assigned_ms: int = 0
    started_ms: int = 0
    done_ms: int = 0
    """When it was done: the time signed on the courier's phone (offline completions keep
    it) if within the window and its tolerance, else when the completion reached the order."""
    signed_ms: int = 0
    """The time the courier's phone signed for the completion, as sent."""
    proof: bytes = b""
    failed_ms: int = 0
    failure: str = ""
    declined: list[tuple[bytes, int]] = field(default_factory=list)
    """Every courier who declined it, and when (auto-assignment skips them)."""
    cancelled_with_order: bool = False
    """Cancelled by its order's cancellation (a restore brings it back), not on its own."""

    @property
    def order(self) -> bytes:
        return order_of(self.id)

    @property
    def index(self) -> int:
        return self.id[-1]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_TASK

    def to_value(self) -> Value:
        spec = self.spec
        return {
            "id": self.id,
            "kind": spec.kind,
            "cell": (spec.cell.row, spec.cell.col),
            "window": (spec.after_ms, spec.before_ms),
            "weight_g": spec.weight_g,
            "packages": spec.packages,
            "address": spec.address,
            "state": self.state,
            "courier": self.courier,
            "accepted": self.accepted,
            "times": (self.assigned_ms, self.started_ms, self.done_ms, self.failed_ms),
            "signed_ms": self.signed_ms,
            "proof": self.proof,
            "failure": self.failure,
            "declined": tuple(self.declined),
            "cancelled_with_order": self.cancelled_with_order,
        }


def check_done_time(
    task: Task, done_ms: int, now_ms: int, tolerance_ms: int, pickup_done_ms: int | None
) -> int:
    """A7: the completion time to record -- the one signed on the phone when it is plausible.

    Refused: a signed time before the task's assignment (or, for a dropoff, before its
    pickup's completion), or after the community time plus :data:`CLOCK_SKEW_MS`.  The start
    is no bound: a phone offline sends its start late, after the time it signed the
    completion.  A signed time outside the task's window ``[after_ms, before_ms +
    tolerance_ms]`` is not trusted but not refused either (a courier who is simply late must
    still close the task): the community time the completion reached the order is recorded
    instead, so a phone cannot back-date a late delivery into its window.
    """
    check_int(done_ms, 0, 2**63 - 1, "bad_time", "done_ms")
    check_int(tolerance_ms, 0, 2**63 - 1, "bad_tolerance", "tolerance_ms")
    if done_ms < task.assigned_ms:
        raise reject("done_before_assignment", f"done {done_ms} < assigned {task.assigned_ms}")
    if pickup_done_ms is not None and done_ms < pickup_done_ms:
        raise reject("done_before_pickup", f"done {done_ms} < pickup done {pickup_done_ms}")
    if done_ms > now_ms + CLOCK_SKEW_MS:
        raise reject("done_in_future", f"done {done_ms} > now {now_ms} + {CLOCK_SKEW_MS}")
    low, high = task.spec.after_ms, task.spec.before_ms + tolerance_ms
    return done_ms if low <= done_ms <= high else max(now_ms, pickup_done_ms or 0)


__all__ = [
    "CANCELLED",
    "CLOCK_SKEW_MS",
    "DOING",
    "DONE",
    "DROPOFF",
    "FAILED",
    "MAX_DROPOFFS",
    "OPEN_TASK",
    "PICKUP",
    "TASK_ID_LEN",
    "TASK_STATES",
    "TERMINAL_TASK",
    "TODO",
    "Event",
    "Task",
    "TaskSpec",
    "check_done_time",
    "check_specs",
    "order_of",
    "task_id",
]
