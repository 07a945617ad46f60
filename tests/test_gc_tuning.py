"""The node's collector settings, and the benchmarks' scoped use of them."""

from __future__ import annotations

import gc

import pytest

from runtime.gc_tuning import THRESHOLDS, tuned_gc


def test_tuned_gc_applies_the_node_setting_and_restores_the_old_one() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    with tuned_gc():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), tuned_gc():
        raise RuntimeError("a failing benchmark")
    assert gc.get_threshold() == before
