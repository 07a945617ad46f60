"""Shared fixtures: an actor system that is always shut down, on any kernel base; node
processes that are always stopped, and checked to leave nothing behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from peoplenet.runtime.kernel import ActorSystemHandle, Base
from peoplenet.runtime.sim.localnet import LocalNode, create_node


@pytest.fixture
def actor_system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ActorSystemHandle]:
    """A private actor system (base via indirect parametrisation, default multiproc_queue)."""
    base: Base = getattr(request, "param", "multiproc_queue")
    handle = ActorSystemHandle.start(base, f"test-{base}", log_dir=tmp_path / "actor-logs")
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture
def nodes() -> Iterator[list[LocalNode]]:
    """Append each node you start: all are stopped (then killed) and none may leave a process."""
    started: list[LocalNode] = []
    yield started
    for node in started:
        node.stop()
    for node in started:
        node.kill()
        assert node.group_pids() == set(), f"{node.name} left processes behind"


@pytest.fixture
def lone_node(tmp_path: Path, nodes: list[LocalNode]) -> Callable[..., LocalNode]:
    """Start a node of its own (no zeroconf, a network of its own) in ``tmp_path/NAME``; it is
    stopped by :func:`nodes` like every other."""

    def start(name: str = "n") -> LocalNode:
        data, identity = create_node(tmp_path / name, network=f"t-{time.time_ns()}", mdns=False)
        node = LocalNode(name, data, identity.member_id)
        nodes.append(node)
        node.start()
        return node

    return start
