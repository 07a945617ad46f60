"""The consensus benchmark measures a real saturated run and keeps its JSON contract."""

from __future__ import annotations

import json

import pytest

from peoplenet.bench.consensus import TXS_PER_BLOCK, run, simulate, target_blocks
from peoplenet.runtime.errors import LocalError

KEYS = {
    "nodes",
    "finalized_tx_per_s",
    "finalized_blocks",
    "cpu_ms_per_block",
    "verify_ms_per_block_all_nodes",
    "ratio",
}


@pytest.mark.parametrize("per_message", [False, True])
def test_tiny_run_has_sane_figures_and_one_order(per_message: bool) -> None:
    stats = simulate(4, blocks=24, seed=3, per_message=per_message)
    figures = stats.as_json()
    assert set(figures) == KEYS
    assert figures["nodes"] == 4
    assert figures["finalized_blocks"] >= 24
    # Saturated: every block carries a full batch of transactions, but for each member's
    # first one (made as soon as its first transaction arrived).
    blocks = stats.finalized_blocks
    assert TXS_PER_BLOCK * (blocks - 4) <= stats.finalized_txs <= TXS_PER_BLOCK * blocks
    assert figures["finalized_tx_per_s"] > 0
    assert figures["cpu_ms_per_block"] > 0
    # One Ed25519 check costs tens of microseconds: four of them well under 10 ms.
    assert 0 < figures["verify_ms_per_block_all_nodes"] < 10
    expected = figures["cpu_ms_per_block"] / figures["verify_ms_per_block_all_nodes"]
    assert figures["ratio"] == pytest.approx(expected, rel=0.01)
    assert figures["ratio"] > 0
    # Every member finalized the same blocks in the same order (up to where each got).
    orders = stats.orders
    assert all(orders)
    longest = max(orders, key=len)
    for order in orders:
        assert order == longest[: len(order)]
    assert len(set(longest)) == len(longest)
    assert json.loads(json.dumps(figures)) == figures


def test_run_within_a_time_budget_still_measures_something() -> None:
    figures = run(4, seconds=0.0, seed=1)
    assert set(figures) == KEYS
    assert figures["finalized_blocks"] > 0
    assert figures["ratio"] > 0


def test_targets_shrink_with_community_size() -> None:
    assert target_blocks(4) == 4 * 3 * 40
    assert target_blocks(16) == 16 * 3 * 20
    assert target_blocks(64) == 64 * 3 * 4


def test_a_community_of_one_finalizes_each_block_at_once() -> None:
    """A sole participant makes a block per batch and finalizes it on its own (it used to hang:
    the bench refilled the member for ever, because each refill made a block at once)."""
    stats = simulate(1, blocks=10, txs_per_block=3)
    assert stats.finalized_blocks >= 10
    # each batch of 3 goes into one block; the wave's other rounds are empty blocks
    assert stats.finalized_txs > 0 and stats.finalized_txs % 3 == 0
    assert stats.finalized_txs <= 3 * stats.finalized_blocks
    assert stats.messages == 0
    assert len(stats.orders[0]) >= stats.finalized_blocks


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(LocalError):
        simulate(0)
    with pytest.raises(LocalError):
        simulate(4, txs_per_block=0)


@pytest.mark.slow
def test_default_run_for_sixteen_members() -> None:
    figures = run(16)
    assert figures["finalized_blocks"] >= target_blocks(16)
    assert figures["ratio"] > 0
