"""Garbage-collector thresholds for the node's long-running processes.

Why: CPython's defaults (700, 10, 10) suit short scripts.  A node keeps hundreds of thousands of
long-lived objects (blocklace metadata, indexes, folds) and allocates steadily, so the default
young-generation threshold makes the collector rescan survivors thousands of times per second;
measured on ``bench consensus`` (which applies the same setting, as a node's process would),
the collector took 5-8% of the CPU at N = 16 and 64.  Reference counting frees almost
everything here; the cycle collector only has to run now and then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

THRESHOLDS: Final = (50_000, 50, 100)
"""Young-generation allocations between collections, then how many of each generation's
collections trigger the next older one's (CPython keeps its own 25% rule for full ones)."""


def tune_gc() -> None:
    """Apply :data:`THRESHOLDS` to this process (idempotent)."""
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def tuned_gc() -> Iterator[None]:
    """:func:`tune_gc` for a block of code, then the previous thresholds again (benchmarks that
    simulate nodes inside a process that is not one)."""
    before = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.set_threshold(*before)


__all__ = ["THRESHOLDS", "tune_gc", "tuned_gc"]
