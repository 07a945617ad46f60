"""The node's collector settings, and the benchmarks' scoped use of them."""

from __future__ import annotations

import gc

import pytest

from peoplenet.runtime.kernel.gc_tuning import THRESHOLDS, tuned_gc


def test_tuned_gc_applies_the_node_setting_and_restores_the_old_one() -> None:
    original = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's default: an actor run in-process may have tuned it
    before = gc.get_threshold()
    assert before != THRESHOLDS
    try:
        _check_scoped(before)
    finally:
        gc.set_threshold(*original)


def _check_scoped(before: tuple[int, ...]) -> None:
    with tuned_gc():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), tuned_gc():
        raise RuntimeError("a failing benchmark")
    assert gc.get_threshold() == before
