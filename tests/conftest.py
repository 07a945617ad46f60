"""Shared fixtures: an actor system that is always shut down, on any kernel base; node
processes that are always stopped, and checked to leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.kernel import ActorSystemHandle, Base
from runtime.localnet import LocalNode


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
