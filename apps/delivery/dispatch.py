"""Dispatch: which courier holds which open task, in what route order, and who is online.

A courier's **tour** is their open tasks in route order: the order they were given them, or
the order the dispatcher set (:meth:`Dispatch.reorder`).  Tasks start unassigned; the book
(:mod:`.orders`) checks who may move them and calls the bookkeeping here, which keeps the
tours and the tasks' ``courier`` fields in step: a task is in exactly one tour, its courier's,
while it is open and held; in none otherwise.

**Automatic assignment** (:meth:`Dispatch.nearest`): the courier online in the cell nearest to
the pickup (Chebyshev rings of kit cells, ring 0 the cell itself), among those with an empty
tour who never declined a task of that order, ties by id, within ``max_rings``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Final

from peoplenet.apps.delivery.tasks import (
    DOING,
    MEMBER_ID_LEN,
    TODO,
    Event,
    Task,
    check_id,
    reject,
)
from peoplenet.plugins.api import Value
from peoplenet.plugins.kit import Grid, chebyshev, valid_cell

AUTO_RINGS: Final = 10
"""How many rings out automatic assignment looks by default (about 10 km)."""


def check_cell(cell: object) -> Grid:
    if (
        not isinstance(cell, Grid)
        or type(cell.row) is not int
        or type(cell.col) is not int
        or not valid_cell(cell.row, cell.col)
    ):
        raise reject("bad_cell", "a kit Grid cell on Earth")
    return cell


@dataclass(slots=True)
class Dispatch:
    """The couriers online (and their coarse cell) and every courier's tour."""

    online: dict[bytes, Grid] = field(default_factory=dict)
    tours: dict[bytes, list[bytes]] = field(default_factory=dict)
    """Courier -> their open tasks' ids in route order (no empty tours kept)."""

    def tour(self, courier: bytes) -> tuple[bytes, ...]:
        return tuple(self.tours.get(courier, ()))

    # -- couriers online ----------------------------------------------------------------------

    def go_online(self, courier: bytes, cell: Grid) -> None:
        """Available for automatic assignment, waiting in ``cell`` (also: a new cell)."""
        check_id(courier, MEMBER_ID_LEN, "courier")
        check_cell(cell)
        if self.online.get(courier) == cell:
            raise reject("same_cell", "already online in that cell")
        self.online[courier] = cell

    def go_offline(self, courier: bytes) -> None:
        """Not available for new work (the tour stays: a phone off the network still delivers)."""
        if courier not in self.online:
            raise reject("not_online")
        del self.online[courier]

    def nearest(
        self, cell: Grid, max_rings: int, excluded: Collection[bytes], order: bytes = b""
    ) -> bytes | None:
        """The free online courier nearest ``cell`` (fewest rings), or None.  Couriers equally
        near are ranked by BLAKE2b(order || courier): the same on every phone, but not the
        same courier every time (ranking by id would favour one courier for good)."""
        best: tuple[int, bytes, bytes] | None = None
        for courier, at in self.online.items():
            if courier in excluded or courier in self.tours:
                continue
            rings = chebyshev(cell, at)
            if rings > max_rings:
                continue
            key = (rings, hashlib.blake2b(order + courier, digest_size=16).digest(), courier)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    # -- bookkeeping (the book checked who may) -----------------------------------------------

    def give(self, task: Task, courier: bytes, now_ms: int) -> list[Event]:
        """``courier`` holds unassigned open ``task`` now, last of their tour, to accept."""
        task.courier, task.accepted, task.assigned_ms = courier, False, now_ms
        self.tours.setdefault(courier, []).append(task.id)
        return [("assigned", task.id, courier)]

    def take(self, task: Task) -> list[Event]:
        """Open ``task`` leaves its courier: unassigned, back to todo (the next one starts it)."""
        self.drop(task)
        task.courier, task.accepted, task.assigned_ms = b"", False, 0
        if task.state == DOING:
            task.state, task.started_ms = TODO, 0
        return [("task_ended", task.id)]

    def drop(self, task: Task) -> None:
        """``task`` leaves its courier's tour (it ended, or is taken)."""
        tour = self.tours[task.courier]
        tour.remove(task.id)
        if not tour:
            del self.tours[task.courier]

    def check_reorder(self, courier: bytes, route: Sequence[bytes]) -> None:
        """``route`` must be exactly ``courier``'s tour, in any order (``bad_tour_order``)."""
        tour = self.tours.get(courier, [])
        if not tour:
            raise reject("empty_tour", "the courier holds no open task")
        if (
            not isinstance(route, Sequence)
            or any(type(t) is not bytes for t in route)
            or sorted(route) != sorted(tour)
        ):
            raise reject("bad_tour_order", "every task of the tour, each once, and no other")

    def reorder(self, courier: bytes, route: Sequence[bytes]) -> None:
        self.tours[courier] = list(route)

    def to_value(self) -> Value:
        return {
            "online": tuple((c, (g.row, g.col)) for c, g in sorted(self.online.items())),
            "tours": tuple((c, tuple(t)) for c, t in sorted(self.tours.items())),
        }


__all__ = ["AUTO_RINGS", "Dispatch", "check_cell"]
