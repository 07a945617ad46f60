"""What a work-app benchmark measures around its jobs: CPU on all nodes against the signature
checks of the blocks the jobs made, timed in the same run.

Shared by ``bench rides`` and ``bench deliveries``: the node process's CPU and the app
workers' apart, the blocks made while the jobs ran, each verified once per receiving member
(the ceiling), and the figures named after the job (``cpu_ms_per_trip``, ``..._per_order``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.keys.identity import verify
from peoplenet.runtime.lace.block import Block

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobCost:
    """The measured run: the blocks the jobs made, the ordered transactions, CPU seconds."""

    blocks: tuple[Block, ...]
    txs: int
    nodes_s: float
    workers_s: float
    receivers: int


def _cpu_split(net: CoopNet) -> tuple[float, float]:
    """CPU seconds so far: this process (the nodes), and the app workers together."""
    return time.process_time(), net.cpu_s() - time.process_time()


def measured(net: CoopNet, jobs: Callable[[], T]) -> tuple[T, JobCost]:
    """Run ``jobs`` (every job of the run) and what it cost."""
    assert net.blocks is not None
    made, position = len(net.blocks.made), net.position
    nodes0, workers0 = _cpu_split(net)
    done = jobs()
    nodes1, workers1 = _cpu_split(net)
    blocks = tuple(net.blocks.made[made:])
    cost = JobCost(
        blocks, net.position - position, nodes1 - nodes0, workers1 - workers0, len(net.nodes) - 1
    )
    return done, cost


def figures(cost: JobCost, unit: str, count: int, head: dict[str, Any]) -> dict[str, Any]:
    """``head`` (the job count, what completed, how paid), then the figures per ``unit`` and
    ``ratio``: CPU per job over its blocks' signature checks, timed now."""
    t0 = time.process_time()
    for block in cost.blocks:
        for _ in range(cost.receivers):
            verify(block.creator, block.id, block.signature)
    verify_ms = (time.process_time() - t0) * 1000 / count
    nodes_ms = cost.nodes_s * 1000 / count
    workers_ms = cost.workers_s * 1000 / count
    cpu_ms = nodes_ms + workers_ms
    return {
        **head,
        f"{unit}s_per_s": round(1000 / cpu_ms, 1),
        f"txs_per_{unit}": round(cost.txs / count, 2),
        f"blocks_per_{unit}": round(len(cost.blocks) / count, 2),
        f"cpu_ms_per_{unit}": round(cpu_ms, 3),
        f"nodes_cpu_ms_per_{unit}": round(nodes_ms, 3),
        f"workers_cpu_ms_per_{unit}": round(workers_ms, 3),
        f"verify_ms_per_{unit}": round(verify_ms, 3),
        "ratio": round(cpu_ms / verify_ms, 2),
    }


__all__ = ["JobCost", "figures", "measured"]
